"""checkup.yml on the cloud lab: its controller checks against real Keystone, nova-api, conductors, fake-driver
computes and Placement.

A clean cloud that has booted and deleted a server through the API gives no finding above info (nova keeps the
deleted server's instance mapping until `nova-manage db archive_deleted_rows`: an info finding), and check mode
reports the same. Seed 000's leak, made as test_seed_000.py makes it (a server's rows removed from nova's databases
behind its back, its allocations left in Placement), gives exactly placement_allocations.leaked, with the numbers
Placement itself reports and the clean_placement command, and the comparison with the clean run names it as new.

This file runs first of the scenarios (alphabetically), so it leaves the cloud as a deleted server leaves it: the
leaked server's rows are kept aside and put back, and the server is then deleted through the API (nova-compute
forgets it and removes its allocations), instead of leaving a server only the fake driver still runs.
"""
import contextlib
import json
import math
import pathlib
import urllib.error

import pytest

from tests.integration.ansible_runner import run_playbook
from tests.lab import process
from tests.lab.cloud import API_HOST, CLOUD_CELLS
from tests.lab.config import RABBIT_USER, REPO_ROOT
from tests.scenarios.helpers import Cloud

PLAYBOOK = REPO_ROOT / "playbooks" / "checkup.yml"
SCHEMA = "openstack_ops.checkup/v1"
SEVERITIES = ("info", "low", "medium", "high", "critical")
# The checks from the controller (the groups placement, cells and messaging), with the logins the lab has; the
# database, haproxy and nova hosts' plays have no host in this inventory.
CHECKS = ("placement_allocations", "cells_mappings", "messaging_queues", "conductors_ping")
# "/" (nova-api, the scheduler, the super conductor) and each cell's vhost (its conductor and computes)
VHOSTS = ["/", *sorted({cell["vhost"] for cell in CLOUD_CELLS.values()})]
# The rows test_seed_000.py removes to leak a server's allocations, (table, column naming the instance), and the
# database they are kept in meanwhile (the mariadb client runs one session per call: no temporary table lasts).
CELL_ROWS = (("instance_extra", "instance_uuid"), ("instance_info_caches", "instance_uuid"),
             ("instance_system_metadata", "instance_uuid"), ("instance_metadata", "instance_uuid"),
             ("instance_actions", "instance_uuid"), ("instance_faults", "instance_uuid"),
             ("block_device_mapping", "instance_uuid"), ("instances", "uuid"))
API_ROWS = (("instance_mappings", "instance_uuid"), ("request_specs", "instance_uuid"))
KEEP = "checkup_cloud_keep"


def failures(out):
    """The failed tasks of a playbook run (the checks' modules included: they fail with ignore_errors)."""
    return [f"{task['name']}: {result.get('msg')}" for play in out["plays"] for task in play["tasks"]
            for result in task["hosts"].values() if result.get("failed")]


def checkup(cloud, report_path, check=False, groups=("placement", "cells", "messaging"), **extra):
    """checkup.yml's controller checks on the cloud lab, with the logins tests/integration/checkup_lab.py gives them
    on the light lab; returns (rc, the JSON report it wrote).

    The conductor pinged is the super conductor (ctl1, on the API-level vhost of checkup_transport_url); the cells'
    conductors listen on their cells' vhosts, which the one transport URL the check-up takes does not reach.
    """
    lab = cloud.lab
    rc, out = run_playbook(PLAYBOOK, dict(
        checkup_cloud="opslab-admin", checkup_nova_db=dict(cloud.nova_db(), login_db="nova_api"),
        checkup_rabbitmq_login=dict(login_host="127.0.0.1", login_port=lab.cfg.port("rabbitmq_management"),
                                    login_user=RABBIT_USER[0], login_password=RABBIT_USER[1]),
        checkup_vhosts=VHOSTS, checkup_transport_url=lab.cfg.transport_url(), checkup_conductors=[API_HOST],
        checkup_ping_timeout=5, checkup_report_path=str(report_path), checkup_groups=list(groups),
        **extra), check=check, env={"OS_CLIENT_CONFIG_FILE": str(lab.clouds_yaml)})
    report_path = pathlib.Path(report_path)
    assert report_path.exists(), f"checkup.yml wrote no report (rc {rc}); failed tasks: {failures(out)}"
    return rc, json.loads(report_path.read_text())


def explain(report):
    """The report's own lines (each finding with its severity, title and fix; the checks not run, with why)."""
    return "\n".join(report["text"])


def by_key(report):
    """{"<id> <subject>": finding}, the keys the report's trend uses."""
    return {f"{finding['id']} {finding['subject']}": finding for finding in report["findings"]}


def placement(cloud, path):
    return cloud.lab.placement.request("GET", path)


def allocations(cloud, consumer):
    """{provider: resources} Placement holds for the consumer."""
    return {provider: held["resources"]
            for provider, held in placement(cloud, f"/allocations/{consumer}")["allocations"].items()}


def delete(cloud, server):
    """Delete a server through the compute API, then wait until the API no longer has it and Placement holds nothing
    for it (nova-compute removes the allocations just after the instance leaves the API: a check-up in between would
    see a deleted instance's allocation)."""
    cloud.admin("DELETE", f"/servers/{server}")
    process.wait_until(lambda: cloud.status_of(server, as_admin=True)[0] == 404 and not allocations(cloud, server),
                       120, f"server {server} deleted and its allocations gone from Placement")


@contextlib.contextmanager
def forgotten_by_nova(cloud, server):
    """Seed 000's leak for the length of the block: the server's rows deleted from its cell database and nova_api as
    test_seed_000.py deletes them (Placement keeps its allocations), kept in a database of their own and put back
    at the end, whatever happened, so that the server can then be deleted through the API."""
    cell = cloud.sql(f"SELECT c.name FROM instance_mappings m JOIN cell_mappings c ON c.id = m.cell_id "
                     f"WHERE m.instance_uuid = '{server}'", "nova_api").strip()
    assert cell, f"server {server} has no instance mapping to a cell"
    rows = {f"nova_{cell}": CELL_ROWS, "nova_api": API_ROWS}
    cloud.sql(f"DROP DATABASE IF EXISTS {KEEP}; CREATE DATABASE {KEEP};", None)
    try:
        for database, tables in rows.items():
            cloud.sql("SET FOREIGN_KEY_CHECKS = 0; " + " ".join(
                f"CREATE TABLE {KEEP}.{database}__{table} AS SELECT * FROM {table} WHERE {column} = '{server}'; "
                f"DELETE FROM {table} WHERE {column} = '{server}';" for table, column in tables), database)
        yield cell
    finally:
        # only the tables that were kept (a failure half-way kept fewer), each made exactly what it was
        kept = set(cloud.sql(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{KEEP}'",
                             None).split())
        for database, tables in rows.items():
            cloud.sql("SET FOREIGN_KEY_CHECKS = 0; " + " ".join(
                f"DELETE FROM {table} WHERE {column} = '{server}'; "
                f"INSERT INTO {table} SELECT * FROM {KEEP}.{database}__{table};"
                for table, column in tables if f"{database}__{table}" in kept), database)
        cloud.sql(f"DROP DATABASE {KEEP};", None)


@pytest.fixture(scope="module")
def clean(cloud_lab, tmp_path_factory):
    """The clean cloud's check-up, for both tests: (Cloud, the server booted then deleted, rc, the report, its
    path)."""
    cloud = Cloud(cloud_lab)
    cloud.require_empty()
    server = cloud.boot("checkup-deleted", "m1.tiny")
    try:
        booted = cloud.wait([server])[server]
    finally:
        delete(cloud, server)
    assert booted["status"] == "ACTIVE", f"the server to delete did not boot: {booted.get('fault')}"
    path = tmp_path_factory.mktemp("checkup-clean") / "clean.json"
    rc, report = checkup(cloud, path)
    return cloud, server, rc, report, path


def test_a_clean_cloud_has_no_finding_above_info_and_check_mode_reports_the_same(clean, tmp_path):
    cloud, deleted, rc, report, _path = clean
    text = explain(report)
    assert report["schema"] == SCHEMA and report["check_mode"] is False
    ran = {check["id"]: check["status"] for check in report["checks"] if check["status"] != "not_selected"}
    assert sorted(ran) == sorted(CHECKS), ran
    assert {check["id"]: check.get("why") for check in report["checks"] if check["status"] == "not_run"} == {}, text
    assert [finding for finding in report["findings"] if finding["severity"] != "info"] == [], text
    assert rc == 0 and report["summary"]["gate_failed"] is False, text
    # the deleted server's mapping, which nova keeps until archive_deleted_rows: said, as info
    kept = by_key(report).get("cells_mappings.mapping_to_deleted_instance mapping_to_deleted_instance")
    assert kept is not None and deleted in kept["evidence"]["subjects"], f"{deleted} not among the findings:\n{text}"
    assert kept["severity"] == "info", kept

    rc, planned = checkup(cloud, tmp_path / "check.json", check=True)
    assert rc == 0 and planned["check_mode"] is True, explain(planned)
    assert planned["findings"] == report["findings"], f"run:\n{text}\ncheck mode:\n{explain(planned)}"
    assert planned["checks"] == report["checks"], (report["checks"], planned["checks"])


def test_seed_000s_leak_gives_exactly_its_finding_with_placements_numbers_and_the_clean_and_is_new(
        clean, cloud, tmp_path):
    _cloud, _deleted, _rc, before, before_path = clean
    server = cloud.boot("checkup-leak", "m1.tiny")
    booted = cloud.wait([server])[server]
    assert booted["status"] == "ACTIVE", f"the server to leak did not boot: {booted.get('fault')}"
    held = allocations(cloud, server)
    assert len(held) == 1, held   # its compute's provider (the lab has no sharing provider)
    [(provider, resources)] = held.items()

    try:
        with forgotten_by_nova(cloud, server):
            assert cloud.status_of(server, as_admin=True)[0] == 404
            assert allocations(cloud, server) == held   # nova no longer has it; Placement still does
            rc, report = checkup(cloud, tmp_path / "leak.json", checkup_previous=str(before_path))
            # what Placement itself says of that provider while the leak is there
            name = placement(cloud, f"/resource_providers/{provider}")["name"]
            inventories = placement(cloud, f"/resource_providers/{provider}/inventories")["inventories"]
            usages = placement(cloud, f"/resource_providers/{provider}/usages")["usages"]
    finally:
        if cloud.status_of(server, as_admin=True)[0] == 200:
            delete(cloud, server)
        else:   # its rows could not be put back: at least leave no leak to the scenarios after this one
            cloud.forget_allocations(server)

    text = explain(report)
    capacity = {resource: math.floor((inventory["total"] - inventory["reserved"]) * inventory["allocation_ratio"])
                for resource, inventory in inventories.items()}
    free = {resource: capacity[resource] - usages.get(resource, 0) for resource in capacity}
    # plugins/plugin_utils/checkup.py's rules: the finding's number is what the leak holds of the resource class it
    # holds most of against capacity; critical when the provider is over capacity, high from a quarter of that
    # capacity, medium below (m1.tiny's 512 MB of a fake compute's 8192: medium)
    worst = max(resources, key=lambda resource: resources[resource] / max(capacity.get(resource) or 1, 1))
    share = resources[worst] / max(capacity[worst], 1)
    severity = "critical" if min(free.values()) < 0 else "high" if share >= 0.25 else "medium"

    key = f"placement_allocations.leaked {name}"
    found = by_key(report)
    assert [k for k, finding in found.items() if finding["severity"] != "info"] == [key], text
    # and nothing else: the info findings are the clean run's (the deleted server's mapping)
    assert set(found) == set(by_key(before)) | {key}, f"clean run:\n{explain(before)}\nwith the leak:\n{text}"
    leak = found[key]
    assert (leak["check"], leak["group"], leak["seeds"], leak["subject"]) == (
        "placement_allocations", "placement", ["000"], name), leak
    assert leak["severity"] == severity, (f"expected {severity}: {resources[worst]} {worst} of {capacity[worst]}, "
                                          f"free {free}", leak)
    assert leak["value"] == resources[worst], (worst, resources, leak)
    evidence = leak["evidence"]
    assert evidence["provider"] == provider and evidence["consumers"] == [server], leak
    assert evidence["leaked"] == resources, (resources, leak)
    assert evidence["capacity"] == capacity and evidence["free"] == free, (inventories, usages, leak)
    assert {kind: count for kind, count in evidence["classes"].items() if count} == {"orphan": 1}, leak
    assert leak["title"].startswith(f"1 leaked consumer(s) hold {resources[worst]} "), leak["title"]
    assert f" on {name}; {free[worst]} " in leak["title"], leak["title"]
    assert "openstack_ops.runbooks.clean_placement" in leak["fix"] and "--check --diff" in leak["fix"], leak["fix"]
    gate = SEVERITIES.index(severity) >= SEVERITIES.index(report["fail_on"])
    assert (rc, report["summary"]["gate_failed"]) == ((2, True) if gate else (0, False)), text

    trend = report["trend"]
    assert trend is not None and trend["previous"] == before["ended"], trend
    assert (trend["new"], trend["worse"], trend["fixed"]) == ([key], [], []), f"{trend}\n{text}"
    assert trend["same"] == len(before["findings"]), trend


def test_a_boot_the_scheduler_refused_is_an_instance_in_error_with_the_triage_to_run(clean, tmp_path):
    """instances_stuck: nova_instance_triage of every instance in ERROR or stuck, one finding per verdict and step."""
    cloud = clean[0]
    with contextlib.suppress(urllib.error.HTTPError):   # left by a run killed before its clean-up
        cloud.admin("DELETE", "/flavors/checkup.huge")
    cloud.admin("POST", "/flavors", {"flavor": {"name": "checkup.huge", "id": "checkup.huge", "vcpus": 1,
                                                "ram": 1024 * 1024, "disk": 1}})
    try:
        server = cloud.boot("checkup-refused", "checkup.huge")
        failed = cloud.wait([server])[server]
        assert failed["status"] == "ERROR", failed
        rc, report = checkup(cloud, tmp_path / "error.json", groups=["nova"], checkup_checks=["instances_stuck"])
        status = {c["id"]: c["status"] for c in report["checks"] if c["status"] != "not_selected"}
        assert status == {"instances_stuck": "found"}, explain(report)
        [finding] = report["findings"]
        assert (finding["id"], finding["subject"], finding["severity"], finding["value"]) == (
            "instances_stuck.error", "error scheduling", "medium", 1), explain(report)
        assert finding["evidence"]["instances"] == [server] and "nova-scheduler" in finding["evidence"]["services"]
        assert f'"triage_instance_instances": ["{server}"]' in finding["fix"]
        assert rc == 0 and report["summary"]["gate_failed"] is False   # medium: under the default gate, high
    finally:
        cloud.delete_all()
        cloud.admin("DELETE", "/flavors/checkup.huge")

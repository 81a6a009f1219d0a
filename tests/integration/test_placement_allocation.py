"""placement_allocation against the lab's real Placement and nova databases, with the incident's numbers.

Seed 000: a host with MEMORY_MB total 7841, reserved 512, allocation_ratio 1.5 carries 11426 MB of
allocations held by ~80 consumers that match no live instance (some doubled on two providers after
failed migrations, one with a single resource class), so a 1 vCPU / 1 GB / 10 GB server gets NoValidHost.
"""
import json
import pathlib
import re
import subprocess
import sys
import uuid

import pytest

from tests.integration.ansible_runner import run_module, run_playbook
from tests.integration.test_report_html_browser import check_page
from tests.lab.config import DB_USERS

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / ".build" / "collections"))

# pylint: disable=wrong-import-position
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import (  # noqa: E402
    placement,
    placement_audit,
    placement_classify,
    placement_clean,
    placement_nova_state,
    placement_state,
)

MEMORY_EACH = 144          # 79 consumers * 144 MB + one MEMORY_MB-only consumer of 50 MB = 11426 MB
SINGLE_CLASS_MEMORY = 50
REQUEST = "VCPU:1,MEMORY_MB:1024,DISK_GB:10"
SMALL = {"VCPU": 1, "MEMORY_MB": MEMORY_EACH, "DISK_GB": 1}
# The flavor of a live seeded instance holding SMALL: an instance whose allocation differs from its flavor is
# classified mismatched (tests/integration/test_placement_mismatch.py).
SMALL_FLAVOR = {"name": "lab.small", "vcpus": 1, "memory_mb": MEMORY_EACH, "root_gb": 1}


def new_uuid():
    return str(uuid.uuid4())


def module_args(lab, **extra):
    args = dict(cloud="opslab", nova_db=dict(login_host="127.0.0.1", login_port=lab.cfg.port("mariadb"),
                                             login_user="ops", login_password=DB_USERS["ops"]))
    args.update(extra)
    return args


def run(lab, check=False, diff=False, **args):
    return run_module("placement_allocation", module_args(lab, **args), check=check, diff=diff,
                      env={"OS_CLIENT_CONFIG_FILE": str(lab.cfg.path("clouds.yaml"))})


def post_allocations(lab, consumers):
    """consumers: {consumer: {rp: resources}}, all written in one POST /allocations."""
    lab.placement.request("POST", "/allocations", {
        consumer: {"allocations": {rp: {"resources": res} for rp, res in allocations.items()},
                   "project_id": "project-lab", "user_id": "user-lab",
                   "consumer_generation": None, "consumer_type": "INSTANCE"}
        for consumer, allocations in consumers.items()})


def placement_snapshot(lab, providers):
    """Everything a clean could change: each provider's usages and allocations."""
    return {rp: (lab.placement.request("GET", f"/resource_providers/{rp}/usages")["usages"],
                 lab.placement.request("GET", f"/resource_providers/{rp}/allocations")["allocations"])
            for rp in providers}


def held(lab, consumer):
    """{provider: resources} a consumer holds now."""
    allocations = lab.placement.request("GET", f"/allocations/{consumer}")["allocations"]
    return {rp: body["resources"] for rp, body in allocations.items()}


def classes_of(audit):
    """{(consumer, provider name): classification}."""
    return {(c["uuid"], a["provider_name"]): a["classification"]
            for c in audit["consumers"] for a in c["allocations"]}


def compute_hosts(nova_seed, placement_seed, hosts, cell="cell1"):
    """Compute nodes in nova whose uuids are the providers' uuids, as nova-compute makes them."""
    rps = {host: placement_seed.compute_node(host) for host in hosts}
    nova_seed.apply({
        "services": [{"cell": cell, "host": host} for host in hosts],
        "compute_nodes": [{"cell": cell, "host": host, "uuid": rps[host], "vcpus": 8, "memory_mb": 7841,
                           "local_gb": 100} for host in hosts],
        "host_mappings": [{"cell": cell, "host": host} for host in hosts],
    })
    return rps


@pytest.fixture
def incident(clean_lab, placement_seed, nova_seed):
    """The seed's cloud: compute1 over capacity with 80 dead consumers; live ones elsewhere."""
    lab = clean_lab
    rps = compute_hosts(nova_seed, placement_seed, ["compute1", "compute2", "compute3"])
    # Seed under a ratio of 2.0, then lower it to the incident's 1.5: Placement keeps existing usage.
    placement_seed.inventories(rps["compute1"], {
        "VCPU": {"total": 8, "allocation_ratio": 16.0},
        "MEMORY_MB": {"total": 7841, "reserved": 512, "allocation_ratio": 2.0},
        "DISK_GB": {"total": 100}})

    orphans = [new_uuid() for _i in range(30)]            # doubled on compute1 + compute3, no nova row
    deleted = [new_uuid() for _i in range(30)]            # instance rows deleted
    stale = [new_uuid() for _i in range(19)]              # live on compute2, a failed migration left compute1
    single = new_uuid()                                  # MEMORY_MB only
    active, migrating, building = new_uuid(), new_uuid(), new_uuid()
    built = nova_seed.apply({
        "instances": (
            [{"cell": "cell1", "uuid": u, "host": "compute1", "project_id": "p", "user_id": "u", "deleted": True}
             for u in deleted]
            + [{"cell": "cell1", "uuid": u, "host": "compute2", "project_id": "p", "user_id": "u",
                "flavor": SMALL_FLAVOR} for u in stale]
            + [{"cell": "cell1", "uuid": active, "host": "compute2", "project_id": "p", "user_id": "u",
                "flavor": SMALL_FLAVOR},
               {"cell": "cell1", "uuid": migrating, "host": "compute3", "project_id": "p", "user_id": "u",
                "task_state": "migrating"},
               {"cell": "cell1", "uuid": building, "host": None, "vm_state": "building", "project_id": "p",
                "user_id": "u"}]),
        "migrations": (
            [{"cell": "cell1", "instance_uuid": u, "source_compute": "compute1", "dest_compute": "compute2",
              "status": "error"} for u in stale]
            + [{"cell": "cell1", "instance_uuid": migrating, "source_compute": "compute2",
                "dest_compute": "compute3", "status": "migrating"}]),
    })
    migration_consumer = built["migrations"][-1]["uuid"]
    c1, c2, c3 = rps["compute1"], rps["compute2"], rps["compute3"]
    consumers = {u: {c1: SMALL, c3: SMALL} for u in orphans}
    consumers.update({u: {c1: SMALL} for u in deleted})
    consumers.update({u: {c1: SMALL, c2: SMALL} for u in stale})
    consumers[single] = {c1: {"MEMORY_MB": SINGLE_CLASS_MEMORY}}
    consumers[active] = {c2: SMALL}
    consumers[migrating] = {c3: SMALL}
    consumers[migration_consumer] = {c2: SMALL}
    consumers[building] = {c3: SMALL}
    post_allocations(lab, consumers)
    placement_seed.inventories(rps["compute1"], {
        "VCPU": {"total": 8, "allocation_ratio": 16.0},
        "MEMORY_MB": {"total": 7841, "reserved": 512, "allocation_ratio": 1.5},
        "DISK_GB": {"total": 100}})
    return dict(lab=lab, rps=rps, orphans=orphans, deleted=deleted, stale=stale, single=single, active=active,
                migrating=migrating, migration_consumer=migration_consumer, building=building)


def test_audit_reproduces_the_incident_and_classifies_every_consumer(incident):
    lab, rps = incident["lab"], incident["rps"]
    result = run(lab, report="full")
    assert result["changed"] is False, result
    audit = result["audit"]
    compute1 = next(p for p in audit["providers"] if p["name"] == "compute1")
    memory = compute1["inventories"]["MEMORY_MB"]
    assert (memory["total"], memory["reserved"], memory["allocation_ratio"]) == (7841, 512, 1.5)
    assert (memory["used"], memory["capacity"], memory["free"]) == (11426, 10993, -433)
    assert len(compute1["consumers"]) == 80
    assert audit["summary"]["over_capacity"] == ["compute1"]
    assert compute1["compute_node"] == {"host": "compute1", "node": "compute1", "cell": "cell1"}

    got = classes_of(audit)
    for u in incident["orphans"]:
        assert got[(u, "compute1")] == got[(u, "compute3")] == "orphan"
    for u in incident["deleted"]:
        assert got[(u, "compute1")] == "deleted_instance"
    for u in incident["stale"]:
        assert (got[(u, "compute1")], got[(u, "compute2")]) == ("stale_source", "active")
    assert got[(incident["single"], "compute1")] == "orphan"
    assert got[(incident["active"], "compute2")] == "active"
    assert got[(incident["migrating"], "compute3")] == "active"
    assert got[(incident["migration_consumer"], "compute2")] == "migration_in_progress"
    assert got[(incident["building"], "compute3")] == "building"
    assert audit["complete"] is True
    assert audit["summary"]["allocations"] == dict(
        active=21, migration_in_progress=1, stale_source=19, deleted_instance=30, orphan=61, building=1,
        unverifiable=0, mismatched=0)
    assert audit["summary"]["flavor_check"] == dict(checked=True, judged=20, mismatched=0, not_judged={})


def test_report_problems_and_summary_return_less_and_count_the_same(incident):
    lab, rps = incident["lab"], incident["rps"]
    full = run(lab, report="full")["audit"]
    problems = run(lab)["audit"]                 # the default
    summary = run(lab, report="summary")["audit"]
    assert (full["report"], problems["report"], summary["report"]) == ("full", "problems", "summary")
    assert full["summary"] == problems["summary"] == summary["summary"]
    assert summary["summary"]["problem_consumers"] == 82           # the 80 dead + the migration + the build
    assert "providers" not in summary and "consumers" not in summary and summary["complete"] is True

    # problems: compute1 (over capacity, 80 dead consumers) and compute3 (the orphans' second half, the
    # build); compute2 holds the stale halves' active parts and the migration's consumer, which is not active.
    assert [p["name"] for p in problems["providers"]] == ["compute1", "compute2", "compute3"]
    compute2 = problems["providers"][1]
    assert [e["consumer_uuid"] for e in compute2["consumers"]] == [incident["migration_consumer"]]
    assert compute2["summary"]["active"] == 20
    assert incident["active"] not in {c["uuid"] for c in problems["consumers"]}
    assert incident["migrating"] not in {c["uuid"] for c in problems["consumers"]}
    wanted = set(incident["orphans"] + incident["deleted"] + incident["stale"]) | {
        incident["single"], incident["migration_consumer"], incident["building"]}
    assert {c["uuid"] for c in problems["consumers"]} == wanted
    assert problems["consumers"] == [c for c in full["consumers"] if c["uuid"] in wanted]
    stale = next(c for c in problems["consumers"] if c["uuid"] == incident["stale"][0])
    assert sorted(a["classification"] for a in stale["allocations"]) == ["active", "stale_source"]
    assert len(json.dumps(summary)) < len(json.dumps(problems)) < len(json.dumps(full))

    # A clean reporting a summary plans from the full classification all the same.
    planned = run(lab, check=True, action="clean", report="summary", backup_dir="/tmp/unused")
    assert len(planned["changes"]) == 80 and "consumers" not in planned["audit"]


def test_fit_fails_with_a_reason_before_the_clean_and_passes_after(incident, tmp_path):
    lab, rps = incident["lab"], incident["rps"]
    before = run(lab, action="fit", resources=REQUEST, resource_providers=["compute1"])
    assert before["changed"] is False
    fit = before["fit"]
    assert fit["fits"] is False and fit["candidates"] == []
    [blocked] = fit["blocked"]
    [reason] = blocked["reasons"]
    assert (reason["resource_class"], reason["requested"], reason["capacity"], reason["used"], reason["free"],
            reason["shortfall"]) == ("MEMORY_MB", 1024, 10993, 11426, -433, 1457)
    assert "allocation_ratio 1.5" in reason["reason"]

    untouched = [incident["active"], incident["migrating"], incident["migration_consumer"], incident["building"]]
    held_before = {u: held(lab, u) for u in untouched}
    cleaned = run(lab, action="clean", backup_dir=str(tmp_path))
    assert cleaned["changed"] is True, cleaned
    assert len(cleaned["changes"]) == 80
    by_consumer = {change["consumer_uuid"]: change for change in cleaned["changes"]}
    for u in incident["stale"]:
        assert by_consumer[u]["action"] == "trimmed"
        assert set(by_consumer[u]["removed"]) == {rps["compute1"]}
        assert by_consumer[u]["kept"] == {rps["compute2"]: SMALL}
        assert lab.placement.request("GET", f"/allocations/{u}")["allocations"][rps["compute2"]]["resources"] == SMALL
    for u in incident["orphans"] + incident["deleted"] + [incident["single"]]:
        assert by_consumer[u]["action"] == "deleted"
        assert lab.placement.request("GET", f"/allocations/{u}")["allocations"] == {}
    assert {u: held(lab, u) for u in untouched} == held_before
    [backup] = cleaned["backups"]
    saved = json.loads(pathlib.Path(backup["path"]).read_text())
    assert backup["consumers"] == 80 and saved["checksum"] == backup["checksum"]
    assert set(saved["consumers"][incident["stale"][0]]["allocations"]) == {rps["compute1"], rps["compute2"]}
    assert lab.placement.request("GET", f"/resource_providers/{rps['compute1']}/usages")["usages"]["MEMORY_MB"] == 0

    after = run(lab, action="fit", resources=REQUEST, resource_providers=["compute1"])
    assert after["fit"]["fits"] is True
    assert after["fit"]["candidates"] == [{"uuid": rps["compute1"], "name": "compute1", "fits": 10,
                                           "sharing_providers": []}]

    again = run(lab, action="clean", backup_dir=str(tmp_path))
    assert again["changed"] is False and again["changes"] == [] and again["backups"] == []


def test_check_mode_changes_nothing_and_diff_shows_the_plan(incident, tmp_path):
    lab, rps = incident["lab"], incident["rps"]
    before = placement_snapshot(lab, rps.values())
    result = run(lab, check=True, diff=True, action="clean", clean_classes=["stale_source"],
                 backup_dir=str(tmp_path / "never"))
    assert result["changed"] is True
    assert sorted(change["consumer_uuid"] for change in result["changes"]) == sorted(incident["stale"])
    assert result["diff"]["before"][incident["stale"][0]] == {rps["compute1"]: SMALL, rps["compute2"]: SMALL}
    assert result["diff"]["after"][incident["stale"][0]] == {rps["compute2"]: SMALL}
    assert placement_snapshot(lab, rps.values()) == before
    assert not (tmp_path / "never").exists()


def test_max_changes_stops_a_large_clean_before_any_write(incident, tmp_path):
    lab, rps = incident["lab"], incident["rps"]
    before = placement_snapshot(lab, rps.values())
    result = run(lab, action="clean", backup_dir=str(tmp_path), max_changes=10)
    assert result.get("failed") is True
    assert "would change 80 consumers, more than max_changes=10; nothing was changed" in result["msg"]
    assert placement_snapshot(lab, rps.values()) == before
    assert list(tmp_path.iterdir()) == []


def test_backup_clean_restore_gives_back_identical_allocations(clean_lab, placement_seed, nova_seed, tmp_path):
    lab = clean_lab
    rps = compute_hosts(nova_seed, placement_seed, ["compute1", "compute2"])
    live = new_uuid()
    nova_seed.apply({"instances": [{"cell": "cell1", "uuid": live, "host": "compute2", "project_id": "p",
                                    "user_id": "u", "flavor": SMALL_FLAVOR}]})
    dead = [new_uuid() for _i in range(5)]
    consumers = {u: {rps["compute1"]: SMALL, rps["compute2"]: {"VCPU": 2}} for u in dead}
    consumers[live] = {rps["compute1"]: SMALL, rps["compute2"]: SMALL}
    post_allocations(lab, consumers)
    everyone = dead + [live]
    original = {u: lab.placement.request("GET", f"/allocations/{u}") for u in everyone}

    cleaned = run(lab, action="clean", backup_dir=str(tmp_path))
    assert len(cleaned["changes"]) == 6
    assert lab.placement.request("GET", f"/allocations/{live}")["allocations"].keys() == {rps["compute2"]}
    backup_file = cleaned["backups"][0]["path"]

    preview = run(lab, check=True, action="restore", backup_file=backup_file)
    assert preview["changed"] is True and len(preview["restored"]) == 6
    assert lab.placement.request("GET", f"/allocations/{dead[0]}")["allocations"] == {}

    restored = run(lab, diff=True, action="restore", backup_file=backup_file)
    assert restored["changed"] is True and len(restored["restored"]) == 6, restored
    now = {u: lab.placement.request("GET", f"/allocations/{u}") for u in everyone}

    def strip(a):
        return ({rp: body["resources"] for rp, body in a["allocations"].items()},
                a["project_id"], a["user_id"], a["consumer_type"])
    assert {u: strip(a) for u, a in now.items()} == {u: strip(a) for u, a in original.items()}

    assert run(lab, action="restore", backup_file=backup_file)["changed"] is False

    pathlib.Path(backup_file).write_text(pathlib.Path(backup_file).read_text().replace('"VCPU": 2', '"VCPU": 3'))
    tampered = run(lab, action="restore", backup_file=backup_file)
    assert tampered.get("failed") is True and "fails its checksum" in tampered["msg"]


@pytest.fixture
def tricky(clean_lab, placement_seed, nova_seed):
    """Cases nova-manage placement audit gets wrong: custom class on a nested provider, sharing, building."""
    lab = clean_lab
    rps = compute_hosts(nova_seed, placement_seed, ["compute1", "compute2"])
    fpga = placement_seed.provider("compute1_fpga0", parent=rps["compute1"])
    placement_seed.resource_class("CUSTOM_FPGA")
    placement_seed.inventories(fpga, {"CUSTOM_FPGA": 4})
    shared = placement_seed.provider("shared_storage")
    placement_seed.inventories(shared, {"DISK_GB": 1000})
    placement_seed.traits(shared, ["MISC_SHARES_VIA_AGGREGATE"])
    aggregate = new_uuid()
    placement_seed.aggregates(shared, [aggregate])
    placement_seed.aggregates(rps["compute2"], [aggregate])
    on_shared, building, fpga_orphan, plain_orphan, deleted = (new_uuid() for _i in range(5))
    nova_seed.apply({"instances": [
        {"cell": "cell1", "uuid": on_shared, "host": "compute2", "project_id": "p", "user_id": "u",
         "flavor": {"vcpus": 1, "memory_mb": 512, "root_gb": 10}},
        {"cell": "cell1", "uuid": building, "host": None, "vm_state": "building", "project_id": "p", "user_id": "u"},
        {"cell": "cell1", "uuid": deleted, "host": "compute1", "project_id": "p", "user_id": "u", "deleted": True},
    ]})
    post_allocations(lab, {
        on_shared: {rps["compute2"]: {"VCPU": 1, "MEMORY_MB": 512}, shared: {"DISK_GB": 10}},
        building: {rps["compute1"]: SMALL},
        fpga_orphan: {fpga: {"CUSTOM_FPGA": 1}},
        plain_orphan: {rps["compute1"]: SMALL},
        deleted: {rps["compute1"]: SMALL},
    })
    return dict(lab=lab, rps=rps, fpga=fpga, shared=shared, on_shared=on_shared, building=building,
                fpga_orphan=fpga_orphan, plain_orphan=plain_orphan, deleted=deleted)


def nova_manage_audit(lab):
    """(exit code, {(consumer, provider uuid)}) of `nova-manage placement audit --verbose`."""
    proc = subprocess.run([lab.cfg.bin("nova-manage"), "--config-file", str(lab.nova.conf), "placement", "audit",
                           "--verbose"], capture_output=True, text=True, env=lab.nova.env, check=False)
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    flagged = set(re.findall(r"Allocations for consumer UUID (\S+) on Resource Provider (\S+) can be deleted",
                             proc.stdout))
    return proc.returncode, flagged


def test_nested_custom_class_sharing_and_building_compared_with_nova_manage(tricky):
    lab, rps = tricky["lab"], tricky["rps"]
    audit = run(lab, report="full")["audit"]
    ours = {(c["uuid"], a["provider_uuid"]): a["classification"] for c in audit["consumers"] for a in c["allocations"]}
    assert ours[(tricky["fpga_orphan"], tricky["fpga"])] == "orphan"
    assert ours[(tricky["on_shared"], tricky["shared"])] == "active"
    assert ours[(tricky["on_shared"], rps["compute2"])] == "active"
    assert ours[(tricky["building"], rps["compute1"])] == "building"
    assert ours[(tricky["plain_orphan"], rps["compute1"])] == "orphan"
    assert ours[(tricky["deleted"], rps["compute1"])] == "deleted_instance"
    fpga_provider = next(p for p in audit["providers"] if p["uuid"] == tricky["fpga"])
    assert fpga_provider["parent_provider_uuid"] == rps["compute1"]
    assert fpga_provider["inventories"]["CUSTOM_FPGA"]["used"] == 1
    shared_provider = next(p for p in audit["providers"] if p["uuid"] == tricky["shared"])
    assert shared_provider["sharing"] is True

    rc, flagged = nova_manage_audit(lab)
    assert rc == 3
    # Every allocation nova-manage would delete that we also call dead, we do...
    cleanable = {key for key, classification in ours.items() if classification in placement_classify.CLEANABLE}
    assert flagged - cleanable == {
        # ...except what it gets wrong: a live instance's disk on a sharing provider (its root is not a
        # compute node, so it sees no instances there), and an instance still being built.
        (tricky["on_shared"], tricky["shared"]),
        (tricky["building"], rps["compute1"]),
    }
    # And it misses an orphan holding only a custom resource class on a nested provider.
    assert cleanable - flagged == {(tricky["fpga_orphan"], tricky["fpga"])}

    # A child provider brings its whole tree: the result says so, and a clean of it warns, check mode included.
    child = run(lab, resource_providers=["compute1_fpga0"])
    assert child["scope"] == {"requested": ["compute1_fpga0"], "trees": ["compute1"], "also_included": ["compute1"]}
    planned = run(lab, check=True, action="clean", backup_dir="/nonexistent", resource_providers=["compute1_fpga0"])
    assert planned["scope"]["also_included"] == ["compute1"]
    assert any("also covers compute1, which were not named" in warning for warning in planned.get("warnings", []))


def test_placement_database_source_sees_what_the_api_sees(tricky, tmp_path):
    """placement_database reads Placement's own tables: the same audit and the same clean plan as the API."""
    lab = tricky["lab"]
    through_api = run(lab, report="full")
    through_db = run(lab, report="full", placement_database="placement")
    assert not through_db.get("failed"), through_db.get("msg")
    assert through_db["audit"] == through_api["audit"]
    # The nested provider's custom class, the sharing provider and its aggregate peer all came through.
    fpga = next(p for p in through_db["audit"]["providers"] if p["uuid"] == tricky["fpga"])
    assert fpga["inventories"]["CUSTOM_FPGA"]["used"] == 1 and fpga["parent_provider_uuid"] == tricky["rps"]["compute1"]
    assert classes_of(through_db["audit"])[(tricky["on_shared"], "shared_storage")] == "active"

    plan_api = run(lab, check=True, action="clean", backup_dir=str(tmp_path))
    plan_db = run(lab, check=True, action="clean", backup_dir=str(tmp_path), placement_database="placement")
    assert plan_db["changes"] == plan_api["changes"] and plan_db["changes"]
    cleaned = run(lab, action="clean", backup_dir=str(tmp_path), placement_database="placement")
    assert cleaned["changed"] is True
    assert [dict(change, attempts=0) for change in cleaned["changes"]] == plan_api["changes"]
    assert run(lab, action="clean", backup_dir=str(tmp_path), placement_database="placement")["changed"] is False


def test_placement_database_that_is_not_placements_is_refused(clean_lab, placement_seed):
    result = run(clean_lab, placement_database="nova_cell1")
    assert result.get("failed") is True
    # nova's cell databases still carry the old resource_providers, inventories and allocations tables.
    assert result["msg"].startswith("Database nova_cell1 is not a Placement database: it has no ")
    assert "resource_classes" in result["msg"] and "[placement_database] connection" in result["msg"]
    missing = run(clean_lab, placement_database="no_such_database")
    assert missing.get("failed") is True and "Unknown database 'no_such_database'" in missing["msg"]


def test_unreachable_cell_makes_its_consumers_unverifiable_and_nothing_is_deleted(
        clean_lab, placement_seed, nova_seed, tmp_path):
    lab = clean_lab
    rps = compute_hosts(nova_seed, placement_seed, ["compute1"])
    rps.update(compute_hosts(nova_seed, placement_seed, ["compute4"], cell="cell2"))
    in_cell2, unknown, deleted = new_uuid(), new_uuid(), new_uuid()
    nova_seed.apply({"instances": [
        {"cell": "cell2", "uuid": in_cell2, "host": "compute4", "project_id": "p", "user_id": "u"},
        {"cell": "cell1", "uuid": deleted, "host": "compute1", "project_id": "p", "user_id": "u", "deleted": True},
    ]})
    post_allocations(lab, {in_cell2: {rps["compute4"]: SMALL}, unknown: {rps["compute1"]: SMALL},
                           deleted: {rps["compute1"]: SMALL}})
    lab.mariadb.sql("UPDATE cell_mappings SET database_connection = "
                    "'mysql+pymysql://nova:x@127.0.0.1:1/nova_cell2' WHERE name = 'cell2';", "nova_api")

    result = run(lab, action="clean", backup_dir=str(tmp_path))
    audit = result["audit"]
    assert audit["complete"] is False
    assert [c["name"] for c in audit["cells"] if not c["reachable"]] == ["cell2"]
    got = classes_of(audit)
    assert got[(in_cell2, "compute4")] == "unverifiable"
    assert got[(unknown, "compute1")] == "unverifiable"
    assert got[(deleted, "compute1")] == "deleted_instance"
    assert [change["consumer_uuid"] for change in result["changes"]] == [deleted]
    assert lab.placement.request("GET", f"/allocations/{in_cell2}")["allocations"] != {}
    assert lab.placement.request("GET", f"/allocations/{unknown}")["allocations"] != {}


class RacingClient:
    """A real PlacementClient; just before the first write to ``victim`` another writer changes it."""

    def __init__(self, client, lab, victim, provider):
        self.client, self.lab, self.victim, self.provider = client, lab, victim, provider
        self.raced = False
        self.statuses = []

    def __getattr__(self, name):
        """The negotiated microversion and the rest of the real client."""
        return getattr(self.client, name)

    def get(self, *args, **kwargs):
        return self.client.get(*args, **kwargs)

    def put(self, path, body, microversion):
        if not self.raced and path.endswith(self.victim):
            self.raced = True
            current = self.lab.placement.request("GET", f"/allocations/{self.victim}")
            current["allocations"][self.provider] = {"resources": {"VCPU": 1}}
            self.lab.placement.request("PUT", f"/allocations/{self.victim}", {
                "allocations": {rp: {"resources": a["resources"]} for rp, a in current["allocations"].items()},
                "consumer_generation": current["consumer_generation"], "project_id": current["project_id"],
                "user_id": current["user_id"], "consumer_type": current["consumer_type"]})
        try:
            return self.client.put(path, body, microversion)
        except Exception as error:
            self.statuses.append(getattr(error, "status", None))
            raise


def test_a_concurrent_writer_causes_a_409_that_is_re_read_and_retried(clean_lab, placement_seed, nova_seed,
                                                                      tmp_path):
    lab = clean_lab
    rps = compute_hosts(nova_seed, placement_seed, ["compute1", "compute2"])
    victim = new_uuid()
    post_allocations(lab, {victim: {rps["compute1"]: SMALL}})
    conn = __import__("openstack").connect(auth_type="admin_token",
                                           auth={"endpoint": lab.cfg.placement_endpoint, "token": "admin"})
    client = RacingClient(placement.PlacementClient(conn), lab, victim, rps["compute2"])
    state = placement_state.PlacementState.read(client)
    nova_db = __import__("ansible_collections.openstack_ops.runbooks.plugins.module_utils.nova_db",
                         fromlist=["connect"]).connect(dict(
                             login_db="nova_api", connect_timeout=10, config_file=None, login_unix_socket=None,
                             login_host="127.0.0.1", login_port=lab.cfg.port("mariadb"), login_user="ops",
                             login_password=DB_USERS["ops"], ca_cert=None, client_cert=None, client_key=None))

    nova = placement_nova_state.NovaSource(nova_db)
    audit = placement_audit.audit(state, nova.read(state.consumers()), 3600)
    plan = placement_clean.plan_clean(audit, placement_classify.CLEANABLE)
    assert plan == {victim: {rps["compute1"]: "orphan"}}
    cleaner = placement_clean.Cleaner(client, placement_classify.CLEANABLE,
                                      placement_clean.reclassifier(state, nova, 3600, placement_classify.CLEANABLE),
                                      str(tmp_path))
    [change] = cleaner.apply(placement_clean.plan_changes(audit, plan))
    nova_db.close()
    assert client.statuses == [409]
    assert change["attempts"] == 2 and change["action"] == "deleted"
    # The racing writer's new allocation was seen on the re-read, classified (orphan) and removed too,
    # after being backed up in a second file.
    assert set(change["removed"]) == {rps["compute1"], rps["compute2"]}
    assert len(cleaner.backups) == 2
    second = json.loads(pathlib.Path(cleaner.backups[1]["path"]).read_text())
    assert set(second["consumers"][victim]["allocations"]) == {rps["compute1"], rps["compute2"]}
    assert lab.placement.request("GET", f"/allocations/{victim}")["allocations"] == {}


def test_bad_input_and_unreachable_services_fail_clearly(clean_lab, placement_seed):
    lab = clean_lab
    placement_seed.compute_node("compute1")
    bad_uuid = run(lab, action="clean", backup_dir="/tmp/unused", consumers=["not-a-uuid"])
    assert bad_uuid.get("failed") is True and bad_uuid["msg"] == "Invalid consumer UUID(s): not-a-uuid"

    unknown = run(lab, resource_providers=["compute1", "no-such-host"])
    assert unknown.get("failed") is True and unknown["msg"] == "Unknown resource provider(s): no-such-host"

    bad_request = run(lab, action="fit", resources="VCPU=one")
    assert bad_request.get("failed") is True and "Invalid resource request 'VCPU=one'" in bad_request["msg"]

    down = run_module("placement_allocation", module_args(
        lab, cloud=None, auth_type="admin_token", auth={"endpoint": "http://127.0.0.1:1", "token": "admin"}))
    assert down.get("failed") is True and "OpenStack request failed" in down["msg"], down
    assert "the service is unavailable" in down["msg"]

    forbidden = run_module("placement_allocation", module_args(
        lab, cloud=None, auth_type="admin_token", auth={"endpoint": lab.cfg.placement_endpoint, "token": "nobody"}))
    assert forbidden.get("failed") is True and "HTTP 403" in forbidden["msg"], forbidden

    wrong_password = run(lab, nova_db=dict(login_host="127.0.0.1", login_port=lab.cfg.port("mariadb"),
                                           login_user="ops", login_password="wrong-password"))
    assert wrong_password.get("failed") is True
    assert "Cannot connect to database nova_api at 127.0.0.1" in wrong_password["msg"]
    assert "wrong-password" not in json.dumps(wrong_password)


PLAYBOOKS = pathlib.Path(__file__).resolve().parents[2] / "playbooks"


def task(report, name):
    return next(t for play in report["plays"] for t in play["tasks"] if t["name"] == name)["hosts"]["localhost"]


def test_playbooks_report_explain_refuse_without_backup_and_plan_in_check_mode(
        clean_lab, placement_seed, nova_seed, tmp_path):
    lab = clean_lab
    rps = compute_hosts(nova_seed, placement_seed, ["compute1"])
    dead = new_uuid()
    post_allocations(lab, {dead: {rps["compute1"]: {"VCPU": 1, "MEMORY_MB": 10000, "DISK_GB": 1}}})
    connection = {"nova_db": module_args(lab)["nova_db"]}
    env = {"OS_CLIENT_CONFIG_FILE": str(lab.cfg.path("clouds.yaml"))}
    base = dict(audit_placement_cloud="opslab", audit_placement_nova_db=connection["nova_db"])

    rc, report = run_playbook(PLAYBOOKS / "audit_placement.yml", dict(
        base, audit_placement_report_path=str(tmp_path / "audit.json"), audit_placement_fail_on=["orphan"]), env=env)
    assert rc == 2
    saved = json.loads((tmp_path / "audit.json").read_text())
    assert saved["summary"]["allocations"]["orphan"] == 1
    summary = task(report, "Report | summary per provider")["msg"]
    assert summary[0].startswith("compute1: DISK_GB 1/100 (free 99), MEMORY_MB 10000/10993 (free 993)")
    assert "orphan 1" in summary[0]
    assert task(report, "Fail on the chosen classifications")["msg"] == "1 allocation(s) classified orphan"
    assert "Allocations: orphan 1" in summary
    # The page beside the JSON, in a browser: compute1's bars and the orphan highlighted, as the JSON says.
    audit_page = check_page(tmp_path / "audit.html", saved, "placement_audit", "lab-audit_placement")
    assert audit_page.one("details", data_classification="orphan")["attrs"]["data-count"] == "1"
    assert audit_page.one(id="cloud")["text"] == "opslab"

    # Read from Placement's database this time: the same counts.
    rc, report = run_playbook(PLAYBOOKS / "audit_placement.yml", dict(
        base, audit_placement_report_path=str(tmp_path / "counts.json"), audit_placement_report="summary",
        audit_placement_placement_database="placement"), env=env)
    assert rc == 0
    assert task(report, "Report | summary per provider")["msg"][0] == "Allocations: orphan 1"
    counts = json.loads((tmp_path / "counts.json").read_text())
    assert counts["report"] == "summary" and "consumers" not in counts and counts["summary"] == saved["summary"]

    rc, report = run_playbook(PLAYBOOKS / "diagnose_novalidhost.yml", dict(
        diagnose_novalidhost_cloud="opslab", diagnose_novalidhost_nova_db=connection["nova_db"],
        diagnose_novalidhost_resources=REQUEST, diagnose_novalidhost_fail_when_nothing_fits=True,
        diagnose_novalidhost_report_path=str(tmp_path / "novalidhost.json")), env=env)
    assert rc == 2
    assert "MEMORY_MB: asks 1024, only 993 free" in task(report, "Fit | fail when no host can take the request")["msg"]
    fit = json.loads((tmp_path / "novalidhost.json").read_text())
    fit_page = check_page(tmp_path / "novalidhost.html", fit, "placement_fit", "lab-diagnose_novalidhost")
    assert fit_page.one("div", data_rc="MEMORY_MB")["attrs"]["data-capacity"] == "10993"

    clean = dict(clean_placement_cloud="opslab", clean_placement_nova_db=connection["nova_db"],
                 clean_placement_report_path=str(tmp_path / "clean.json"))
    rc, report = run_playbook(PLAYBOOKS / "clean_placement.yml", dict(clean, clean_placement_backup_dir=""), env=env)
    assert rc == 2 and "no allocation is changed without a fresh backup" in task(
        report, "Preflight | check the variables")["msg"]

    before = placement_snapshot(lab, rps.values())
    rc, report = run_playbook(PLAYBOOKS / "clean_placement.yml", dict(
        clean, clean_placement_backup_dir=str(tmp_path / "backups")), check=True, diff=True, env=env)
    assert rc == 0
    planned = task(report, "Clean | back up, then remove the allocations of the chosen classes")
    assert planned["changed"] is True and [c["consumer_uuid"] for c in planned["changes"]] == [dead]
    assert placement_snapshot(lab, rps.values()) == before
    assert json.loads((tmp_path / "clean.json").read_text())["check_mode"] is True

    rc, report = run_playbook(PLAYBOOKS / "clean_placement.yml", dict(
        clean, clean_placement_backup_dir=str(tmp_path / "backups")), env=env)
    assert rc == 0
    assert held(lab, dead) == {}
    written = json.loads((tmp_path / "clean.json").read_text())
    assert written["backups"][0]["consumers"] == 1
    check_page(tmp_path / "clean.html", written, "placement_clean", "lab-clean_placement")
    assert pathlib.Path(written["backups"][0]["path"]).exists()

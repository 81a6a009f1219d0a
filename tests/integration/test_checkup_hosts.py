"""checkup.yml's per-host-group plays: the database checks against the light lab's real MariaDB, the haproxy and nova
checks against the files of local hosts (db1, lb1, n1 in an inventory of the test's own).

A clean configuration gives no finding (check mode gives the same report); each seeded precondition - a recycle time
past MariaDB's wait_timeout, a connection held idle past its service's recycle time, three Galera writers behind
haproxy, an API backend inheriting `balance source`, a 90 s block-device wait, the scheduler's defaults - gives
exactly its finding with its numbers; a load balancer that cannot be reached, and a check the lab cannot serve (the
lab has no systemd) are "not run" with why, never "passed". The lab's MariaDB is no Galera node: in the Galera
group it is a node connected to no cluster (critical), left out of the clean run.
"""
import json
import os
import pathlib

from tests.integration.ansible_runner import run_playbook
from tests.integration.test_db_connections import connect, login, scalar, wait_for

PLAYBOOK = pathlib.Path(__file__).resolve().parents[2] / "playbooks" / "checkup.yml"
HOST_CHECKS = ["galera_state", "timeout_order", "db_connections", "haproxy_galera_writers", "haproxy_balance_source",
               "block_device_wait", "scheduler_spread", "stale_config"]
NOVA_CONF = """\
[DEFAULT]
{wait}
[database]
connection = mysql+pymysql://nova:secret@127.0.0.1/nova
connection_recycle_time = {recycle}

[filter_scheduler]
{scheduler}
"""
HAPROXY = """\
defaults
    mode http
    balance {balance}
    timeout connect 5s
    timeout client {timeout}s
    timeout server {timeout}s

listen mariadb
    mode tcp
    bind 127.0.0.1:13306
    server ctl1 10.0.0.11:3306 check
    server ctl2 10.0.0.12:3306 check{backup}
    server ctl3 10.0.0.13:3306 check{backup}

listen nova_api
    bind 127.0.0.1:18774
    server ctl1 10.0.0.11:8774 check

listen cinder_api
    bind 127.0.0.1:18776
    balance roundrobin
    server ctl1 10.0.0.11:8776 check
"""


def write_cloud(tmp_path, wait_timeout, clean, unreachable=False):
    """nova.conf and haproxy.cfg, clean or seeded, and the inventory of db1, lb1 and n1 (and lb9, unreachable)."""
    nova_conf, haproxy_cfg = tmp_path / "nova.conf", tmp_path / "haproxy.cfg"
    if clean:
        nova_conf.write_text(NOVA_CONF.format(
            wait="block_device_allocate_retries = 200\n", recycle=min(3600, wait_timeout // 2),
            scheduler="host_subset_size = 3\nshuffle_best_same_weighed_hosts = true"))
        haproxy_cfg.write_text(HAPROXY.format(balance="roundrobin", timeout=2 * wait_timeout, backup=" backup"))
    else:
        # seed 003: recycled 100 s after MariaDB closed it; seed 002: 30 x 3 s; seed 001: nova's scheduler defaults
        nova_conf.write_text(NOVA_CONF.format(wait="block_device_allocate_retries = 30\n", recycle=wait_timeout + 100,
                                              scheduler=""))
        haproxy_cfg.write_text(HAPROXY.format(balance="source", timeout=2 * wait_timeout, backup=""))
    local = {"ansible_connection": "local"}
    haproxy_hosts = {"lb1": dict(local, checkup_haproxy_config=str(haproxy_cfg))}
    if unreachable:
        haproxy_hosts["lb9"] = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1}
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({
        "galera": {"hosts": {"db1": dict(local, checkup_service_configs=[str(nova_conf)],
                                         checkup_haproxy_config=str(haproxy_cfg))}},
        "haproxy": {"hosts": haproxy_hosts},
        "nova": {"hosts": {"n1": dict(local, checkup_nova_conf=str(nova_conf))}}}))
    return str(inventory)


def checkup(lab, tmp_path, inventory, name, check=False, checks=()):
    report_path = tmp_path / f"{name}.json"
    rc, _out = run_playbook(PLAYBOOK, dict(
        checkup_groups=["database", "haproxy", "nova"], checkup_checks=list(checks), checkup_db_login=login(lab),
        checkup_db_services=[{"name": "scratch", "user": "glance", "connection_recycle_time": 2}],
        checkup_db_default_recycle_time=0, checkup_report_path=str(report_path)), check=check, inventory=inventory)
    return rc, json.loads(report_path.read_text())


def wait_timeout_of(lab):
    admin = connect(lab)
    try:
        return int(scalar(admin, "SELECT @@GLOBAL.wait_timeout"))
    finally:
        admin.close()


def assert_not_served_by_the_lab(status):
    """nova_services needs systemd units of nova, which the lab host has not: not run, with why, never passed."""
    assert status["stale_config"]["status"] == "not_run"
    if os.path.isdir("/run/systemd/system"):
        assert "no nova systemd unit" in status["stale_config"]["why"]
    else:
        assert "systemctl" in status["stale_config"]["why"]


def test_a_clean_configuration_has_no_finding_and_check_mode_reports_the_same(lab, tmp_path):
    inventory = write_cloud(tmp_path, wait_timeout_of(lab), clean=True)
    rc, report = checkup(lab, tmp_path, inventory, "clean", checks=HOST_CHECKS[1:])
    assert rc == 0, report["text"]
    assert report["findings"] == [], report["text"]
    status = {c["id"]: c for c in report["checks"]}
    assert {c: status[c]["status"] for c in HOST_CHECKS if c not in ("galera_state", "stale_config")} == dict.fromkeys(
        ["timeout_order", "db_connections", "haproxy_galera_writers", "haproxy_balance_source", "block_device_wait",
         "scheduler_spread"], "passed")
    assert_not_served_by_the_lab(status)
    assert status["placement_allocations"]["status"] == status["galera_state"]["status"] == "not_selected"

    rc, planned = checkup(lab, tmp_path, inventory, "check", check=True, checks=HOST_CHECKS[1:])
    assert rc == 0 and planned["check_mode"] is True
    assert planned["findings"] == report["findings"] and planned["checks"] == report["checks"]


def test_each_seeded_precondition_gives_its_finding_and_an_unreachable_balancer_is_not_run(lab, tmp_path):
    wait_timeout = wait_timeout_of(lab)
    inventory = write_cloud(tmp_path, wait_timeout, clean=False, unreachable=True)
    written = {name: (tmp_path / name).read_bytes() for name in ("nova.conf", "haproxy.cfg")}
    held = connect(lab, user="glance")   # seed 003: a pooled connection left idle past its recycle time (2 s)
    try:
        own = scalar(held, "SELECT CONNECTION_ID()")
        admin = connect(lab)
        try:
            wait_for(lambda: scalar(admin, "SELECT TIME FROM information_schema.PROCESSLIST WHERE ID = %s", (own,)) >= 3,
                     "the held connection idle for 3 s")
        finally:
            admin.close()
        rc, report = checkup(lab, tmp_path, inventory, "seeded")
    finally:
        held.close()

    assert rc == 2, report["text"]   # the gate: high findings
    found = {(f["id"], f["subject"]): f for f in report["findings"]}
    assert {key: (f["severity"], f["value"]) for key, f in found.items()} == {
        ("galera_state.disconnected", "db1"): ("critical", 0),
        ("timeout_order.recycle_after_wait_timeout", "db1"): ("high", 100),
        ("db_connections.long_held", "db1 scratch"): ("medium", 1),
        ("haproxy_galera_writers.multi_writer", "lb1 mariadb"): ("high", 3),
        ("haproxy_balance_source.source", "lb1"): ("medium", 1),
        ("block_device_wait.short", "n1"): ("high", 510),
        ("scheduler_spread.subset", "n1"): ("medium", 1),
        ("scheduler_spread.no_shuffle", "n1"): ("low", 0)}, report["text"]

    assert found["galera_state.disconnected", "db1"]["evidence"]["cluster_status"] == "Disconnected"
    order = found["timeout_order.recycle_after_wait_timeout", "db1"]
    assert order["evidence"]["connection_recycle_time"] == wait_timeout + 100
    assert order["evidence"]["wait_timeout"] == wait_timeout and order["seeds"] == ["003"]
    assert f"-e galera_tuning_wait_timeout={wait_timeout + 100 + (wait_timeout - 100) // 2}" in order["fix"]
    assert "--check --diff" in order["fix"]
    held_finding = found["db_connections.long_held", "db1 scratch"]
    assert held_finding["evidence"]["threads"] == [own]
    assert found["haproxy_balance_source.source", "lb1"]["evidence"] == dict(sections=["nova_api"],
                                                                             inherited=["nova_api"])
    wait = found["block_device_wait.short", "n1"]
    assert wait["title"].startswith("nova-compute on n1 waits 90 s for a boot volume (30 x 3 s, partly nova's default")
    assert "tune_nova -i inventory -l n1 -e nova_conf_tuning_block_device_wait=600 --check --diff" in wait["fix"]
    assert "fix_haproxy_balance -i inventory -l lb1 --check --diff" in found[
        "haproxy_galera_writers.multi_writer", "lb1 mariadb"]["fix"]

    status = {c["id"]: c for c in report["checks"]}
    for check in ("haproxy_galera_writers", "haproxy_balance_source"):
        assert status[check]["status"] == "found" and status[check]["hosts_run"] == ["lb1"]
        assert status[check]["not_run_hosts"]["lb9"].startswith("unreachable: ")
    assert report["summary"]["partly_run"] == ["haproxy_galera_writers", "haproxy_balance_source"]
    assert_not_served_by_the_lab(status)
    # the files were only read: byte for byte as written
    assert {name: (tmp_path / name).read_bytes() for name in written} == written
    # nothing beside them (the report files aside: main's checkup.yml adds an .html page)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("seeded.")) == [
        "haproxy.cfg", "inventory.json", "nova.conf"]

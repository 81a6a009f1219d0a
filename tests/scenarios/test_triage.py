"""triage_instance.yml on the cloud lab (seeds 004, 000): where an instance stands and where to look next.

A boot that the real scheduler refuses (NoValidHost, buried in cell0), a healthy server, a server whose `stop` no
service picks up because its compute's nova-compute hangs (SIGSTOP), and UUIDs that match nothing.
"""
import json
import os
import signal
import uuid

from tests.integration.ansible_runner import run_playbook
from tests.integration.browser import Dom, open_page
from tests.lab import process
from tests.lab.cloud import CLOUD_CELLS
from tests.lab.config import REPO_ROOT

PLAYBOOK = REPO_ROOT / "playbooks" / "triage_instance.yml"


def triage(cloud, tmp_path, **extra):
    """Run the playbook as an operator would; returns (rc, its JSON report or None, the text summary, ansible's)."""
    report = tmp_path / "triage.json"
    rc, out = run_playbook(PLAYBOOK, dict(triage_instance_cloud="opslab-admin", triage_instance_nova_db=cloud.nova_db(),
                                          triage_instance_report_path=str(report), **extra),
                           env={"OS_CLIENT_CONFIG_FILE": str(cloud.lab.clouds_yaml)})
    text = report.with_suffix(".txt")
    return (rc, json.loads(report.read_text()) if report.exists() else None,
            text.read_text() if text.exists() else "", out)


def action_request_ids(cloud, server):
    """The request ids the compute API lists for a server's actions (os-instance-actions)."""
    return {action["request_id"] for action in cloud.admin("GET", f"/servers/{server}/os-instance-actions")
            ["instanceActions"]}


def compute_state(cloud, host):
    services = cloud.admin("GET", f"/os-services?binary=nova-compute&host={host}")["services"]
    return services[0]["state"]


def hang(lab, host, resume=False):
    """Stop (SIGSTOP) or resume (SIGCONT) a compute's nova-compute process group, from the lab's process records.

    A stopped nova-compute is a hung one: its RabbitMQ connection stays open (the lab runs without AMQP
    heartbeats), messages cast to compute.<host> wait, no heartbeat reaches the database. It cannot be killed and
    started again here: nova's fake driver gives its node a new UUID in every process, and nova-compute then
    refuses to start ("No local node identity found").
    """
    os.killpg(lab.pids[f"nova-compute-{host}"], signal.SIGCONT if resume else signal.SIGSTOP)


def test_a_novalidhost_boot_is_triaged_to_scheduling_with_its_fault_and_request_id(cloud, tmp_path):
    flavor = {"flavor": {"name": "triage.huge", "id": "triage.huge", "vcpus": 1, "ram": 1024 * 1024, "disk": 1}}
    cloud.admin("POST", "/flavors", flavor)
    try:
        server = cloud.boot("refused", "triage.huge")
        failed = cloud.wait([server])[server]
        assert failed["status"] == "ERROR" and "No valid host was found" in failed["fault"]["message"]

        rc, report, text, _out = triage(cloud, tmp_path, triage_instance_instances=server)
        assert rc == 0, text
        item = report["instances"][0]
        assert item["verdict"] == "error" and item["cell0"] is True and item["host"] is None
        assert item["step"]["name"] == "scheduling" and item["step"]["seed_steps"] == "3-12"
        assert {"nova-scheduler", "nova-conductor"} <= set(item["step"]["services"])
        assert "No valid host was found" in item["faults"][0]["message"]
        assert set(item["request_ids"]) == action_request_ids(cloud, server)
        event = item["actions"][0]["events"][0]
        assert (item["actions"][0]["action"], event["event"], event["result"]) == (
            "create", "conductor_schedule_and_build_instances", "Error")
        assert item["request_ids"][0] in report["trace_request_terms"]
        assert f'"trace_request_terms": ["{item["request_ids"][0]}"' in text
        # the page beside the JSON, in Chromium: the instance in red with its step
        html, console, _shot = open_page(tmp_path / "triage.html", "scenario-triage-novalidhost")
        dom = Dom(html)
        assert not console and dom.one("header")["attrs"]["data-level"] == "bad"
        assert dom.one("section", data_instance=server)["attrs"]["data-verdict"] == "error"
        assert [b["text"] for b in dom.find("b", data_key="step")] == ["scheduling"]
    finally:
        cloud.delete_all()
        cloud.admin("DELETE", "/flavors/triage.huge")


def test_an_active_server_is_healthy_with_its_allocation_on_its_host(cloud, tmp_path):
    server = cloud.boot("fine", "m1.tiny")
    active = cloud.wait([server])[server]
    assert active["status"] == "ACTIVE"
    host = active["OS-EXT-SRV-ATTR:host"]
    cell = next(name for name, spec in CLOUD_CELLS.items() if host in spec["computes"])

    rc, report, text, _out = triage(cloud, tmp_path, triage_instance_instances=[server],
                                    triage_instance_fail_when_unhealthy=True)
    assert rc == 0, text
    item = report["instances"][0]
    assert item["verdict"] == "healthy", item["problems"]
    assert (item["cell"], item["host"], item["vm_state"], item["task_state"]) == (cell, host, "active", None)
    assert item["host_service"]["up"] is True and item["host_service"]["disabled"] is False
    assert [provider["name"] for provider in item["allocations"]["providers"].values()] == [host]
    assert item["actions"][0]["action"] == "create"
    assert report["summary"] == {"triaged": 1, "verdicts": {"healthy": 1}}


def test_a_stop_that_its_hung_compute_never_picks_up_is_stuck_at_the_compute(cloud, tmp_path):
    lab = cloud.lab
    server = cloud.boot("stuck", "m1.tiny", host="cmp2")
    assert cloud.wait([server])[server]["status"] == "ACTIVE"
    hang(lab, "cmp2")
    try:
        cloud.admin("POST", f"/servers/{server}/action", {"os-stop": None})
        # nova itself must call the compute down (no heartbeat for service_down_time, 60 s) before triage is asked
        process.wait_until(lambda: compute_state(cloud, "cmp2") == "down", 150, "nova-compute on cmp2 to be down")
        _code, shown = cloud.status_of(server, as_admin=True)
        assert shown["OS-EXT-STS:task_state"] == "powering-off"

        # no UUID: every instance in ERROR or in a task_state for longer than triage_instance_stuck_after
        rc, report, text, _out = triage(cloud, tmp_path, triage_instance_stuck_after=10)
        assert rc == 0, text
        assert report["selection"]["mode"] == "error_or_stuck"
        assert [item["instance_uuid"] for item in report["instances"]] == [server]
        item = report["instances"][0]
        assert item["verdict"] == "stuck" and item["task_state"] == "powering-off"
        assert item["step"]["name"] == "power action" and item["step"]["services"][0] == "nova-compute"
        assert item["host_service"]["up"] is False and item["host_service"]["forced_down"] is False
        assert item["host_service"]["last_report_age_seconds"] > 60
        assert any(problem.startswith("nova-compute on cmp2 is down: last heartbeat") for problem in item["problems"])
        stop = item["actions"][0]
        assert stop["action"] == "stop" and stop["events"] == [] and stop["request_id"] in action_request_ids(
            cloud, server)
        assert {"service": "nova-compute", "host": "cmp2", "logs": ["/var/log/kolla/nova/nova-compute.log",
                                                                    "/var/log/nova/nova-compute.log"]} \
            in item["where_to_look"]
    finally:
        hang(lab, "cmp2", resume=True)
        # the resumed nova-compute takes the stop it was sent and reports again
        process.wait_until(lambda: compute_state(cloud, "cmp2") == "up", 300, "nova-compute on cmp2 to be up")
        process.wait_until(lambda: cloud.status_of(server, as_admin=True)[1]["status"] == "SHUTOFF", 300,
                           "the stop to be carried out")


def test_uuids_that_match_nothing_give_a_clear_result_and_change_nothing(cloud, tmp_path):
    tables = "CHECKSUM TABLE instance_mappings, build_requests, request_specs"
    before = cloud.sql(tables, "nova_api")
    unknown = str(uuid.uuid4())
    rc, report, text, _out = triage(cloud, tmp_path, triage_instance_instances=[unknown])
    assert rc == 0, text
    item = report["instances"][0]
    assert (item["found"], item["verdict"]) == (False, "not_found")
    assert item["summary"].startswith(f"No instance {unknown} in any cell")
    assert report["trace_request_terms"] == []

    rc, report, _text, out = triage(cloud, tmp_path / "bad", triage_instance_instances=["not-a-uuid"])
    assert rc == 2 and report is None
    failed = [task["hosts"]["localhost"] for play in out["plays"] for task in play["tasks"]
              if task["hosts"].get("localhost", {}).get("failed")]
    assert failed[0]["msg"] == "Not an instance UUID: not-a-uuid; nothing was read"
    assert cloud.sql(tables, "nova_api") == before

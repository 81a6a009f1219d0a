"""checkup.yml against the light lab's real Placement, nova databases, RabbitMQ and nova-conductors.

A clean lab gives no finding; a leaked allocation, a queue nobody consumes and a stopped conductor each give exactly
their finding with its numbers and its fix; a broker that cannot be reached is "not run", and so is a check that
hangs, stopped at its bound; two runs compared name what is new and what was fixed. The controller's checks run as
background jobs (async) whose files the run removes.
"""
import json
import pathlib
import socket
import stat
import time

from tests.integration.ansible_runner import run_playbook
from tests.integration.checkup_lab import (
    PLAYBOOK, checkup, job_files, leak_memory, queue_without_consumer, run, variables)
from tests.integration.test_rabbitmq_queue_info import login
from tests.integration.test_report_html_browser import check_page
from tests.lab.config import CONTROLLERS


def by_id(report):
    return {(f["id"], f["subject"]): f for f in report["findings"]}


def test_a_clean_lab_has_no_finding_and_check_mode_reports_the_same(clean_lab, tmp_path):
    tmp_path.chmod(0o1777)     # a shared directory the report is written into (as /tmp): it keeps its mode
    rc, report = checkup(clean_lab, tmp_path / "clean.json")
    assert rc == 0, report["text"]
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o1777
    assert report["schema"] == "openstack_ops.checkup/v1"
    assert report["findings"] == [] and report["summary"]["gate_failed"] is False
    assert {c["id"]: c["status"] for c in report["checks"] if c["status"] != "not_selected"} == {
        "placement_allocations": "passed", "cells_mappings": "passed", "messaging_queues": "passed",
        "conductors_ping": "passed"}

    rc, out = run(clean_lab, variables(clean_lab, tmp_path / "check.json"), check=True)
    planned = json.loads((tmp_path / "check.json").read_text())
    assert rc == 0 and planned["check_mode"] is True
    assert planned["findings"] == report["findings"] and planned["checks"] == report["checks"]
    # in check mode too, each check (and each conductor's ping) ran as a background job, and no job file is left
    files = job_files(out)
    assert len(files) == 3 + len(CONTROLLERS), files
    assert not [path for path in files if pathlib.Path(path).exists()]


def test_each_precondition_gives_its_finding_with_numbers_and_fix_then_the_trend(
        clean_lab, placement_seed, nova_seed, tmp_path):
    lab = clean_lab
    _rc, clean = checkup(lab, tmp_path / "before.json")
    # seed 000: an allocation nobody owns; seed 003: a message nobody will take, a conductor that does not answer
    orphan = leak_memory(lab, placement_seed, nova_seed, "compute1", 6000)
    queue = queue_without_consumer(lab, "compute.cmp9")
    lab.stop_conductor("ctl2")
    lab.wait_consumers("conductor.ctl2", 0)
    try:
        rc, report = checkup(lab, tmp_path / "incident.json", checkup_previous=str(tmp_path / "before.json"))
    finally:
        lab.rabbitmq.api(queue, "DELETE")

    assert rc == 2   # the gate: findings at or above high
    found = by_id(report)
    assert set(found) == {("placement_allocations.leaked", "compute1"), ("messaging_queues.no_consumer", "/ compute.cmp9"),
                          ("conductors_ping.unanswered", "ctl2")}, report["text"]
    leak = found["placement_allocations.leaked", "compute1"]
    # 7841 MB, ratio 1.5, reserved 512 in the lab's compute1 provider: 6000 of its 10993 MB is over a quarter
    assert leak["severity"] == "high" and leak["value"] == 6000 and leak["evidence"]["consumers"] == [orphan]
    assert leak["title"].startswith("1 leaked consumer(s) hold 6000 MB of MEMORY_MB on compute1; ")
    assert "clean_placement" in leak["fix"] and "--check --diff" in leak["fix"]
    assert found["messaging_queues.no_consumer", "/ compute.cmp9"]["severity"] == "high"
    ping = found["conductors_ping.unanswered", "ctl2"]
    assert ping["severity"] == "critical" and "recover_conductor" in ping["fix"] and ping["seeds"] == ["003"]
    assert [f["severity"] for f in report["findings"]][0] == "critical"   # most severe first
    assert sorted(report["trend"]["new"]) == sorted(f"{i} {s}" for i, s in found) and report["trend"]["fixed"] == []
    assert report["trend"]["previous"] == clean["ended"]
    # its page, written before the gate failed the play, in a browser: the JSON's numbers
    check_page(tmp_path / "incident.html", report, "checkup", "lab-checkup-incident")

    lab.placement.request("DELETE", f"/allocations/{orphan}")
    lab.start_conductor("ctl2")
    rc, after = checkup(lab, tmp_path / "after.json", checkup_previous=str(tmp_path / "incident.json"))
    assert rc == 0 and after["findings"] == []
    assert sorted(after["trend"]["fixed"]) == sorted(f"{i} {s}" for i, s in found)


def test_a_broker_that_cannot_be_reached_is_not_run_never_passed(clean_lab, tmp_path):
    rc, report = checkup(clean_lab, tmp_path / "broken.json",
                         checkup_rabbitmq_login=dict(login(clean_lab), login_port=1))
    status = {c["id"]: c for c in report["checks"]}
    assert status["messaging_queues"]["status"] == "not_run"
    assert "Cannot reach the RabbitMQ management API" in status["messaging_queues"]["why"]
    assert status["placement_allocations"]["status"] == "passed" and status["conductors_ping"]["status"] == "passed"
    assert report["summary"]["not_run"] == ["messaging_queues"] and report["findings"] == []
    assert any(line.startswith("NOT RUN messaging_queues: ") for line in report["text"])
    assert rc == 0   # not run is said, in the report and the last lines; the gate is about findings


def test_a_check_that_hangs_is_stopped_at_its_bound_and_not_run(clean_lab, tmp_path):
    # a management API that takes the connection and never answers: rabbitmq_queue_info would wait its own 30 s
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        rc, report = checkup(clean_lab, tmp_path / "hung.json", checkup_checks=["messaging_queues"],
                             checkup_check_timeout=3,
                             checkup_rabbitmq_login=dict(login(clean_lab), login_port=silent.getsockname()[1]))
        took = time.monotonic() - started
    status = {c["id"]: c for c in report["checks"]}
    assert status["messaging_queues"]["status"] == "not_run", report["text"]
    assert status["messaging_queues"]["why"] == "no result within 3 s (checkup_check_timeout): the check was stopped"
    assert rc == 0 and report["findings"] == []
    assert took < 45, took   # the bound, async_wrapper's check of it and the playbook; no 30 s HTTP timeout, no hang


def test_a_selection_that_leaves_no_check_is_refused(clean_lab, tmp_path):
    rc, _out = run_playbook(PLAYBOOK, dict(checkup_groups=["placement"], checkup_seeds=["003"],
                                           checkup_report_path=str(tmp_path / "none.json")))
    assert rc == 2 and not (tmp_path / "none.json").exists()

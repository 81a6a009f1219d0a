"""guru_meditation_report on the lab's real nova-conductor processes (nova 34, oslo.reports, threading backend).

The lab starts each conductor with its stderr in logs/nova-conductor-<host>.out (its log in .log), so that is
where oslo.reports writes the report; the conductor is a parent (oslo.service's process manager) with a worker.
"""
import json
import os
import signal

import pytest

from tests.integration.ansible_runner import run_module
from tests.lab import process


def tree(pid):
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
        return [pid] + [child for part in handle.read().split() for child in tree(int(part))]


def state(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def conductor(lab):
    pid = lab.pids["nova-conductor-ctl1"]
    assert process.alive(pid), "the lab's conductor on ctl1 is not running"
    before = tree(pid)
    yield pid, before
    for each in before:
        if process.alive(each) and state(each) == "T":
            os.kill(each, signal.SIGCONT)


def test_reports_of_a_running_conductor_parent_and_worker(lab, conductor):
    pid, before = conductor
    result = run_module("guru_meditation_report", dict(pid=pid, timeout=60))
    for report in result.get("reports", []):   # figures for the record (pytest -s)
        print(f"GMR pid {report['pid']}: {report['bytes']} bytes, {report['threads_total']} threads, "
              f"{report['green_threads_total']} green threads, {len(report['configuration'])} option groups, "
              f"functions {sorted({frame['function'] for thread in report['threads'] for frame in thread['frames']})[:8]}")

    assert not result.get("failed"), result
    assert result["changed"] is False and result["signal"] == "SIGUSR2"
    reports = result["reports"]
    assert [report["pid"] for report in reports][0] == pid and result["captured"] == len(reports) >= 1
    out = str(lab.cfg.path("logs", "nova-conductor-ctl1.out"))
    for report in reports:
        assert report["source"] == f"stderr file: {out}"
        assert report["processes"][0]["pid"] == report["pid"]
        assert report["package"]["product"] == "OpenStack Nova"
        assert report["threads_total"] >= 1 and report["threads"][0]["frames"]
        configuration = report["configuration"]
        assert configuration["default"]["host"] == "ctl1"
        assert configuration["database"]["connection"] == "***"
        assert configuration["api_database"]["connection"] == "***"
        assert configuration["default"]["transport_url"] == "***"
        assert configuration["conductor"]["workers"] == "1"
    password = lab.cfg.db_url("nova_cell1").split("@")[0].rsplit(":", 1)[1]
    assert password not in json.dumps(result)
    # nothing else changed: the same processes, the conductor still consumes its queue
    assert tree(pid) == before and all(state(each) != "T" for each in before)
    assert lab.queue_consumers("conductor.ctl1") > 0


def test_a_stopped_worker_gives_no_report_and_stays_as_it_was(lab, conductor):
    pid, before = conductor
    stopped = before[-1]
    os.kill(stopped, signal.SIGSTOP)
    try:
        result = run_module("guru_meditation_report", dict(pid=pid, timeout=10))
        assert state(stopped) == "T"
    finally:
        os.kill(stopped, signal.SIGCONT)

    assert not result.get("failed"), result
    entry = next(report for report in result["reports"] if report["pid"] == stopped)
    assert entry["captured"] is False and entry["state"] == "T"
    assert entry["reason"].startswith("no report: process stopped (state T)")
    assert result["captured"] == len(result["reports"]) - 1
    assert tree(pid) == before and process.alive(stopped)


def test_targets_that_do_not_exist_fail_clearly(lab, conductor):
    pid, before = conductor
    gone = run_module("guru_meditation_report", dict(pid=4194305))
    assert gone["failed"] and gone["msg"] == "no process with PID 4194305 on this host"
    unit = run_module("guru_meditation_report", dict(systemd_unit="no-such-nova.service"))
    assert unit["failed"] and unit["msg"].startswith("systemd unit no-such-nova.service")
    container = run_module("guru_meditation_report", dict(container="no_such_nova_conductor", container_engine="podman"))
    assert container["failed"] and "no_such_nova_conductor" in container["msg"]
    assert tree(pid) == before

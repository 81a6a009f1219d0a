"""checkup.yml's stale_config check (seed 004) on the controllers' real systemd units, run by side_effect.yml around
its interrupted run: ctl1's nova.conf written (pool_timeout 45) and nothing restarted, so its nova-api and
nova-conductor run an older file; the role's next run restarted both, and the check-up after it names ctl1 fixed."""
import json

from tests.controller_lab.lab import ControllerLab
from tests.lab.config import CONTROLLERS

LAB = ControllerLab()


def checkup(run):
    return json.loads(LAB.cfg.path("nova_conf", "checkup", f"{run}.json").read_text())


def stale(report):
    return {f["subject"]: f for f in report["findings"] if f["check"] == "stale_config"}


def test_the_processes_that_predate_the_written_file_are_found():
    report = checkup("interrupted")
    [check] = [c for c in report["checks"] if c["id"] == "stale_config"]
    assert check["hosts_run"] == sorted(CONTROLLERS) and not check["not_run_hosts"], check
    finding = stale(report)["ctl1"]
    assert finding["severity"] == "medium" and finding["value"] == 2, finding
    assert set(finding["evidence"]["services"]) == {"nova-api", "nova-conductor"}
    for service in finding["evidence"]["services"].values():
        assert service["started"] < finding["evidence"]["config_changed"], finding
    assert "started" in finding["title"] and "before the file changed" in finding["title"]
    assert "runbooks.tune_nova" in finding["fix"] and "-l ctl1" in finding["fix"]


def test_the_run_that_finished_it_leaves_ctl1_fixed():
    report = checkup("finished")
    assert "ctl1" not in stale(report), stale(report)["ctl1"]
    assert "stale_config.older_than_file ctl1" in report["trend"]["fixed"], report["trend"]

"""recover_conductor.yml stopped in its preflight still writes its report (JSON and page), saying where it stopped.

Issue 20 item 9: two controllers that both claim the VIP, or a RabbitMQ login that does not work, end the run before
anything is checked further or changed, and the README promises a report for every run. The controllers here are
local connections (both see the loopback VIP, so both claim it); the broker is a closed port. No lab is started.
"""
import json
import sys

from tests.integration.ansible_runner import run_playbook
from tests.lab.config import REPO_ROOT

PLAYBOOK = REPO_ROOT / "playbooks" / "recover_conductor.yml"


def recover(tmp_path, controllers, **extra):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[controllers]\n" + "".join(
        f"{host} ansible_connection=local ansible_python_interpreter={sys.executable}\n" for host in controllers)
        + f"[local]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    report_dir = tmp_path / "reports"
    rc, _out = run_playbook(PLAYBOOK, dict(
        conductor_recovery_vip="127.0.0.1", conductor_recovery_report_dir=str(report_dir),
        conductor_recovery_transport_url="rabbit://nova:secret@127.0.0.1:1/",
        conductor_recovery_rabbitmq_login=dict(login_host="127.0.0.1", login_port=1, login_user="ops",
                                               login_password="secret"), **extra), inventory=str(inventory))
    [report] = sorted(report_dir.glob("conductor-recovery-*.json"))
    return rc, json.loads(report.read_text()), report.with_suffix(".html")


def test_two_vip_holders_stop_the_run_in_its_preflight_with_a_report(tmp_path):
    rc, report, page = recover(tmp_path, ["ctl1", "ctl2"])
    assert rc == 2
    failure = report["failure"]
    assert failure["stage"] == "preflight" and "More than one controller claims the VIP 127.0.0.1" in failure["msg"]
    assert report["steps"] == [] and report["entrance"]["closed"] is False and report["purge"] == {}
    assert report["next"].startswith("Stopped in the preflight")
    assert page.is_file() and "preflight" in page.read_text()


def test_a_broker_that_cannot_be_reached_stops_the_run_in_its_preflight_with_a_report(tmp_path):
    rc, report, _page = recover(tmp_path, ["ctl1"])
    assert rc == 2
    failure = report["failure"]
    assert failure["stage"] == "preflight" and "Cannot reach the RabbitMQ management API" in failure["msg"]
    assert report["vip_holder"] == "ctl1" and report["steps"] == []
    assert "secret" not in json.dumps(report)

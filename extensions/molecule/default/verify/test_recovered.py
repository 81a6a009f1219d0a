"""After recover_conductor.yml: every conductor back, stale messages gone but archived, the entrance open."""
import pytest
import testinfra

from tests.controller_lab import checks
from tests.controller_lab.lab import ControllerLab, http_status
from tests.integration.test_report_html_browser import check_page
from tests.lab.config import CONTROLLERS

LAB = ControllerLab()


@pytest.fixture(scope="module", name="report")
def fixture_report():
    return LAB.latest_report()


@pytest.mark.parametrize("name", CONTROLLERS)
def test_conductor_unit_is_active(name):
    assert testinfra.get_host(f"podman://{name}").service("nova-conductor").is_running


def test_three_consumers_on_the_conductor_queue():
    assert checks.eventually(lambda: LAB.services.queue_consumers("conductor"), lambda count: count == 3) == 3


@pytest.mark.parametrize("name", CONTROLLERS)
def test_conductor_answers_rpc(name):
    assert checks.answers_ping(LAB, name)


def test_stale_messages_are_gone():
    assert checks.eventually(lambda: checks.stale_messages(LAB), lambda total: total == 0) == 0


def test_purged_messages_are_archived(report):
    purge = report["purge"]
    assert purge["purged"]["messages"] >= 40, purge   # 40 casts to `conductor`, 20 to compute.*, 15 to reply_*
    assert purge["archive"]["messages"] == purge["purged"]["purged"], purge   # every drained message is archived
    # The queues' depth also counted the evidence pings the hung conductors held (one per conductor in the
    # check-mode run and one in the real run); oslo.messaging gives a call its timeout as TTL, so the broker drops
    # them once requeued instead of handing them to the drain.
    assert 0 <= purge["purged"]["messages"] - purge["archive"]["messages"] <= 2 * len(CONTROLLERS), purge
    assert not checks.archive_problems(purge["archive"])


def test_nova_api_answers_through_the_vip():
    assert http_status(LAB.vip_url) == 200


def test_report_says_recovered(report):
    assert report["result"] == "recovered", report["failure"]
    assert report["failure"] is None
    assert report["check_mode"] is False
    assert report["vip_holder"] == "ctl1"
    steps = {int(step["number"]): step for step in report["steps"]}
    assert [int(step["number"]) for step in report["steps"]] == [0, 1, 2, 3, 4, 5, 7, 8, 9, 9]
    assert set(steps[3]["details"]["stopped"]) == set(CONTROLLERS)
    assert set(steps[3]["details"]["stopped"].values()) <= {"stopped", "killed"}
    assert {name: verdict["healthy"] for name, verdict in report["conductors"].items()} == dict.fromkeys(CONTROLLERS, True)
    assert report["final_services"] == dict.fromkeys(CONTROLLERS, "active")
    assert report["entrance"] == {"closed": True, "closed_verified": True, "reopened": True, "answers": 200}
    assert report["queues"]["totals_before"]["messages"] > 0


def test_the_report_page_shows_the_recovery(report):
    """The page the role wrote beside its JSON report, opened in headless Chromium: the steps on the time axis,
    the queue depths, the conductors and the entrance are the JSON's."""
    newest = sorted(LAB.cfg.path("reports").glob("conductor-recovery-*.json"))[-1]
    page = check_page(newest.with_suffix(".html"), report, "conductor_recovery", "lab-recover_conductor")
    assert page.one("header")["attrs"]["data-level"] == "ok"
    assert page.one(id="verdict")["text"].startswith("recovered in ")

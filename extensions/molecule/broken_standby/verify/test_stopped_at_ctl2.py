"""After recover_conductor.yml with ctl2's conductor unable to start: stopped at ctl2, ctl3 left alone."""
import pytest
import testinfra

from tests.controller_lab import checks
from tests.controller_lab.lab import ControllerLab, http_status

LAB = ControllerLab()


@pytest.fixture(scope="module", name="report")
def fixture_report():
    return LAB.latest_report()


def test_the_play_failed_naming_ctl2_and_the_open_entrance():
    message = LAB.cfg.path("broken_standby-failure.txt").read_text()
    assert "nova-conductor on ctl2 did not come back healthy" in message
    assert "Entrance open" in message
    assert "Report: " in message


def test_report_says_failed_at_ctl2(report):
    assert report["result"] == "failed"
    assert "ctl2" in report["failure"]["task"] or "ctl2" in report["failure"]["msg"]
    assert report["conductors"]["ctl1"]["healthy"] is True
    assert report["conductors"]["ctl2"]["healthy"] is False
    assert report["conductors"]["ctl2"]["service"] != "active" or report["conductors"]["ctl2"]["consumers"] == 0
    assert "ctl3" not in report["conductors"], "step 9 went on past the unhealthy ctl2"
    assert "Fix the failed conductor" in report["next"]


def test_ctl3_was_left_stopped(report):
    # step 3 stopped it ("failed" when it had to be killed) and nothing started it again
    assert report["final_services"]["ctl3"] in ("inactive", "failed")
    assert not testinfra.get_host("podman://ctl3").service("nova-conductor").is_running


def test_vip_holder_answers_and_the_entrance_is_open(report):
    assert checks.answers_ping(LAB, "ctl1")
    assert report["entrance"]["reopened"] is True
    assert http_status(LAB.vip_url) == 200


def test_stale_messages_were_purged_and_archived(report):
    assert report["purge"]["purged"]["messages"] >= 40
    assert not checks.archive_problems(report["purge"]["archive"])

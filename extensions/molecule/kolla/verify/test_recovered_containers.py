"""After recover_conductor.yml on the kolla backend: every nova_conductor container back and answering."""
import pytest
import testinfra

from tests.controller_lab import checks
from tests.controller_lab.lab import ControllerLab, http_status
from tests.lab.config import CONTROLLERS

LAB = ControllerLab()


@pytest.fixture(scope="module", name="report")
def fixture_report():
    return LAB.latest_report()


@pytest.mark.parametrize("name", CONTROLLERS)
def test_nova_conductor_container_runs_and_the_unit_does_not(name):
    host = testinfra.get_host(f"podman://{name}")
    assert host.podman("nova_conductor").is_running
    assert not host.service("nova-conductor").is_running


@pytest.mark.parametrize("name", CONTROLLERS)
def test_conductor_answers_rpc(name):
    assert checks.answers_ping(LAB, name)


def test_three_consumers_and_no_stale_messages():
    assert checks.eventually(lambda: LAB.services.queue_consumers("conductor"), lambda count: count == 3) == 3
    assert checks.eventually(lambda: checks.stale_messages(LAB), lambda total: total == 0) == 0


def test_report_says_recovered_with_the_kolla_backend(report):
    assert report["backend"] == "kolla"
    assert report["result"] == "recovered", report["failure"]
    steps = {int(step["number"]): step for step in report["steps"]}
    assert set(steps[3]["details"]["stopped"].values()) <= {"stopped", "killed"}
    assert report["final_services"] == dict.fromkeys(CONTROLLERS, "running")
    assert all(verdict["healthy"] for verdict in report["conductors"].values())
    assert report["entrance"]["reopened"] is True
    assert http_status(LAB.vip_url) == 200
    assert not checks.archive_problems(report["purge"]["archive"])

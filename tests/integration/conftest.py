"""Fixtures over the service lab: one lab per session (or the one `make lab-up` left running).

Every test that uses the lab (through any fixture) is marked ``lab``: ``pytest -m "not lab" tests/integration``
runs the ones that need only local tools (haproxy, the venv's nova), with no service started.
"""
import pytest

from tests.lab import Lab, NovaSeed, PlacementSeed
from tests.lab.lab import session
from tests.lab import process
from tests.lab.config import CONTROLLERS


def pytest_configure(config):
    config.addinivalue_line("markers", "lab: the test runs against the service lab (tests/lab)")


def pytest_collection_modifyitems(items):
    for item in items:
        if "lab" in item.fixturenames:
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab():
    with session(Lab()) as lab:
        yield lab


@pytest.fixture
def clean_lab(lab):
    """The lab as right after `up`: databases restored, every conductor running."""
    lab.reset()
    for host in CONTROLLERS:
        if not process.alive(lab.pids[f"nova-conductor-{host}"]):
            lab.start_conductor(host)
    return lab


@pytest.fixture
def placement_seed(clean_lab):
    return PlacementSeed(clean_lab)


@pytest.fixture
def nova_seed(clean_lab):
    return NovaSeed(clean_lab)

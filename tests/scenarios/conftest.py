"""Incident scenarios on the cloud profile of the lab: the cloud breaks the way a seed's did, through nova's own API.

One cloud per session (or the one `make lab-up PROFILE=cloud` left running). Each scenario leaves the cloud as it
found it: every server it booted is deleted through the API, every row it removed behind nova's back is gone with
the server it belonged to. The helpers the fixtures hand out (Cloud, trace) are in helpers.py.
"""
import pytest

from tests.lab.cloud import CloudLab
from tests.lab.lab import session
from tests.scenarios.helpers import Cloud


@pytest.fixture(scope="session")
def cloud_lab():
    with session(CloudLab()) as lab:
        yield lab


@pytest.fixture
def cloud(cloud_lab):
    api = Cloud(cloud_lab)
    api.require_empty()
    yield api
    api.delete_all()

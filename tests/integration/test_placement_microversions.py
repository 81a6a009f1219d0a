"""placement_allocation against the real Placement limited to what older releases served.

tests/lab/placement_capped.py makes placement 16 advertise and accept microversions up to an older maximum only
(406 above it, as an older server answers): Train's 1.36, Rocky's consumer generations at 1.28, Queens' 1.17.
"""
import json
import urllib.error
import urllib.request

import pytest

from tests.integration.test_placement_allocation import (
    SMALL,
    SMALL_FLAVOR,
    compute_hosts,
    held,
    new_uuid,
    post_allocations,
    run,
)
from tests.lab import process

RELEASES = {"1.36": "Train to Wallaby", "1.28": "Rocky", "1.17": "Queens"}   # 1.28: within Rocky (max 1.30)


@pytest.fixture(scope="module", params=sorted(RELEASES, reverse=True))
def capped(request, lab):
    """A second Placement (the lab's database) serving microversions up to the parameter only."""
    pid, endpoint = lab.placement.start_capped(request.param)
    try:
        yield dict(max_version=request.param, endpoint=endpoint)
    finally:
        process.stop(pid)
    assert not process.alive(pid)


def call(endpoint, path, microversion=None):
    """(status, body) of a GET as the noauth2 admin."""
    req = urllib.request.Request(endpoint + path, headers={"X-Auth-Token": "admin", "Accept": "application/json"})
    if microversion:
        req.add_header("OpenStack-API-Version", f"placement {microversion}")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def cloud_of(endpoint):
    return dict(auth_type="admin_token", auth=dict(endpoint=endpoint, token="admin"))


@pytest.fixture
def seeded(clean_lab, placement_seed, nova_seed, capped):
    """compute1 with a live instance and an orphan (no instance anywhere)."""
    rps = compute_hosts(nova_seed, placement_seed, ["compute1"])
    live, orphan = new_uuid(), new_uuid()
    nova_seed.apply({"instances": [{"cell": "cell1", "uuid": live, "host": "compute1", "project_id": "p",
                                    "user_id": "u", "flavor": SMALL_FLAVOR}]})
    post_allocations(clean_lab, {live: {rps["compute1"]: SMALL}, orphan: {rps["compute1"]: SMALL}})
    return dict(lab=clean_lab, rps=rps, live=live, orphan=orphan, **capped)


def test_the_capped_service_answers_like_the_older_release(capped):
    status, document = call(capped["endpoint"], "/")
    assert status == 200 and document["versions"][0]["max_version"] == capped["max_version"]
    assert call(capped["endpoint"], "/resource_providers", capped["max_version"])[0] == 200
    status, body = call(capped["endpoint"], "/resource_providers", "1.38")
    assert status == 406, body
    assert "Unacceptable version header: 1.38" in body["errors"][0]["detail"]


def test_audit_fit_and_clean_at_an_older_maximum(seeded, tmp_path):
    lab, version = seeded["lab"], seeded["max_version"]
    cloud = cloud_of(seeded["endpoint"])
    expected = dict(microversion=version, max_version=version, min_version="1.0", release=RELEASES[version])

    audit = run(lab, cloud=cloud, report="full")
    assert not audit.get("failed"), audit.get("msg")
    assert audit["microversion"] == expected
    classes = {c["uuid"]: c["classifications"] for c in audit["audit"]["consumers"]}
    assert classes == {seeded["live"]: ["active"], seeded["orphan"]: ["orphan"]}

    fit = run(lab, cloud=cloud, action="fit", resources="VCPU:1,MEMORY_MB:1024,DISK_GB:10")
    assert not fit.get("failed"), fit.get("msg")
    assert fit["microversion"] == expected
    assert [(c["name"], c["fits"]) for c in fit["fit"]["candidates"]] == [("compute1", 9)]

    before = {u: held(lab, u) for u in (seeded["live"], seeded["orphan"])}
    cleaned = run(lab, cloud=cloud, action="clean", backup_dir=str(tmp_path))
    if tuple(map(int, version.split("."))) < (1, 28):
        assert cleaned.get("failed") is True
        assert cleaned["msg"] == (
            f"action=clean is refused: this Placement serves microversions up to {version} ({RELEASES[version]}), "
            "and a write is generation-safe only with consumer generations (microversion 1.28, Rocky or later); "
            "without them it could overwrite what Nova wrote meanwhile. Nothing was read or changed; action=audit "
            "and action=fit work on this Placement.")
        assert {u: held(lab, u) for u in before} == before and list(tmp_path.iterdir()) == []
        planned = run(lab, cloud=cloud, check=True, action="clean", backup_dir=str(tmp_path))
        assert planned.get("failed") is True and planned["msg"] == cleaned["msg"]
        restore = run(lab, cloud=cloud, action="restore", backup_file=str(tmp_path / "none.json"))
        assert restore.get("failed") is True and restore["msg"].startswith("action=restore is refused")
        return
    assert not cleaned.get("failed"), cleaned.get("msg")
    assert cleaned["microversion"] == expected
    assert [c["consumer_uuid"] for c in cleaned["changes"]] == [seeded["orphan"]]
    assert held(lab, seeded["orphan"]) == {} and held(lab, seeded["live"]) == before[seeded["live"]]
    assert run(lab, cloud=cloud, action="clean", backup_dir=str(tmp_path))["changed"] is False

    restored = run(lab, cloud=cloud, action="restore", backup_file=cleaned["backups"][0]["path"])
    assert restored["changed"] is True and restored["microversion"] == expected
    assert held(lab, seeded["orphan"]) == before[seeded["orphan"]]


def test_the_newest_placement_is_called_at_the_newest_microversion_the_module_uses(clean_lab, placement_seed):
    placement_seed.compute_node("compute1")
    result = run(clean_lab, report="summary")
    assert result["microversion"] == dict(microversion="1.38", max_version="1.39", min_version="1.0",
                                          release="Yoga or later")
    # Read from Placement's database, an audit calls no Placement API and reports no microversion.
    assert "microversion" not in run(clean_lab, report="summary", placement_database="placement")

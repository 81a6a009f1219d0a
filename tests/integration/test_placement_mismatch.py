"""Allocations that do not match their instance (seed 000's "245 rows, not a multiple of 3"), on the lab's real
Placement and nova databases, side by side with the real `nova-manage placement heal_allocations`.

Instances are seeded through nova's objects API with a flavor of 2 vCPU, 2048 MB, root 20 GB, ephemeral 5 GB and
1536 MB swap, which Nova asks Placement for as VCPU 2, MEMORY_MB 2048, DISK_GB 27 (20 + 5 + swap rounded up to
2 GiB); a boot-from-volume one asks DISK_GB 7 (no root disk).
"""
import json
import pathlib
import re
import subprocess

import pytest

from tests.integration.test_placement_allocation import held, new_uuid, placement_snapshot, run

FLAVOR = {"name": "lab.medium", "vcpus": 2, "memory_mb": 2048, "root_gb": 20, "ephemeral_gb": 5, "swap": 1536}
WANTED = {"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 27}
WANTED_BFV = {"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 7}
CASES = ("good", "bfv", "doubled", "missing_class", "wrong_amount", "wrong_provider", "no_allocation")
MISMATCHED = ("missing_class", "wrong_amount", "wrong_provider")


def seed_allocations(lab, consumers):
    """{consumer: {rp: resources}} in one POST, with the instances' own project and user (as nova writes them)."""
    lab.placement.request("POST", "/allocations", {
        consumer: {"allocations": {rp: {"resources": res} for rp, res in allocations.items()},
                   "project_id": "p", "user_id": "u", "consumer_generation": None, "consumer_type": "INSTANCE"}
        for consumer, allocations in consumers.items()})


def compute_hosts(nova_seed, placement_seed, hosts):
    """Compute nodes large enough for every instance here twice (2048 MB and 27 GB each), provider uuid = node uuid."""
    rps = {host: placement_seed.compute_node(host, vcpus=16, memory_mb=65536, disk_gb=1000) for host in hosts}
    nova_seed.apply({
        "services": [{"cell": "cell1", "host": host} for host in hosts],
        "compute_nodes": [{"cell": "cell1", "host": host, "uuid": rps[host], "vcpus": 16, "memory_mb": 65536,
                           "local_gb": 1000} for host in hosts],
        "host_mappings": [{"cell": "cell1", "host": host} for host in hosts],
    })
    return rps


@pytest.fixture
def mismatches(clean_lab, placement_seed, nova_seed):
    lab = clean_lab
    rps = compute_hosts(nova_seed, placement_seed, ["compute1", "compute2"])
    uuids = {case: new_uuid() for case in CASES}
    nova_seed.apply({"instances": [
        {"cell": "cell1", "uuid": uuids[case], "host": "compute2", "project_id": "p", "user_id": "u",
         "flavor": FLAVOR, "boot_from_volume": case == "bfv", "name": case} for case in CASES]})
    c1, c2 = rps["compute1"], rps["compute2"]
    seed_allocations(lab, {
        uuids["good"]: {c2: WANTED},
        uuids["bfv"]: {c2: WANTED_BFV},
        uuids["doubled"]: {c2: WANTED, c1: WANTED},                       # a failed migration's stale half
        uuids["missing_class"]: {c2: {"VCPU": 2, "MEMORY_MB": 2048}},       # the seed's: not a multiple of 3
        uuids["wrong_amount"]: {c2: dict(WANTED, MEMORY_MB=1024)},
        uuids["wrong_provider"]: {c1: WANTED},                             # lives on compute2
    })
    return dict(lab=lab, rps=rps, uuids=uuids)


def by_case(mismatches, result):
    names = {uuid: case for case, uuid in mismatches["uuids"].items()}
    return {names[c["uuid"]]: c for c in result["audit"]["consumers"] if c["uuid"] in names}


def test_audit_finds_each_mismatch_and_check_mode_plans_without_changing(mismatches, tmp_path):
    lab, rps, uuids = mismatches["lab"], mismatches["rps"], mismatches["uuids"]
    c1, c2 = rps["compute1"], rps["compute2"]
    audit = run(lab, report="full")
    assert audit["changed"] is False
    consumers = by_case(mismatches, audit)
    assert {case: c["classifications"] for case, c in consumers.items()} == {
        "good": ["active"], "bfv": ["active"], "doubled": ["active", "stale_source"],
        "missing_class": ["mismatched"], "wrong_amount": ["mismatched"], "wrong_provider": ["mismatched"]}
    assert "no_allocation" not in consumers        # Placement has no consumer for it: heal_allocations' case
    summary = audit["audit"]["summary"]
    assert summary["flavor_check"] == dict(checked=True, judged=6, mismatched=3, not_judged={})
    assert summary["allocations"]["mismatched"] == 3

    missing = consumers["missing_class"]["mismatch"]
    assert (missing["flavor"], missing["expected"], missing["missing"]) == ("lab.medium", WANTED, {"DISK_GB": 27})
    assert missing["target"] == {c2: WANTED}
    assert "missing DISK_GB 27" in consumers["missing_class"]["allocations"][0]["reason"]
    wrong = consumers["wrong_amount"]["mismatch"]
    assert wrong["wrong_amount"] == {"MEMORY_MB": {"held": 1024, "expected": 2048}} and wrong["missing"] == {}
    moved = consumers["wrong_provider"]["mismatch"]
    assert moved["wrong_provider"] == {c1: WANTED} and moved["target"] == {c2: WANTED}
    assert "held on compute1, not its node" in consumers["wrong_provider"]["allocations"][0]["reason"]

    before = placement_snapshot(lab, rps.values())
    # The default clean never rewrites an instance: only the doubled one's stale half is planned.
    default = run(lab, check=True, action="clean", backup_dir=str(tmp_path / "never"))
    assert [(c["consumer_uuid"], c["action"]) for c in default["changes"]] == [(uuids["doubled"], "trimmed")]

    plan = run(lab, check=True, diff=True, action="clean", clean_classes=["mismatched"],
               backup_dir=str(tmp_path / "never"))
    assert plan["changed"] is True and plan["unrepairable"] == []
    changes = {c["consumer_uuid"]: c for c in plan["changes"]}
    assert sorted(changes) == sorted(uuids[case] for case in MISMATCHED)
    assert {c["action"] for c in changes.values()} == {"repaired"}
    assert {case: changes[uuids[case]]["kept"] for case in MISMATCHED} == dict.fromkeys(MISMATCHED, {c2: WANTED})
    assert set(changes[uuids["wrong_provider"]]["removed"]) == {c1}
    assert plan["diff"]["before"][uuids["wrong_provider"]] == {c1: WANTED}
    assert plan["diff"]["after"][uuids["wrong_provider"]] == {c2: WANTED}
    assert placement_snapshot(lab, rps.values()) == before
    assert not (tmp_path / "never").exists()

    capped = run(lab, action="clean", clean_classes=["mismatched"], backup_dir=str(tmp_path), max_changes=2)
    assert capped.get("failed") and "would change 3 consumers, more than max_changes=2" in capped["msg"]
    scoped = run(lab, action="clean", clean_classes=["mismatched"], backup_dir=str(tmp_path),
                 resource_providers=["compute2"])
    assert scoped.get("failed") and "cannot be combined with resource_providers" in scoped["msg"]
    # A scoped audit does not judge flavors (it cannot see a consumer's whole allocation) and says so.
    assert run(lab, resource_providers=["compute2"])["audit"]["summary"]["flavor_check"]["checked"] is False
    assert placement_snapshot(lab, rps.values()) == before and list(tmp_path.iterdir()) == []


def heal_allocations(lab, *extra):
    """(exit code, {instance: what heal_allocations said of it}) of the real nova-manage on the lab."""
    proc = subprocess.run([lab.cfg.bin("nova-manage"), "--config-file", str(lab.nova.conf), "placement",
                           "heal_allocations", "--verbose", "--skip-port-allocations", *extra],
                          capture_output=True, text=True, env=lab.nova.env, check=False)
    said = {}
    for pattern, verdict in ((r"allocation of instance (\S+) is up-to-date", "up-to-date, nothing healed"),
                             (r"Successfully created allocations for instance (\S+)\.", "created"),
                             (r"Successfully updated allocations for instance (\S+)\.", "updated"),
                             (r"\[dry-run\] Update allocations for instance (\S+): (.*)", "would update")):
        for match in re.finditer(pattern, proc.stdout):
            said[match.group(1)] = (verdict, json.loads(match.group(2))) if verdict == "would update" else verdict
    assert proc.returncode in (0, 4), proc.stdout + proc.stderr
    return proc.returncode, said


def test_repair_with_backup_is_idempotent_and_compared_with_heal_allocations(mismatches, tmp_path):
    lab, rps, uuids = mismatches["lab"], mismatches["rps"], mismatches["uuids"]
    c1, c2 = rps["compute1"], rps["compute2"]
    names = {uuid: case for case, uuid in uuids.items()}
    seeded = {case: held(lab, uuid) for case, uuid in uuids.items()}

    # nova-manage first, on the same data: it creates the allocation of the instance that has none, and leaves
    # every existing allocation as it is, however wrong.
    rc, heal_before = heal_allocations(lab)
    assert rc == 0
    heal_before = {names[uuid]: verdict for uuid, verdict in heal_before.items()}
    assert heal_before == dict(dict.fromkeys(CASES, "up-to-date, nothing healed"), no_allocation="created")
    assert held(lab, uuids["no_allocation"]) == {c2: WANTED}
    assert {case: held(lab, uuids[case]) for case in MISMATCHED} == {case: seeded[case] for case in MISMATCHED}
    # --force rewrites one named instance to the flavor on its node (the only way it fixes an amount).
    rc, forced = heal_allocations(lab, "--dry-run", "--force", "--instance", uuids["wrong_amount"])
    assert rc == 4
    verdict, body = forced[uuids["wrong_amount"]]
    assert verdict == "would update" and body["allocations"] == {c2: {"resources": WANTED}}

    repaired = run(lab, diff=True, action="clean", clean_classes=["mismatched"], backup_dir=str(tmp_path))
    assert repaired["changed"] is True, repaired
    assert sorted(names[c["consumer_uuid"]] for c in repaired["changes"]) == sorted(MISMATCHED)
    assert all(c["attempts"] == 1 and c["action"] == "repaired" for c in repaired["changes"])
    after = {case: held(lab, uuid) for case, uuid in uuids.items()}
    assert {case: after[case] for case in MISMATCHED} == dict.fromkeys(MISMATCHED, {c2: WANTED})
    assert after["doubled"] == {c2: WANTED, c1: WANTED}        # not selected: its stale half stays
    assert after["good"] == seeded["good"] and after["bfv"] == seeded["bfv"]
    [backup] = repaired["backups"]
    saved = json.loads(pathlib.Path(backup["path"]).read_text())
    assert saved["checksum"] == backup["checksum"] and backup["consumers"] == 3
    assert {names[u]: {rp: a["resources"] for rp, a in s["allocations"].items()}
            for u, s in saved["consumers"].items()} == {case: seeded[case] for case in MISMATCHED}
    usages = lab.placement.request("GET", f"/resource_providers/{c1}/usages")["usages"]
    assert usages == WANTED                                  # only the doubled one's stale half is left there

    again = run(lab, action="clean", clean_classes=["mismatched"], backup_dir=str(tmp_path))
    assert again["changed"] is False and again["changes"] == [] and again["backups"] == []
    assert run(lab, report="summary")["audit"]["summary"]["flavor_check"] == dict(
        checked=True, judged=7, mismatched=0, not_judged={})
    rc, heal_after = heal_allocations(lab)
    assert rc == 4 and set(heal_after.values()) == {"up-to-date, nothing healed"}

    # Side by side, on the same data (also in the issue note).
    side_by_side = {
        case: {"heal_allocations": heal_before[case],
               "ours": "repaired" if case in MISMATCHED else ("not seen" if case == "no_allocation" else "left")}
        for case in CASES}
    assert side_by_side == {
        "good": {"heal_allocations": "up-to-date, nothing healed", "ours": "left"},
        "bfv": {"heal_allocations": "up-to-date, nothing healed", "ours": "left"},
        "doubled": {"heal_allocations": "up-to-date, nothing healed", "ours": "left"},
        "missing_class": {"heal_allocations": "up-to-date, nothing healed", "ours": "repaired"},
        "wrong_amount": {"heal_allocations": "up-to-date, nothing healed", "ours": "repaired"},
        "wrong_provider": {"heal_allocations": "up-to-date, nothing healed", "ours": "repaired"},
        "no_allocation": {"heal_allocations": "created", "ours": "not seen"},
    }

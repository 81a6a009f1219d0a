"""The fit check agrees with the real Placement on a lab with nested, sharing and aggregate-limited providers.

For each request: every host Placement's GET /allocation_candidates offers is a candidate of the fit check and
never blocked, every blocked host is absent from Placement's answer, and the counts equal an independent
computation: Placement itself packing copies of the request (take its first candidate for the host, write it as
a new consumer, ask again) until it offers no more.
"""
import uuid

import pytest

from tests.integration.test_placement_allocation import run

AVX2 = "HW_CPU_X86_AVX2"
SLOW = "CUSTOM_SLOW"
REQUEST = {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 10}
HOSTS = ["cn1", "cn2", "cn3", "cn4", "cn5", "cn6"]


def new_uuid():
    return str(uuid.uuid4())


@pytest.fixture
def cloud(clean_lab, placement_seed):
    """cn1: memory and disk on the root, 4 VCPU on each NUMA child (numa0 with AVX2).
    cn2, cn3: no disk of their own; nfs (50 GB, MISC_SHARES_VIA_AGGREGATE) shares its disk with them (aggregate A).
    cn4: everything local, in aggregate B, CUSTOM_SLOW. cn5: too little memory. cn6: no disk, no aggregate.
    """
    seed = placement_seed
    agg_a, agg_b = new_uuid(), new_uuid()
    rps = {}
    rps["cn1"] = seed.provider("cn1")
    seed.inventories(rps["cn1"], {"MEMORY_MB": 8192, "DISK_GB": 100})
    for numa in ("numa0", "numa1"):
        rps[f"cn1_{numa}"] = seed.provider(f"cn1_{numa}", parent=rps["cn1"])
        seed.inventories(rps[f"cn1_{numa}"], {"VCPU": 4})
    seed.traits(rps["cn1_numa0"], [AVX2])
    for name in ("cn2", "cn3", "cn6"):
        rps[name] = seed.provider(name)
        seed.inventories(rps[name], {"VCPU": 4, "MEMORY_MB": 4096})
    rps["nfs"] = seed.provider("nfs")
    seed.inventories(rps["nfs"], {"DISK_GB": 50})
    seed.traits(rps["nfs"], ["MISC_SHARES_VIA_AGGREGATE"])
    for name in ("cn2", "cn3", "nfs"):
        seed.aggregates(rps[name], [agg_a])
    rps["cn4"] = seed.provider("cn4")
    seed.inventories(rps["cn4"], {"VCPU": 8, "MEMORY_MB": 8192, "DISK_GB": 100})
    seed.aggregates(rps["cn4"], [agg_b])
    seed.traits(rps["cn4"], [SLOW])
    rps["cn5"] = seed.provider("cn5")
    seed.inventories(rps["cn5"], {"VCPU": 2, "MEMORY_MB": 256, "DISK_GB": 100})
    return dict(lab=clean_lab, rps=rps, names={v: k for k, v in rps.items()}, agg_a=agg_a, agg_b=agg_b)


def placement_hosts(cloud, params):
    """{host name: [allocation requests]} of Placement's answer: a request's host is the root of its providers
    that are not sharing ones."""
    lab, names = cloud["lab"], cloud["names"]
    answer = lab.placement.request("GET", "/allocation_candidates?" + params)
    roots = {rp: body["root_provider_uuid"] for rp, body in answer["provider_summaries"].items()}
    hosts = {}
    for request in answer["allocation_requests"]:
        own = {roots[rp] for rp in request["allocations"] if names[rp] != "nfs"}
        for root in own:
            hosts.setdefault(names[root], []).append(request)
    return hosts


def pack(cloud, params, host=None):
    """How many copies Placement places, one after another (on ``host`` only, or anywhere); then undone."""
    lab = cloud["lab"]
    consumers = []
    while True:
        offered = placement_hosts(cloud, params)
        choices = offered.get(host, []) if host else [r for name in sorted(offered) for r in offered[name]]
        if not choices:
            break
        consumer = new_uuid()
        lab.placement.request("PUT", f"/allocations/{consumer}", {
            "allocations": choices[0]["allocations"], "project_id": "p", "user_id": "u",
            "consumer_generation": None, "consumer_type": "INSTANCE"})
        consumers.append(consumer)
        assert len(consumers) < 100, "packing does not stop"
    for consumer in consumers:
        lab.placement.request("DELETE", f"/allocations/{consumer}")
    return len(consumers)


def check_agreement(cloud, result, params):
    """The invariant, and the counts against Placement's own packing."""
    assert not result.get("failed"), result.get("msg")
    fit = result["fit"]
    offered = placement_hosts(cloud, params)
    candidates = {c["name"]: c["fits"] for c in fit["candidates"]}
    blocked = {b["name"] for b in fit["blocked"]}
    assert set(candidates) == set(offered)                 # every host Placement offers is a candidate...
    assert not blocked & set(offered)                      # ...never blocked; every blocked host is absent
    assert sorted(set(candidates) | blocked) == HOSTS      # the sharing provider is no host of its own
    assert all(b["fits"] == 0 and b["reasons"] for b in fit["blocked"])
    assert candidates == {host: pack(cloud, params, host) for host in offered}
    assert fit["total_fits"] == pack(cloud, params)
    return fit


def query(resources, **extra):
    parts = ["resources=" + ",".join(f"{rc}:{amount}" for rc, amount in sorted(resources.items()))]
    parts += [f"{key}={value}" for key, value in extra.items()]
    return "&".join(parts)


def test_shared_storage_and_nested_hosts_fit_as_placement_places_them(cloud):
    result = run(cloud["lab"], action="fit", resources=REQUEST)
    fit = check_agreement(cloud, result, query(REQUEST))
    counts = {c["name"]: c["fits"] for c in fit["candidates"]}
    # cn1: one VCPU from either NUMA child, 8 in all; cn2 and cn3: 5 disks of 10 GB on nfs between them.
    assert counts == {"cn1": 8, "cn2": 4, "cn3": 4, "cn4": 8}
    assert fit["total_fits"] == 8 + 5 + 8
    assert {c["name"]: c["sharing_providers"] for c in fit["candidates"]}["cn2"] == ["nfs"]
    reasons = {b["name"]: [r["reason"] for r in b["reasons"]] for b in fit["blocked"]}
    # nfs serves cn2 and cn3 only: cn6, outside their aggregate, has no disk at all.
    assert reasons["cn6"] == ["DISK_GB: no inventory of DISK_GB in the tree or in a sharing provider in an aggregate "
                              "with it"]
    assert reasons["cn5"] == ["MEMORY_MB: asks 512, only 256 free: capacity 256 = (256 - reserved 0) * "
                              "allocation_ratio 1.0, used 0"]


def test_required_and_forbidden_traits_and_member_of(cloud):
    lab = cloud["lab"]
    required = check_agreement(cloud, run(lab, action="fit", resources=REQUEST, required_traits=[AVX2]),
                               query(REQUEST, required=AVX2))
    assert {c["name"]: c["fits"] for c in required["candidates"]} == {"cn1": 4}     # numa0's 4 VCPU only
    assert any(f"required trait(s) {AVX2}" in r["reason"] for b in required["blocked"] if b["name"] == "cn4"
               for r in b["reasons"])

    forbidden = check_agreement(cloud, run(lab, action="fit", resources=REQUEST, forbidden_traits=[SLOW]),
                                query(REQUEST, required="!" + SLOW))
    assert "cn4" in {b["name"] for b in forbidden["blocked"]} and "cn1" in {c["name"] for c in forbidden["candidates"]}

    member = check_agreement(cloud, run(lab, action="fit", resources=REQUEST, member_of=[cloud["agg_a"]]),
                             query(REQUEST, member_of="in:" + cloud["agg_a"]))
    assert {c["name"]: c["fits"] for c in member["candidates"]} == {"cn2": 4, "cn3": 4}
    cn1 = next(b for b in member["blocked"] if b["name"] == "cn1")
    assert "in none of the aggregates of member_of" in cn1["reasons"][0]["reason"]


def test_a_flavor_with_granular_groups_and_isolate(cloud):
    lab = cloud["lab"]
    lab.mariadb.sql(
        "INSERT INTO flavors (id, name, flavorid, vcpus, memory_mb, root_gb, ephemeral_gb, swap) "
        "VALUES (42, 'numa.pinned', 'numa.pinned', 2, 512, 10, 0, 0);"
        "INSERT INTO flavor_extra_specs (flavor_id, `key`, value) VALUES "
        "(42, 'resources:VCPU', '0'), (42, 'resources1:VCPU', '1'), (42, 'resources2:VCPU', '1'), "
        "(42, 'group_policy', 'isolate');", "nova_api")
    result = run(lab, action="fit", flavor="numa.pinned")
    fit = check_agreement(cloud, result, "resources=DISK_GB:10,MEMORY_MB:512&resources1=VCPU:1&resources2=VCPU:1"
                                         "&group_policy=isolate")
    assert {c["name"]: c["fits"] for c in fit["candidates"]} == {"cn1": 4}
    assert fit["request"]["groups"]["1"]["resources"] == {"VCPU": 1} and fit["request"]["group_policy"] == "isolate"
    cn4 = next(b for b in fit["blocked"] if b["name"] == "cn4")
    assert cn4["reasons"][0]["reason"].startswith("group_policy isolate puts the 2 numbered groups on different")

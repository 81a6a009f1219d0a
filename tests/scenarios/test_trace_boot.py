"""trace_request.yml on boots the real services logged, and Guru Meditation Reports of the cloud lab's processes.

Three servers are booted once for the whole module, at the same time (so the module costs one boot's wait): one
the scheduler places, one that a scheduler filter refuses (a flavor asking `capabilities:hypervisor_type=xen` of
fake computes) and one that Placement refuses (1 TiB of RAM). Each test traces one of them from its instance UUID
only, as an operator holding a UUID from a ticket would; they read the servers and never change them, so their
order does not matter. The GMR tests signal running processes and check they still run and report.
"""
import json

import pytest

from tests.integration.ansible_runner import run_module
from tests.lab import process
from tests.lab.cloud import API_HOST, COMPUTES

from tests.scenarios.helpers import Cloud, trace

FLAVORS = {"trace.xen": ({"vcpus": 1, "ram": 512, "disk": 1}, {"capabilities:hypervisor_type": "xen"}),
           "trace.huge": ({"vcpus": 1, "ram": 1024 * 1024, "disk": 1}, {})}
# the refused server's name: nova-api logs the request body as the client sent it, JSON with \uXXXX escapes
# (seed 000's NoValidHost message was \u-escaped Chinese); the trace shows it decoded
REFUSED_NAME = "拒绝-过滤器"


@pytest.fixture(scope="module")
def boots(cloud_lab):
    """{'placed'|'filtered'|'no_candidates': the server as the compute API shows it once it has settled}."""
    cloud = Cloud(cloud_lab)
    cloud.require_empty()
    try:
        for name, (spec, extra_specs) in FLAVORS.items():
            cloud.admin("POST", "/flavors", {"flavor": {"name": name, "id": name, **spec}})
            if extra_specs:
                cloud.admin("POST", f"/flavors/{name}/os-extra_specs", {"extra_specs": extra_specs})
        ids = {"placed": cloud.boot("traced-boot", "m1.tiny"), "filtered": cloud.boot(REFUSED_NAME, "trace.xen"),
               "no_candidates": cloud.boot("refused-by-placement", "trace.huge")}
        servers = cloud.wait(list(ids.values()))
        yield cloud, {key: servers[server_id] for key, server_id in ids.items()}
    finally:
        cloud.delete_all()
        for name in FLAVORS:
            cloud.admin("DELETE", f"/flavors/{name}")


def first(timeline, **where):
    return next(record for record in timeline if all(record.get(key) == value for key, value in where.items()))


def test_a_boot_is_traced_from_its_instance_uuid_from_nova_api_through_the_scheduler_to_its_compute(boots, tmp_path):
    cloud, servers = boots
    server = servers["placed"]
    assert server["status"] == "ACTIVE"
    host = server["OS-EXT-SRV-ATTR:host"]

    rc, report, lines = trace(cloud, tmp_path, server["id"])
    assert rc == 0
    summary, timeline = report["summary"], report["timeline"]
    post = next(call for call in summary["api"] if (call["method"], call["path"]) == ("POST", "/v2.1/servers"))
    assert post["status"] == 202 and post["service"] == "nova-api" and post["host"] == API_HOST
    [run] = [run for run in summary["scheduling"] if run["selected"]]
    # the scheduler's choice is where the server is
    assert run["selected"] == [host] and summary["selected_hosts"] == [host]
    assert run["hosts_in"] == len(COMPUTES) and run["filters"] and run["emptied_by"] is None
    assert [item["name"] for item in run["filters"]][:2] == ["ComputeFilter", "ComputeCapabilitiesFilter"]
    assert all(item["hosts"] >= 1 for item in run["filters"]) and run["weighed"]
    assert post["request_id"] in (run["request_id"], run["global_request_id"])
    # the compute that spawned it, in its own log
    assert summary["computes"] == [host]
    spawned = next(record for record in timeline if (record["host"], record["service"]) == (host, "nova-compute")
                   and server["id"] in record["instances"])
    assert any("seconds to spawn the instance" in record["message"] for record in timeline
               if (record["host"], record["service"]) == (host, "nova-compute"))
    # api -> super conductor -> scheduler -> compute, in the order of the merged timeline
    times = [record["time"] for record in timeline]
    assert times == sorted(times)
    api = first(timeline, service="nova-api")["time"]
    conductor = first(timeline, host=API_HOST, service="nova-super-conductor")["time"]
    assert api <= run["started"] <= spawned["time"] and api <= conductor <= spawned["time"]
    assert {f"{API_HOST}/nova-api", f"{API_HOST}/nova-super-conductor", f"{API_HOST}/nova-scheduler",
            f"{host}/nova-compute"} <= set(summary["services"])
    assert not any("No valid host" in item["message"] for item in summary["faults"])
    assert report["complete"] is True and report["hosts_not_searched"] == []
    assert f"Selected hosts: {host}" in lines and f"Computes: {host}" in lines


@pytest.mark.parametrize("case,emptied_by", [("filtered", "ComputeCapabilitiesFilter"),
                                             ("no_candidates", "Placement (no allocation candidates)")])
def test_a_novalidhost_boot_is_traced_to_what_left_no_host_and_its_fault(boots, tmp_path, case, emptied_by):
    cloud, servers = boots
    server = servers[case]
    assert server["status"] == "ERROR" and server["OS-EXT-SRV-ATTR:host"] is None
    fault = server["fault"]["message"].strip()
    assert fault.startswith("No valid host was found")

    rc, report, lines = trace(cloud, tmp_path, server["id"])
    assert rc == 0
    summary = report["summary"]
    [run] = [run for run in summary["scheduling"] if run["emptied_by"]]
    assert run["emptied_by"] == emptied_by and run["selected"] == [] and summary["selected_hosts"] == []
    if case == "filtered":
        # Placement offered every compute, the filter took them all away
        assert run["hosts_in"] == len(COMPUTES) and run["no_candidates"] is False
        assert run["filters"][-1] == {"name": "ComputeCapabilitiesFilter", "hosts": 0}
        assert "ComputeCapabilitiesFilter" in run["removed_all"]
        # the name the member gave, \u-escaped in nova-api's log of the request body, decoded in the trace
        assert any(REFUSED_NAME in record["message"] for record in report["timeline"]
                   if record["service"] == "nova-api")
    else:
        # no allocation candidates: no host ever reached the filters
        assert run["no_candidates"] is True and run["filters"] == [] and run["hosts_in"] is None
    # the fault the API shows is the one the conductor logged, tied to this instance
    logged = [item for item in summary["faults"] if fault in item["message"]]
    assert logged and {item["service"] for item in logged} <= {"nova-super-conductor", "nova-conductor"}
    assert any(server["id"] in item["instances"] for item in logged)
    assert summary["computes"] == [] and "nova-compute" in summary["not_reached"]
    assert any(line.startswith("Scheduler ") and f"emptied by {emptied_by}" in line for line in lines)
    assert any(line.startswith("Fault ") and fault in line for line in lines)


def compute_state(cloud_lab, host):
    return cloud_lab.compute("GET", f"/os-services?binary=nova-compute&host={host}")["services"][0]["state"]


@pytest.mark.parametrize("name,host", [("nova-compute-cmp1", "cmp1"), ("nova-super-conductor", API_HOST)])
def test_a_guru_meditation_report_of_a_running_nova_service_shows_its_threads_and_configuration(
        cloud_lab, name, host):
    pid = cloud_lab.pids[name]
    assert process.alive(pid)
    result = run_module("guru_meditation_report", dict(pid=pid, timeout=60))
    assert not result.get("failed"), result
    assert result["changed"] is False and result["signal"] == "SIGUSR2" and result["captured"] >= 1
    report = result["reports"][0]
    assert report["pid"] == pid and report["captured"] is True
    assert report["source"] == f"stderr file: {cloud_lab.cfg.path('logs', f'{name}.out')}"
    assert report["package"]["product"] == "OpenStack Nova"
    assert report["threads_total"] >= 1 and report["threads"][0]["frames"]
    # the configuration as the process runs it: the lab's nova.conf, its cell's and its host's files merged
    configuration = report["configuration"]
    assert configuration["default"]["host"] == host
    assert configuration["default"]["compute_driver"] == "fake.MediumFakeDriver"
    assert configuration["database"]["connection"] == "***" and configuration["default"]["transport_url"] == "***"
    password = cloud_lab.cfg.db_url("nova_cell1").split("@")[0].rsplit(":", 1)[1]
    assert password not in json.dumps(result)
    # still running and still doing its work
    assert process.alive(pid)
    if name.startswith("nova-compute"):
        assert compute_state(cloud_lab, host) == "up"
    else:
        assert cloud_lab.queue_consumers("conductor") > 0

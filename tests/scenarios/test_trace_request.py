"""trace_request.yml on logs real services wrote: a cold migration followed from an instance UUID across every host.

Seeds 000 and 001 grepped API node after API node, then the scheduler's log, where the request id differs and
only the global request id ties it back. Here each lab host's kolla log directory is one inventory host.
"""
from tests.integration.browser import Dom, open_page
from tests.lab.cloud import API_HOST
from tests.scenarios.helpers import trace


def test_a_cold_migration_is_traced_from_its_instance_across_api_scheduler_conductor_and_both_computes(
        cloud, tmp_path):
    server = cloud.boot("traced", "m1.tiny", host="cmp1")
    assert cloud.wait([server])[server]["status"] == "ACTIVE"
    cloud.admin("POST", f"/servers/{server}/action", {"migrate": None})
    moved = cloud.wait([server], statuses=("VERIFY_RESIZE",), timeout=180)[server]
    assert moved["status"] == "VERIFY_RESIZE"
    destination = moved["OS-EXT-SRV-ATTR:host"]

    rc, report, _lines = trace(cloud, tmp_path, server)
    assert rc == 0
    summary = report["summary"]

    post = next(call for call in summary["api"]
                if call["method"] == "POST" and call["path"] == f"/v2.1/servers/{server}/action")
    assert post["status"] == 202
    assert {"cmp1", destination} <= set(summary["computes"])
    assert destination in summary["selected_hosts"]
    migration = next(run for run in summary["scheduling"] if destination in run["selected"])
    assert migration["filters"] and migration["filters"][-1]["hosts"] >= 1
    # nova 34 passes the API's request context down RPC: the scheduler's run carries the API call's request id
    # (the seed's 2016 nova gave the scheduler a request id of its own, tied back only by the global request id)
    assert post["request_id"] in (migration["request_id"], migration["global_request_id"])
    reached = {service.split("/", 1)[1] for service in summary["services"]}
    assert {"nova-api", "nova-scheduler", "nova-super-conductor", "nova-compute"} <= reached, reached
    assert {"cmp1", destination, API_HOST} <= set(summary["hosts"])
    times = [record["time"] for record in report["timeline"]]
    assert times == sorted(times)

    # the page beside it, opened in Chromium: the selected host in the funnel, every record in its lane
    html, console, _shot = open_page(tmp_path / "trace.html", "scenario-trace-cold-migration")
    assert not console, console
    dom = Dom(html)
    assert dom.one("body")["attrs"]["data-kind"] == "trace"
    assert destination in " ".join(b["text"] for b in dom.find("b", data_key="selected"))
    lanes = {g["attrs"]["data-lane"]: int(g["attrs"]["data-records"]) for g in dom.find("g", data_lane=True)}
    assert set(lanes) == set(summary["services"]) and sum(lanes.values()) == summary["records"]

"""The HTML reports in a real browser: headless Chromium opens each page, the test reads the DOM it built and a
screenshot of it (.build/report-screenshots/), and checks that it rendered without a console message, that the
elements are there and that the numbers on the page are the JSON report's.

`check_page` is also called on the pages the runbooks write in a real run on the service lab
(test_placement_allocation.py: audit_placement.yml and clean_placement.yml; test_cell_mapping_check.py:
check_cells.yml; test_checkup.py: checkup.yml) and without a lab (test_haproxy_balance_kolla.py:
fix_haproxy_balance.yml in kolla mode). The tests here render the report shapes of tests/unit/plugins/plugin_utils/report_samples.py,
including a 20,000-consumer audit, and need no lab.
"""
import json
import pathlib
import sys
from collections import Counter
from datetime import datetime

import pytest

from tests.integration.browser import WINDOW, Dom, open_page, png_rows

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / ".build" / "collections"))

# pylint: disable=wrong-import-position
from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import report_html  # noqa: E402
from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.plugin_utils import (  # noqa: E402
    report_samples as samples,
)

# The header's bottom border, by verdict level (the page's CSS).
LEVEL_COLORS = {"ok": (0x1A, 0x7F, 0x37), "warn": (0x9A, 0x67, 0x00), "bad": (0xCF, 0x22, 0x2E),
                "info": (0x09, 0x69, 0xDA)}


def _seconds(step):
    return round((datetime.fromisoformat(step["ended"]) - datetime.fromisoformat(step["started"])).total_seconds(), 3)


def _placement_audit(dom, report):
    summary = report["summary"]
    assert dom.one("td", data_key="consumers")["text"].strip() == str(summary["consumers"])
    assert dom.one("td", data_key="providers")["text"].strip() == str(summary["providers"])
    sections = {s["attrs"]["data-provider"]: s for s in dom.find("section", data_provider=True)}
    assert set(sections) == {p["name"] for p in report["providers"]}
    bars = {id(element) for element in dom.find("div", data_rc=True)}
    by_provider, current = {}, None
    for element in dom.elements:       # each bar belongs to the provider section it follows
        if element["tag"] == "section" and "data-provider" in element["attrs"]:
            current = element["attrs"]["data-provider"]
        elif id(element) in bars:
            by_provider.setdefault(current, {})[element["attrs"]["data-rc"]] = element
    for provider in report["providers"]:
        shown = by_provider.get(provider["name"], {})
        assert set(shown) == set(provider["inventories"]), provider["name"]
        for rc, inv in provider["inventories"].items():
            figures = shown[rc]
            assert int(figures["attrs"]["data-used"]) == inv["used"]
            assert int(figures["attrs"]["data-capacity"]) == inv["capacity"]
            assert f"used {inv['used']} of {inv['capacity']}" in figures["text"]
            if inv["used"] > inv["capacity"]:
                assert f"over by {inv['used'] - inv['capacity']}" in figures["text"]
    counted = Counter()
    for group in dom.find("details", data_classification=True):
        counted[group["attrs"]["data-classification"]] += int(group["attrs"]["data-count"])
    listed = Counter(c["classification"] for p in report["providers"] for c in p["consumers"])
    assert counted == listed


def _placement_clean(dom, report):
    removed = [tr for tr in dom.find("tr") if "removes" in (tr["attrs"].get("class") or "").split()]
    assert len(removed) == len(report["changes"])
    for row, change in zip(removed, report["changes"]):
        assert change["consumer_uuid"] in row["text"]
    for backup in report["backups"]:
        assert backup["checksum"] in dom.one("table", id="backups")["text"]


def _placement_fit(dom, report):
    assert dom.one("header")["attrs"]["data-level"] == ("ok" if report["fits"] else "bad")
    shown = {s["attrs"]["data-provider"]: s for s in dom.find("section", data_provider=True)}
    assert set(shown) == {host["name"] for host in report["blocked"]}
    figures = {(el["attrs"]["data-rc"], el["attrs"]["data-used"], el["attrs"]["data-capacity"],
                el["attrs"]["data-shortfall"]) for el in dom.find("div", data_rc=True)}
    assert figures == {(r["resource_class"], str(r["used"]), str(r["capacity"]), str(r["shortfall"]))
                       for host in report["blocked"] for r in host["reasons"] if r.get("capacity") is not None}
    for host in report["blocked"]:
        for reason in host["reasons"]:
            assert reason["reason"] in shown[host["name"]]["text"]
    for amount_rc, amount in report["request"]["resources"].items():
        assert dom.one("td", data_rc=amount_rc)["text"] == str(amount)


def _cells(dom, report):
    for when in ("before", "after"):
        findings = (report.get(when) or {}).get("findings") or []
        if when == "after" and not report["repairs"]:
            continue
        shown = {s["attrs"]["data-kind"]: int(s["attrs"]["data-count"])
                 for s in dom.find("section", data_kind=True, data_when=when)}
        assert shown == dict(Counter(f["type"] for f in findings)), when
        for finding in findings:
            if finding.get("instance_uuid"):
                section = dom.one("section", data_kind=finding["type"], data_when=when)
                assert finding["instance_uuid"] in section["text"]
    assert dom.one("td", data_key="findings")["text"].strip() == str(report["before"]["summary"]["findings"])


def _conductor_recovery(dom, report):
    steps = dom.find("g", data_number=True)
    assert [g["attrs"]["data-number"] for g in steps] == [str(s["number"]) for s in report["steps"]]
    assert [float(g["attrs"]["data-duration"]) for g in steps] == [_seconds(s) for s in report["steps"]]
    totals = {tr["attrs"]["data-when"]: tr["text"].split() for tr in dom.find("tr", data_when=True)}
    assert totals["before"][2] == str(report["queues"]["totals_before"]["messages"])
    assert totals["after"][2] == str(report["queues"]["totals_after"]["messages"])
    conductors = dom.one("table", id="conductors")["text"]
    for host, state in report["final_services"].items():
        assert host in conductors and state in conductors
    assert dom.one("td", data_key="answers")["text"].strip() == str(report["entrance"]["answers"])
    # the Guru Meditation Reports: one row per process asked (or per conductor that gave none), the JSON's figures
    gmr = report.get("gmr") or {}
    expected = [(host, str(r["pid"]), str(r["threads_total"]), str(r["green_threads_total"]))
                for host, run in sorted(gmr.items()) for r in run["reports"]]
    rows = [tr["attrs"] for tr in dom.find("tr", data_gmr_host=True) if "data-pid" in tr["attrs"]]
    assert [(a["data-gmr-host"], a["data-pid"], a["data-threads"], a["data-green-threads"]) for a in rows] == expected
    assert {tr["attrs"]["data-gmr-host"] for tr in dom.find("tr", data_gmr_host=True)} == set(gmr)
    db = report.get("db_connections")
    if db and not db.get("failed"):
        assert dom.one("p", id="db-connections")["attrs"]["data-connections"] == str(db["totals"]["connections"])
        assert [int(tr["attrs"]["data-group-count"]) for tr in dom.find("tr", data_group_count=True)] == [
            g["count"] for g in db["groups"]]


def _tuning(dom, report):
    sections = {s["attrs"]["data-host"]: s for s in dom.find("section", data_host=True)}
    assert list(sections) == [host["host"] for host in report["hosts"]]
    for host in report["hosts"]:
        assert int(sections[host["host"]]["attrs"]["data-changed"]) == len(host["changed_settings"])
        for setting in host["settings"]:
            assert f'[{setting["section"]}] {setting["option"]}' in sections[host["host"]]["text"]
        for key in host.get("read") or {}:
            assert key in sections[host["host"]]["text"]
    for key, value in (report.get("read") or {}).items():
        if not isinstance(value, (dict, list, bool)):
            assert dom.one("td", data_key=key)["text"] == str(value if not isinstance(value, float) else f"{value:g}")


def _checkup(dom, report):
    shown = {tr["attrs"]["data-severity"]: tr["text"].split()[-1] for tr in dom.find("tr", data_severity=True)}
    assert shown == {sev: str(n) for sev, n in report["summary"]["by_severity"].items()}
    findings = {(d["attrs"]["data-id"], d["attrs"]["data-subject"]): d for d in dom.find("div", data_id=True)}
    assert set(findings) == {(f["id"], f["subject"]) for f in report["findings"]}
    for finding in report["findings"]:
        div = findings[finding["id"], finding["subject"]]
        assert div["attrs"]["data-severity"] == finding["severity"]
        assert div["attrs"]["data-value"] == str(finding["value"])
        assert finding["fix"] in " ".join(div["text"].split()) or finding["fix"] in div["text"]
    sections = {s["attrs"]["data-severity"]: int(s["attrs"]["data-count"]) for s in dom.find("section", data_severity=True)}
    assert sections == dict(Counter(f["severity"] for f in report["findings"]))
    assert {li["attrs"]["data-check"] for li in dom.find("li", data_check=True)} == set(report["summary"]["not_run"])
    assert dom.one("td", data_key="checks_run")["text"] == str(report["summary"]["checks_run"])
    trend = {tr["attrs"]["data-trend"]: tr["text"].split() for tr in dom.find("tr", data_trend=True)}
    if report.get("trend"):
        for mark in ("new", "worse", "fixed"):
            assert int(trend[mark][1]) == len(report["trend"][mark])
    else:
        assert not trend
    level = dom.one("header")["attrs"]["data-level"]
    assert level == ("bad" if report["summary"]["gate_failed"] else "warn" if report["findings"] or report["summary"]["not_run"]
                     else "ok")


def _triage(dom, report):
    sections = {s["attrs"]["data-instance"]: s["attrs"]["data-verdict"] for s in dom.find("section", data_instance=True)}
    assert sections == {item["instance_uuid"]: item["verdict"] for item in report["instances"]}


def _db_connections(dom, report):
    sections = {s["attrs"]["data-node"]: s for s in dom.find("section", data_node=True)}
    assert set(sections) == set(report["nodes"])
    for host, node in report["nodes"].items():
        if node.get("failed"):
            assert sections[host]["attrs"]["data-failed"] == "true" and "Not read" in sections[host]["text"]
            continue
        assert sections[host]["attrs"]["data-findings"] == str(len(node["findings"]))
        for finding in node["findings"]:
            assert finding["kind"] in sections[host]["text"]
    shown = [td["text"].strip() for td in dom.find("td", data_key="connections")]
    assert shown == [str(node["totals"]["connections"]) for _host, node in sorted(report["nodes"].items())
                     if not node.get("failed")]


CHECKS = dict(placement_audit=_placement_audit, placement_clean=_placement_clean, placement_fit=_placement_fit,
              cells=_cells,
              conductor_recovery=_conductor_recovery, tuning=_tuning, triage=_triage, db_connections=_db_connections,
              checkup=_checkup)


def check_page(page, report, kind, name):
    """Open the page in Chromium and check it against its JSON report; returns the DOM."""
    html, console, shot = open_page(pathlib.Path(page), name)
    assert not console, console
    dom = Dom(html)
    assert dom.one("body")["attrs"]["data-kind"] == kind
    assert not dom.find(id="render-error"), dom.one(id="render-error")["text"]
    assert not dom.find("script") and not [el for el in dom.elements if {"src", "href"} & set(el["attrs"])]
    header = dom.one("header")
    level = header["attrs"]["data-level"]
    assert dom.one(id="verdict")["text"].strip() and dom.one(id="time")["text"].endswith("UTC")
    assert dom.one(id="run")["text"].startswith("check mode") == bool(report.get("check_mode"))
    CHECKS[kind](dom, report)
    # It rendered: a screenshot of the window's size, with the verdict's colour under the header.
    width, height, rows = png_rows(shot, 320)
    assert (width, height) == WINDOW
    colours = {pixel for row in rows for pixel in row}
    assert len(colours) > 20, "the screenshot is (nearly) blank"
    assert any(all(abs(a - b) <= 3 for a, b in zip(pixel, LEVEL_COLORS[level])) for pixel in colours), (
        f"no {level} colour in the header of {shot}")
    return dom


SAMPLES = {
    "sample-placement-audit": (samples.placement_audit, "placement_audit"),
    "sample-placement-audit-20000": (samples.large_placement_audit, "placement_audit"),
    "sample-placement-clean-check": (lambda: samples.placement_clean(check_mode=True), "placement_clean"),
    "sample-placement-clean": (samples.placement_clean, "placement_clean"),
    "sample-placement-fit-novalidhost": (samples.placement_fit, "placement_fit"),
    "sample-placement-fit": (lambda: samples.placement_fit(fits=True), "placement_fit"),
    "sample-cells-repaired": (samples.cells_report, "cells"),
    "sample-conductor-recovery": (samples.conductor_recovery, "conductor_recovery"),
    "sample-conductor-recovery-failed": (lambda: samples.conductor_recovery(failed=True), "conductor_recovery"),
    "sample-tune-nova": (samples.tuning, "tuning"),
    "sample-tune-nova-shorter-wait": (lambda: samples.tuning(shorter=True), "tuning"),
    "sample-triage": (samples.triage, "triage"),
    "sample-db-connections": (samples.db_connections, "db_connections"),
    "sample-db-connections-not-read": (lambda: samples.db_connections(failed=True), "db_connections"),
    "sample-checkup-trend": (lambda: samples.checkup(previous=True), "checkup"),
    "sample-tune-galera": (samples.tune_galera, "tuning"),
    "sample-fix-haproxy-balance-failed": (lambda: samples.fix_haproxy_balance(failed=True), "tuning"),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_report_page_renders_in_chromium_with_the_json_figures(name, tmp_path):
    make, kind = SAMPLES[name]
    report = json.loads(json.dumps(make()))
    page = tmp_path / f"{name}.html"
    page.write_text(report_html.render(report, kind, cloud="opslab"), encoding="utf-8")
    dom = check_page(page, report, kind, name)
    assert dom.one(id="cloud")["text"] == "opslab"
    if name == "sample-placement-audit":
        assert dom.one("header")["attrs"]["data-level"] == "bad"


def test_a_page_with_a_script_would_be_caught(tmp_path):
    """The console check can fail: a page that logs to the console is reported."""
    page = tmp_path / "noisy.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("boom")</script></body></html>')
    _html, console, _shot = open_page(page, "noisy")
    assert any('"boom"' in line for line in console)

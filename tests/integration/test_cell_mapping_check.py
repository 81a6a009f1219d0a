"""cell_mapping_check against the lab's nova_api, cell0, cell1 and cell2 made by nova-manage.

Every broken state is made the way it happens in real life: mapping rows deleted by hand with SQL (seed 000),
a cell mapping deleted with foreign key checks off, a cell's database URL pointing at a closed port, a
compute service and node created without `nova-manage cell_v2 discover_hosts`.
"""
import json
import socket
import subprocess
import time

import pytest

from tests.integration.ansible_runner import run_module, run_playbook
from tests.integration.test_report_html_browser import check_page
from tests.lab.config import DB_USERS, REPO_ROOT

OLD = "2020-01-01T00:00:00"
SECRETS = tuple(DB_USERS.values())


def login(lab, **extra):
    return dict(dict(login_host="127.0.0.1", login_port=lab.cfg.port("mariadb"), login_user="ops",
                     login_password=DB_USERS["ops"]), **extra)


def sql(lab, statements, database="nova_api"):
    return lab.mariadb.sql(statements, database)


def rows(lab, query, database="nova_api"):
    return [line.split("\t") for line in sql(lab, query, database).splitlines()]


def cell_ids(lab):
    return {name: int(cell_id) for cell_id, name in rows(lab, "SELECT id, name FROM cell_mappings")}


def mapping_state(lab):
    """What the module may write: every instance and host mapping, as (key, cell) pairs."""
    return (rows(lab, "SELECT instance_uuid, IFNULL(cell_id, 'NULL'), project_id, IFNULL(user_id, '') "
                      "FROM instance_mappings ORDER BY instance_uuid"),
            rows(lab, "SELECT host, cell_id FROM host_mappings ORDER BY host"),
            rows(lab, "SELECT id, uuid, name, database_connection FROM cell_mappings ORDER BY id"))


def assert_no_secret(result):
    text = json.dumps(result)
    for secret in SECRETS:
        assert secret not in text, f"a lab password leaked into the result: {secret}"


def unused_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def by_type(result, kind):
    return [finding for finding in result["findings"] if finding["type"] == kind]


@pytest.fixture
def incident(nova_seed, clean_lab):
    """Seed 000 reproduced: hosts and instances in every cell, then the operator's hand-made damage."""
    created = nova_seed.apply({
        "services": [{"cell": "cell1", "host": "cmp1"}, {"cell": "cell1", "host": "cmp2"},
                     {"cell": "cell2", "host": "cmp3"}],
        "compute_nodes": [{"cell": "cell1", "host": "cmp1", "vcpus": 8, "memory_mb": 7841, "local_gb": 100},
                          {"cell": "cell1", "host": "cmp2", "vcpus": 8, "memory_mb": 7841, "local_gb": 100},
                          {"cell": "cell2", "host": "cmp3", "vcpus": 8, "memory_mb": 7841, "local_gb": 100}],
        # cmp2 was added without discover_hosts: no host mapping.
        "host_mappings": [{"cell": "cell1", "host": "cmp1"}, {"cell": "cell2", "host": "cmp3"}],
        "instances": [
            {"cell": "cell1", "host": "cmp1", "project_id": "p-ok", "user_id": "u1", "name": "healthy"},
            {"cell": "cell1", "host": "cmp1", "project_id": "p-vanish", "user_id": "u2", "name": "vanished-1",
             "created_at": OLD},
            {"cell": "cell1", "host": "cmp2", "project_id": "p-vanish", "user_id": "u3", "name": "vanished-2"},
            {"cell": "cell1", "host": "cmp1", "project_id": "p-move", "user_id": "u4", "name": "wrong-cell"},
            {"cell": "cell1", "host": "cmp1", "project_id": "p-del", "user_id": "u5", "name": "deleted",
             "deleted": True},
            {"cell": "cell2", "host": "cmp3", "project_id": "p-two", "user_id": "u6", "name": "in-cell2"},
            {"cell": "cell0", "project_id": "p-fail", "user_id": "u7", "name": "failed-build",
             "vm_state": "error"},
            {"cell": "cell0", "project_id": "p-fail", "user_id": "u8", "name": "failed-build-unmapped",
             "vm_state": "error"},
        ],
        "build_requests": [{"project_id": "p-build", "user_id": "u9"},
                           {"project_id": "p-stale", "user_id": "u10", "created_at": OLD}],
    })
    uuids = {name: item["uuid"] for name, item in zip(
        ["healthy", "vanished-1", "vanished-2", "wrong-cell", "deleted", "in-cell2", "failed-build",
         "failed-build-unmapped"], created["instances"])}
    uuids["building"], uuids["stale"] = (item["uuid"] for item in created["build_requests"])
    cells = cell_ids(clean_lab)
    # The operator's SQL: mappings deleted by hand (seed 000), one mapping pointed at the wrong cell,
    # and a build whose request was lost long ago.
    sql(clean_lab, f"""
        DELETE FROM instance_mappings WHERE instance_uuid IN
            ('{uuids["vanished-1"]}', '{uuids["vanished-2"]}', '{uuids["failed-build-unmapped"]}');
        UPDATE instance_mappings SET cell_id = {cells["cell2"]} WHERE instance_uuid = '{uuids["wrong-cell"]}';
        DELETE FROM build_requests WHERE instance_uuid = '{uuids["stale"]}';
        UPDATE instance_mappings SET created_at = '2020-01-01 00:00:00' WHERE instance_uuid = '{uuids["stale"]}';
    """)
    return uuids


def test_audit_reports_every_finding_with_facts_and_changes_nothing(clean_lab, incident):
    before = mapping_state(clean_lab)

    result = run_module("cell_mapping_check", login(clean_lab))

    assert result.get("failed") is not True, result
    assert result["changed"] is False
    assert mapping_state(clean_lab) == before
    assert_no_secret(result)
    cells = {cell["name"]: cell for cell in result["cells"]}
    assert [cells[name]["reachable"] for name in ("cell0", "cell1", "cell2")] == [True, True, True]
    assert cells["cell1"]["instances"] == 4 and cells["cell1"]["deleted_instances"] == 1
    assert cells["cell1"]["compute_hosts"] == 2 and cells["cell0"]["compute_hosts"] is None
    assert cells["cell1"]["database_connection"].startswith("mysql+pymysql://nova:********@")

    vanished = {f["instance_uuid"]: f for f in by_type(result, "instance_without_mapping")}
    assert set(vanished) == {incident["vanished-1"], incident["vanished-2"], incident["failed-build-unmapped"]}
    first = vanished[incident["vanished-1"]]
    assert (first["cell"], first["project_id"], first["user_id"], first["host"], first["instance_name"]) == \
        ("cell1", "p-vanish", "u2", "cmp1", "vanished-1")
    assert first["created_at"].startswith("2020-01-01") and first["age_seconds"] > 86400 * 365
    assert first["repair"] == "missing_instance_mappings"
    assert vanished[incident["failed-build-unmapped"]]["cell"] == "cell0"

    [wrong] = by_type(result, "mapping_to_wrong_cell")
    assert (wrong["instance_uuid"], wrong["mapped_cell"], wrong["cell"], wrong["repair"]) == \
        (incident["wrong-cell"], "cell2", "cell1", "wrong_cell_mappings")
    [deleted] = by_type(result, "mapping_to_deleted_instance")
    assert (deleted["instance_uuid"], deleted["instance_deleted"], deleted["repair"]) == \
        (incident["deleted"], True, None)
    # The lost build request is reported; the build in flight is not.
    [stale] = by_type(result, "mapping_without_cell")
    assert (stale["instance_uuid"], stale["project_id"], stale["mapped_cell"]) == (incident["stale"], "p-stale", None)
    assert stale["mapping_age_seconds"] > 86400 * 365 and stale["repair"] is None
    [unmapped_host] = by_type(result, "compute_host_without_mapping")
    assert (unmapped_host["host"], unmapped_host["cell"], unmapped_host["service"], unmapped_host["compute_nodes"]) \
        == ("cmp2", "cell1", True, ["cmp2"])
    assert result["summary"]["findings"] == len(result["findings"]) == 7
    assert result["summary"]["repairable"] == 5
    assert result["summary"]["instances"] == 7
    assert result["repairs"] == []


def test_repair_check_mode_then_repair_then_second_run_changes_nothing(clean_lab, incident, tmp_path):
    repairs = ["missing_instance_mappings", "wrong_cell_mappings", "missing_host_mappings"]
    args = login(clean_lab, repair=repairs, backup_dir=str(tmp_path), take_backup=True)
    before = mapping_state(clean_lab)

    dry = run_module("cell_mapping_check", args, check=True, diff=True)

    assert dry.get("failed") is not True, dry
    assert dry["changed"] is True
    assert mapping_state(clean_lab) == before
    assert list(tmp_path.iterdir()) == []   # check mode took no backup
    planned = {(r["repair"], r.get("instance_uuid") or r["host"], r["cell"]) for r in dry["repairs"]}
    assert planned == {
        ("missing_instance_mappings", incident["vanished-1"], "cell1"),
        ("missing_instance_mappings", incident["vanished-2"], "cell1"),
        ("missing_instance_mappings", incident["failed-build-unmapped"], "cell0"),
        ("wrong_cell_mappings", incident["wrong-cell"], "cell1"),
        ("missing_host_mappings", "cmp2", "cell1"),
    }
    assert dry["diff"]["before"][f"instance_mappings/{incident['wrong-cell']}"] == "cell2"
    assert dry["diff"]["after"]["host_mappings/cmp2"] == "cell1"

    repaired = run_module("cell_mapping_check", args, diff=True)

    assert repaired.get("failed") is not True, repaired
    assert repaired["changed"] is True
    assert all(r["applied"] and r["verified"] for r in repaired["repairs"]), repaired["repairs"]
    assert repaired["backup"]["databases"] == ["nova_api"]
    assert (tmp_path / repaired["backup"]["id"] / "manifest.json").is_file()
    assert_no_secret(repaired)
    for name in ("vanished-1", "vanished-2", "failed-build-unmapped", "wrong-cell"):
        clean_lab.nova.manage("cell_v2", "verify_instance", "--uuid", incident[name])  # raises unless rc 0
    assert rows(clean_lab, f"SELECT project_id, user_id FROM instance_mappings "
                           f"WHERE instance_uuid = '{incident['vanished-1']}'") == [["p-vanish", "u2"]]
    assert rows(clean_lab, "SELECT m.host, c.name FROM host_mappings m JOIN cell_mappings c ON c.id = m.cell_id "
                           "WHERE m.host = 'cmp2'") == [["cmp2", "cell1"]]

    again = run_module("cell_mapping_check", args)

    assert again["changed"] is False
    assert again["repairs"] == []
    assert {f["type"] for f in again["findings"]} == {"mapping_to_deleted_instance", "mapping_without_cell"}


def test_repair_without_fresh_backup_is_refused_and_changes_nothing(clean_lab, incident, tmp_path):
    before = mapping_state(clean_lab)

    result = run_module("cell_mapping_check",
                        login(clean_lab, repair=["missing_instance_mappings"], backup_dir=str(tmp_path)))

    assert result.get("failed") is True
    assert "No verified backup of nova_api" in result["msg"]
    assert mapping_state(clean_lab) == before


def test_unreachable_cell_is_reported_within_its_timeout_and_blocks_repairs(clean_lab, incident, tmp_path):
    cells = cell_ids(clean_lab)
    closed = unused_port()
    sql(clean_lab, f"UPDATE cell_mappings SET database_connection = "
                   f"'mysql+pymysql://nova:{DB_USERS['nova']}@127.0.0.1:{closed}/nova_cell2' "
                   f"WHERE id = {cells['cell2']}")
    before = mapping_state(clean_lab)

    started = time.monotonic()
    result = run_module("cell_mapping_check", login(clean_lab, cell_timeout=3))
    elapsed = time.monotonic() - started

    assert result.get("failed") is not True, result
    assert elapsed < 60
    [down] = by_type(result, "cell_unreachable")
    assert down["cell"] == "cell2" and str(closed) in down["error"]
    assert down["database_connection"] == f"mysql+pymysql://nova:********@127.0.0.1:{closed}/nova_cell2"
    # Nothing in cell2 is judged: the wrong-cell mapping (pointing at cell2) and cmp3 are not reported.
    assert not by_type(result, "mapping_to_wrong_cell")
    assert not by_type(result, "host_mapping_to_missing_host")
    assert len(by_type(result, "instance_without_mapping")) == 3
    assert_no_secret(result)

    refused = run_module("cell_mapping_check", login(clean_lab, cell_timeout=3, repair=["missing_instance_mappings"],
                                                     backup_dir=str(tmp_path), take_backup=True))
    assert refused.get("failed") is True
    assert "cell(s) cell2 cannot be read" in refused["msg"]
    assert mapping_state(clean_lab) == before
    assert_no_secret(refused)

    # The controller sees the cell's database at another address: cell_connections reaches it.
    overridden = run_module("cell_mapping_check", login(clean_lab, cell_connections=[
        {"cell": "cell2", "login_port": clean_lab.cfg.port("mariadb")}]))
    assert not by_type(overridden, "cell_unreachable")
    assert len(by_type(overridden, "mapping_to_wrong_cell")) == 1


def test_deleted_cell_mapping_leaves_mappings_to_a_missing_cell(clean_lab, incident):
    cells = cell_ids(clean_lab)
    # The incident's cleanup, finished with foreign key checks off because the cell was still referenced.
    sql(clean_lab, f"SET FOREIGN_KEY_CHECKS = 0; DELETE FROM cell_mappings WHERE id = {cells['cell2']};")

    result = run_module("cell_mapping_check", login(clean_lab))

    assert result.get("failed") is not True, result
    assert [cell["name"] for cell in result["cells"]] == ["cell0", "cell1"]
    missing = {f["instance_uuid"]: f for f in by_type(result, "mapping_to_missing_cell")}
    assert set(missing) == {incident["wrong-cell"], incident["in-cell2"]}
    # wrong-cell is in cell1, so it can be repaired; in-cell2's instance is in no known cell.
    assert (missing[incident["wrong-cell"]]["cell"], missing[incident["wrong-cell"]]["repair"]) == \
        ("cell1", "wrong_cell_mappings")
    assert missing[incident["in-cell2"]]["repair"] is None
    assert missing[incident["in-cell2"]]["mapped_cell_id"] == cells["cell2"]
    [orphan_host] = by_type(result, "host_mapping_to_missing_cell")
    assert (orphan_host["host"], orphan_host["mapped_cell_id"]) == ("cmp3", cells["cell2"])


def test_archived_instance_and_stale_host_mapping(clean_lab, nova_seed):
    created = nova_seed.apply({
        "services": [{"cell": "cell1", "host": "cmp1"}],
        "compute_nodes": [{"cell": "cell1", "host": "cmp1", "vcpus": 8, "memory_mb": 7841, "local_gb": 100}],
        "host_mappings": [{"cell": "cell1", "host": "cmp1"}],
        "instances": [{"cell": "cell1", "host": "cmp1", "project_id": "p-arch", "user_id": "u1", "deleted": True}],
    })
    uuid = created["instances"][0]["uuid"]
    # Exit code 1 means "rows were archived".
    archived = subprocess.run([clean_lab.cfg.bin("nova-manage"), "--config-file", str(clean_lab.nova.conf), "db",
                               "archive_deleted_rows", "--until-complete"],
                              capture_output=True, text=True, env=clean_lab.nova.env, check=False)
    assert archived.returncode == 1, archived.stdout + archived.stderr
    # A release that archived rows without their mapping left this behind; the host was decommissioned by SQL.
    sql(clean_lab, f"""
        INSERT INTO instance_mappings (created_at, instance_uuid, cell_id, project_id, user_id)
            SELECT NOW(), '{uuid}', id, 'p-arch', 'u1' FROM cell_mappings WHERE name = 'cell1';
    """)
    sql(clean_lab, "DELETE FROM compute_nodes; DELETE FROM services;", "nova_cell1")

    result = run_module("cell_mapping_check", login(clean_lab))

    [archived] = by_type(result, "mapping_to_archived_instance")
    assert (archived["instance_uuid"], archived["mapped_cell"], archived["in_shadow_table"]) == (uuid, "cell1", True)
    [stale_host] = by_type(result, "host_mapping_to_missing_host")
    assert (stale_host["host"], stale_host["mapped_cell"]) == ("cmp1", "cell1")


def test_bad_credentials_fail_clearly_without_the_password(clean_lab):
    result = run_module("cell_mapping_check", login(clean_lab, login_password="not-the-password"))

    assert result.get("failed") is True
    assert "Cannot connect to database nova_api at 127.0.0.1" in result["msg"]
    assert "Access denied" in result["msg"]
    assert "not-the-password" not in json.dumps(result)


def test_unreachable_nova_api_fails_clearly(clean_lab):
    port = unused_port()

    result = run_module("cell_mapping_check", login(clean_lab, login_port=port, connect_timeout=3))

    assert result.get("failed") is True
    assert f"Cannot connect to database nova_api at 127.0.0.1:{port}" in result["msg"]


def test_bad_input_is_named(clean_lab):
    unknown = run_module("cell_mapping_check", login(clean_lab, cell_connections=[{"cell": "cell9", "login_port": 1}]))
    timeout = run_module("cell_mapping_check", login(clean_lab, cell_timeout=0))
    choice = run_module("cell_mapping_check", login(clean_lab, repair=["delete_cells"]))

    assert unknown.get("failed") and "cell_connections names cells that are not in cell_mappings: cell9" in unknown["msg"]
    assert timeout.get("failed") and "cell_timeout must be at least 1, not" in timeout["msg"]
    assert choice.get("failed") and "repair" in choice["msg"] and "delete_cells" in choice["msg"]


def test_playbook_reports_and_repairs(clean_lab, incident, tmp_path):
    report = tmp_path / "cells.json"
    extra = dict(check_cells_login_host="127.0.0.1", check_cells_login_port=clean_lab.cfg.port("mariadb"),
                 check_cells_login_user="ops", check_cells_login_password=DB_USERS["ops"],
                 check_cells_report_path=str(report))

    rc, _out = run_playbook(REPO_ROOT / "playbooks" / "check_cells.yml", extra)

    assert rc == 0
    audit = json.loads(report.read_text())
    assert audit["before"]["summary"]["instance_without_mapping"] == 3
    assert audit["repairs"] == [] and audit["after"] == {}
    assert_no_secret(audit)

    rc, _out = run_playbook(REPO_ROOT / "playbooks" / "check_cells.yml", dict(
        extra, check_cells_repair=["missing_instance_mappings"], check_cells_backup_dir=str(tmp_path / "backups"),
        check_cells_take_backup=True))

    assert rc == 0
    evidence = json.loads(report.read_text())
    assert evidence["before"]["summary"]["instance_without_mapping"] == 3
    assert evidence["after"]["summary"]["instance_without_mapping"] == 0
    assert evidence["backup"]["databases"] == ["nova_api"]
    assert {r["instance_uuid"] for r in evidence["repairs"] if r["applied"]} == {
        incident["vanished-1"], incident["vanished-2"], incident["failed-build-unmapped"]}
    # The page beside the JSON, in a browser: the findings by kind before and after, the repairs, no password.
    page = check_page(report.with_suffix(".html"), evidence, "cells", "lab-check_cells")
    assert len(page.one("table", id="repairs")["text"].split("missing_instance_mappings")) == 1 + len(
        evidence["repairs"])
    assert DB_USERS["ops"] not in report.with_suffix(".html").read_text()

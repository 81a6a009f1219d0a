"""db_backup, db_restore and the backup guard against the lab's real MariaDB and real nova/placement schemas."""
import datetime
import gzip
import json
import os
import shutil
import subprocess
import sys
import threading

import pymysql
import pytest

from tests.integration.ansible_runner import COLLECTIONS, run_module, run_playbook
from tests.lab.config import CONTROLLERS, DB_USERS, REPO_ROOT

sys.path.insert(0, str(COLLECTIONS))
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb  # noqa: E402
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_backup as backup  # noqa: E402
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import UnsafeToProceed  # noqa: E402

PROJECT = {"project_id": "p-incident", "user_id": "u-incident"}
INSPECT = "nova_api_inspect"
SCRATCH = "backup_concurrency"


def login(lab):
    return {"login_host": "127.0.0.1", "login_port": lab.cfg.port("mariadb"), "login_user": "ops",
            "login_password": DB_USERS["ops"], "config_file": "/nonexistent/.my.cnf"}


def connect(lab, database=None):
    return pymysql.connect(host="127.0.0.1", port=lab.cfg.port("mariadb"), user="ops", password=DB_USERS["ops"],
                           database=database, autocommit=True)


def checksums(lab, database):
    """CHECKSUM TABLE of every table of database, as the operator would compare them."""
    with connect(lab, database) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute("CHECKSUM TABLE " + ", ".join(f"`{name}`" for name in tables))
        return {name.split(".", 1)[1]: value for name, value in cursor.fetchall()}


def execute(lab, sql, database=None, args=None):
    with connect(lab, database) as conn, conn.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchall()


def entries(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


@pytest.fixture
def backup_dir(tmp_path):
    return str(tmp_path / "backups")


@pytest.fixture
def scratch_databases(clean_lab):
    """Databases a test creates beyond the lab's own (lab.reset() leaves them): dropped before and after."""
    def drop():
        for name in (INSPECT, SCRATCH):
            execute(clean_lab, f"DROP DATABASE IF EXISTS `{name}`")
    drop()
    yield
    drop()


def seed_incident_instances(nova_seed):
    created = nova_seed.apply({
        "services": [{"cell": "cell1", "host": "cmp1"}],
        "compute_nodes": [{"cell": "cell1", "host": "cmp1", "vcpus": 8, "memory_mb": 7841, "local_gb": 100}],
        "host_mappings": [{"cell": "cell1", "host": "cmp1"}],
        "instances": [dict(PROJECT, cell="cell1", host="cmp1", name=f"vm{n}") for n in range(3)],
    })
    return [item["uuid"] for item in created["instances"]]


def take(lab, backup_dir, databases, **options):
    result = run_module("db_backup", dict(login(lab), backup_dir=backup_dir, databases=databases, **options))
    assert result.get("failed") is not True, result
    return result


# ---------------------------------------------------------------- backup, incident, restore

def test_backup_then_deleted_instance_mappings_are_restored_identically(nova_seed, clean_lab, backup_dir):
    uuids = seed_incident_instances(nova_seed)
    for host in CONTROLLERS:  # as before a real restore: nothing else writes (conductors heartbeat into cell1)
        clean_lab.stop_conductor(host)
    databases = ["nova_api", "nova_cell1", "placement"]
    good = {name: checksums(clean_lab, name) for name in databases}

    result = take(clean_lab, backup_dir, databases)
    manifest = result["backup"]
    assert result["changed"] is True
    assert entries(backup_dir) == [manifest["id"]]
    assert manifest["complete"] is True and manifest["databases"] == databases
    assert manifest["tool"].startswith("mariadb-dump ")
    assert manifest["server"]["port"] == clean_lab.cfg.port("mariadb") and "MariaDB" in manifest["server"]["version"]
    on_disk = json.loads(open(os.path.join(result["path"], "manifest.json"), encoding="utf-8").read())
    assert on_disk == manifest
    for entry in manifest["files"]:
        assert backup.file_digest(os.path.join(result["path"], entry["path"])) == (entry["size"], entry["sha256"])

    # The incident: instance mappings deleted by hand; nova no longer finds the instance.
    execute(clean_lab, "DELETE FROM instance_mappings WHERE project_id = %s", "nova_api", (PROJECT["project_id"],))
    with pytest.raises(Exception, match="not mapped"):
        clean_lab.nova.manage("cell_v2", "verify_instance", "--uuid", uuids[0])
    assert checksums(clean_lab, "nova_api") != good["nova_api"]

    dry = run_module("db_restore", dict(login(clean_lab), backup_dir=backup_dir, backup_id=manifest["id"]),
                     check=True, diff=True)
    assert dry["changed"] is True and "Nothing was loaded" in dry["msg"], dry
    assert dry["diff"]["after"]["nova_api"] == f"nova_api from backup {manifest['id']}"
    assert checksums(clean_lab, "nova_api") != good["nova_api"]
    assert entries(backup_dir) == [manifest["id"]]

    restored = run_module("db_restore", dict(login(clean_lab), backup_dir=backup_dir, backup_id=manifest["id"]))
    assert restored["changed"] is True, restored
    assert {name: checksums(clean_lab, name) for name in databases} == good
    assert {item["target"]: item["checksums"] for item in restored["restored"]} == good
    # The damaged state was kept first, so the restore itself can be undone.
    pre = restored["pre_restore_backup"]
    assert pre["databases"] == databases and pre["id"] in entries(backup_dir)
    assert "cell1" in clean_lab.nova.manage("cell_v2", "verify_instance", "--uuid", uuids[0])


def test_restore_into_another_name_leaves_the_live_database_alone(clean_lab, scratch_databases, backup_dir):
    manifest = take(clean_lab, backup_dir, ["nova_api"])["backup"]
    execute(clean_lab, "DELETE FROM cell_mappings WHERE name = 'cell2'", "nova_api")
    live = checksums(clean_lab, "nova_api")

    result = run_module("db_restore", dict(login(clean_lab), backup_dir=backup_dir, backup_id=manifest["id"],
                                           target_names={"nova_api": INSPECT}, backup_before_restore=False))
    assert result["changed"] is True, result
    assert result["restored"][0]["target"] == INSPECT and result["restored"][0]["existed"] is False
    assert result["pre_restore_backup"] is None
    assert execute(clean_lab, "SELECT name FROM cell_mappings WHERE name = 'cell2'", INSPECT) == (("cell2",),)
    assert checksums(clean_lab, "nova_api") == live
    charset = execute(clean_lab, "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA "
                                 "WHERE SCHEMA_NAME = %s", args=(INSPECT,))
    assert charset == ((manifest["charsets"]["nova_api"]["charset"],),)


def test_a_corrupted_backup_is_refused_and_nothing_is_loaded(clean_lab, backup_dir):
    result = take(clean_lab, backup_dir, ["nova_api", "placement"])
    path = os.path.join(result["path"], "placement.sql.gz")
    with open(path, "r+b") as stream:
        stream.seek(40)
        byte = stream.read(1)
        stream.seek(40)
        stream.write(bytes([byte[0] ^ 0xFF]))
    execute(clean_lab, "DELETE FROM cell_mappings WHERE name = 'cell2'", "nova_api")
    damaged = checksums(clean_lab, "nova_api")

    refused = run_module("db_restore", dict(login(clean_lab), backup_dir=backup_dir,
                                            backup_id=result["backup"]["id"]))
    assert refused.get("failed") is True
    assert f"Refusing to restore backup {result['backup']['id']}: placement.sql.gz: sha256" in refused["msg"]
    assert "Nothing was changed" in refused["msg"]
    assert checksums(clean_lab, "nova_api") == damaged
    assert entries(backup_dir) == [result["backup"]["id"]]  # no pre-restore backup either


def test_unknown_backup_id_and_database_are_named(clean_lab, backup_dir):
    manifest = take(clean_lab, backup_dir, ["placement"])["backup"]
    missing = run_module("db_restore", dict(login(clean_lab), backup_dir=backup_dir, backup_id="20200101T000000Z-x"))
    assert missing.get("failed") is True and f"the newest there: {manifest['id']}" in missing["msg"]
    wrong = run_module("db_restore", dict(login(clean_lab), backup_dir=backup_dir, backup_id=manifest["id"],
                                          databases=["nova_api"]))
    assert wrong.get("failed") is True and f"Backup {manifest['id']} has no nova_api" in wrong["msg"]


# ---------------------------------------------------------------- the guard

def test_guard_refuses_without_a_backup_and_with_a_stale_one_then_accepts_a_fresh_one(clean_lab, backup_dir):
    with pytest.raises(UnsafeToProceed) as none:
        backup.require_fresh_backup(backup_dir, ["nova_api", "nova_cell1"])
    assert "nova_api, nova_cell1" in none.value.msg and "(none)" in none.value.msg
    assert backup_dir in none.value.msg and "playbooks/backup_databases.yml" in none.value.msg

    manifest = take(clean_lab, backup_dir, ["nova_api", "nova_cell1"])["backup"]
    assert backup.require_fresh_backup(backup_dir, ["nova_cell1"])["id"] == manifest["id"]

    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=31)
    with pytest.raises(UnsafeToProceed, match=r"younger than 30 min .*\(the newest is 31 min old\)"):
        backup.require_fresh_backup(backup_dir, ["nova_api"], now=later)
    with pytest.raises(UnsafeToProceed, match="placement"):
        backup.require_fresh_backup(backup_dir, ["nova_api", "placement"])


def test_guard_takes_the_backup_itself_when_told(clean_lab, backup_dir):
    """With the module's own connection to the server: the dump tool logs in with its login."""
    server = mariadb.connect(login(clean_lab))
    try:
        params = dict(backup_dir=backup_dir, backup_max_age=1800, take_backup=True)
        assert backup.guard(server, ["placement"], params, check_mode=True)["id"] is None
        assert entries(backup_dir) == []
        manifest = backup.guard(server, ["placement"], params)
        assert entries(backup_dir) == [manifest["id"]] and manifest["age_seconds"] == 0
        assert backup.guard(server, ["placement"], dict(params, take_backup=False))["id"] == manifest["id"]
    finally:
        server.close()


# ---------------------------------------------------------------- check mode, idempotence, retention

def test_check_mode_dumps_nothing_and_says_it_proves_nothing(clean_lab, backup_dir):
    result = run_module("db_backup", dict(login(clean_lab), backup_dir=backup_dir, databases=["nova_api"]),
                        check=True, diff=True)
    assert result["changed"] is True and result["backup"] is None
    assert "proves nothing about the backup itself" in result["msg"]
    assert result["would_dump"]["nova_api"] > 0
    assert result["diff"]["after"]["backups"] == ["(new backup)"]
    assert not os.path.exists(backup_dir)

    unknown = run_module("db_backup", dict(login(clean_lab), backup_dir=backup_dir, databases=["nova_apii"]),
                         check=True)
    assert unknown.get("failed") is True and "Unknown database nova_apii" in unknown["msg"]


def _aged_copy(backup_dir, source, days, databases=None):
    """A copy of a real backup, made to look days old (and optionally of fewer databases)."""
    created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    backup_id = f"{created.strftime('%Y%m%dT%H%M%SZ')}-aged"
    shutil.copytree(os.path.join(backup_dir, source["id"]), os.path.join(backup_dir, backup_id))
    manifest = dict(source, id=backup_id, created_at=backup.format_time(created))
    if databases:
        manifest.update(databases=databases, files=[f for f in source["files"] if f["database"] in databases])
    with open(os.path.join(backup_dir, backup_id, "manifest.json"), "w", encoding="utf-8") as stream:
        json.dump(manifest, stream)
    return backup_id


def test_retention_removes_only_what_it_should_and_a_second_run_changes_nothing(clean_lab, backup_dir):
    real = take(clean_lab, backup_dir, ["nova_api", "placement"])["backup"]
    d1, d3, d10 = (_aged_copy(backup_dir, real, days) for days in (1, 3, 10))
    only_api = _aged_copy(backup_dir, real, 20, ["nova_api"])  # the newest (and only) of its set
    os.mkdir(os.path.join(backup_dir, "operator-notes"))
    os.mkdir(os.path.join(backup_dir, ".20200101T000000Z-crashed.partial"))
    before = entries(backup_dir)
    options = dict(login(clean_lab), backup_dir=backup_dir, databases=["nova_api", "placement"],
                   keep_count=3, keep_days=7, reuse_max_age=3600)

    dry = run_module("db_backup", options, check=True, diff=True)
    assert dry["changed"] is True and dry["reused"] is True
    assert dry["removed"] == [d10]
    assert entries(backup_dir) == before

    pruned = run_module("db_backup", dict(options, keep_count=2))
    assert pruned["changed"] is True and pruned["backup"]["id"] == real["id"]
    assert sorted(pruned["removed"]) == sorted([d3, d10])
    assert entries(backup_dir) == sorted(set(before) - {d3, d10})
    assert {real["id"], d1, only_api, "operator-notes", ".20200101T000000Z-crashed.partial"} == set(entries(backup_dir))

    again = run_module("db_backup", dict(options, keep_count=2))
    assert again["changed"] is False and again["removed"] == [] and again["reused"] is True


# ---------------------------------------------------------------- consistency under writes

def test_a_dump_taken_while_transactions_commit_is_consistent(clean_lab, scratch_databases, backup_dir):
    """Transfers between accounts keep the total constant; a consistent snapshot must show that total."""
    execute(clean_lab, f"CREATE DATABASE `{SCRATCH}`")
    execute(clean_lab, "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB", SCRATCH)
    execute(clean_lab, "CREATE TABLE transfers (id INT AUTO_INCREMENT PRIMARY KEY, amount INT) ENGINE=InnoDB",
            SCRATCH)
    execute(clean_lab, "INSERT INTO accounts VALUES " + ", ".join(f"({n}, 1000)" for n in range(50)), SCRATCH)
    stop = threading.Event()
    commits = []

    def writer():
        conn = connect(clean_lab, SCRATCH)
        conn.autocommit(False)
        n = 0
        with conn, conn.cursor() as cursor:
            while not stop.is_set():
                n += 1
                cursor.execute("UPDATE accounts SET balance = balance - 7 WHERE id = %s", (n % 50,))
                cursor.execute("INSERT INTO transfers (amount) VALUES (7)")
                cursor.execute("UPDATE accounts SET balance = balance + 7 WHERE id = %s", ((n * 13 + 1) % 50,))
                conn.commit()
                commits.append(n)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(commits) < 50:
            stop.wait(0.05)
        started = len(commits)
        manifest = take(clean_lab, backup_dir, [SCRATCH])["backup"]
        during = len(commits) - started
    finally:
        stop.set()
        thread.join()
    assert during > 0, "no transaction committed while the dump ran: the test proves nothing"

    with gzip.open(os.path.join(backup_dir, manifest["id"], f"{SCRATCH}.sql.gz"), "rt") as dump:
        assert "-- Dump completed" in dump.read()
    run_module("db_restore", dict(login(clean_lab), backup_dir=backup_dir, backup_id=manifest["id"],
                                  target_names={SCRATCH: INSPECT}, backup_before_restore=False))
    assert execute(clean_lab, "SELECT SUM(balance), COUNT(*) FROM accounts", INSPECT) == ((50 * 1000, 50),)
    transfers = execute(clean_lab, "SELECT COUNT(*) FROM transfers", INSPECT)[0][0]
    assert 50 <= transfers < len(commits)


# ---------------------------------------------------------------- failures leave nothing behind

def test_bad_credentials_fail_clearly_and_leave_no_backup(clean_lab, backup_dir):
    result = run_module("db_backup", dict(login(clean_lab), backup_dir=backup_dir, databases=["nova_api"],
                                          login_password="not-the-password"))
    assert result.get("failed") is True
    assert "Access denied for user 'ops'" in result["msg"]
    assert "not-the-password" not in json.dumps(result)
    assert entries(backup_dir) == []


def test_unknown_database_fails_before_dumping_anything(clean_lab, backup_dir):
    result = run_module("db_backup", dict(login(clean_lab), backup_dir=backup_dir, databases=["nova_api", "nova"]))
    assert result.get("failed") is True
    assert result["msg"].startswith("Unknown database nova on 127.0.0.1:")
    assert "nova_cell1" in result["msg"]  # what the server does have
    assert entries(backup_dir) == []


def test_unwritable_backup_directory_fails_clearly(clean_lab, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    subprocess.run(["chattr", "+i", str(locked)], check=True)
    try:
        result = run_module("db_backup", dict(login(clean_lab), backup_dir=str(locked), databases=["nova_api"]))
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    assert result.get("failed") is True
    assert f"The backup directory {locked} is not writable" in result["msg"]
    assert entries(locked) == []

    below_a_file = tmp_path / "a-file"
    below_a_file.write_text("")
    result = run_module("db_backup", dict(login(clean_lab), backup_dir=str(below_a_file / "backups"),
                                          databases=["nova_api"]))
    assert result.get("failed") is True and "Cannot create the backup directory" in result["msg"]


def test_full_backup_directory_fails_and_removes_the_partial_backup(clean_lab, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(full)],
                             capture_output=True, check=False)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        result = run_module("db_backup", dict(login(clean_lab), backup_dir=str(full),
                                              databases=["nova_api", "nova_cell1", "placement"]))
        left = entries(full)
    finally:
        subprocess.run(["umount", str(full)], check=True)
    assert result.get("failed") is True
    assert f"Cannot write the backup to {full}: No space left on device; nothing was kept" in result["msg"]
    assert left == []


# ---------------------------------------------------------------- playbooks

PLAYBOOKS = REPO_ROOT / "playbooks"


def test_backup_and_restore_playbooks(clean_lab, scratch_databases, backup_dir):
    extra = {f"db_backup_{name}": value for name, value in login(clean_lab).items()}
    rc, report = run_playbook(PLAYBOOKS / "backup_databases.yml",
                              dict(extra, db_backup_hosts="localhost", db_backup_databases=["nova_api"], db_backup_dir=backup_dir))
    assert rc == 0, report
    (backup_id,) = entries(backup_dir)

    rc, report = run_playbook(PLAYBOOKS / "restore_databases.yml",
                              dict(extra, db_backup_hosts="localhost", db_backup_dir=backup_dir, db_backup_restore_id=backup_id))
    assert rc != 0 and "db_backup_restore_confirm" in json.dumps(report)
    assert execute(clean_lab, "SHOW DATABASES LIKE %s", args=(INSPECT,)) == ()

    rc, report = run_playbook(PLAYBOOKS / "restore_databases.yml",
                              dict(extra, db_backup_hosts="localhost", db_backup_dir=backup_dir, db_backup_restore_id=backup_id,
                                   db_backup_restore_confirm=backup_id,
                                   db_backup_restore_target_names={"nova_api": INSPECT}))
    assert rc == 0, report
    assert checksums(clean_lab, INSPECT) == checksums(clean_lab, "nova_api")


def test_guard_entry_point_fails_without_a_fresh_backup_and_takes_one_when_told(clean_lab, backup_dir, tmp_path):
    playbook = tmp_path / "edit.yml"
    playbook.write_text(
        "- name: A destructive runbook\n"
        "  hosts: localhost\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Require a backup first\n"
        "      ansible.builtin.include_role:\n"
        "        name: openstack_ops.runbooks.db_backup\n"
        "        tasks_from: guard\n"
        "    - name: The edit\n"
        "      ansible.builtin.debug:\n"
        "        msg: 'editing after backup {{ db_backup_guard_backup.id }}'\n")
    extra = {f"db_backup_{name}": value for name, value in login(clean_lab).items()}
    extra.update(db_backup_dir=backup_dir, db_backup_databases=["nova_api"])

    rc, report = run_playbook(playbook, extra)
    assert rc != 0
    assert f"No verified backup of nova_api younger than 1800 s in {backup_dir}" in json.dumps(report)
    assert "editing after backup" not in json.dumps(report)
    assert entries(backup_dir) == []

    rc, report = run_playbook(playbook, dict(extra, db_backup_guard_take=True))
    assert rc == 0, report
    (taken,) = entries(backup_dir)
    assert f"editing after backup {taken}" in json.dumps(report)

    rc, report = run_playbook(playbook, extra)  # the fresh backup now satisfies the guard; none is added
    assert rc == 0 and entries(backup_dir) == [taken]

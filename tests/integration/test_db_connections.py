"""mariadb_connection_info and playbooks/inventory_db_connections.yml on the lab's real MariaDB: connections the test
holds open idle, a transaction left open holding a row lock and a second one waiting on it, a wait_timeout lower than
a service's recycle time; a wrong login and an unreachable server fail clearly and change nothing."""
import json
import threading
import time

import pymysql
import pytest

from tests.integration.ansible_runner import run_module, run_playbook
from tests.integration.test_report_html_browser import check_page
from tests.lab.config import DB_USERS, REPO_ROOT

SCRATCH = "dbconn_scratch"


def login(lab, **overrides):
    return dict({"login_host": "127.0.0.1", "login_port": lab.cfg.port("mariadb"), "login_user": "ops",
                 "login_password": DB_USERS["ops"], "config_file": "/nonexistent/.my.cnf"}, **overrides)


def connect(lab, user="ops", database=None, autocommit=True):
    return pymysql.connect(host="127.0.0.1", port=lab.cfg.port("mariadb"), user=user, password=DB_USERS[user],
                           database=database, autocommit=autocommit)


def scalar(connection, sql, args=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchone()[0]


def wait_for(predicate, what, timeout=60):
    """Poll until predicate() holds (a state the server reaches, not a speed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
def scratch(lab):
    """A table of the test's own database, dropped after; every connection the test opens is closed after."""
    admin = connect(lab)
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")
        cursor.execute(f"CREATE DATABASE {SCRATCH}")
        cursor.execute(f"CREATE TABLE {SCRATCH}.counters (id INT PRIMARY KEY, value INT) ENGINE=InnoDB")
        cursor.execute(f"INSERT INTO {SCRATCH}.counters VALUES (1, 0), (2, 0)")
    opened = []

    def open_connection(**kwargs):
        opened.append(connect(lab, **kwargs))
        return opened[-1]

    yield open_connection
    for connection in opened:
        try:
            connection.close()
        except pymysql.MySQLError:
            pass
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")
    admin.close()


@pytest.fixture
def global_wait_timeout(lab):
    """wait_timeout as the lab had it, put back after the test."""
    admin = connect(lab)
    before = scalar(admin, "SELECT @@GLOBAL.wait_timeout")
    yield int(before)
    with admin.cursor() as cursor:
        cursor.execute("SET GLOBAL wait_timeout = %s", (before,))
    admin.close()


def test_idle_connections_an_idle_transaction_holding_a_lock_and_its_waiter_are_seen(lab, scratch, tmp_path):
    idle = [scratch(user="nova", database="nova_cell1") for _number in range(3)]
    idle_ids = sorted(scalar(connection, "SELECT CONNECTION_ID()") for connection in idle)
    holder = scratch(autocommit=False)
    holder_id = scalar(holder, "SELECT CONNECTION_ID()")
    holder.cursor().execute(f"UPDATE {SCRATCH}.counters SET value = value + 1 WHERE id = 1")   # row lock, left open
    waiter = scratch(autocommit=False)
    waiter_id = scalar(waiter, "SELECT CONNECTION_ID()")
    waiter.cursor().execute("SET SESSION innodb_lock_wait_timeout = 300")
    blocked = threading.Thread(target=lambda: _update_ignoring_errors(waiter), daemon=True)
    blocked.start()
    observer = connect(lab)
    try:
        wait_for(lambda: scalar(observer, "SELECT COUNT(*) FROM information_schema.INNODB_TRX "
                                          "WHERE trx_mysql_thread_id = %s AND trx_state = 'LOCK WAIT'", (waiter_id,)),
                 "the second transaction waits on the row lock")
        # every connection idle two seconds: above the recycle time of 1 below (a lower bound, not a speed)
        wait_for(lambda: min(scalar(observer, "SELECT TIME FROM information_schema.PROCESSLIST WHERE ID = %s",
                                    (thread,)) for thread in idle_ids + [holder_id]) >= 2, "two seconds of idleness")
        nova_conf = tmp_path / "nova.conf"
        nova_conf.write_text("[database]\nconnection = mysql+pymysql://nova:x@127.0.0.1/nova_cell1\n"
                             "connection_recycle_time = 1\n")
        result = run_module("mariadb_connection_info", dict(login(lab), service_configs=[str(nova_conf)],
                                                            long_transaction_seconds=0), check=True)
        before = scalar(observer, "SELECT COUNT(*) FROM information_schema.INNODB_TRX")
    finally:
        holder.rollback()
        blocked.join(timeout=60)
        waiter.rollback()
        observer.close()

    assert result.get("failed") is not True, result
    assert result["changed"] is False
    assert result["lock_wait_view"] == "information_schema.INNODB_LOCK_WAITS"   # MariaDB 10.11 still has them
    assert {"information_schema.INNODB_TRX", "information_schema.INNODB_LOCKS"} <= set(result["views"])
    assert "transactions" not in result["missing"] and "lock_waits" not in result["missing"]
    assert result["server"]["where"] == f"127.0.0.1:{lab.cfg.port('mariadb')}"

    listed = {item["id"]: item for item in result["connections"]}
    for thread in idle_ids:
        assert listed[thread]["user"] == "nova" and listed[thread]["db"] == "nova_cell1"
        assert listed[thread]["command"] == "Sleep" and listed[thread]["time"] >= 1
        assert listed[thread]["host"] == "127.0.0.1" and listed[thread]["service"] == "nova [database]"
    group = next(group for group in result["groups"] if (group["user"], group["db"], group["command"]) ==
                 ("nova", "nova_cell1", "Sleep") and group["host"] == "127.0.0.1")
    assert group["count"] >= 3 and group["idle_max"] >= 1   # the lab's conductors may hold more
    nova = next(row for row in result["services"] if row["name"] == "nova [database]")
    assert nova["connection_recycle_time"] == 1 and nova["source"] == str(nova_conf)
    held = next(finding for finding in result["findings"] if finding["kind"] == "long_held"
                and finding["service"] == "nova [database]")
    assert set(idle_ids) <= set(held["threads"]) or held["count"] > 20

    transaction = next(trx for trx in result["transactions"] if trx["thread_id"] == holder_id)
    assert transaction["idle"] is True and transaction["rows_locked"] >= 1 and transaction["user"] == "ops"
    idle_in_trx = next(finding for finding in result["findings"] if finding["kind"] == "idle_in_transaction")
    assert holder_id in idle_in_trx["threads"]
    wait = next(wait for wait in result["lock_waits"] if wait["waiting_thread"] == waiter_id)
    assert wait["blocking_thread"] == holder_id and wait["blocking_idle"] is True
    assert SCRATCH in wait["lock_table"] and wait["lock_index"] == "PRIMARY"
    assert "UPDATE" in wait["waiting_query"]
    assert any(f["kind"] == "lock_wait" and waiter_id in f["threads"] for f in result["findings"])
    assert result["totals"]["max_connections"] == 600 and result["status"]["threads_connected"] >= 6
    # nothing was ended by the inventory: both transactions were still open after it
    assert before >= 2


def _update_ignoring_errors(connection):
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {SCRATCH}.counters SET value = value + 10 WHERE id = 1")
    except pymysql.MySQLError:
        pass


def test_a_wait_timeout_below_a_service_recycle_time_is_flagged(lab, scratch, global_wait_timeout):
    admin = scratch()
    admin.cursor().execute("SET GLOBAL wait_timeout = 600")
    short = scratch(user="placement", database="placement")   # a new session: wait_timeout 600
    assert scalar(short, "SELECT @@SESSION.wait_timeout") == 600
    services = [dict(name="placement", user="placement", connection_recycle_time=3600),
                dict(name="nova", user="nova", connection_recycle_time=300)]

    result = run_module("mariadb_connection_info", dict(login(lab), services=services, default_recycle_time=0))

    assert result.get("failed") is not True, result
    flagged = [finding for finding in result["findings"] if finding["kind"] == "wait_timeout_below_recycle"]
    assert [finding["service"] for finding in flagged] == ["placement"]
    assert "connection_recycle_time 3600 >= wait_timeout 600" in flagged[0]["message"]
    placement = next(row for row in result["services"] if row["name"] == "placement")
    assert placement["wait_timeout"] == 600 and placement["connections"] >= 1
    assert result["variables"]["wait_timeout"] == 600
    if "per_thread_wait_timeout" in result["missing"]:   # performance_schema off (the lab's): the global value
        assert result["connections"][0]["wait_timeout"] == 600


def test_a_wrong_login_and_an_unreachable_server_fail_clearly(lab, scratch):
    observer = scratch()
    own = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'ops'"   # only this test logs in as ops
    sessions = scalar(observer, own)

    wrong = run_module("mariadb_connection_info", login(lab, login_password="not-the-password"))
    closed = run_module("mariadb_connection_info", login(lab, login_port=lab.cfg.port("mariadb") + 50,
                                                         connect_timeout=5))

    assert wrong["failed"] is True and "Access denied for user 'ops'" in wrong["msg"], wrong
    assert f"at 127.0.0.1:{lab.cfg.port('mariadb')}" in wrong["msg"] and "not-the-password" not in json.dumps(wrong)
    assert closed["failed"] is True and "Cannot connect to database (default) at 127.0.0.1:" in closed["msg"], closed
    assert "findings" not in wrong and "findings" not in closed
    assert scalar(observer, own) <= sessions   # neither run left a session behind


def test_the_playbook_writes_one_report_per_node_and_its_artifacts(lab, scratch, tmp_path):
    idle = scratch(user="nova", database="nova_cell1")
    idle_id = scalar(idle, "SELECT CONNECTION_ID()")
    reports = tmp_path / "reports"

    rc, run = run_playbook(REPO_ROOT / "playbooks" / "inventory_db_connections.yml", extra_vars=dict(
        inventory_db_connections_login=login(lab), openstack_ops_report_dir=str(reports),
        inventory_db_connections_services=[dict(name="nova", user="nova", connection_recycle_time=3600)],
        inventory_db_connections_haproxy_timeout=5400))
    rc_bad, bad = run_playbook(REPO_ROOT / "playbooks" / "inventory_db_connections.yml", extra_vars=dict(
        inventory_db_connections_login=login(lab, login_password="wrong"),
        openstack_ops_report_dir=str(tmp_path / "bad")))

    assert rc == 0, json.dumps(run)[:3000]
    report = json.loads((reports / "db-connections.json").read_text())
    node = report["nodes"]["localhost"]
    assert report["runbook"] == "inventory_db_connections" and report["failed_nodes"] == []
    assert idle_id in [item["id"] for item in node["connections"]]
    assert "invocation" not in node and "ops-lab-secret" not in json.dumps(report)
    assert node["variables"]["wait_timeout"] >= 1 and node["totals"]["connections"] >= 1
    page = (reports / "db-connections.html").read_text()
    assert 'data-kind="db_connections"' in page and 'id="render-error"' not in page and 'data-node="localhost"' in page
    check_page(reports / "db-connections.html", report, "db_connections", "lab-db-connections")   # in Chromium
    stats = artifacts(run)["openstack_ops_run"]
    assert stats["result"] == "ok" and stats["counts"]["nodes"] == 1 and stats["report"] == str(
        reports / "db-connections.json")

    assert rc_bad != 0
    bad_report = json.loads((tmp_path / "bad" / "db-connections.json").read_text())
    assert bad_report["failed_nodes"] == ["localhost"]
    assert "Access denied" in bad_report["nodes"]["localhost"]["msg"]
    assert artifacts(bad)["openstack_ops_run"]["result"] == "failed"


def artifacts(report):
    """The data of the playbook's set_stats task (what AWX keeps as the job's artifacts)."""
    task = next(task for task in report["plays"][0]["tasks"] if task["name"].startswith("Report | leave a summary"))
    return task["hosts"]["localhost"]["ansible_stats"]["data"]

"""The two halves of galera_tuning's kolla mode: mariadb_variables with persist=false against the lab's real MariaDB
(runtime values only, no option file), and mariadb_option_file writing a kolla-ansible galera.cnf override."""
import pymysql
import pytest

from tests.integration.ansible_runner import run_module
from tests.lab.config import DB_USERS

OVERRIDE = """\
# The operator's overrides, merged by kolla-ansible into each node's galera.cnf
[client]
default-character-set = utf8

[mysqld]
innodb_buffer_pool_size = 1G   # sized for the controllers
wait-timeout = 28800
"""


def login(lab):
    return {"login_host": "127.0.0.1", "login_port": lab.cfg.port("mariadb"), "login_user": "ops",
            "login_password": DB_USERS["ops"], "config_file": "/nonexistent/.my.cnf"}


def global_value(lab, name):
    connection = pymysql.connect(host="127.0.0.1", port=lab.cfg.port("mariadb"), user="ops",
                                 password=DB_USERS["ops"])
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT @@GLOBAL.{name}")
            return str(cursor.fetchone()[0])
    finally:
        connection.close()


@pytest.fixture
def lock_wait_timeout(lab):
    """innodb_lock_wait_timeout as the lab had it, put back after the test."""
    before = global_value(lab, "innodb_lock_wait_timeout")
    yield int(before)
    run_module("mariadb_variables", dict(login(lab), variables={"innodb_lock_wait_timeout": int(before)}, persist=False))


def test_persist_false_sets_runtime_values_and_writes_no_file(lab, lock_wait_timeout, tmp_path):
    option_file = tmp_path / "99-openstack-ops.cnf"
    wanted = lock_wait_timeout + 7
    buffer = int(global_value(lab, "innodb_log_buffer_size"))
    args = dict(login(lab), option_file=str(option_file), persist=False,
                variables={"innodb_lock_wait_timeout": wanted, "innodb_log_buffer_size": buffer * 2})

    dry = run_module("mariadb_variables", args, check=True, diff=True)
    assert not dry.get("failed"), dry
    assert dry["changed"] is True and dry["changed_variables"] == ["innodb_lock_wait_timeout"]
    assert global_value(lab, "innodb_lock_wait_timeout") == str(lock_wait_timeout)

    result = run_module("mariadb_variables", args)

    assert not result.get("failed"), result
    assert result["changed_variables"] == ["innodb_lock_wait_timeout"]
    assert result["option_file"] is None and "backup_file" not in result and "diff" not in result
    assert global_value(lab, "innodb_lock_wait_timeout") == str(wanted)
    # read-only: not settable at runtime, not persisted here; the caller is told it needs a restart
    assert result["restart_required"] is True and result["restart_variables"] == ["innodb_log_buffer_size"]
    assert not option_file.exists()

    again = run_module("mariadb_variables", args)
    assert again["changed"] is False and again["restart_required"] is True


def test_runtime_and_persist_both_false_is_refused(lab):
    result = run_module("mariadb_variables", dict(login(lab), variables={"wait_timeout": 5000}, runtime=False,
                                                  persist=False))
    assert result["failed"] and "runtime and persist are both false" in result["msg"]


def test_option_file_check_diff_then_write_keeps_the_operators_lines_with_a_backup(tmp_path):
    override = tmp_path / "galera.cnf"
    override.write_text(OVERRIDE)
    override.chmod(0o600)
    args = dict(path=str(override), options={"wait_timeout": 5000, "max_connections": 10000,
                                             "innodb_flush_log_at_trx_commit": 2})

    dry = run_module("mariadb_option_file", args, check=True, diff=True)
    assert dry["changed"] is True
    assert dry["changed_options"] == ["wait_timeout", "max_connections", "innodb_flush_log_at_trx_commit"]
    assert dry["diff"]["after"] == OVERRIDE.replace("wait-timeout = 28800", "wait-timeout = 5000") + (
        "max_connections = 10000\ninnodb_flush_log_at_trx_commit = 2\n")
    assert override.read_text() == OVERRIDE and sorted(path.name for path in tmp_path.iterdir()) == ["galera.cnf"]

    result = run_module("mariadb_option_file", args)

    assert result["changed"] is True and override.read_text() == dry["diff"]["after"]
    assert result["options"]["wait_timeout"] == {"before": "28800", "after": "5000"}
    backups = [path for path in tmp_path.iterdir() if path.name.endswith("~")]
    assert len(backups) == 1 and backups[0].read_text() == OVERRIDE
    assert oct(override.stat().st_mode & 0o777) == "0o600"   # the file's own mode kept

    again = run_module("mariadb_option_file", args)
    assert again["changed"] is False and again["changed_options"] == []
    assert len([path for path in tmp_path.iterdir() if path.name.endswith("~")]) == 1


def test_option_file_creates_a_missing_file_with_its_section(tmp_path):
    override = tmp_path / "galera.cnf"

    result = run_module("mariadb_option_file", dict(path=str(override), options={"thread_cache_size": 64}))

    assert result["changed"] is True and "backup_file" not in result
    assert override.read_text() == "[mysqld]\nthread_cache_size = 64\n"
    assert oct(override.stat().st_mode & 0o777) == "0o640"


@pytest.mark.parametrize("options, expected", [
    ({}, "options is empty"),
    ({"wait_timeout": {"seconds": 5000}}, "wait_timeout: {'seconds': 5000} is not a value of one line"),
    ({"wait_timeout": 5000, "wait-timeout": 5000}, "wait-timeout is given twice"),
    ({"wait timeout": 5000}, "'wait timeout' is not an option name"),
])
def test_option_file_bad_input_names_the_problem_and_writes_nothing(tmp_path, options, expected):
    override = tmp_path / "galera.cnf"
    override.write_text(OVERRIDE)

    result = run_module("mariadb_option_file", dict(path=str(override), options=options))

    assert result["failed"] and expected in result["msg"], result["msg"]
    assert override.read_text() == OVERRIDE and len(list(tmp_path.iterdir())) == 1


def test_option_file_in_a_missing_directory_is_refused(tmp_path):
    result = run_module("mariadb_option_file", dict(path=str(tmp_path / "nope" / "galera.cnf"), options={"a": 1}))
    assert result["failed"] and "does not exist" in result["msg"]
    assert not (tmp_path / "nope").exists()

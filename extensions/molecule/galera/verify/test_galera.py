"""After converge and side_effect: the values run on every node and survived the rolling restart, the option file
kept the operator's comments and was backed up, the cluster stayed Primary and Synced throughout, each bad input
failed naming its problem, kolla mode wrote only the deploy host's override and the runtime values, and the pages of
the rolling restart and of the single-writer fix open in Chromium with the JSON's numbers."""
import json
import re

import pytest
import testinfra

from tests.galera_lab import watch, writes
from tests.galera_lab.lab import GaleraLab, NODES
from tests.integration.test_report_html_browser import check_page

LAB = GaleraLab()
OPTION_FILE = "/etc/mysql/mariadb.conf.d/99-openstack-ops.cnf"
# converge (group_vars and the role's defaults), then side_effect's restart-only variable
EXPECTED = {
    "wait_timeout": "5000", "interactive_timeout": "28800", "innodb_lock_wait_timeout": "50",
    "innodb_flush_log_at_trx_commit": "2", "max_connections": "4096", "innodb_log_buffer_size": str(32 * 1024 * 1024),
}


def running(name):
    rows = LAB.sql(name, "SELECT VARIABLE_NAME, GLOBAL_VALUE FROM information_schema.SYSTEM_VARIABLES WHERE "
                         f"VARIABLE_NAME IN ({', '.join(repr(key.upper()) for key in EXPECTED)})")
    return {key.lower(): value for key, value in (line.split("\t") for line in rows.splitlines())}


def uptime(name):
    return int(LAB.sql(name, "SHOW GLOBAL STATUS LIKE 'Uptime'").split()[1])


@pytest.mark.parametrize("name", NODES)
def test_every_value_runs_after_the_rolling_restart(name):
    # innodb_log_buffer_size is read-only: 32M running proves the node restarted and read the option file, and the
    # dynamic values set before the restart (wait_timeout 5000, not the file's old 600) came back from the file.
    assert running(name) == EXPECTED
    assert uptime(name) < 600


@pytest.mark.parametrize("name", NODES)
def test_the_option_file_keeps_the_operators_comments(name):
    text = testinfra.get_host(f"podman://{name}").file(OPTION_FILE).content_string
    assert text.startswith("# Operator note: tuned by hand in 2023, see ticket OPS-1234.\n[mysqld]\n")
    assert "wait_timeout = 5000   # closes pooled connections under nova (seed 003)\n" in text
    assert "innodb_lock_wait_timeout = 50\n" in text and "innodb_log_buffer_size = 33554432\n" in text
    assert text.count("wait_timeout =") == 2   # wait_timeout and innodb_lock_wait_timeout, each once, not appended again


@pytest.mark.parametrize("name", NODES)
def test_the_previous_option_files_were_backed_up(name):
    host = testinfra.get_host(f"podman://{name}")
    backups = host.run(f"ls {OPTION_FILE}.*~").stdout.split()
    assert len(backups) == 2, backups   # converge, then side_effect's innodb_log_buffer_size
    contents = [host.file(path).content_string for path in backups]
    assert any("wait_timeout = 600   #" in text for text in contents)
    # a backup ends in ~, which the server's !includedir does not read
    assert all(not path.endswith(".cnf") for path in backups)


def samples():
    path = LAB.cfg.path("galera", "watch.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_cluster_stayed_primary_and_synced_through_the_rolling_restart():
    recorded = samples()
    assert len(recorded) > 20, f"only {len(recorded)} samples"
    assert watch.judge(recorded) == []
    # the recording covered the restarts: each node was seen away (restarting) at least once, and at the end every
    # node was Synced again
    for name in NODES:
        assert any(name in watch.away(entry) for entry in recorded), f"{name} never seen restarting"
    assert all(watch.synced(status) for status in recorded[-1]["nodes"].values())


def test_nodes_restarted_one_after_the_other():
    # the order of the first sample each node was seen away: gal1, gal2, gal3 (inventory order), never together
    first_away = [next(i for i, entry in enumerate(samples()) if name in watch.away(entry)) for name in NODES]
    assert first_away == sorted(first_away)
    assert all(len(watch.away(entry)) <= 1 for entry in samples())


def test_a_donor_is_desynced_only_briefly():
    # With two nodes up, the one feeding the restarted node its missed write-sets (IST) is Donor/Desynced for a
    # moment; a full state transfer (SST, rsync) would block it far longer.
    windows = watch.desynced_windows(samples())
    assert all(window < 5 for window in windows), windows


@pytest.mark.parametrize("case, expected", [
    ("unknown", "wait_timeot is not a variable of this server"),
    ("not_numeric", "thread_cache_size: 'lots' is not a number"),
    ("no_backend", "no backend or listen section named galera_nope in /etc/haproxy/haproxy.cfg"),
])
def test_bad_input_fails_naming_the_problem(case, expected):
    assert expected in LAB.cfg.path("galera", f"bad-{case}.log").read_text()


def test_the_inconsistent_stack_fails_naming_the_three_numbers():
    output = LAB.cfg.path("galera", "bad-inconsistent.log").read_text()
    assert ("does not hold: connection_recycle_time 3600 (/etc/nova/nova.conf [database], the oslo.db default) "
            "< MariaDB wait_timeout 28800 < haproxy timeout 5400 (timeout server 90m of mariadb)") in output
    # it failed in the preflight: no task after it ran
    assert "Set the variables at runtime" not in output


def kolla_log(run):
    return LAB.cfg.path("galera", f"kolla-{run}.log").read_text()


def test_kolla_mode_writes_the_override_next_to_the_operators_lines_with_a_backup():
    directory = LAB.cfg.path("galera", "kolla-config")
    text = (directory / "galera.cnf").read_text()
    assert text.startswith("# The operator's overrides, merged by kolla-ansible into each node's galera.cnf\n"
                           "[mysqld]\ninnodb_buffer_pool_size = 1G   # sized for the controllers\n"
                           "wait_timeout = 5000\n")
    for line in ("innodb_flush_log_at_trx_commit = 2", "max_connections = 4096", "thread_cache_size = 64",
                 f"innodb_log_buffer_size = {16 * 1024 * 1024}"):
        assert f"\n{line}\n" in text
    backups = [path for path in directory.iterdir() if path.name.endswith("~")]
    assert len(backups) == 1 and "wait_timeout = 28800\n" in backups[0].read_text()


def test_kolla_mode_without_the_config_directory_fails_before_any_change():
    output = kolla_log("bad")
    assert "no-such-dir does not exist (the directory of " in output
    assert "Set the variables at runtime" not in output   # failed in the preflight
    # and set nothing: the dry run below still plans thread_cache_size, which this run asked for too


def test_kolla_dry_run_shows_the_override_diff_and_sets_nothing():
    check, run = kolla_log("check"), kolla_log("run")
    assert "-wait_timeout = 28800" in check and "+wait_timeout = 5000" in check and "+thread_cache_size = 64" in check
    # what the dry run planned, the real run did: the dry run had written and set none of it
    assert "planned: thread_cache_size" in check and "changed: thread_cache_size" in run
    assert "galera.cnf: innodb_flush_log_at_trx_commit, wait_timeout," in run


def test_kolla_run_restarts_nothing_and_names_the_reconfigure():
    run = kolla_log("run")
    assert "next: kolla-ansible reconfigure -i <your inventory> -t mariadb" in run
    assert "innodb_log_buffer_size run only after it" in run
    assert "Restart MariaDB" not in run


def test_kolla_second_run_changes_nothing():
    recap = re.findall(r"^(gal\d)\s*: ok=\d+\s+changed=(\d+)\s", kolla_log("again"), re.MULTILINE)
    assert sorted(recap) == [("gal1", "0"), ("gal2", "0"), ("gal3", "0")]
    assert "nothing to reconfigure" not in kolla_log("again")   # the restart-only value still waits for it


@pytest.mark.parametrize("name", NODES)
def test_haproxy_sends_galera_to_one_writer_the_others_backup_and_every_server_is_up(name):
    host = testinfra.get_host(f"podman://{name}")
    servers = [line.split() for line in host.file("/etc/haproxy/haproxy.cfg").content_string.splitlines()
               if line.split()[:1] == ["server"]]
    assert [(words[1], "backup" in words) for words in servers] == [("gal1", False), ("gal2", True), ("gal3", True)]
    # seed 002's file, every node a writer, was kept
    assert host.run("grep -L backup /etc/haproxy/haproxy.cfg.*~").stdout.split()
    assert host.service("haproxy").is_running
    state = host.run("echo 'show servers state mariadb' | socat stdio /run/haproxy/admin.sock").stdout
    rows = [line.split() for line in state.splitlines()[2:] if line.strip()]
    assert sorted(row[3] for row in rows) == list(NODES) and all(row[5] == "2" for row in rows), state


def test_writes_through_any_node_s_haproxy_land_on_gal1_and_reads_see_them():
    for via in NODES:
        result = writes.run(LAB, 3, via)
        assert result["commits"] == {"gal1": 3, "gal2": 0, "gal3": 0}, result
        assert result["served"] == {"gal1": 3} and result["last_read_rows"] == result["rows"], result


def report_of(run, name):
    path = LAB.cfg.path("galera", "reports", run, f"{name}.json")
    return path, json.loads(path.read_text())


def test_the_rolling_restart_page_shows_every_node_restarted():
    """side_effect's tune_galera.yml run (a restart-only variable), its page opened in headless Chromium: a section
    per node with the changed settings and the restart, the numbers the JSON's."""
    path, report = report_of("rolling-restart", "tune-galera")
    assert [host["host"] for host in report["hosts"]] == list(NODES)
    assert report["result"] == "changed" and not report["check_mode"]
    for host in report["hosts"]:
        assert "innodb_log_buffer_size" in host["changed_settings"] and host["restarted"], host
    page = check_page(path.with_suffix(".html"), report, "tuning", "molecule-tune-galera-rolling-restart")
    for section in page.find("section", data_host=True):
        assert "innodb_log_buffer_size" in section["text"] and "33554432" in section["text"]


def test_the_single_writer_page_shows_one_writer_per_balancer():
    """single_writer.yml's fix_haproxy_balance.yml run (plain mode), its page opened in headless Chromium: a section
    per load balancer naming the writers before (every node) and after (gal1)."""
    path, report = report_of("single-writer", "fix-haproxy-balance")
    assert [host["host"] for host in report["hosts"]] == list(NODES)
    assert report["result"] == "changed" and report["mode"] == "plain"
    for host in report["hosts"]:
        [writers] = [s for s in host["settings"] if s["option"] == "active (writer) servers"]
        assert (writers["before"], writers["after"], writers["changed"]) == ("gal1, gal2, gal3", "gal1", True), writers
    page = check_page(path.with_suffix(".html"), report, "tuning", "molecule-fix-haproxy-balance-single-writer")
    for section in page.find("section", data_host=True):
        assert "gal1, gal2, gal3" in section["text"]


def checkup_report(name):
    return json.loads(LAB.cfg.path("galera", "reports", "checkup", f"{name}.json").read_text())


def checks_of(report):
    return {check["id"]: check for check in report["checks"]}


def test_the_checkup_on_a_real_cluster_finds_seed_002s_writers_and_a_healthy_galera():
    """single_writer.yml's check-up before the fix: every node Primary, Synced, in a cluster of 3 (galera_state
    passed on each node, as galera_status read them), the timeout order holds, and each node's haproxy sends writes to
    the three nodes (high, the fix named); the gate failed on it."""
    report = checkup_report("before")
    checks = checks_of(report)
    for check in ("galera_state", "timeout_order"):
        assert checks[check]["status"] == "passed" and checks[check]["hosts_run"] == list(NODES), checks[check]
    assert checks["db_connections"]["hosts_run"] == list(NODES), checks["db_connections"]
    writers = [f for f in report["findings"] if f["check"] == "haproxy_galera_writers"]
    assert sorted(f["subject"] for f in writers) == [f"{name} mariadb" for name in NODES]
    for finding in writers:
        assert (finding["severity"], finding["value"], finding["evidence"]["active"]) == ("high", 3, list(NODES))
        assert "runbooks.fix_haproxy_balance" in finding["fix"] and "--check --diff" in finding["fix"]
    assert report["summary"]["gate_failed"]
    assert not [f for f in report["findings"] if f["check"] in ("galera_state", "timeout_order")]


def test_the_checkup_after_the_fix_names_the_writers_fixed():
    report = checkup_report("after")
    checks = checks_of(report)
    assert checks["haproxy_galera_writers"]["status"] == "passed", checks["haproxy_galera_writers"]
    assert checks["galera_state"]["status"] == "passed"
    assert report["trend"]["fixed"] == [f"haproxy_galera_writers.multi_writer {name} mariadb" for name in NODES], (
        report["trend"])
    assert not [key for key in report["trend"]["new"] if key.startswith(("haproxy_galera_writers", "galera_state"))]

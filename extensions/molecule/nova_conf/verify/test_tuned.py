"""After nova_conf_tuning: nova.conf tuned with its comments kept, and only the right services restarted, in turn."""
import configparser
import json

import pytest
import testinfra

from tests.controller_lab import checks
from tests.controller_lab.lab import ControllerLab
from tests.lab.config import CONTROLLERS

LAB = ControllerLab()
RECORDS = "/root/nova_conf_scenario"
SETTLE = 3   # nova_conf_tuning_settle in vars.yml
POOL = {"max_pool_size": "10", "max_overflow": "20", "pool_timeout": "30", "connection_recycle_time": "3600"}


def host(name):
    return testinfra.get_host(f"podman://{name}")


def nova_conf(name):
    return host(name).file("/etc/nova/nova.conf").content_string


def values(name):
    """{(section, option): value} of a controller's nova.conf, read by Python's own parser, not the role's."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, default_section="no defaults")
    parser.read_string(nova_conf(name))
    return {(section, key): value for section in parser.sections() for key, value in parser[section].items()}


def record(name, which):
    return json.loads(host(name).file(f"{RECORDS}/{which}.json").content_string)


@pytest.mark.parametrize("name", CONTROLLERS)
def test_both_database_pools_have_the_seed_values(name):
    found = values(name)
    # side_effect finished an interrupted run with pool_timeout 45 on ctl1
    expected = dict(POOL, pool_timeout="45") if name == "ctl1" else POOL
    for section in ("database", "api_database"):
        assert {key: found.get((section, key)) for key in POOL} == expected, section


@pytest.mark.parametrize("name", CONTROLLERS)
def test_the_operators_comments_and_other_lines_stay_in_place(name):
    lines = nova_conf(name).splitlines()
    assert "# operator: cell1 lives on the Galera VIP (ticket OPS-4711)" in lines
    assert lines[lines.index("# sized for 3 controllers") + 1] == "max_pool_size = 10"   # rewritten where it was
    assert [line for line in lines if line.startswith("max_pool_size")] == ["max_pool_size = 10"] * 2
    lab_lines = [line for line in LAB.nova_conf(name).splitlines() if line.strip()]
    assert [line for line in lines if line in lab_lines] == lab_lines   # every line of the lab's file, in order


@pytest.mark.parametrize("name", CONTROLLERS)
def test_the_operators_file_was_backed_up(name):
    backups = host(name).run("grep -l '^max_pool_size = 5$' /etc/nova/nova.conf.*~").stdout.split()
    assert backups, "no backup holds the operator's max_pool_size = 5"


@pytest.mark.parametrize("name", ["ctl1", "ctl2"])
def test_settings_no_service_here_reads_were_not_written(name):
    found = values(name)
    assert ("DEFAULT", "block_device_allocate_retries") not in found
    assert "filter_scheduler" not in {section for section, option in found}


def test_written_when_asked_for_and_restarting_nothing():
    found = values("ctl3")
    # seed 002: nova's 60 x 3 s (180 s) lengthened to the role's 600 s by retries, the interval kept
    assert found[("DEFAULT", "block_device_allocate_retries")] == "200"
    assert ("DEFAULT", "block_device_allocate_retries_interval") not in found
    assert found[("filter_scheduler", "host_subset_size")] == "5"
    assert found[("filter_scheduler", "shuffle_best_same_weighed_hosts")] == "true"


@pytest.mark.parametrize("name", CONTROLLERS)
def test_converge_restarted_nova_api_and_nova_conductor_one_after_the_other(name):
    before, after = record(name, "prepare"), record(name, "converge")
    for service in ("nova-api", "nova-conductor"):
        assert after[service]["main_pid"] != before[service]["main_pid"], service
        assert after[service]["started"] > before[service]["started"], service
    # one at a time: the second waited for the first to settle
    assert abs(after["nova-api"]["started"] - after["nova-conductor"]["started"]) >= SETTLE


def test_converge_went_one_controller_at_a_time():
    starts = [[record(name, "converge")[service]["started"] for service in ("nova-api", "nova-conductor")]
              for name in CONTROLLERS]
    for earlier, later in zip(starts, starts[1:]):
        assert max(earlier) < min(later), starts


@pytest.mark.parametrize("name", CONTROLLERS)
def test_every_service_runs_and_answers(name):
    for unit in ("nova-api", "nova-conductor"):
        assert host(name).service(unit).is_running, unit
    assert checks.answers_ping(LAB, name)

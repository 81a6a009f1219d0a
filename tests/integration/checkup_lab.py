"""checkup.yml on the light lab, as tests/integration/test_checkup.py and benchmarks/bench_checkup.py run it.

The controller's checks (placement, cells, messaging) with the lab's logins; the database, haproxy and nova hosts'
plays have no host in this inventory (their checks: test_checkup_hosts.py). And the preconditions the test and the
benchmark make: an allocation nobody owns (seed 000), a message on a queue nobody consumes and a hung conductor
(seed 003).
"""
import contextlib
import json
import os
import pathlib
import signal
from urllib.parse import quote

from tests.integration.ansible_runner import run_playbook
from tests.integration.test_placement_allocation import compute_hosts, module_args, new_uuid, post_allocations
from tests.integration.test_rabbitmq_queue_info import login
from tests.lab import process
from tests.lab.config import CONTROLLERS

PLAYBOOK = pathlib.Path(__file__).resolve().parents[2] / "playbooks" / "checkup.yml"
CONTROLLER_GROUPS = ["placement", "cells", "messaging"]


def variables(lab, report_path, **extra):
    nova_db = module_args(lab)["nova_db"]
    return dict(dict(
        checkup_cloud="opslab", checkup_nova_db=dict(nova_db, login_db="nova_api"),
        checkup_rabbitmq_login=login(lab), checkup_vhosts=["/"], checkup_transport_url=lab.cfg.transport_url(),
        checkup_conductors=list(CONTROLLERS), checkup_ping_timeout=5, checkup_report_path=str(report_path),
        checkup_groups=CONTROLLER_GROUPS), **extra)


def run(lab, extra_vars, check=False):
    """(rc, the result_json callback's output) of one checkup.yml run."""
    return run_playbook(PLAYBOOK, extra_vars, check=check, env={"OS_CLIENT_CONFIG_FILE": str(lab.cfg.path("clouds.yaml"))})


def checkup(lab, report_path, check=False, **extra):
    """Run the check-up; returns (rc, the JSON report it wrote)."""
    rc, _out = run(lab, variables(lab, report_path, **extra), check=check)
    return rc, json.loads(pathlib.Path(report_path).read_text())


def job_files(out):
    """The result files of the run's background jobs (async, poll 0), as their launch tasks returned them."""
    files = set()
    for task in (task for play in out["plays"] for task in play["tasks"]):
        for result in task["hosts"].values():
            for item in result.get("results", [result]):
                if isinstance(item, dict) and item.get("results_file") and item.get("finished") is False:
                    files.add(item["results_file"])
    return files


def leak_memory(lab, placement_seed, nova_seed, host="compute1", memory_mb=6000):
    """An allocation of memory_mb on host's provider that no instance owns; returns its consumer."""
    rps = compute_hosts(nova_seed, placement_seed, [host])
    orphan = new_uuid()
    post_allocations(lab, {orphan: {rps[host]: {"VCPU": 1, "MEMORY_MB": memory_mb, "DISK_GB": 1}}})
    return orphan


def queue_without_consumer(lab, name):
    """A queue on vhost / with one message and no consumer, once the broker's statistics show it; returns its API path."""
    queue = f"queues/{quote('/', safe='')}/{name}"
    lab.rabbitmq.api(queue, "PUT", {"durable": False})
    lab.rabbitmq.api(f"exchanges/{quote('/', safe='')}/amq.default/publish", "POST", {
        "properties": {}, "routing_key": name, "payload": "{}", "payload_encoding": "string"})
    process.wait_until(lambda: lab.rabbitmq.api(queue).get("messages_ready") == 1, 30, f"statistics of {name}")
    return queue


@contextlib.contextmanager
def hung_conductor(lab, host):
    """The nova-conductor of host hung for the block, as seed 003's were: SIGSTOP to its process group (the parent
    and its worker; the lab starts each conductor in a session of its own). It keeps its RabbitMQ consumer (the lab
    runs without AMQP heartbeats) and answers nothing, so a ping waits its whole timeout. Resumed (SIGCONT) at the
    end, whatever happened."""
    pid = lab.pids[f"nova-conductor-{host}"]
    assert process.alive(pid), f"the lab's nova-conductor on {host} is not running"
    os.killpg(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.killpg(pid, signal.SIGCONT)

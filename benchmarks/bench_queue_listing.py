"""Queue depths and consumers: the collection's management-API client vs `rabbitmqctl list_queues`.

Seed 003 starts its purge with `rabbitmqctl list_queues`; the recovery runbook reads queue depths
and consumer counts before and after every step, so this listing runs many times per recovery.
"""
import subprocess
import urllib.parse

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import rabbitmq

from benchmarks.harness import compare
from tests.lab.config import RABBIT_USER
from tests.lab.rabbitmq import RABBIT_BIN

QUEUES = 200


def run(lab):
    vhost = urllib.parse.quote("/", safe="")
    names = [f"bench.compute.{i:04d}" for i in range(QUEUES)]
    for name in names:
        lab.rabbitmq.api(f"queues/{vhost}/{name}", "PUT", {"durable": False, "auto_delete": False})
    client = rabbitmq.connect({
        "login_host": "127.0.0.1", "login_port": lab.cfg.port("rabbitmq_management"),
        "login_user": RABBIT_USER[0], "login_password": RABBIT_USER[1], "login_protocol": "http",
        "validate_certs": False, "ca_cert": None, "client_cert": None, "client_key": None})

    def ours():
        return {q["name"] for q in client.list_queues("/") if q["name"].startswith("bench.")}

    def peer():
        out = subprocess.run(
            [f"{RABBIT_BIN}/rabbitmqctl", "list_queues", "-p", "/", "--silent", "--no-table-headers",
             "name", "messages", "consumers"],
            env=lab.rabbitmq.env, capture_output=True, text=True, check=True).stdout
        return {line.split("\t")[0] for line in out.splitlines() if line.startswith("bench.")}

    def same(ours_result, peer_result):
        assert ours_result == peer_result == set(names), "the two listings disagree"

    try:
        return [compare("rabbitmq_queue_listing", QUEUES, ours, "rabbitmqctl list_queues", peer, check=same)]
    finally:
        for name in names:
            lab.rabbitmq.api(f"queues/{vhost}/{name}", "DELETE")

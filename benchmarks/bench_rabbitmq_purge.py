"""Purging N queues that hold messages: rabbitmq_purge vs the seed's pipeline and vs a bare keep-alive HTTP loop.

Seed 003, step 4 purges with
    rabbitmqctl list_queues | egrep 'reply|cinder|conduct|compute' | awk '{ print $1}' | xargs -P 30 -I {} rabbitmqctl purge_queue {}
"ours" runs the module the way Ansible runs it on the target (a Python process given its arguments file),
with the same selection (the seed's patterns in vhost "/", every matched queue purged, min_messages 0).
"bare keep-alive HTTP loop" is the floor: one connection, one DELETE per queue, nothing else.
Every run starts from the same data: each queue is refilled with one message before it, outside the timing.
"""
import base64
import http.client
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote

import amqp

from tests.lab.config import REPO_ROOT, RABBIT_USER
from tests.lab.rabbitmq import RABBIT_BIN

SEED_PIPELINE = ("rabbitmqctl list_queues | egrep 'reply|cinder|conduct|compute' | awk '{ print $1}' "
                 "| xargs -P 30 -I {} rabbitmqctl purge_queue {}")
MODULE = REPO_ROOT / "plugins" / "modules" / "rabbitmq_purge.py"
COLLECTIONS = REPO_ROOT / ".build" / "collections"
# (queues, runs of ours and of the bare loop, runs of the pipeline): the pipeline costs about a second
# of CPU per rabbitmqctl call, so it runs fewer times at 1,000 queues.
SIZES = ((200, 5, 3), (1000, 5, 1))


def run(lab):
    records = []
    for size, runs, pipeline_runs in SIZES:
        records.extend(_bench(lab, size, runs, pipeline_runs))
    return records


def _bench(lab, size, runs, pipeline_runs):
    names = [f"compute.bench-{i:04d}" for i in range(size)]
    for name in names:
        lab.rabbitmq.api(f"queues/%2F/{quote(name, safe='')}", "PUT", {"durable": False, "auto_delete": False})
    connection = amqp.Connection(f"127.0.0.1:{lab.cfg.port('amqp')}", userid=RABBIT_USER[0],
                                 password=RABBIT_USER[1], virtual_host="/")
    connection.connect()
    channel = connection.channel()

    def refill():
        for name in names:
            channel.basic_publish(amqp.Message(b'{"oslo.version": "2.0"}'), exchange="", routing_key=name)
        # Publishes are asynchronous: wait until every queue holds its message.
        deadline = time.monotonic() + 60
        pending = list(names)
        while pending:
            assert time.monotonic() < deadline, f"refill never reached {pending[:5]}"
            pending = [name for name in pending if channel.queue_declare(name, passive=True).message_count != 1]

    def emptied():
        depths = {name: channel.queue_declare(name, passive=True).message_count for name in names}
        assert set(depths.values()) == {0}, f"not purged: {[n for n, d in depths.items() if d]}"

    with tempfile.TemporaryDirectory() as scratch:
        args_file = pathlib.Path(scratch, "args.json")
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
            "login_host": "127.0.0.1", "login_port": lab.cfg.port("rabbitmq_management"),
            "login_user": RABBIT_USER[0], "login_password": RABBIT_USER[1],
            "vhosts": ["/"], "include": ["reply", "cinder", "conduct", "compute"], "exclude": ["_fanout_"],
            "min_messages": 0}}))

        def ours():
            out = subprocess.run([sys.executable, str(MODULE), str(args_file)], capture_output=True, text=True,
                                 env=dict(os.environ, PYTHONPATH=str(COLLECTIONS)), timeout=600, check=True).stdout
            result = json.loads(out)
            assert not result.get("failed"), result

        def pipeline():
            env = dict(lab.rabbitmq.env, PATH=f"{RABBIT_BIN}:{os.environ['PATH']}")
            subprocess.run(["bash", "-c", SEED_PIPELINE], env=env, capture_output=True, timeout=3600, check=True)

        def bare_loop():
            token = base64.b64encode(f"{RABBIT_USER[0]}:{RABBIT_USER[1]}".encode()).decode()
            keep_alive = http.client.HTTPConnection("127.0.0.1", lab.cfg.port("rabbitmq_management"), timeout=30)
            for name in names:
                keep_alive.request("DELETE", f"/api/queues/%2F/{quote(name, safe='')}/contents",
                                   headers={"Authorization": f"Basic {token}"})
                response = keep_alive.getresponse()
                response.read()
                assert response.status == 204, response.status
            keep_alive.close()

        try:
            ours_s, ours_samples = _timed(ours, refill, emptied, runs)
            floor_s, floor_samples = _timed(bare_loop, refill, emptied, runs)
            pipeline_s, pipeline_samples = _timed(pipeline, refill, emptied, pipeline_runs)
        finally:
            connection.close()
            for name in names:
                lab.rabbitmq.api(f"queues/%2F/{quote(name, safe='')}", "DELETE")
    return [
        _record(f"rabbitmq_purge_{size}", size, "seed pipeline (rabbitmqctl | egrep | xargs -P 30)",
                ours_s, ours_samples, pipeline_s, pipeline_samples),
        _record(f"rabbitmq_purge_{size}_floor", size, "bare keep-alive HTTP loop",
                ours_s, ours_samples, floor_s, floor_samples),
    ]


def _timed(action, setup, verify, runs):
    """Like harness.median_seconds, with an untimed setup before and a check after every run."""
    samples = []
    for _run in range(runs):
        setup()
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
        verify()
    return statistics.median(samples), samples


def _record(name, n, peer_name, ours_s, ours_samples, peer_s, peer_samples):
    return {
        "name": name, "n": n, "runs": len(ours_samples),
        "ours_s": round(ours_s, 6), "peer": peer_name, "peer_s": round(peer_s, 6),
        "ratio": round(peer_s / ours_s, 2) if ours_s else None,
        "ours_samples": [round(s, 6) for s in ours_samples],
        "peer_samples": [round(s, 6) for s in peer_samples],
    }

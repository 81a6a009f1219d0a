"""Purging N queues that hold messages: rabbitmq_purge vs the seed's pipeline and vs a bare keep-alive HTTP loop.

Seed 003, step 4 purges with
    rabbitmqctl list_queues | egrep 'reply|cinder|conduct|compute' | awk '{ print $1}' | xargs -P 30 -I {} rabbitmqctl purge_queue {}
"ours" runs the module the way Ansible runs it on the target (a Python process given its arguments file),
with the same selection (the seed's patterns in vhost "/", every matched queue purged, min_messages 0).

The floor is a bare keep-alive HTTP loop: one connection, one DELETE per queue, nothing else. It is timed two ways:
- as a Python process of its own (benchmarks/bare_purge_loop.py: interpreter start-up, its imports, the loop).
  This is the floor of the "within 3x" target: the module is also a process, and any tool that purges the
  queues pays a start-up, so only this one compares like for like (record rabbitmq_purge_<n>_floor);
- inside this benchmark's process (no start-up at all), kept as a second reference: it is what the HTTP work
  alone costs (record rabbitmq_purge_<n>_floor_in_process).
The three are timed in turns (ours, floor process, floor in process, then again) so load changes hit all
alike; every run starts from the same data: each queue is refilled with one message before it, outside the
timing, and every queue is checked empty after it. The 1-minute load average is recorded before and after.

The seed's pipeline costs about a second of CPU per rabbitmqctl call and loads this 2-core machine for many
minutes at 1,000 queues, so at 1,000 queues it runs only when BENCH_PURGE_PIPELINE_1000=1.
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
BARE_LOOP = pathlib.Path(__file__).with_name("bare_purge_loop.py")
COLLECTIONS = REPO_ROOT / ".build" / "collections"
TARGET_FLOOR_FACTOR = 3


def sizes():
    """(queues, runs of ours and of each floor, runs of the pipeline)."""
    return ((200, 5, 3), (1000, 5, 1 if os.environ.get("BENCH_PURGE_PIPELINE_1000") == "1" else 0))


def run(lab):
    records = []
    for size, runs, pipeline_runs in sizes():
        records.extend(_bench(lab, size, runs, pipeline_runs))
    return records


def _bench(lab, size, runs, pipeline_runs):
    load_before = round(os.getloadavg()[0], 2)
    names = [f"compute.bench-{i:04d}" for i in range(size)]
    for name in names:
        lab.rabbitmq.api(f"queues/%2F/{quote(name, safe='')}", "PUT", {"durable": False, "auto_delete": False})
    connection = amqp.Connection(f"127.0.0.1:{lab.cfg.port('amqp')}", userid=RABBIT_USER[0],
                                 password=RABBIT_USER[1], virtual_host="/")
    connection.connect()
    channel = connection.channel()
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))

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
        loop_file = pathlib.Path(scratch, "loop.json")
        loop_file.write_text(json.dumps({"host": "127.0.0.1", "port": lab.cfg.port("rabbitmq_management"),
                                         "user": RABBIT_USER[0], "password": RABBIT_USER[1], "names": names}))

        def ours():
            out = subprocess.run([sys.executable, str(MODULE), str(args_file)], capture_output=True, text=True,
                                 env=env, timeout=600, check=True).stdout
            result = json.loads(out)
            assert not result.get("failed"), result
            return result["duration"]

        def floor_process():
            out = subprocess.run([sys.executable, str(BARE_LOOP), str(loop_file)], capture_output=True, text=True,
                                 env=env, timeout=600, check=True).stdout
            return json.loads(out)["loop_s"]

        def floor_in_process():
            token = base64.b64encode(f"{RABBIT_USER[0]}:{RABBIT_USER[1]}".encode()).decode()
            keep_alive = http.client.HTTPConnection("127.0.0.1", lab.cfg.port("rabbitmq_management"), timeout=30)
            for name in names:
                keep_alive.request("DELETE", f"/api/queues/%2F/{quote(name, safe='')}/contents",
                                   headers={"Authorization": f"Basic {token}"})
                response = keep_alive.getresponse()
                response.read()
                assert response.status == 204, response.status
            keep_alive.close()

        def pipeline():
            pipeline_env = dict(lab.rabbitmq.env, PATH=f"{RABBIT_BIN}:{os.environ['PATH']}")
            subprocess.run(["bash", "-c", SEED_PIPELINE], env=pipeline_env, capture_output=True, timeout=3600,
                           check=True)

        try:
            timed = _timed_in_turns({"ours": ours, "floor_process": floor_process,
                                     "floor_in_process": floor_in_process}, refill, emptied, runs)
            load_after_floor = round(os.getloadavg()[0], 2)
            pipeline_timed = _timed_in_turns({"pipeline": pipeline}, refill, emptied, pipeline_runs)
        finally:
            connection.close()
            for name in names:
                lab.rabbitmq.api(f"queues/%2F/{quote(name, safe='')}", "DELETE")
    ours_s, ours_samples, module_durations = timed["ours"]
    common = dict(load_avg_1m=[load_before, load_after_floor],
                  ours_module_duration_s=round(statistics.median(module_durations), 6))
    floor_s, floor_samples, loop_times = timed["floor_process"]
    in_process_s, in_process_samples, _nothing = timed["floor_in_process"]
    records = [
        _record(f"rabbitmq_purge_{size}_floor", size,
                "bare keep-alive HTTP loop, its own Python process (start-up + imports + loop): the target's floor",
                ours_s, ours_samples, floor_s, floor_samples,
                dict(common, peer_loop_s=round(statistics.median(loop_times), 6),
                     target=f"ours within {TARGET_FLOOR_FACTOR}x of this floor",
                     target_met=ours_s <= TARGET_FLOOR_FACTOR * floor_s)),
        _record(f"rabbitmq_purge_{size}_floor_in_process", size,
                "bare keep-alive HTTP loop inside the benchmark process (no start-up): second reference",
                ours_s, ours_samples, in_process_s, in_process_samples, common),
    ]
    if pipeline_runs:
        pipeline_s, pipeline_samples, _nothing = pipeline_timed["pipeline"]
        records.insert(0, _record(
            f"rabbitmq_purge_{size}", size, "seed pipeline (rabbitmqctl | egrep | xargs -P 30)",
            ours_s, ours_samples, pipeline_s, pipeline_samples,
            dict(common, load_avg_1m=[load_before, load_after_floor, round(os.getloadavg()[0], 2)],
                 target="ours at least 20x faster", target_met=pipeline_s >= 20 * ours_s)))
    return records


def _timed_in_turns(actions, setup, verify, runs):
    """Like harness.median_seconds for several actions taken in turns, with an untimed setup before and a
    check after every run. Returns {name: (median, samples, what each run returned)}."""
    samples = {name: [] for name in actions}
    returned = {name: [] for name in actions}
    for _run in range(runs):
        for name, action in actions.items():
            setup()
            started = time.perf_counter()
            value = action()
            samples[name].append(time.perf_counter() - started)
            verify()
            returned[name].append(value)
    return {name: (statistics.median(samples[name]) if samples[name] else None, samples[name], returned[name])
            for name in actions}


def _record(name, n, peer_name, ours_s, ours_samples, peer_s, peer_samples, extra):
    return dict({
        "name": name, "n": n, "runs": len(ours_samples),
        "ours_s": round(ours_s, 6), "peer": peer_name, "peer_s": round(peer_s, 6),
        "ratio": round(peer_s / ours_s, 2) if ours_s else None,
        "ours_over_peer": round(ours_s / peer_s, 2) if peer_s else None,
        "ours_samples": [round(s, 6) for s in ours_samples],
        "peer_samples": [round(s, 6) for s in peer_samples],
        "peer_runs": len(peer_samples),
    }, **extra)

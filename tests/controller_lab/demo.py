"""`make demo`: build the controller lab, break it like seed 003, run recover_conductor.yml, show before/after.

A second run reuses the image, the service lab and the running containers.
"""
import json
import os
import subprocess
import sys
import time

from tests.lab.config import CONTROLLERS

from . import fault
from .lab import http_status

PATTERNS = ("^reply_", "^cinder", "^conductor", "^compute")
# Short waits for the demo; the role's defaults (150 s settle, 20 s watch) are for real clouds.
DEMO_WAITS = {"conductor_recovery_settle_seconds": 10, "conductor_recovery_watch_seconds": 5}


# A hung conductor keeps its consumer registered and its unit "active": only an RPC round trip shows it.
PING = """
import sys
import oslo_messaging
from oslo_config import cfg
cfg.CONF([], project="demo-ping")
transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=sys.argv[1])
target = oslo_messaging.Target(exchange="nova", topic="conductor", server=sys.argv[2])
print(oslo_messaging.get_rpc_client(transport, target, timeout=5).call({}, "oslo_rpc_server_ping"))
"""


def answers_ping(lab, host):
    return subprocess.run([sys.executable, "-c", PING, lab.services.cfg.transport_url(), host],
                          capture_output=True, timeout=60, check=False).returncode == 0


def stale_messages(lab, settle=15):
    """Queued messages on the runbook's patterns; the management API's counts trail publishes by ~5 s."""
    total, deadline = 0, time.monotonic() + settle
    while True:
        queues = [queue for queue in lab.services.rabbitmq.api("queues")
                  if any(queue["name"].startswith(prefix.lstrip("^")) for prefix in PATTERNS)]
        total = sum(queue.get("messages") or 0 for queue in queues)
        if total or time.monotonic() > deadline:
            return total
        time.sleep(1)


def snapshot(lab, settle=15):
    return {
        "stale_messages": stale_messages(lab, settle),
        "conductors_answering_rpc": sorted(host for host in CONTROLLERS if answers_ping(lab, host)),
        "conductor_consumers": lab.services.queue_consumers("conductor"),
        "nova_api_via_vip": http_status(lab.vip_url),
        "conductors": {name: lab.exec(name, "systemctl", "is-active", "nova-conductor", check=False).stdout.strip()
                       for name in CONTROLLERS},
    }


def run(lab, log=print):
    lab.up(log=log)
    inventory = lab.write_inventory()
    log("breaking the lab like the incident (seed 003)")
    fault.break_like_the_incident(lab, log=log)
    before = snapshot(lab)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(lab.cfg.repo_root / ".build" / "collections"))
    argv = [str(lab.cfg.venv_bin / "ansible-playbook"), "-i", str(inventory),
            str(lab.cfg.repo_root / "playbooks" / "recover_conductor.yml"), "-e", json.dumps(DEMO_WAITS)]
    log(f"running: {' '.join(argv)}")
    started = time.monotonic()
    result = subprocess.run(argv, env=env, check=False)
    elapsed = time.monotonic() - started
    after = snapshot(lab, settle=6)
    reports = sorted(lab.cfg.path("reports").glob("conductor-recovery-*.json"))
    log("\n== before / after ==")
    for key in before:
        log(f"{key:22} {json.dumps(before[key]):60} -> {json.dumps(after[key])}")
    log(f"recover_conductor.yml rc={result.returncode} in {elapsed:.0f}s; report: {reports[-1] if reports else 'none'}")
    log("the lab stays up for a look around (`python -m tests.controller_lab status`); `make demo-down` removes it")
    return result.returncode

"""`make demo`: build the controller lab, break it like seed 003, run recover_conductor.yml, show before/after.

A second run reuses the image, the service lab and the running containers.
"""
import json
import os
import subprocess
import time

from tests.lab.config import CONTROLLERS

from . import fault
from .lab import http_status

PATTERNS = ("^reply_", "^cinder", "^conductor", "^compute")
# Short waits for the demo; the role's defaults (150 s settle, 20 s watch) are for real clouds.
DEMO_WAITS = {"conductor_recovery_settle_seconds": 10, "conductor_recovery_watch_seconds": 5}


def snapshot(lab):
    queues = [queue for queue in lab.services.rabbitmq.api("queues")
              if any(queue["name"].startswith(prefix.lstrip("^")) for prefix in PATTERNS)]
    return {
        "stale_messages": sum(queue.get("messages", 0) for queue in queues),
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
    after = snapshot(lab)
    reports = sorted(lab.cfg.path("reports").glob("conductor-recovery-*.json"))
    log("\n== before / after ==")
    for key in before:
        log(f"{key:22} {json.dumps(before[key]):60} -> {json.dumps(after[key])}")
    log(f"recover_conductor.yml rc={result.returncode} in {elapsed:.0f}s; report: {reports[-1] if reports else 'none'}")
    log(f"lab still up: `OPS_LAB_DIR={lab.cfg.state_dir} python -m tests.controller_lab down` removes it")
    return result.returncode

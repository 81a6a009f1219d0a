"""`make demo`: build the controller lab, break it like seed 003, run recover_conductor.yml, show before/after.

A second run reuses the image, the service lab and the running containers.
"""
import json
import time

from . import fault
from .checks import snapshot

# Short waits for the demo; the role's defaults (150 s settle, 20 s watch) are for real clouds.
DEMO_WAITS = {"conductor_recovery_settle_seconds": 10, "conductor_recovery_watch_seconds": 5}


def run(lab, log=print):
    lab.up(log=log)
    log("breaking the lab like the incident (seed 003)")
    fault.break_like_the_incident(lab, log=log)
    before = snapshot(lab, broken=True)
    log(f"running: ansible-playbook -i {lab.cfg.path('inventory.yml')} playbooks/recover_conductor.yml "
        f"-e '{json.dumps(DEMO_WAITS)}'")
    started = time.monotonic()
    result = lab.run_runbook(DEMO_WAITS)
    elapsed = time.monotonic() - started
    after = snapshot(lab, broken=False)
    reports = sorted(lab.cfg.path("reports").glob("conductor-recovery-*.json"))
    log("\n== before / after ==")
    for key in before:
        log(f"{key:22} {json.dumps(before[key]):60} -> {json.dumps(after[key])}")
    log(f"recover_conductor.yml rc={result.returncode} in {elapsed:.0f}s; report: {reports[-1] if reports else 'none'}")
    log("the lab stays up for a look around (`python -m tests.controller_lab status`); `make demo-down` removes it")
    return result.returncode

"""recover_conductor.yml's own overhead on three controllers: the run's duration minus its configured waits.

Each run starts from the podman controller lab broken like seed 003 (DB cut under the conductors, the
conductors hung, stale messages piled), done outside the timing; the runbook's JSON report gives
duration_s and configured_waits_s (settle + watch windows). What is left is what the runbook itself
costs: Ansible, the stops (a hung conductor is killed after conductor_recovery_stop_timeout), the purge,
the starts and their verification. Issue 7's target: under 60 s. There is no peer tool to run side by
side (the seed's procedure is typed by hand), so the record's peer is that target.
"""
import collections
import datetime
import statistics

from tests.controller_lab import fault
from tests.controller_lab.demo import DEMO_WAITS
from tests.controller_lab.lab import ControllerLab
from tests.lab.config import CONTROLLERS

RUNS = 2
TARGET_S = 60


def run(lab):
    controllers = ControllerLab(services=lab)
    controllers.up()
    samples, durations, step_seconds = [], [], collections.defaultdict(list)
    try:
        for _run in range(RUNS):
            fault.break_like_the_incident(controllers, log=lambda _message: None)
            result = controllers.run_runbook(DEMO_WAITS, capture_output=True, text=True)
            report = controllers.latest_report()
            if result.returncode or report["result"] != "recovered":
                raise RuntimeError(f"recover_conductor.yml failed (rc={result.returncode}):\n{result.stdout[-3000:]}")
            durations.append(float(report["duration_s"]))
            samples.append(float(report["duration_s"]) - float(report["configured_waits_s"]))
            for step, seconds in _step_seconds(report).items():
                step_seconds[step].append(seconds)
    finally:
        controllers.down(services=False)
    overhead = statistics.median(samples)
    return [{
        "name": "recover_conductor_overhead", "n": len(CONTROLLERS), "runs": RUNS,
        "ours_s": round(overhead, 1), "peer": "issue 7 target", "peer_s": TARGET_S,
        "ratio": round(TARGET_S / overhead, 2),
        "ours_samples": [round(sample, 1) for sample in samples],
        "durations_s": [round(duration, 1) for duration in durations],
        "configured_waits": DEMO_WAITS,
        # where the time goes: median seconds per recorded step (waits included), in run order
        "steps_s": {step: round(statistics.median(seconds), 1) for step, seconds in step_seconds.items()},
    }]


def _step_seconds(report):
    """Seconds per step of one report, keyed 'number name', and the rest (reopening the entrance, the report)."""
    seconds = {}
    for step in report["steps"]:
        started, ended = (datetime.datetime.fromisoformat(step[key]) for key in ("started", "ended"))
        seconds[f"{step['number']} {step['name']}"] = (ended - started).total_seconds()
    seconds["after the steps (reopen, report)"] = float(report["duration_s"]) - sum(seconds.values())
    return seconds

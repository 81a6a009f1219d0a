# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only stdout callback: every task result of every host as one JSON document at the end.

ansible-core ships no JSON stdout callback (ansible.posix.json lives in a collection this
repository does not install), and the integration tests need results they can assert on.
"""

import json
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: result_json
type: stdout
short_description: all task results as one JSON document (integration tests only)
description:
  - Prints one JSON document with every play, task and per-host result, and the play stats.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "result_json"

    def __init__(self):
        super().__init__()
        self.plays = []
        self.task_started = time.monotonic()

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"name": play.get_name(), "tasks": []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        # seconds: from the task's start to its last host's result (benchmarks/bench_checkup.py reads it)
        self.task_started = time.monotonic()
        self.plays[-1]["tasks"].append({"name": task.get_name(), "hosts": {}, "seconds": 0.0})

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def _record(self, result, **flags):
        data = dict(result._result)  # pylint: disable=protected-access
        data.update(flags)
        task = self.plays[-1]["tasks"][-1] if self.plays and self.plays[-1]["tasks"] else None
        if task is None:  # ad-hoc runs have no task start event
            self.plays.append({"name": "adhoc", "tasks": [{"name": "adhoc", "hosts": {}}]})
            task = self.plays[-1]["tasks"][-1]
        task["hosts"][result._host.get_name()] = data  # pylint: disable=protected-access
        task["seconds"] = round(time.monotonic() - self.task_started, 3)

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        summary = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self._display.display(json.dumps({"plays": self.plays, "stats": summary}, default=str))

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only stdout callback: every task result of every host as one JSON document at the end.

ansible-core ships no JSON stdout callback (ansible.posix.json lives in a collection this
repository does not install), and the integration tests need results they can assert on.
"""

import json
import os
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
        self.started = time.time()   # the callback loads before the first play: the offsets below count from here
        self.task_started = time.monotonic()
        self.jobs = {}

    def _offset(self, when=None):
        return round((time.time() if when is None else when) - self.started, 3)

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"name": play.get_name(), "tasks": []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        # seconds: from the task's start to its last host's result; start and end: offsets from the callback's start
        # (benchmarks/bench_checkup.py reads them)
        self.task_started = time.monotonic()
        self.plays[-1]["tasks"].append({"name": task.get_name(), "hosts": {}, "seconds": 0.0,
                                        "start": self._offset(), "end": self._offset()})

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
        task["end"] = self._offset()
        self._job(result, task, failed=bool(flags.get("failed")))

    def _job(self, result, task, failed=False):
        """An async job's run (async_jobs in the output): launched when its task (or loop item) returned its job id
        (the time of the job's own "started" record when its file still holds it), finished at the time its result
        file was written (its mtime, read when async_status first found it finished, before any cleanup). Offsets
        from the callback's start; only for jobs on this machine (local connection), whose file can be read here."""
        data = result._result  # pylint: disable=protected-access
        jid = data.get("ansible_job_id")
        if not jid or task is None or "erased" in data:
            return
        host = result._host.get_name()  # pylint: disable=protected-access
        job = self.jobs.setdefault(jid, {"jid": jid, "host": host})
        path = data.get("results_file")
        if data.get("finished"):
            if "finished" not in job:
                job["finished"] = self._offset(_mtime(path))
                job["failed"] = failed
        elif data.get("started") and "launched" not in job:
            job.update(task=task["name"], item=data.get("item"), launched=self._offset(_mtime(path, unfinished=True)))

    def v2_runner_item_on_ok(self, result):
        self._job(result, self._current_task())

    def v2_runner_item_on_failed(self, result):
        self._job(result, self._current_task(), failed=True)

    def _current_task(self):
        return self.plays[-1]["tasks"][-1] if self.plays and self.plays[-1]["tasks"] else None

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
        jobs = sorted(self.jobs.values(), key=lambda job: job.get("launched", 0))
        self._display.display(json.dumps({"plays": self.plays, "stats": summary, "async_jobs": jobs}, default=str))


def _mtime(path, unfinished=False):
    """When an async job's result file was last written (now when it cannot be read); with unfinished, only while
    the file still holds the job's "started" record."""
    try:
        if unfinished:
            with open(path, encoding="utf-8") as job_file:
                if json.load(job_file).get("finished", True):
                    return None
        return os.stat(path).st_mtime
    except (TypeError, OSError, ValueError):
        return None

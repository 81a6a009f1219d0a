# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A bounded thread pool that stops starting work after the first failure.

Backends answer one request per item (a queue to purge, a resource provider to
read), and a server takes a few requests in parallel well but not hundreds;
when it fails part-way the caller must know exactly which items were done,
which failed and which were never started, to report them.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


def run_bounded(items, work, concurrency, errors=(OpsError,)):
    """Call ``work(item)`` for each item, on at most ``concurrency`` threads at once.

    Guarantees:

    * at most ``concurrency`` calls of ``work`` run at the same time;
    * once a call has raised, no further item is started (calls already
      running finish);
    * the result is ``(done, failed, not_reached)``: ``(item, result)`` pairs,
      ``(item, error)`` pairs and items, each in the order of ``items``
      whatever order the calls finished in.

    An exception that is not one of ``errors`` is a bug, not a failed item: it
    also stops new work, and is raised once the running calls have finished.
    ``work`` may be called from several threads at once.
    """
    stop = threading.Event()
    not_started = object()

    def guarded(item):
        if stop.is_set():
            return not_started
        try:
            return work(item)
        except Exception:
            stop.set()
            raise

    done, failed, not_reached = [], [], []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [(item, pool.submit(guarded, item)) for item in items]
        for item, future in futures:
            try:
                outcome = future.result()
            except errors as error:
                failed.append((item, error))
                continue
            if outcome is not_started:
                not_reached.append(item)
            else:
                done.append((item, outcome))
    return done, failed, not_reached

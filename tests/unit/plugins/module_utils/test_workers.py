# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import threading
import time

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.workers import run_bounded


def test_run_bounded_stops_starting_work_after_a_failure():
    def work(item):
        if item == 2:
            raise BackendUnavailable('gone')
        return item * 10

    done, failed, not_reached = run_bounded([1, 2, 3, 4], work, 1)

    assert done == [(1, 10)]
    assert [(item, error.msg) for item, error in failed] == [(2, 'gone')]
    assert not_reached == [3, 4]


def test_run_bounded_keeps_to_its_bound_and_returns_results_in_the_order_of_the_items():
    running, most = [0], [0]
    lock = threading.Lock()

    def work(item):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01 * (5 - item))   # later items finish first
        with lock:
            running[0] -= 1
        return item

    done, failed, not_reached = run_bounded(range(6), work, 3)

    assert done == [(item, item) for item in range(6)]
    assert (failed, not_reached) == ([], [])
    assert most[0] <= 3


def test_run_bounded_raises_a_bug_and_starts_nothing_after_it():
    started = []

    def work(item):
        started.append(item)
        if item == 1:
            raise KeyError('bug')
        return item

    with pytest.raises(KeyError):
        run_bounded([1, 2, 3], work, 1)

    assert started == [1]


def test_run_bounded_counts_the_given_errors_as_failures():
    def work(item):
        raise ValueError(item)

    _done, failed, not_reached = run_bounded(['a', 'b'], work, 1, errors=(ValueError,))

    assert [item for item, _error in failed] == ['a'] and not_reached == ['b']

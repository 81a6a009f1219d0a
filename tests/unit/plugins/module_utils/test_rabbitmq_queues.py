# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, BackendUnavailable, OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.rabbitmq_queues import (
    QueueSelection,
    purge_queues,
)


class FakeClient:
    """The queue calls both clients offer; a missing vhost answers 404 (API) or nothing (missing_is_empty)."""

    def __init__(self, queues, vhosts, missing_is_empty=False):
        self.queues = queues
        self.vhosts = vhosts
        self.missing_is_empty = missing_is_empty
        self.calls = []

    def list_vhosts(self):
        self.calls.append(('list_vhosts',))
        return self.vhosts

    def list_queues(self, vhost=None):
        self.calls.append(('list_queues', vhost))
        if vhost is not None and vhost not in self.vhosts and not self.missing_is_empty:
            raise ApiError('not found', status=404, body='')
        return [dict(vhost=v, name=n, messages_ready=3) for v, n in self.queues if vhost in (None, v)]

    def purge_queue(self, vhost, name):
        self.calls.append(('purge_queue', vhost, name))
        if name == 'broken':
            raise BackendUnavailable('gone')


QUEUES = [('nova', 'scheduler'), ('/', 'conductor'), ('/', 'conductor_fanout_1'), ('/', 'compute.cmp1')]


def params(**overrides):
    return dict(dict(vhosts=None, vhost=None, include=[], exclude=[]), **overrides)


def test_vhosts_take_precedence_over_vhost_and_repeats_are_read_once():
    assert QueueSelection.from_params(params(vhost='nova', vhosts=['/', 'nova', '/'])).vhosts == ['/', 'nova']
    assert QueueSelection.from_params(params(vhost='nova')).vhosts == ['nova']
    assert QueueSelection.from_params(params()).vhosts == []


def test_every_vhost_is_one_request_sorted():
    client = FakeClient(QUEUES, ['/', 'nova'])

    queues = QueueSelection().list_queues(client)

    assert [(q['vhost'], q['name']) for q in queues] == sorted(QUEUES)
    assert client.calls == [('list_queues', None)]


def test_named_vhosts_with_queues_cost_no_vhost_check():
    client = FakeClient(QUEUES, ['/', 'nova'])

    QueueSelection(['nova', '/']).list_queues(client)

    assert client.calls == [('list_queues', 'nova'), ('list_queues', '/')]


@pytest.mark.parametrize('missing_is_empty', [False, True])
def test_a_missing_vhost_fails_naming_it_and_the_vhosts_that_exist(missing_is_empty):
    client = FakeClient(QUEUES, ['/', 'nova', 'empty'], missing_is_empty=missing_is_empty)

    with pytest.raises(OpsError) as raised:
        QueueSelection(['/', 'nvoa', 'empty', 'cinder']).list_queues(client)

    assert raised.value.msg == "Virtual host(s) 'nvoa', 'cinder' do not exist (the broker has '/', 'empty', 'nova')"
    assert raised.value.details == {'missing': ['nvoa', 'cinder']}


def test_an_existing_empty_vhost_selects_nothing():
    client = FakeClient(QUEUES, ['/', 'nova', 'empty'], missing_is_empty=True)

    assert QueueSelection(['empty']).list_queues(client) == []


def test_include_then_exclude_are_searched_anywhere_in_the_name():
    selection = QueueSelection(include=['^conductor', 'cmp'], exclude=['_fanout_'])

    assert [q['name'] for q in selection.select(FakeClient(QUEUES, ['/', 'nova']).list_queues())] == [
        'conductor', 'compute.cmp1']


def test_a_bad_pattern_fails_with_its_option():
    with pytest.raises(OpsError, match=r"^Invalid regular expression 'a\(' in exclude"):
        QueueSelection(include=['ok'], exclude=['a('])


def test_purge_queues_reports_the_ready_counts_and_what_failed():
    client = FakeClient([], ['/'])
    queues = [dict(vhost='/', name=name, messages_ready=4) for name in ('a', 'broken', 'c')]

    done, failed, not_reached = purge_queues(client, queues, 1)

    assert [(q['name'], count) for q, count in done] == [('a', 4)]
    assert [q['name'] for q, _error in failed] == ['broken'] and [q['name'] for q in not_reached] == ['c']

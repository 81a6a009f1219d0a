# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import json
import pathlib

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import rabbitmq
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, BackendUnavailable
from ansible_collections.openstack_ops.runbooks.plugins.modules import rabbitmq_purge

LOGIN = dict(login_user='admin', login_password='s3cret')


class FakeBroker:
    """An in-memory broker with the RabbitMQClient methods the module calls."""

    def __init__(self, queues, fail_on=None):
        self.queues = {}
        for vhost, name, qtype, consumers, bodies in queues:
            self.queues[(vhost, name)] = dict(type=qtype, consumers=consumers, bodies=list(bodies))
        self.vhosts = sorted({vhost for vhost, _name, *_rest in queues} | {'/'})
        self.fail_on = fail_on
        self.calls = []

    def overview(self):
        return {'rabbitmq_version': '3.10.8'}

    def list_vhosts(self):
        return self.vhosts

    def list_queues(self, vhost=None):
        if vhost is not None and vhost not in self.vhosts:
            raise ApiError('not found', status=404, body='')
        return [dict(vhost=v, name=n, type=q['type'], state='running', messages=len(q['bodies']),
                     messages_ready=len(q['bodies']), messages_unacknowledged=0, consumers=q['consumers'])
                for (v, n), q in sorted(self.queues.items()) if vhost in (None, v)]

    def purge_queue(self, vhost, name):
        self.calls.append(('purge', vhost, name))
        if name == self.fail_on:
            raise BackendUnavailable('Cannot reach the RabbitMQ management API at http://rmq:15672: refused')
        self.queues[(vhost, name)]['bodies'] = []

    def get_messages(self, vhost, name, count):
        self.calls.append(('get', vhost, name))
        bodies = self.queues[(vhost, name)]['bodies']
        taken, self.queues[(vhost, name)]['bodies'] = bodies[:count], bodies[count:]
        return [dict(payload=body, payload_encoding='string', payload_bytes=len(body), redelivered=False,
                     exchange='nova', routing_key=name, properties={'headers': {'n': i}}) for i, body in enumerate(taken)]

    def publish(self, vhost, exchange, routing_key, payload, payload_encoding='string', properties=None):
        self.calls.append(('publish', vhost, exchange, routing_key))
        self.queues[(vhost, routing_key)]['bodies'].append(payload)
        return True

    def close(self):
        pass


def nova_broker(**kwargs):
    return FakeBroker([
        ('/', 'conductor', 'classic', 0, ['c0', 'c1', 'c2']),
        ('/', 'conductor.ctl1', 'classic', 1, ['a']),
        ('/', 'conductor_fanout_1a2b', 'classic', 0, ['f']),
        ('/', 'compute.cmp1', 'quorum', 0, ['x', 'y']),
        ('/', 'compute.empty', 'classic', 0, []),
        ('/', 'scheduler', 'classic', 1, ['s']),
        ('nova/prod', 'conductor', 'classic', 0, ['p']),
        ('nova/prod', 'compute_stream', 'stream', 0, ['s0']),
    ], **kwargs)


@pytest.fixture
def broker(monkeypatch):
    fake = nova_broker()
    monkeypatch.setattr(rabbitmq, 'connect', lambda params: fake)
    return fake


def purged(result):
    return {(q['vhost'], q['name']): q['purged'] for q in result['queues']}


SEED = dict(LOGIN, include=['reply', 'cinder', 'conduct', 'compute'], exclude=['_fanout_'])


def test_check_mode_plans_the_purge_and_touches_nothing(run_module, broker):
    rc, result = run_module(rabbitmq_purge.main, dict(SEED, _ansible_check_mode=True, _ansible_diff=True))

    assert rc == 0, result
    assert result['changed'] is True
    assert result['backend'] == 'http'
    assert purged(result) == {('/', 'conductor'): 3, ('/', 'conductor.ctl1'): 1, ('/', 'compute.cmp1'): 2,
                              ('nova/prod', 'conductor'): 1}
    assert {(q['name'], q['reason']) for q in result['skipped_queues']} == {
        ('compute.empty', '0 ready message(s), fewer than min_messages (1)'),
        ('compute_stream', 'stream queues cannot be purged')}
    assert result['totals'] == dict(queues=4, messages=7, purged=7, republished=0, skipped=2)
    assert result['diff'] == dict(before={'/:compute.cmp1': 2, '/:conductor': 3, '/:conductor.ctl1': 1,
                                          'nova/prod:conductor': 1},
                                  after={'/:compute.cmp1': 0, '/:conductor': 0, '/:conductor.ctl1': 0,
                                         'nova/prod:conductor': 0})
    assert broker.calls == []


def test_purge_then_a_second_run_changes_nothing(run_module, broker):
    _rc, first = run_module(rabbitmq_purge.main, SEED)
    assert first['changed'] is True
    assert sorted(call[1:] for call in broker.calls) == sorted(purged(first))
    assert broker.queues[('/', 'scheduler')]['bodies'] == ['s']

    _rc, second = run_module(rabbitmq_purge.main, SEED)
    assert second['changed'] is False
    assert second['queues'] == []


def test_only_unconsumed_and_vhosts_narrow_the_selection(run_module, broker):
    _rc, result = run_module(rabbitmq_purge.main, dict(SEED, vhosts=['/'], only_unconsumed=True))

    assert purged(result) == {('/', 'conductor'): 3, ('/', 'compute.cmp1'): 2}
    assert ('conductor.ctl1', 'has 1 consumer(s) and only_unconsumed is set') in {
        (q['name'], q['reason']) for q in result['skipped_queues']}


def test_a_selection_of_every_queue_needs_force(run_module, broker):
    rc, refused = run_module(rabbitmq_purge.main, dict(LOGIN, vhosts=['nova/prod']))
    assert rc == 1
    assert refused['msg'].startswith('The selection matches every one of the 2 queues of virtual host(s) nova/prod')
    assert broker.calls == []

    _rc, forced = run_module(rabbitmq_purge.main, dict(LOGIN, vhosts=['nova/prod'], force=True))
    assert purged(forced) == {('nova/prod', 'conductor'): 1}


@pytest.mark.parametrize('args, message', [
    (dict(vhosts=['/', 'nova', 'cinder']), "Virtual host(s) 'nova', 'cinder' do not exist (the broker has '/', "
                                           "'nova/prod')"),
    (dict(include=['conductor(']), "Invalid regular expression 'conductor(' in include"),
    (dict(include=['x'], concurrency=0), 'concurrency must be at least 1, not 0'),
    (dict(include=['x'], archive_dir='/nonexistent'), 'The archive directory /nonexistent does not exist'),
])
def test_bad_input_fails_before_anything_is_purged(run_module, broker, args, message):
    rc, result = run_module(rabbitmq_purge.main, dict(LOGIN, **args))

    assert rc == 1
    assert message in result['msg']
    assert not [call for call in broker.calls if call[0] != 'get']


def test_a_broker_lost_mid_purge_reports_what_was_and_was_not_purged(run_module, monkeypatch):
    fake = nova_broker(fail_on='conductor.ctl1')
    monkeypatch.setattr(rabbitmq, 'connect', lambda params: fake)

    rc, result = run_module(rabbitmq_purge.main, dict(SEED, concurrency=1))

    assert rc == 1
    assert result['msg'].startswith('The purge stopped part-way: 2 of 4 queue(s) purged, 1 failed, 1 not reached. '
                                    'First error: Cannot reach the RabbitMQ management API')
    details = result['details']
    assert [(q['name'], q['purged']) for q in details['purged']] == [('compute.cmp1', 2), ('conductor', 3)]
    assert [q['name'] for q in details['failed']] == ['conductor.ctl1']
    assert [(q['vhost'], q['name']) for q in details['not_reached']] == [('nova/prod', 'conductor')]
    assert fake.queues[('nova/prod', 'conductor')]['bodies'] == ['p']


def test_archive_then_republish_puts_the_same_messages_back_once(run_module, broker, tmp_path):
    _rc, drained = run_module(rabbitmq_purge.main, dict(SEED, archive_dir=str(tmp_path)))

    archive = drained['archive']
    assert drained['changed'] is True and archive['messages'] == drained['totals']['purged'] == 7
    assert not [call for call in broker.calls if call[0] == 'purge']
    lines = [json.loads(line) for line in pathlib.Path(archive['path']).read_text().splitlines()]
    assert {(line['vhost'], line['queue'], line['payload']) for line in lines} >= {('/', 'conductor', 'c0'),
                                                                                   ('nova/prod', 'conductor', 'p')}
    assert lines[0]['properties'] == {'headers': {'n': 0}}
    assert pathlib.Path(archive['checksum_path']).read_text() == f"{archive['sha256']}  {pathlib.Path(archive['path']).name}\n"

    republish = dict(LOGIN, action='republish', archive_path=archive['path'])
    _rc, planned = run_module(rabbitmq_purge.main, dict(republish, _ansible_check_mode=True))
    assert planned['changed'] is True and planned['totals']['republished'] == 7
    assert planned['msg'].startswith(f"Would publish 7 messages of {pathlib.Path(archive['path']).name}")
    assert not [call for call in broker.calls if call[0] == 'publish']

    _rc, restored = run_module(rabbitmq_purge.main, republish)
    assert restored['changed'] is True
    assert broker.queues[('/', 'conductor')]['bodies'] == ['c0', 'c1', 'c2']
    assert broker.queues[('nova/prod', 'conductor')]['bodies'] == ['p']
    assert {call[2] for call in broker.calls if call[0] == 'publish'} == {''}

    _rc, again = run_module(rabbitmq_purge.main, republish)
    assert again['changed'] is False
    # the totals count what is published in all; the message says this run published nothing, and why
    assert again['totals']['republished'] == 7
    assert again['msg'].startswith('Nothing published: the 7 messages of') and 'earlier run' in again['msg']
    assert broker.queues[('/', 'conductor')]['bodies'] == ['c0', 'c1', 'c2']


def test_republish_refuses_an_archive_that_does_not_match_its_checksum(run_module, broker, tmp_path):
    _rc, drained = run_module(rabbitmq_purge.main, dict(SEED, archive_dir=str(tmp_path)))
    path = pathlib.Path(drained['archive']['path'])
    path.write_text(path.read_text().replace('c1', 'cX'))

    rc, result = run_module(rabbitmq_purge.main, dict(LOGIN, action='republish', archive_path=str(path)))

    assert rc == 1
    assert 'does not match its checksum' in result['msg']
    assert not [call for call in broker.calls if call[0] == 'publish']


def test_republish_refuses_when_a_queue_is_gone(run_module, broker, tmp_path):
    _rc, drained = run_module(rabbitmq_purge.main, dict(SEED, archive_dir=str(tmp_path)))
    del broker.queues[('/', 'compute.cmp1')]

    rc, result = run_module(rabbitmq_purge.main, dict(LOGIN, action='republish', archive_path=drained['archive']['path']))

    assert rc == 1
    assert result['msg'].startswith('Cannot republish: queue(s) compute.cmp1 (vhost /) do not exist any more')
    assert not [call for call in broker.calls if call[0] == 'publish']


def test_the_rabbitmqctl_backend_needs_no_login_but_cannot_archive(run_module, broker, tmp_path):
    rc, result = run_module(rabbitmq_purge.main, dict(backend='rabbitmqctl', include=['x'], archive_dir=str(tmp_path)))

    assert rc == 1
    assert result['msg'] == 'archive_dir needs the management HTTP API: use backend http or auto'


def test_http_backend_requires_the_login(run_module, broker):
    rc, result = run_module(rabbitmq_purge.main, dict(backend='http', include=['x']))

    assert rc == 1
    assert 'login_user' in result['msg'] and 'login_password' in result['msg']


def test_auto_falls_back_to_rabbitmqctl_only_when_the_api_is_unavailable(run_module, monkeypatch, tmp_path):
    fake = nova_broker()
    ctl = tmp_path / 'rabbitmqctl'
    ctl.write_text('#!/bin/sh\necho \'[{"name": "/"}]\'\n')
    ctl.chmod(0o755)

    def unreachable():
        raise BackendUnavailable('Cannot reach the RabbitMQ management API at http://rmq:15672: refused')
    fake.overview = unreachable
    monkeypatch.setattr(rabbitmq, 'connect', lambda params: fake)

    rc, result = run_module(rabbitmq_purge.main, dict(LOGIN, include=['x'], rabbitmqctl_path=str(ctl)))

    assert rc == 0, result
    assert result['backend'] == 'rabbitmqctl'
    assert 'The management API is not available' in json.dumps(result['warnings'])


def test_auto_does_not_hide_bad_credentials(run_module, monkeypatch):
    fake = nova_broker()

    def refused():
        raise ApiError('RabbitMQ GET /api/overview failed with HTTP 401: Login failed', status=401, body='')
    fake.overview = refused
    monkeypatch.setattr(rabbitmq, 'connect', lambda params: fake)

    rc, result = run_module(rabbitmq_purge.main, dict(LOGIN, include=['x']))

    assert rc == 1
    assert result['msg'] == 'RabbitMQ GET /api/overview failed with HTTP 401: Login failed'
    assert 's3cret' not in json.dumps(result)

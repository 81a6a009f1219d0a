# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import json

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import rabbitmq
from ansible_collections.openstack_ops.runbooks.plugins.modules import rabbitmq_queue_info

BASE = 'http://localhost:15672'
COLUMNS = '?columns=vhost,name,type,state,messages,messages_ready,messages_unacknowledged,consumers'
LOGIN = dict(login_user='monitor', login_password='s3cret')


def queue(vhost, name, messages=0, consumers=1, **fields):
    return dict(dict(vhost=vhost, name=name, type='classic', state='running', messages=messages,
                     messages_ready=messages, messages_unacknowledged=0, consumers=consumers), **fields)


BROKER = {
    '/': [queue('/', 'conductor', 5, 0), queue('/', 'conductor.ctl1', 1, 1), queue('/', 'compute.cmp1', 0, 1),
          queue('/', 'conductor_fanout_0a1b', 0, 1)],
    'nova/prod': [queue('nova/prod', 'scheduler', 2, 2), queue('nova/prod', 'conductor', None, None, state=None)],
}


@pytest.fixture
def broker(monkeypatch, fake_session, make_http_error):
    """The management API of a broker holding BROKER; returns the session that records the calls."""
    responses = {('GET', f'{BASE}/api/queues{COLUMNS}'): BROKER['/'] + BROKER['nova/prod']}
    for vhost, queues in BROKER.items():
        responses[('GET', f"{BASE}/api/queues/{vhost.replace('/', '%2F')}{COLUMNS}")] = queues
    # the live consumer list: conductor's consumers are back although its statistics still say 0
    consumers = [dict(queue=dict(vhost='/', name='conductor'))] * 2 + [dict(queue=dict(vhost='/', name='conductor.ctl1'))]
    responses[('GET', f'{BASE}/api/consumers/%2F?columns=queue.name,queue.vhost')] = consumers
    responses[('GET', f'{BASE}/api/consumers?columns=queue.name,queue.vhost')] = consumers
    missing = f'{BASE}/api/queues/gone{COLUMNS}'
    responses[('GET', missing)] = make_http_error(missing, 404, {'error': 'Object Not Found', 'reason': 'Not Found'})
    responses[('GET', f'{BASE}/api/vhosts?columns=name')] = [dict(name=vhost) for vhost in BROKER]
    session = fake_session(responses)
    monkeypatch.setattr(rabbitmq, 'connect', lambda params: rabbitmq.RabbitMQClient(BASE, session))
    return session


def names(result):
    return [(q['vhost'], q['name']) for q in result['queues']]


def test_lists_every_queue_of_every_vhost_sorted_with_totals(run_module, broker):
    rc, result = run_module(rabbitmq_queue_info.main, LOGIN)

    assert rc == 0
    assert result['changed'] is False
    assert names(result) == [('/', 'compute.cmp1'), ('/', 'conductor'), ('/', 'conductor.ctl1'),
                             ('/', 'conductor_fanout_0a1b'), ('nova/prod', 'conductor'), ('nova/prod', 'scheduler')]
    assert result['queues'][1] == queue('/', 'conductor', 5, 0)
    # Counts the broker did not report stay null and add nothing to the totals.
    assert result['queues'][4]['messages'] is None
    assert result['totals'] == dict(queues=6, messages=8, consumers=5)
    assert broker.calls == [('GET', f'{BASE}/api/queues{COLUMNS}')]


def test_include_and_exclude_are_regular_expressions_searched_in_the_name(run_module, broker):
    _rc, result = run_module(rabbitmq_queue_info.main, dict(LOGIN, include=['^conductor', 'sched'], exclude=['_fanout_']))

    assert names(result) == [('/', 'conductor'), ('/', 'conductor.ctl1'), ('nova/prod', 'conductor'),
                             ('nova/prod', 'scheduler')]
    assert result['totals'] == dict(queues=4, messages=8, consumers=3)


def test_vhosts_are_read_one_by_one_and_encoded(run_module, broker):
    _rc, result = run_module(rabbitmq_queue_info.main, dict(LOGIN, vhosts=['nova/prod', '/', 'nova/prod']))

    assert [call[1] for call in broker.calls] == [f'{BASE}/api/queues/nova%2Fprod{COLUMNS}',
                                                  f'{BASE}/api/queues/%2F{COLUMNS}']
    assert result['totals']['queues'] == 6


def test_vhost_is_the_scope_when_vhosts_is_unset(run_module, broker):
    _rc, result = run_module(rabbitmq_queue_info.main, dict(LOGIN, vhost='nova/prod'))

    assert names(result) == [('nova/prod', 'conductor'), ('nova/prod', 'scheduler')]


def test_vhosts_takes_precedence_over_vhost(run_module, broker):
    _rc, result = run_module(rabbitmq_queue_info.main, dict(LOGIN, vhost='nova/prod', vhosts=['/']))

    assert {vhost for vhost, _name in names(result)} == {'/'}


def test_a_missing_vhost_fails_naming_the_vhosts_that_exist(run_module, broker):
    rc, result = run_module(rabbitmq_queue_info.main, dict(LOGIN, vhosts=['gone', 'nova/prod']))

    assert rc == 1
    assert result['msg'] == "Virtual host(s) 'gone' do not exist (the broker has '/', 'nova/prod')"
    assert result['details'] == {'missing': ['gone']}


def test_check_mode_reports_the_same_and_changes_nothing(run_module, broker):
    _rc, normal = run_module(rabbitmq_queue_info.main, dict(LOGIN))
    _rc, checked = run_module(rabbitmq_queue_info.main, dict(LOGIN, _ansible_check_mode=True))

    assert checked['changed'] is False
    assert (checked['queues'], checked['totals']) == (normal['queues'], normal['totals'])
    assert {method for method, _url in broker.calls} == {'GET'}


def test_an_invalid_regular_expression_fails_with_its_option(run_module, broker):
    rc, result = run_module(rabbitmq_queue_info.main, dict(LOGIN, exclude=['ok', 'conductor(']))

    assert rc == 1
    assert result['msg'].startswith("Invalid regular expression 'conductor(' in exclude: missing )")
    assert broker.calls == []


def test_other_api_errors_fail_the_module_without_the_password(run_module, monkeypatch, fake_session, make_http_error):
    url = f'{BASE}/api/queues{COLUMNS}'
    refused = make_http_error(url, 401, {'error': 'not_authorized', 'reason': 'Login failed'})
    session = fake_session({('GET', url): refused})
    monkeypatch.setattr(rabbitmq, 'connect', lambda params: rabbitmq.RabbitMQClient(BASE, session))

    rc, result = run_module(rabbitmq_queue_info.main, LOGIN)

    assert rc == 1
    assert result['msg'] == 'RabbitMQ GET /api/queues failed with HTTP 401: Login failed'
    assert result['details']['status'] == 401
    assert 's3cret' not in json.dumps(result)


def test_login_user_and_password_are_required(run_module, broker):
    rc, result = run_module(rabbitmq_queue_info.main, {})

    assert rc == 1
    assert result['msg'] == 'missing required arguments: login_password, login_user'


def test_live_consumers_come_from_the_consumer_list_not_the_statistics(run_module, broker):
    _rc, result = run_module(rabbitmq_queue_info.main, dict(LOGIN, vhosts=['/'], include=['^conductor'],
                                                            exclude=['_fanout_'], live_consumers=True))

    assert {q['name']: q['consumers'] for q in result['queues']} == {'conductor': 2, 'conductor.ctl1': 1}
    assert result['totals']['consumers'] == 3
    assert broker.calls[-1] == ('GET', f'{BASE}/api/consumers/%2F?columns=queue.name,queue.vhost')


def test_live_consumers_of_every_vhost_take_one_request_and_count_zero_for_a_queue_without_any(run_module, broker):
    _rc, result = run_module(rabbitmq_queue_info.main, dict(LOGIN, live_consumers=True))

    by_name = {(q['vhost'], q['name']): q['consumers'] for q in result['queues']}
    assert by_name[('/', 'conductor')] == 2 and by_name[('nova/prod', 'scheduler')] == 0
    assert [call[1] for call in broker.calls] == [f'{BASE}/api/queues{COLUMNS}',
                                                  f'{BASE}/api/consumers?columns=queue.name,queue.vhost']

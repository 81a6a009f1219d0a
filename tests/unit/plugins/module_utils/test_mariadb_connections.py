# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mariadb_connections: the snapshot read from whichever views a server has, and the inventory judged on it."""

import pymysql
import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_connections as mc
from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.module_utils.mariadb_connections_fakes import (
    NOVA_CONF, TRANSACTIONS, FakeServer)


def snapshot(**server):
    return mc.read(FakeServer(**server), pymysql.MySQLError)


def kinds(result):
    return {finding['kind']: finding for finding in result['findings']}


def test_services_come_from_the_connection_urls_and_recycle_times_of_oslo_configs():
    services = mc.services_from_configs([('/etc/nova/nova.conf', NOVA_CONF)])

    assert services == [
        dict(name='nova [database]', user='nova', databases=['nova'], connection_recycle_time=600, default=False,
             source='/etc/nova/nova.conf'),
        dict(name='nova [api_database]', user='nova_api', databases=['nova_api'], connection_recycle_time=3600,
             default=True, source='/etc/nova/nova.conf')]


def test_read_on_mariadb_uses_innodb_lock_waits_with_innodb_locks_and_falls_back_to_the_global_wait_timeout():
    server = FakeServer()
    found = mc.read(server, pymysql.MySQLError)

    assert found['own_id'] == 5 and found['server'] == dict(version='10.11.6-MariaDB', hostname='gal1')
    assert found['variables']['wait_timeout'] == 28800 and found['status']['aborted_clients'] == 17
    assert found['lock_wait_view'] == 'information_schema.INNODB_LOCK_WAITS'
    assert any('LEFT JOIN information_schema.INNODB_LOCKS' in sql for sql in server.queries)
    assert found['thread_wait_timeouts'] is None and 'per_thread_wait_timeout' in found['missing']
    assert found['transactions'] == TRANSACTIONS


def test_read_on_mysql_8_uses_performance_schema_data_lock_waits():
    server = FakeServer(views=[('information_schema', 'INNODB_TRX'), ('performance_schema', 'data_lock_waits')])
    found = mc.read(server, pymysql.MySQLError)

    assert found['lock_wait_view'] == 'performance_schema.data_lock_waits'
    assert any('FROM performance_schema.data_lock_waits' in sql for sql in server.queries)


def test_without_the_process_privilege_transactions_are_missing_not_an_error():
    denied = pymysql.err.OperationalError(1227, 'Access denied; you need (at least one of) the PROCESS privilege(s)')
    found = snapshot(errors={'FROM information_schema.INNODB_TRX': denied,
                             'FROM information_schema.INNODB_LOCK_WAITS': denied})

    assert found['transactions'] is None and found['lock_waits'] is None
    assert 'PROCESS privilege' in found['missing']['transactions']
    result = mc.inventory(found, [])
    assert result['totals']['transactions'] is None and result['lock_waits'] == []


def test_an_unexpected_error_is_not_swallowed():
    with pytest.raises(pymysql.err.OperationalError):
        snapshot(errors={'FROM information_schema.INNODB_TRX': pymysql.err.OperationalError(2013, 'Lost connection to MySQL server')})


def test_groups_leave_out_the_own_connection_and_the_server_threads_and_strip_client_ports():
    result = mc.inventory(snapshot(), [dict(name='nova', user='nova')])

    assert result['totals']['connections'] == 6 and result['totals']['system_threads'] == 2
    assert result['totals']['threads_connected'] == 9
    groups = {(group['user'], group['host'], group['db'], group['command']): group for group in result['groups']}
    nova = groups[('nova', '10.0.0.21', 'nova', 'Sleep')]
    assert nova['count'] == 2 and nova['idle_max'] == 5000 and nova['service'] == 'nova'
    assert groups[('placement', '10.0.0.21', 'placement', 'Query')]['idle_max'] is None
    assert groups[('placement', '10.0.0.21', 'placement', 'Sleep')]['in_transaction'] == 1
    assert [item['id'] for item in result['connections']][:2] == [30, 10]   # longest idle first
    assert 5 not in [item['id'] for item in result['connections']]


def test_long_held_connections_are_judged_against_their_service_and_the_rest_against_the_default():
    services = mc.services_from_configs([('/etc/nova/nova.conf', NOVA_CONF)])
    result = mc.inventory(snapshot(), services)

    found = [finding for finding in result['findings'] if finding['kind'] == 'long_held']
    assert {finding['service']: finding['threads'] for finding in found} == {
        'nova [database]': [10], '(other users)': [30, 12]}   # nova_api's user is nova_api, not nova
    rows = {row['name']: row for row in result['services']}
    assert rows['nova [database]']['connections'] == 2 and rows['nova [api_database]']['connections'] == 0
    assert rows['(other users)']['connection_recycle_time'] == 3600

    unjudged = mc.inventory(snapshot(), services, default_recycle_time=None)
    assert '(other users)' not in {row['name'] for row in unjudged['services']}


def test_a_wait_timeout_at_or_below_the_recycle_time_is_flagged_per_connection_when_the_server_publishes_it():
    services = [dict(name='nova', user='nova', connection_recycle_time=3600),
                dict(name='placement', user='placement', connection_recycle_time=600)]
    result = mc.inventory(snapshot(per_thread={10: 600, 11: 28800}), services, default_recycle_time=None)

    finding = kinds(result)['wait_timeout_below_recycle']
    assert finding['service'] == 'nova' and finding['threads'] == [10]
    assert 'connection_recycle_time 3600 >= wait_timeout 600' in finding['message']

    low = mc.inventory(snapshot(wait_timeout=500), services, default_recycle_time=None)
    assert {finding['service'] for finding in low['findings'] if finding['kind'] == 'wait_timeout_below_recycle'} == {
        'nova', 'placement'}
    assert not [f for f in mc.inventory(snapshot(), services)['findings'] if f['kind'] == 'wait_timeout_below_recycle']


def test_transactions_idle_or_long_and_the_lock_wait_with_its_blocker():
    result = mc.inventory(snapshot(), [dict(name='placement', user='placement')], long_transaction_seconds=60)

    assert [trx['thread_id'] for trx in result['transactions']] == [20, 21]   # not the inventory's own (5)

    idle = kinds(result)['idle_in_transaction']
    assert idle['threads'] == [20] and '3 row(s) locked' in idle['message']
    assert 'long_transaction' not in kinds(result)   # the waiting one is 30 s old
    assert result['transactions'][0] == dict(
        trx_id='900', thread_id=20, state='RUNNING', age=95, waiting=None, rows_locked=3, rows_modified=1, query=None,
        user='placement', host='10.0.0.21', db='placement', service='placement', idle=True, idle_time=100)
    assert result['lock_waits'] == [dict(
        waiting_trx='901', waiting_thread=21, waiting_user='placement', waiting_seconds=30,
        waiting_query='UPDATE allocations SET used = 1', blocking_trx='900', blocking_thread=20,
        blocking_user='placement', blocking_idle=True, blocking_age=95, lock_table='`placement`.`allocations`',
        lock_index='PRIMARY', lock_mode='X')]
    assert 'blocked by thread(s) 20' in kinds(result)['lock_wait']['message']

    busy = mc.inventory(snapshot(), [], long_transaction_seconds=10)
    assert kinds(busy)['long_transaction']['threads'] == [21]


def test_without_a_lock_wait_view_waits_come_from_innodb_trx_without_the_blocker():
    result = mc.inventory(snapshot(views=[('information_schema', 'INNODB_TRX')]), [])

    assert [(wait['waiting_thread'], wait['blocking_thread']) for wait in result['lock_waits']] == [(21, None)]
    assert 'blocked by thread(s) unknown' in kinds(result)['lock_wait']['message']


def test_haproxy_findings_and_max_connections():
    result = mc.inventory(snapshot(connected=85), [], haproxy_timeout=3000.0)

    assert kinds(result)['wait_timeout_above_haproxy']['message'].startswith('wait_timeout 28800 >= haproxy timeout 3000')
    assert kinds(result)['idle_beyond_haproxy']['threads'] == [30, 10, 12]
    assert '85 connections of max_connections 100 (85%)' in kinds(result)['connections_near_max']['message']
    quiet = mc.inventory(snapshot(), [], haproxy_timeout=36000)
    assert not {'wait_timeout_above_haproxy', 'idle_beyond_haproxy', 'connections_near_max'} & set(kinds(quiet))


def test_max_listed_bounds_the_list_not_the_counts():
    result = mc.inventory(snapshot(), [], max_listed=2)

    assert len(result['connections']) == 2 and result['connections_truncated'] is True
    assert sum(group['count'] for group in result['groups']) == 6

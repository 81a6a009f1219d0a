# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_variables as mv
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


def info(kind='BIGINT UNSIGNED', read_only=False, low='1', high='31536000', enum=None, value='28800', scope='SESSION'):
    return dict(type=kind, read_only=read_only, min=low, max=high, enum=enum, value=value, scope=scope)


# What MariaDB 10.11 says of these (information_schema.SYSTEM_VARIABLES, seen on the galera lab).
KNOWN = {
    'wait_timeout': info(),
    'innodb_flush_log_at_trx_commit': info(low='0', high='3', value='1', scope='GLOBAL'),
    'innodb_log_buffer_size': info('INT UNSIGNED', read_only=True, low='2097152', high='2147479552', value='16777216'),
    'innodb_file_per_table': info('BOOLEAN', enum=['OFF', 'ON'], value='ON', low=None, high=None),
    'binlog_format': info('ENUM', enum=['MIXED', 'STATEMENT', 'ROW'], value='ROW', low=None, high=None),
    'insert_id': info(scope='SESSION ONLY', value=None),
    'long_query_time': info('DOUBLE', low='0', high='31536000', value='10.000000'),
}


def test_values_become_the_servers_types():
    wanted = mv.check_requested({'wait-timeout': '5000', 'innodb_log_buffer_size': '32M', 'innodb_file_per_table': False,
                                 'binlog_format': 'row', 'long_query_time': '2.5'}, KNOWN)
    assert wanted == {'wait_timeout': 5000, 'innodb_log_buffer_size': 32 * 1024 * 1024, 'innodb_file_per_table': 'OFF',
                      'binlog_format': 'ROW', 'long_query_time': 2.5}


def test_every_problem_is_named_at_once_before_anything_is_changed():
    with pytest.raises(OpsError) as error:
        mv.check_requested({'wait_timeot': 1, 'wait_timeout': 'lots', 'innodb_flush_log_at_trx_commit': 7,
                            'insert_id': 3, 'wsrep_provider_options': 'gcache.size=1G', 'binlog_format': 'CSV',
                            'innodb_file_per_table': 'maybe'}, KNOWN)
    msg = error.value.msg
    assert msg.startswith('invalid variables, nothing was changed: ')
    for part in ('wait_timeot is not a variable of this server',
                 "wait_timeout: 'lots' is not a number",
                 'innodb_flush_log_at_trx_commit: 7 is out of range (0 to 3)',
                 'insert_id exists only per session',
                 'wsrep_provider_options is not supported',
                 "binlog_format: 'CSV' is not one of MIXED, STATEMENT, ROW",
                 "innodb_file_per_table: 'maybe' is not ON or OFF"):
        assert part in msg
    assert len(error.value.details['problems']) == 7


@pytest.mark.parametrize('value', [True, None, [1], '12x', '1.5'])
def test_a_numeric_variable_refuses_what_is_not_an_integer(value):
    with pytest.raises(OpsError, match='is not a number'):
        mv.parse_value('wait_timeout', value, KNOWN['wait_timeout'])


def test_two_spellings_of_one_variable_are_refused():
    with pytest.raises(OpsError, match='wait-timeout and wait_timeout are the same variable'):
        mv.check_requested({'wait_timeout': 1, 'wait-timeout': 2}, KNOWN)


def test_restart_required_only_for_a_read_only_variable_still_running_another_value():
    wanted = {'wait_timeout': 5000, 'innodb_log_buffer_size': 32 * 1024 * 1024}
    entries = {entry['name']: entry for entry in mv.plan(wanted, KNOWN, {'wait_timeout': '5000'})}
    assert entries['wait_timeout'] == dict(
        name='wait_timeout', before='28800', wanted=5000, dynamic=True, file_before='5000', file_change=False,
        runtime_change=True, restart_required=False)
    assert entries['innodb_log_buffer_size']['restart_required'] and not entries['innodb_log_buffer_size']['runtime_change']
    assert entries['innodb_log_buffer_size']['file_change']
    # after the restart the server runs the file's value: nothing left to do
    running = dict(KNOWN, innodb_log_buffer_size=dict(KNOWN['innodb_log_buffer_size'], value='33554432'))
    after = mv.plan({'innodb_log_buffer_size': 33554432}, running, {'innodb_log_buffer_size': '33554432'})
    assert not after[0]['restart_required'] and not after[0]['file_change']


def test_same_compares_in_the_servers_type():
    assert mv.same(KNOWN['wait_timeout'], 5000, '5000')
    assert not mv.same(KNOWN['wait_timeout'], 5000, None)
    assert mv.same(KNOWN['innodb_file_per_table'], 'ON', 'on')
    assert mv.same(KNOWN['long_query_time'], 10.0, '10.000000')


OPERATOR_FILE = """\
# Operator note: tuned by hand.
[client]
wait_timeout = 1

[mysqld]
# timeouts
wait-timeout = 600   # too short (seed 003)
skip-name-resolve
max_connections=100

[galera]
wsrep_on = ON
"""


def test_render_rewrites_only_the_lines_of_the_variables_and_keeps_every_comment():
    text = mv.render(OPERATOR_FILE, {'wait_timeout': 28800, 'skip_name_resolve': 'ON', 'max_connections': 4096,
                                     'innodb_lock_wait_timeout': 50})
    assert text == """\
# Operator note: tuned by hand.
[client]
wait_timeout = 1

[mysqld]
# timeouts
wait-timeout = 28800   # too short (seed 003)
skip-name-resolve = ON
max_connections=4096
innodb_lock_wait_timeout = 50

[galera]
wsrep_on = ON
"""
    assert mv.render(text, {'wait_timeout': 28800, 'max_connections': 4096}) == text


def test_render_makes_the_section_when_missing_and_a_new_file_with_its_header():
    assert mv.render('[galera]\nwsrep_on = ON', {'wait_timeout': 5}) == '[galera]\nwsrep_on = ON\n\n[mysqld]\nwait_timeout = 5\n'
    assert mv.render('', {'wait_timeout': 5}, header='Written by x\n\nsecond') == (
        '# Written by x\n#\n# second\n[mysqld]\nwait_timeout = 5\n')


def test_read_file_values_reads_the_section_as_the_server_does():
    assert mv.read_file_values(OPERATOR_FILE) == {'wait_timeout': '600', 'skip_name_resolve': '', 'max_connections': '100'}
    assert mv.read_file_values(OPERATOR_FILE, 'galera') == {'wsrep_on': 'ON'}


def test_values_with_spaces_are_quoted():
    assert mv.format_value('a b') == '"a b"'
    assert mv.format_value(4096) == '4096'
    assert mv.render('', {'init_connect': 'SET NAMES utf8'}) == '[mysqld]\ninit_connect = "SET NAMES utf8"\n'

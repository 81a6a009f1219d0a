# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_timeouts
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

NOVA_CONF = """\
[DEFAULT]
debug = false
[api_database]
connection = mysql+pymysql://nova:x@vip/nova_api
connection_recycle_time = 600
[database]
connection = mysql+pymysql://nova:x@vip/nova
[placement_database]
# no connection: not used by this service
connection_recycle_time = 99999
"""

HAPROXY = """\
defaults
    timeout client 60s
    timeout server 60s
listen mariadb
    mode tcp
    timeout client 90m
    timeout server 5400000
frontend galera_front
    bind :3307
    default_backend galera_back
backend galera_back
    timeout server 2h
"""


def test_recycle_times_default_to_oslo_db_and_skip_sections_without_a_connection():
    found = mariadb_timeouts.recycle_times(NOVA_CONF, '/etc/nova/nova.conf')
    assert [(entry['section'], entry['recycle'], entry['default']) for entry in found] == [
        ('database', 3600, True), ('api_database', 600, False)]


def test_a_recycle_time_that_is_not_a_number_is_named():
    with pytest.raises(OpsError, match=r"nova.conf \[database\] connection_recycle_time = 'soon'"):
        mariadb_timeouts.recycle_times('[database]\nconnection = x\nconnection_recycle_time = soon\n', 'nova.conf')


@pytest.mark.parametrize('value, seconds', [('90m', 5400), ('5400000', 5400), ('2h', 7200), ('1d', 86400), ('500ms', 0.5)])
def test_haproxy_times_are_milliseconds_without_a_unit(value, seconds):
    assert mariadb_timeouts.haproxy_seconds(value) == seconds


def test_haproxy_timeouts_of_a_listen_and_of_a_backend_through_its_frontend():
    found = mariadb_timeouts.haproxy_timeouts(HAPROXY, ['mariadb', 'galera_back'])
    assert [(entry['section'], entry['kind'], entry['seconds'], entry['origin']) for entry in found] == [
        ('mariadb', 'server', 5400, 'mariadb'), ('mariadb', 'client', 5400, 'mariadb'),
        ('galera_back', 'server', 7200, 'galera_back'), ('galera_back', 'client', 60, 'defaults')]


def test_a_section_that_does_not_exist_is_named_with_the_ones_that_do():
    with pytest.raises(OpsError, match=r'no backend or listen section named galera_nope in haproxy.cfg '
                                       r'\(its sections: galera_back, mariadb\)'):
        mariadb_timeouts.haproxy_timeouts(HAPROXY, ['galera_nope'])


def test_the_message_names_the_three_numbers_when_the_order_breaks():
    recycles = mariadb_timeouts.recycle_times(NOVA_CONF, '/etc/nova/nova.conf')
    timeouts = mariadb_timeouts.haproxy_timeouts(HAPROXY, ['mariadb'])
    holds, msg = mariadb_timeouts.check(recycles, 28800, timeouts)
    assert not holds
    assert msg == ('does not hold: connection_recycle_time 3600 (/etc/nova/nova.conf [database], the oslo.db default) '
                   '< MariaDB wait_timeout 28800 < haproxy timeout 5400 (timeout server 5400000 of mariadb) '
                   '(haproxy cuts idle connections before MariaDB closes them)')
    holds, msg = mariadb_timeouts.check(recycles, 3000, timeouts)
    assert not holds and 'MariaDB closes idle pooled connections before the service recycles them' in msg
    assert mariadb_timeouts.check(recycles, 5000, timeouts) == (True, (
        'holds: connection_recycle_time 3600 (/etc/nova/nova.conf [database], the oslo.db default) '
        '< MariaDB wait_timeout 5000 < haproxy timeout 5400 (timeout server 5400000 of mariadb)'))


def test_no_database_section_is_an_error_not_a_pass():
    with pytest.raises(OpsError, match='nothing to check'):
        mariadb_timeouts.check([], 5000, [])


def test_recycle_times_read_the_file_as_oslo_config_does():
    """Group names are case-insensitive (configparser's are not) and a section may appear twice, the last value winning."""
    text = ('[Database]\nconnection = mysql+pymysql://nova:x@vip/nova\nconnection_recycle_time = 900\n'
            '[DEFAULT]\ndebug = true\n[database]\nconnection_recycle_time = 300\n')
    assert mariadb_timeouts.recycle_times(text, 'nova.conf') == [
        dict(source='nova.conf', section='database', recycle=300, default=False)]

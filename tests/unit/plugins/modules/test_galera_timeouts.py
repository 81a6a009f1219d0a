# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""galera_timeouts end to end: the files read, wait_timeout from the option or the server, the verdict."""

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb
from ansible_collections.openstack_ops.runbooks.plugins.modules import galera_timeouts

HAPROXY = 'defaults\n    timeout client 60s\n    timeout server 60s\nlisten mariadb\n    timeout client 10h\n    timeout server 10h\n'


class FakeServer:
    def __init__(self, wait_timeout):
        self.wait_timeout = wait_timeout
        self.queries = []
        self.closed = False

    def query(self, sql, args=None):
        self.queries.append(sql)
        return [dict(value=str(self.wait_timeout))]

    def close(self):
        self.closed = True


@pytest.fixture
def files(tmp_path):
    nova = tmp_path / 'nova.conf'
    nova.write_text('[database]\nconnection = mysql+pymysql://nova:x@vip/nova\nconnection_recycle_time = 600\n')
    haproxy = tmp_path / 'haproxy.cfg'
    haproxy.write_text(HAPROXY)
    return dict(service_configs=[str(nova)], haproxy_config=str(haproxy))


@pytest.fixture
def server(monkeypatch):
    servers = []

    def connect(params):
        servers.append(FakeServer(28800 if params['login_host'] == 'db1' else 300))
        return servers[-1]

    monkeypatch.setattr(mariadb, 'connect', connect)
    return servers


def test_wait_timeout_is_read_from_the_server_when_unset_and_the_connection_closed(run_module, files, server):
    rc, result = run_module(galera_timeouts.main, dict(files, login_host='db1'))

    assert rc == 0, result
    assert result['holds'] is True and result['wait_timeout'] == 28800
    assert result['connection_recycle_time'] == 600 and result['haproxy_timeout'] == 36000
    assert server[0].queries == ['SELECT @@GLOBAL.wait_timeout AS value'] and server[0].closed


def test_a_given_wait_timeout_needs_no_connection(run_module, files, server):
    rc, result = run_module(galera_timeouts.main, dict(files, wait_timeout=3600))

    assert rc == 0 and result['wait_timeout'] == 3600 and server == []


def test_timeouts_out_of_order_fail_naming_the_numbers_unless_fail_is_false(run_module, files, server):
    rc, failed = run_module(galera_timeouts.main, dict(files, login_host='db2'))   # wait_timeout 300 < recycle 600
    rc_report, report = run_module(galera_timeouts.main, dict(files, login_host='db2', fail=False))

    assert rc == 1 and 'the idle-connection timeouts are out of order' in failed['msg']
    assert '600' in failed['msg'] and '300' in failed['msg']
    assert rc_report == 0 and report['holds'] is False and report['changed'] is False


def test_a_missing_file_is_named(run_module, files, server, tmp_path):
    rc, result = run_module(galera_timeouts.main, dict(files, wait_timeout=3600,
                                                       service_configs=[str(tmp_path / 'nope.conf')]))

    assert rc == 1 and f"cannot read the service configuration {tmp_path / 'nope.conf'}" in result['msg']

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mariadb_connection_info end to end on a fake server: read-only result, warnings, failures."""

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable
from ansible_collections.openstack_ops.runbooks.plugins.modules import mariadb_connection_info

from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.module_utils.mariadb_connections_fakes import (
    NOVA_CONF, FakeServer)


class Server(FakeServer):
    where = 'db1:3306'
    closed = False

    def close(self):
        self.closed = True


@pytest.fixture
def servers(monkeypatch):
    made = []

    def connect(params):
        if params['login_host'] == 'down':
            raise BackendUnavailable("Cannot connect to database (default) at down:3306: (2003, \"Can't connect\")")
        made.append(Server())
        return made[-1]

    monkeypatch.setattr(mariadb, 'connect', connect)
    return made


def test_the_inventory_is_read_only_and_names_the_findings(run_module, servers, tmp_path):
    nova = tmp_path / 'nova.conf'
    nova.write_text(NOVA_CONF)

    rc, result = run_module(mariadb_connection_info.main, dict(login_host='db1', service_configs=[str(nova)]))

    assert rc == 0, result
    assert result['changed'] is False and servers[0].closed
    assert result['server'] == dict(version='10.11.6-MariaDB', hostname='gal1', where='db1:3306')
    assert result['services'][0]['name'] == 'nova [database]'
    assert 'findings: idle_in_transaction, lock_wait, long_held' in result['msg']
    assert result['lock_wait_view'] == 'information_schema.INNODB_LOCK_WAITS'
    assert 'per_thread_wait_timeout' in result['missing'] and not result.get('warnings')


def test_default_recycle_time_0_leaves_other_users_unjudged(run_module, servers):
    rc, result = run_module(mariadb_connection_info.main, dict(login_host='db1', default_recycle_time=0))

    assert rc == 0 and [row['name'] for row in result['services']] == []
    assert 'long_held' not in {finding['kind'] for finding in result['findings']}


def test_fail_on_findings_fails_with_every_message(run_module, servers):
    rc, result = run_module(mariadb_connection_info.main, dict(login_host='db1', fail_on_findings=True))

    assert rc == 1 and result['msg'].startswith('db1:3306: 3 finding(s): ')
    assert 'lock wait' in result['msg'] and len(result['details']['findings']) == 3


def test_an_unreachable_server_and_a_missing_config_fail_clearly(run_module, servers, tmp_path):
    rc, down = run_module(mariadb_connection_info.main, dict(login_host='down'))
    rc_file, missing = run_module(mariadb_connection_info.main,
                                  dict(login_host='db1', service_configs=[str(tmp_path / 'nope.conf')]))

    assert rc == 1 and 'Cannot connect to database (default) at down:3306' in down['msg']
    assert rc_file == 1 and f"cannot read the service configuration {tmp_path / 'nope.conf'}" in missing['msg']
    assert servers == []   # the file is read before any login


def test_negative_thresholds_fail_before_connecting(run_module, servers):
    rc, result = run_module(mariadb_connection_info.main, dict(login_host='db1', long_transaction_seconds=-1))

    assert rc == 1 and result['msg'] == 'long_transaction_seconds must be at least 0, not -1' and servers == []

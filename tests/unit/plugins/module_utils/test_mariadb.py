# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The mariadb family: login options, the connection and the client option file."""

import os
import socket

import pymysql
import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable, OpsError


def login_params(**overrides):
    params = {name: option.get('default') for name, option in mariadb.ARGUMENT_SPEC.items()}
    params.update(config_file='/nonexistent/.my.cnf', login_db='nova_api')
    params.update(overrides)
    return params


def test_login_kwargs_follow_community_mysql(tmp_path):
    config_file = tmp_path / 'my.cnf'
    config_file.write_text('[client]\nuser = reader\n')
    params = login_params(login_user='nova', login_password='pw', login_host='db1', login_port=13306,
                          login_db='nova_api_test', config_file=str(config_file), connect_timeout=5,
                          ca_cert='/etc/ca.pem', client_key='/etc/key.pem')

    assert mariadb.login_kwargs(params, params['login_db']) == dict(
        user='nova', password='pw', host='db1', port=13306, database='nova_api_test', connect_timeout=5,
        read_default_file=str(config_file), ssl=dict(ca='/etc/ca.pem', key='/etc/key.pem'))


def test_login_kwargs_prefer_the_socket_and_leave_unset_credentials_to_the_config_file():
    params = login_params(login_unix_socket='/run/mysqld/mysqld.sock')

    assert mariadb.login_kwargs(params, params['login_db']) == dict(
        unix_socket='/run/mysqld/mysqld.sock', database='nova_api', connect_timeout=30)


def test_query_returns_rows_as_a_list_and_passes_arguments_separately(fake_db_connection):
    connection = fake_db_connection(rows=[{'uuid': 'c1'}])
    database = mariadb.Database(connection)

    rows = database.query('SELECT uuid FROM cell_mappings WHERE name = %s', ('cell1',))

    assert rows == [{'uuid': 'c1'}]
    assert connection.executed == [('SELECT uuid FROM cell_mappings WHERE name = %s', ('cell1',))]


def test_open_uses_dict_rows_and_no_autocommit(monkeypatch, fake_db_connection):
    seen = {}
    monkeypatch.setattr(mariadb.pymysql, 'connect', lambda **kwargs: seen.update(kwargs) or fake_db_connection())

    mariadb.Database.open(dict(host='db', database='nova_api'))

    assert seen == dict(host='db', database='nova_api', cursorclass=pymysql.cursors.DictCursor, autocommit=False)


def unused_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def test_open_reports_an_unreachable_server_as_backend_unavailable():
    port = unused_port()

    with pytest.raises(BackendUnavailable) as raised:
        mariadb.Database.open(dict(host='127.0.0.1', port=port, user='nova', password='secret',
                                   database='nova_api', connect_timeout=2))

    assert raised.value.msg.startswith(f'Cannot connect to database nova_api at 127.0.0.1:{port}: (2003,')
    assert 'secret' not in raised.value.msg


def test_open_reports_a_refused_login_as_a_plain_error(monkeypatch):
    def refuse(**kwargs):
        raise pymysql.err.OperationalError(1045, "Access denied for user 'nova'@'localhost' (using password: YES)")
    monkeypatch.setattr(mariadb.pymysql, 'connect', refuse)

    with pytest.raises(OpsError) as raised:
        mariadb.Database.open(dict(unix_socket='/run/mysqld/mysqld.sock', database='nova_api'))

    assert not isinstance(raised.value, BackendUnavailable)
    assert raised.value.msg.startswith('Cannot connect to database nova_api at /run/mysqld/mysqld.sock: (1045,')


def test_option_file_keeps_the_password_out_of_argv_and_quotes_it(tmp_path):
    login = mariadb.login_options(dict(login_user='ops', login_password='p"a\\ss word', login_host='db1',
                                       login_port=3307, config_file=str(tmp_path / 'none.cnf')))
    with mariadb.option_file(login) as path:
        text = open(path, encoding='utf-8').read()
        mode = os.stat(path).st_mode & 0o777
    assert not os.path.exists(path)
    assert mode == 0o600
    assert 'password="p\\"a\\\\ss word"' in text
    assert 'host="db1"\nport="3307"\nprotocol="tcp"' in text
    assert '!include' not in text


def test_option_file_includes_config_file_first(tmp_path):
    my_cnf = tmp_path / 'my.cnf'
    my_cnf.write_text('[client]\nuser=admin\n')
    login = mariadb.login_options(dict(login_unix_socket='/run/mysqld/mysqld.sock', config_file=str(my_cnf)))
    with mariadb.option_file(login) as path:
        lines = open(path, encoding='utf-8').read().splitlines()
    assert lines[0] == f'!include {my_cnf}'
    assert 'socket="/run/mysqld/mysqld.sock"' in lines
    assert not any(line.startswith('user=') for line in lines)


def test_connect_logs_in_to_the_server_with_no_database_and_keeps_the_login(monkeypatch, fake_db_connection):
    seen = {}
    monkeypatch.setattr(mariadb.pymysql, 'connect', lambda **kwargs: seen.update(kwargs) or fake_db_connection())

    database = mariadb.connect(dict(login_host='db1', login_user='ops', login_password='pw'))

    assert 'database' not in seen and seen['host'] == 'db1' and seen['user'] == 'ops'
    assert database.login['login_port'] == 3306 and database.where == 'db1:3306'


def test_open_database_opens_another_connection_with_the_same_login(monkeypatch, fake_db_connection):
    seen = []
    monkeypatch.setattr(mariadb.pymysql, 'connect', lambda **kwargs: seen.append(kwargs) or fake_db_connection())
    server = mariadb.connect(dict(login_unix_socket='/run/mysqld/mysqld.sock', login_user='ops'))

    other = server.open_database('placement')

    assert seen[1]['database'] == 'placement' and seen[1]['unix_socket'] == '/run/mysqld/mysqld.sock'
    assert other.login is server.login and other.where == '/run/mysqld/mysqld.sock'

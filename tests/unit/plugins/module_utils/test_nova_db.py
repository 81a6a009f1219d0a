# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import socket

import pymysql
import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_db
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable, OpsError


def login_params(**overrides):
    params = {name: option.get('default') for name, option in nova_db.ARGUMENT_SPEC.items()}
    params['config_file'] = '/nonexistent/.my.cnf'
    params.update(overrides)
    return params


@pytest.mark.parametrize('url, expected', [
    ('mysql+pymysql://nova:secret@10.0.0.5:3306/nova_cell1?charset=utf8',
     dict(user='nova', password='secret', host='10.0.0.5', port=3306, database='nova_cell1', charset='utf8')),
    ('mysql://nova:secret@db.example.com/nova_cell0',
     dict(user='nova', password='secret', host='db.example.com', database='nova_cell0')),
    ('mysql+pymysql://nova:secret@[fd00::5]:13306/nova',
     dict(user='nova', password='secret', host='fd00::5', port=13306, database='nova')),
    ('mysql+pymysql://nova:p%40ss%2Fw%3Ard%25@db/nova',
     dict(user='nova', password='p@ss/w:rd%', host='db', database='nova')),
    ('mariadb+pymysql://nova:secret@db/nova?plugin=dbcounter&read_default_group=nova',
     dict(user='nova', password='secret', host='db', database='nova', read_default_group='nova')),
    ('mysql+pymysql://nova:secret@/nova?unix_socket=/run/mysqld/mysqld.sock',
     dict(user='nova', password='secret', database='nova', unix_socket='/run/mysqld/mysqld.sock')),
    ('mysql+pymysql://nova:secret@db/nova?ssl_ca=/etc/ca.pem&ssl_cert=/etc/c.pem&ssl_key=/etc/k.pem',
     dict(user='nova', password='secret', host='db', database='nova',
          ssl=dict(ca='/etc/ca.pem', cert='/etc/c.pem', key='/etc/k.pem'))),
    # SQLAlchemy lets an unencoded '/' or ':' sit in the password.
    ('mysql+pymysql://nova:pa/ss:word@db/nova', dict(user='nova', password='pa/ss:word', host='db', database='nova')),
    ('mysql+pymysql://nova@db/nova', dict(user='nova', host='db', database='nova')),
    ('mysql+pymysql://nova:@db/nova', dict(user='nova', password='', host='db', database='nova')),
])
def test_parse_db_url(url, expected):
    assert nova_db.parse_db_url(url) == expected


def test_parse_db_url_applies_the_override_last():
    kwargs = nova_db.parse_db_url('mysql+pymysql://nova:secret@10.0.0.5:3306/nova_cell1',
                                  override=dict(host='127.0.0.1', port=13306))

    assert kwargs == dict(user='nova', password='secret', host='127.0.0.1', port=13306, database='nova_cell1')


@pytest.mark.parametrize('url, message', [
    ('mysql+pymysql://{username}:{password}@{hostname}/nova_cell1', 'Templated database URLs are not supported'),
    ('postgresql://nova:secret@db/nova', 'Only MySQL and MariaDB database URLs are supported, not postgresql'),
    ('sqlite:////var/lib/nova/nova.sqlite', 'Only MySQL and MariaDB database URLs are supported, not sqlite'),
    ('mysql+pymysql://nova:secret@db:port/nova', "Invalid port 'port'"),
    ('nova:secret@db/nova', 'Not a database URL'),
    ('', 'Not a database URL'),
])
def test_parse_db_url_rejects_what_it_cannot_use(url, message):
    with pytest.raises(OpsError) as raised:
        nova_db.parse_db_url(url)

    assert raised.value.msg.startswith(message)
    assert 'secret' not in raised.value.msg


def test_login_kwargs_follow_community_mysql(tmp_path):
    config_file = tmp_path / 'my.cnf'
    config_file.write_text('[client]\nuser = reader\n')
    params = login_params(login_user='nova', login_password='pw', login_host='db1', login_port=13306,
                          login_db='nova_api_test', config_file=str(config_file), connect_timeout=5,
                          ca_cert='/etc/ca.pem', client_key='/etc/key.pem')

    assert nova_db.login_kwargs(params) == dict(
        user='nova', password='pw', host='db1', port=13306, database='nova_api_test', connect_timeout=5,
        read_default_file=str(config_file), ssl=dict(ca='/etc/ca.pem', key='/etc/key.pem'))


def test_login_kwargs_prefer_the_socket_and_leave_unset_credentials_to_the_config_file():
    params = login_params(login_unix_socket='/run/mysqld/mysqld.sock')

    assert nova_db.login_kwargs(params) == dict(
        unix_socket='/run/mysqld/mysqld.sock', database='nova_api', connect_timeout=30)


class FakeCursor:
    def __init__(self, rows, executed):
        self.rows = rows
        self.executed = executed

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def execute(self, sql, args):
        self.executed.append((sql, args))

    def fetchall(self):
        return tuple(self.rows)


class FakeConnection:
    def __init__(self, rows=()):
        self.rows = rows
        self.executed = []
        self.closed = 0

    def cursor(self):
        return FakeCursor(self.rows, self.executed)

    def close(self):
        self.closed += 1


def test_query_returns_rows_as_a_list_and_passes_arguments_separately():
    connection = FakeConnection(rows=[{'uuid': 'c1'}])
    database = nova_db.Database(connection)

    rows = database.query('SELECT uuid FROM cell_mappings WHERE name = %s', ('cell1',))

    assert rows == [{'uuid': 'c1'}]
    assert connection.executed == [('SELECT uuid FROM cell_mappings WHERE name = %s', ('cell1',))]


def test_open_uses_dict_rows_and_no_autocommit(monkeypatch):
    seen = {}
    monkeypatch.setattr(nova_db.pymysql, 'connect', lambda **kwargs: seen.update(kwargs) or FakeConnection())

    nova_db.Database.open(dict(host='db', database='nova_api'))

    assert seen == dict(host='db', database='nova_api', cursorclass=pymysql.cursors.DictCursor, autocommit=False)


def unused_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def test_open_reports_an_unreachable_server_as_backend_unavailable():
    port = unused_port()

    with pytest.raises(BackendUnavailable) as raised:
        nova_db.Database.open(dict(host='127.0.0.1', port=port, user='nova', password='secret',
                                   database='nova_api', connect_timeout=2))

    assert raised.value.msg.startswith(f'Cannot connect to database nova_api at 127.0.0.1:{port}: (2003,')
    assert 'secret' not in raised.value.msg


def test_open_reports_a_refused_login_as_a_plain_error(monkeypatch):
    def refuse(**kwargs):
        raise pymysql.err.OperationalError(1045, "Access denied for user 'nova'@'localhost' (using password: YES)")
    monkeypatch.setattr(nova_db.pymysql, 'connect', refuse)

    with pytest.raises(OpsError) as raised:
        nova_db.Database.open(dict(unix_socket='/run/mysqld/mysqld.sock', database='nova_api'))

    assert not isinstance(raised.value, BackendUnavailable)
    assert raised.value.msg.startswith('Cannot connect to database nova_api at /run/mysqld/mysqld.sock: (1045,')


def test_cells_are_opened_once_per_url_and_override_and_all_closed():
    opened = []

    def open_database(kwargs):
        opened.append(kwargs)
        return nova_db.Database(FakeConnection())

    api = nova_db.Database(FakeConnection())
    novadb = nova_db.NovaDB(api, connect_timeout=7, open_database=open_database)
    url = 'mysql+pymysql://nova:secret@10.0.0.5/nova_cell1'

    first = novadb.cell(url)
    assert novadb.cell(url) is first
    moved = novadb.cell(url, override={'host': '127.0.0.1'})

    assert moved is not first
    assert opened == [
        dict(connect_timeout=7, user='nova', password='secret', host='10.0.0.5', database='nova_cell1'),
        dict(connect_timeout=7, user='nova', password='secret', host='127.0.0.1', database='nova_cell1'),
    ]
    novadb.close()
    assert [db.connection.closed for db in (api, first, moved)] == [1, 1, 1]


def test_nova_db_query_reads_the_api_database():
    api = nova_db.Database(FakeConnection(rows=[{'count': 3}]))

    assert nova_db.NovaDB(api).query('SELECT COUNT(*) AS count FROM instance_mappings') == [{'count': 3}]

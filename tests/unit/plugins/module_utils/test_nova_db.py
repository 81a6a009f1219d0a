# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_db
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


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


def test_cells_are_opened_once_per_url_and_override_and_all_closed(fake_db_connection):
    opened = []

    def open_database(kwargs):
        opened.append(kwargs)
        return nova_db.Database(fake_db_connection())

    api = nova_db.Database(fake_db_connection())
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


def test_nova_db_query_reads_the_api_database(fake_db_connection):
    api = nova_db.Database(fake_db_connection(rows=[{'count': 3}]))

    assert nova_db.NovaDB(api).query('SELECT COUNT(*) AS count FROM instance_mappings') == [{'count': 3}]

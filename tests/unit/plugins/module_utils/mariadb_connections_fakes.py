# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake MariaDB node for mariadb_connections and mariadb_connection_info: its process list, transactions and lock
waits, answered by the views a statement reads."""

import pymysql

MARIADB_VIEWS = [('information_schema', 'INNODB_TRX'), ('information_schema', 'INNODB_LOCKS'),
                 ('information_schema', 'INNODB_LOCK_WAITS')]
PROCESSES = [
    dict(id=5, user='ops', host='127.0.0.1:40000', db=None, command='Query', time=0, state='', info='SELECT'),
    dict(id=1, user='system user', host='', db=None, command='Sleep', time=900, state='wsrep aborter idle', info=None),
    dict(id=2, user='event_scheduler', host='localhost', db=None, command='Daemon', time=900, state='', info=None),
    dict(id=10, user='nova', host='10.0.0.21:51000', db='nova', command='Sleep', time=5000, state='', info=None),
    dict(id=11, user='nova', host='10.0.0.21:51002', db='nova', command='Sleep', time=20, state='', info=None),
    dict(id=12, user='nova', host='10.0.0.22:41000', db='nova_api', command='Sleep', time=4000, state='', info=None),
    dict(id=20, user='placement', host='10.0.0.21:52000', db='placement', command='Sleep', time=100, state='',
         info=None),
    dict(id=21, user='placement', host='10.0.0.21:52002', db='placement', command='Query', time=30,
         state='Updating', info='UPDATE allocations SET used = 1'),
    dict(id=30, user='root', host='localhost', db=None, command='Sleep', time=7200, state='', info=None),
]
TRANSACTIONS = [
    dict(trx_id=421, state='RUNNING', thread_id=5, age=0, waiting=None, rows_locked=0, rows_modified=0, query='SELECT'),
    dict(trx_id=900, state='RUNNING', thread_id=20, age=95, waiting=None, rows_locked=3, rows_modified=1, query=None),
    dict(trx_id=901, state='LOCK WAIT', thread_id=21, age=30, waiting=30, rows_locked=1, rows_modified=0,
         query='UPDATE allocations SET used = 1'),
]
LOCK_WAITS = [dict(waiting_trx='901', blocking_trx='900', lock_table='`placement`.`allocations`',
                   lock_index='PRIMARY', lock_mode='X')]


class FakeServer:
    """Answers the snapshot's statements by what they read; an exception in ``errors`` is raised for its view."""

    def __init__(self, views=None, processes=None, transactions=None, lock_waits=None,
                 errors=None, per_thread=None, wait_timeout=28800, max_connections=100, connected=9):
        self.views = MARIADB_VIEWS if views is None else views
        self.processes = PROCESSES if processes is None else processes
        self.transactions = TRANSACTIONS if transactions is None else transactions
        self.lock_waits = LOCK_WAITS if lock_waits is None else lock_waits
        self.errors = errors or {}
        self.per_thread = per_thread
        self.wait_timeout, self.max_connections, self.connected = wait_timeout, max_connections, connected
        self.queries = []

    def query(self, sql, args=None):
        self.queries.append(sql)
        for marker, error in self.errors.items():
            if marker in sql:
                raise error
        if 'CONNECTION_ID()' in sql:
            return [dict(own_id=5, version='10.11.6-MariaDB', hostname='gal1', wait_timeout=str(self.wait_timeout),
                         interactive_timeout='28800', max_connections=str(self.max_connections),
                         innodb_lock_wait_timeout='50')]
        if 'SHOW GLOBAL STATUS' in sql:
            return [dict(Variable_name='Threads_connected', Value=str(self.connected)),
                    dict(Variable_name='Aborted_clients', Value='17')]
        if 'information_schema.TABLES' in sql:
            return [dict(schema_name=schema, table_name=name) for schema, name in self.views]
        if 'variables_by_thread' in sql:
            if self.per_thread is None:
                raise pymysql.err.OperationalError(1146, "Table 'performance_schema.variables_by_thread' doesn't exist")
            return [dict(id=thread, value=str(value)) for thread, value in self.per_thread.items()]
        if 'PROCESSLIST' in sql:
            return [dict(row) for row in self.processes]
        if 'INNODB_TRX' in sql and 'LOCK_WAITS' not in sql:
            return [dict(row) for row in self.transactions]
        if 'LOCK_WAITS' in sql or 'data_lock_waits' in sql:
            return [dict(row) for row in self.lock_waits]
        raise AssertionError(f'unexpected statement {sql}')


NOVA_CONF = """[database]
connection = mysql+pymysql://nova:secret@vip/nova?charset=utf8
connection_recycle_time = 600
[api_database]
connection = mysql+pymysql://nova_api:secret@vip/nova_api
"""

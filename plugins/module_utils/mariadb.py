# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``mariadb`` option family: a login to one MariaDB/MySQL server, its connection and its option file.

The login options are community.mysql's. ``connect(params)`` gives a ``Database`` on the server with no
default database; the ``nova_db`` family (nova_db.py) is this login plus ``login_db`` and nova's cells.
A ``Database`` keeps the login it was opened with (``login``), so the client tools a backup or a restore
runs (mariadb-dump, mariadb) log in the same way through a private ``option_file``.
"""

import os
import tempfile
import traceback

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable, OpsError

try:
    import pymysql
except ImportError:
    pymysql = None
    IMPORT_ERROR = traceback.format_exc()
    ERRORS = ()
else:
    IMPORT_ERROR = None
    ERRORS = (pymysql.MySQLError,)

REQUIRED_LIBRARY = 'PyMySQL'
ERROR_LABEL = 'Database query failed'

# The login options of community.mysql: a server, not a database.
ARGUMENT_SPEC = dict(
    login_user=dict(type='str'),
    login_password=dict(type='str', no_log=True),
    login_host=dict(type='str', default='localhost'),
    login_port=dict(type='int', default=3306),
    login_unix_socket=dict(type='str'),
    config_file=dict(type='path', default='~/.my.cnf'),
    connect_timeout=dict(type='int', default=30),
    ca_cert=dict(type='path', aliases=['ssl_ca']),
    client_cert=dict(type='path', aliases=['ssl_cert']),
    client_key=dict(type='path', aliases=['ssl_key'], no_log=False),
)

# Client error codes meaning the server was never reached or went away.
UNREACHABLE = frozenset((2002, 2003, 2006, 2013))


def connect(params):
    """A Database on the server of the login options, with no default database."""
    login = login_options(params)
    return Database.open(login_kwargs(login), login=login)


def login_options(params):
    """The login options of ``params`` (a module's, or any dict), with defaults for the unset ones."""
    options = {name: spec.get('default') for name, spec in ARGUMENT_SPEC.items()}
    options.update({name: value for name, value in params.items() if name in options and value is not None})
    if options['config_file']:
        options['config_file'] = os.path.expanduser(options['config_file'])
    return options


def login_kwargs(login, database=None):
    """PyMySQL keywords for the login options, with community.mysql's precedence."""
    kwargs = dict(connect_timeout=login['connect_timeout'])
    if database:
        kwargs['database'] = database
    if login['config_file'] and os.path.exists(login['config_file']):
        kwargs['read_default_file'] = login['config_file']
    if login['login_unix_socket']:
        kwargs['unix_socket'] = login['login_unix_socket']
    else:
        kwargs.update(host=login['login_host'], port=login['login_port'])
    if login['login_user'] is not None:
        kwargs['user'] = login['login_user']
    if login['login_password'] is not None:
        kwargs['password'] = login['login_password']
    ssl = {key: login[option] for option, key in
           (('ca_cert', 'ca'), ('client_cert', 'cert'), ('client_key', 'key')) if login[option]}
    if ssl:
        kwargs['ssl'] = ssl
    return kwargs


class Database:
    """One PyMySQL connection; it reads, and writes only through execute() then commit()."""

    def __init__(self, connection, login=None):
        self.connection = connection
        self.login = login

    @property
    def name(self):
        """The database this connection uses."""
        return self.query('SELECT DATABASE() AS name')[0]['name']

    @property
    def where(self):
        """The server's socket or host:port, as the login names it."""
        if self.login['login_unix_socket']:
            return self.login['login_unix_socket']
        return f"{self.login['login_host']}:{self.login['login_port']}"

    @classmethod
    def open(cls, kwargs, login=None):
        try:
            return cls(pymysql.connect(cursorclass=pymysql.cursors.DictCursor, autocommit=False, **kwargs), login)
        except pymysql.MySQLError as error:
            error_class = BackendUnavailable if error.args and error.args[0] in UNREACHABLE else OpsError
            raise error_class(f'Cannot connect to {describe(kwargs)}: {error}',
                              database=kwargs.get('database')) from error

    def open_database(self, database):
        """A new connection with the same login, in ``database``; the caller closes it."""
        return Database.open(login_kwargs(self.login, database), login=self.login)

    def query(self, sql, args=None):
        """Rows of a read-only statement as a list of dicts."""
        with self.connection.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())

    def literals(self, values):
        """values as a comma-separated list of escaped SQL literals, for an IN (...) built once, used often."""
        return ', '.join(self.connection.escape(value) for value in values)

    def stream(self, sql, args=None):
        """Rows of a read-only statement as tuples, fetched from the server while iterated.

        The rows are not buffered, so a table of any size is read in constant
        memory; the connection can run nothing else until the iteration ends.
        """
        with self.connection.cursor(pymysql.cursors.SSCursor) as cursor:
            cursor.execute(sql, args)
            yield from cursor.fetchall_unbuffered()

    def execute(self, sql, args=None):
        """Run a write inside the open transaction; returns the number of rows it affected.

        Nothing is kept until commit(); callers write only after a backup.
        """
        with self.connection.cursor() as cursor:
            return cursor.execute(sql, args)

    def commit(self):
        self.connection.commit()

    def rollback(self):
        """End the transaction, dropping its writes; the next read sees current data."""
        self.connection.rollback()

    def close(self):
        self.connection.close()


class option_file:
    """A private MySQL option file with a login (login_options' dict), so no password appears in a process list.

    It includes config_file first, and the explicit options then take precedence over it.
    """

    def __init__(self, login):
        self.login = login
        self.path = None

    def __enter__(self):
        login = self.login
        lines = []
        if login['config_file'] and os.path.exists(login['config_file']):
            lines.append(f"!include {login['config_file']}")
        lines.append('[client]')
        values = dict(user=login['login_user'], password=login['login_password'],
                      ssl_ca=login['ca_cert'], ssl_cert=login['client_cert'], ssl_key=login['client_key'])
        if login['login_unix_socket']:
            values.update(socket=login['login_unix_socket'], protocol='socket')
        else:
            values.update(host=login['login_host'], port=login['login_port'], protocol='tcp')
        for name, value in values.items():
            if value is not None:
                lines.append(f'{name.replace("_", "-")}={_quote(value)}')
        handle, self.path = tempfile.mkstemp(prefix='ops-backup-', suffix='.cnf')
        with os.fdopen(handle, 'w', encoding='utf-8') as stream:
            stream.write('\n'.join(lines) + '\n')
        return self.path

    def __exit__(self, *exc):
        os.unlink(self.path)


def _quote(value):
    text = str(value)
    return '"' + text.replace('\\', '\\\\').replace('"', '\\"') + '"'


def describe(kwargs):
    """Where a set of PyMySQL keywords connects to, without credentials."""
    host = kwargs.get('host', 'localhost')
    if ':' in host:
        host = f'[{host}]'
    where = kwargs.get('unix_socket') or f"{host}:{kwargs.get('port', 3306)}"
    return f"database {kwargs.get('database', '(default)')} at {where}"

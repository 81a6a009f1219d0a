# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only access to nova's databases: nova_api, and each cell through its mapping."""

import os
import re
import traceback
from urllib.parse import parse_qsl, unquote

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable, OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import mask_url

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

# The login options of community.mysql, plus the name of the nova_api database.
ARGUMENT_SPEC = dict(
    login_user=dict(type='str'),
    login_password=dict(type='str', no_log=True),
    login_host=dict(type='str', default='localhost'),
    login_port=dict(type='int', default=3306),
    login_unix_socket=dict(type='str'),
    login_db=dict(type='str', default='nova_api'),
    config_file=dict(type='path', default='~/.my.cnf'),
    connect_timeout=dict(type='int', default=30),
    ca_cert=dict(type='path', aliases=['ssl_ca']),
    client_cert=dict(type='path', aliases=['ssl_cert']),
    client_key=dict(type='path', aliases=['ssl_key'], no_log=False),
)

# The grammar SQLAlchemy (and so oslo.db and nova) uses to split a database URL.
_SQLALCHEMY_URL = re.compile(r'''
    (?P<scheme>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    $''', re.VERBOSE)

# nova fills these from its own [database] connection (nova.objects.cell_mapping).
_TEMPLATE_FIELD = re.compile(r'\{\w+\}')

# URL query parameters PyMySQL takes as keywords of the same name; others (such as
# oslo.db's plugin=dbcounter) mean nothing to a plain connection and are ignored.
_QUERY_KEYWORDS = ('charset', 'unix_socket', 'read_default_file', 'read_default_group')
_QUERY_SSL_KEYS = dict(ssl_ca='ca', ssl_cert='cert', ssl_key='key')

# Client error codes meaning the server was never reached or went away.
_UNREACHABLE = frozenset((2002, 2003, 2006, 2013))


def connect(params):
    """Return a NovaDB whose API connection is made from the login options."""
    login = login_kwargs(params)
    return NovaDB(Database.open(login), connect_timeout=params['connect_timeout'], login=login)


def login_kwargs(params):
    """PyMySQL keywords for the login options, with community.mysql's precedence."""
    kwargs = dict(database=params['login_db'], connect_timeout=params['connect_timeout'])
    if params['config_file'] and os.path.exists(params['config_file']):
        kwargs['read_default_file'] = params['config_file']
    if params['login_unix_socket']:
        kwargs['unix_socket'] = params['login_unix_socket']
    else:
        kwargs.update(host=params['login_host'], port=params['login_port'])
    if params['login_user'] is not None:
        kwargs['user'] = params['login_user']
    if params['login_password'] is not None:
        kwargs['password'] = params['login_password']
    ssl = {key: params[option] for option, key in
           (('ca_cert', 'ca'), ('client_cert', 'cert'), ('client_key', 'key')) if params[option]}
    if ssl:
        kwargs['ssl'] = ssl
    return kwargs


def parse_db_url(url, override=None):
    """PyMySQL keywords for an oslo.db URL such as a cell mapping's database_connection.

    override replaces keywords after parsing, for example the host when the
    address in the mapping is not reachable from where the module runs.
    """
    if _TEMPLATE_FIELD.search(url):
        raise OpsError(f'Templated database URLs are not supported: {mask_url(url)}',
                       hint='nova fills the {...} fields from its own nova.conf, which is not read here')
    match = _SQLALCHEMY_URL.match(url)
    if not match:
        # Not echoed: without URL syntax a password in it cannot be told apart.
        raise OpsError('Not a database URL of the form dialect+driver://user:password@host:port/database')
    parts = match.groupdict()
    backend = parts['scheme'].split('+')[0]
    if backend not in ('mysql', 'mariadb'):
        raise OpsError(f"Only MySQL and MariaDB database URLs are supported, not {parts['scheme']}: {mask_url(url)}")

    kwargs = {}
    for group, keyword in (('username', 'user'), ('password', 'password'), ('database', 'database')):
        if parts[group] is not None:
            kwargs[keyword] = unquote(parts[group])
    host = parts['ipv4host'] or parts['ipv6host']
    if host:
        kwargs['host'] = host
    if parts['port']:
        try:
            kwargs['port'] = int(parts['port'])
        except ValueError as error:
            raise OpsError(f"Invalid port {parts['port']!r} in database URL: {mask_url(url)}") from error

    ssl = {}
    for name, value in parse_qsl(parts['query'] or ''):
        if name in _QUERY_KEYWORDS:
            kwargs[name] = value
        elif name in _QUERY_SSL_KEYS:
            ssl[_QUERY_SSL_KEYS[name]] = value
    if ssl:
        kwargs['ssl'] = ssl

    kwargs.update(override or {})
    return kwargs


class Database:
    """One PyMySQL connection; it reads, and writes only through execute() then commit()."""

    def __init__(self, connection):
        self.connection = connection

    @property
    def name(self):
        """The database this connection uses."""
        return self.query('SELECT DATABASE() AS name')[0]['name']

    @classmethod
    def open(cls, kwargs):
        try:
            return cls(pymysql.connect(cursorclass=pymysql.cursors.DictCursor, autocommit=False, **kwargs))
        except pymysql.MySQLError as error:
            error_class = BackendUnavailable if error.args and error.args[0] in _UNREACHABLE else OpsError
            raise error_class(f'Cannot connect to {_describe(kwargs)}: {error}',
                              database=kwargs.get('database')) from error

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


class NovaDB:
    """The nova_api database, and the cell databases its mappings point to."""

    def __init__(self, api, connect_timeout=30, open_database=Database.open, login=None):
        self.api = api
        self._connect_timeout = connect_timeout
        self._open_database = open_database
        self._login = login or {}
        self._cells = {}

    def query(self, sql, args=None):
        """Rows from the nova_api database."""
        return self.api.query(sql, args)

    def cell(self, database_connection, override=None):
        """The Database of a cell, opened once per URL and override."""
        key = (database_connection, repr(sorted((override or {}).items())))
        if key not in self._cells:
            kwargs = dict(connect_timeout=self._connect_timeout)
            kwargs.update(parse_db_url(database_connection, override))
            self._cells[key] = self._open_database(kwargs)
        return self._cells[key]

    def literals(self, values):
        return self.api.literals(values)

    def sibling(self, database):
        """Another database on the nova_api server, opened once with the same login (such as placement)."""
        key = ('sibling', database)
        if key not in self._cells:
            self._cells[key] = self._open_database(dict(self._login, database=database))
        return self._cells[key]

    def close(self):
        for database in [self.api] + list(self._cells.values()):
            database.close()


def _describe(kwargs):
    """Where a set of PyMySQL keywords connects to, without credentials."""
    host = kwargs.get('host', 'localhost')
    if ':' in host:
        host = f'[{host}]'
    where = kwargs.get('unix_socket') or f"{host}:{kwargs.get('port', 3306)}"
    return f"database {kwargs.get('database', '(default)')} at {where}"

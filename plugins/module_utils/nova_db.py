# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``nova_db`` option family: the ``mariadb`` login plus ``login_db`` (nova_api), and each cell through its mapping."""

import re
from urllib.parse import parse_qsl, unquote

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.mariadb import Database
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import mask_url

# The family's interface (base.py): the mariadb family's library and errors, its login plus nova_api's name.
REQUIRED_LIBRARY = mariadb.REQUIRED_LIBRARY
IMPORT_ERROR = mariadb.IMPORT_ERROR
ERRORS = mariadb.ERRORS
ERROR_LABEL = mariadb.ERROR_LABEL
ARGUMENT_SPEC = dict(mariadb.ARGUMENT_SPEC, login_db=dict(type='str', default='nova_api'))

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


def connect(params):
    """Return a NovaDB whose API connection is made from the login options."""
    login = mariadb.login_options(params)
    api = Database.open(mariadb.login_kwargs(login, params['login_db']), login=login)
    return NovaDB(api, connect_timeout=login['connect_timeout'])


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


class NovaDB:
    """The nova_api database, and the cell databases its mappings point to."""

    def __init__(self, api, connect_timeout=30, open_database=Database.open):
        self.api = api
        self._connect_timeout = connect_timeout
        self._open_database = open_database
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
            self._cells[key] = self.api.open_database(database)
        return self._cells[key]

    def close(self):
        for database in [self.api] + list(self._cells.values()):
            database.close()

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The connections of one MariaDB/Galera node, judged the way seed 003 went wrong.

``read(db)`` takes one snapshot of the server (its variables and status, the process list, InnoDB's open
transactions and lock waits, from whichever views the server has); ``inventory(snapshot, services, ...)`` groups the
connections per user/host/database/command, ties each to a service (a DB user, optionally its databases, and its
oslo.db ``connection_recycle_time``) and returns the findings: a pool MariaDB empties before the service recycles it,
long-held idle connections, connections haproxy has already cut, transactions left open or idle, lock waits, and
totals near ``max_connections``. Only ``read`` talks to the server, so ``inventory`` is tested on plain rows.
"""

from urllib.parse import unquote, urlsplit

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import oslo_ini
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.mariadb_timeouts import (
    DATABASE_SECTIONS, OSLO_DEFAULT_RECYCLE, recycle_times)

# Lock views by server: MariaDB 10.x / MySQL 5.7 keep them in information_schema, MySQL 8 in performance_schema.
LOCK_WAIT_VIEWS = (('information_schema', 'INNODB_LOCK_WAITS'), ('performance_schema', 'data_lock_waits'))
VIEWS = (('information_schema', 'INNODB_TRX'), ('information_schema', 'INNODB_LOCKS')) + LOCK_WAIT_VIEWS
# Error codes meaning "the login may not read this" (PROCESS privilege) or "no such table / storage engine off".
NOT_ALLOWED = frozenset((1227, 1142, 1044))
NOT_THERE = frozenset((1146, 1109, 1286))
# Threads of the server itself (Galera appliers, the event scheduler, InnoDB's purge), not client connections.
SYSTEM_USERS = frozenset(('system user', 'event_scheduler'))
SYSTEM_COMMANDS = frozenset(('Daemon', 'Binlog Dump', 'Binlog Dump GTID', 'Slave_IO', 'Slave_SQL', 'Slave_worker'))
STATUS = ('Threads_connected', 'Threads_running', 'Max_used_connections', 'Aborted_clients', 'Aborted_connects',
          'Connection_errors_max_connections', 'Connections')
LISTED_THREADS = 20
TEXT = 300


def read(db, query_error):
    """A snapshot of the server: {server, variables, status, processes, transactions, lock_waits, views, ...}.

    ``query_error`` is the library's exception class; an error of a view the login may not read (or the server
    lacks) is recorded in ``missing``, not raised, so the inventory says what it could not see.
    """
    snapshot = dict(missing={})
    row = db.query('SELECT CONNECTION_ID() AS own_id, VERSION() AS version, @@hostname AS hostname, '
                   '@@GLOBAL.wait_timeout AS wait_timeout, @@GLOBAL.interactive_timeout AS interactive_timeout, '
                   '@@GLOBAL.max_connections AS max_connections, '
                   '@@GLOBAL.innodb_lock_wait_timeout AS innodb_lock_wait_timeout')[0]
    snapshot['own_id'] = int(row.pop('own_id'))
    snapshot['server'] = dict(version=row.pop('version'), hostname=row.pop('hostname'))
    snapshot['variables'] = {name: int(value) for name, value in row.items()}
    names = ', '.join(f"'{name}'" for name in STATUS)
    snapshot['status'] = {item['Variable_name'].lower(): int(item['Value']) for item in db.query(
        f'SHOW GLOBAL STATUS WHERE Variable_name IN ({names})')}
    present = {(item['schema_name'], item['table_name']) for item in db.query(
        'SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS table_name FROM information_schema.TABLES '
        "WHERE TABLE_SCHEMA IN ('information_schema', 'performance_schema') AND TABLE_NAME IN "
        f"({', '.join(repr(name) for _schema, name in VIEWS)})")}
    snapshot['views'] = sorted(f'{schema}.{name}' for schema, name in present)
    snapshot['processes'] = db.query(
        'SELECT ID AS id, USER AS user, HOST AS host, DB AS db, COMMAND AS command, TIME AS time, STATE AS state, '
        f'LEFT(INFO, {TEXT}) AS info FROM information_schema.PROCESSLIST')
    snapshot['thread_wait_timeouts'] = _optional(snapshot, 'per_thread_wait_timeout', query_error, lambda: {
        int(item['id']): int(item['value']) for item in db.query(
            'SELECT t.PROCESSLIST_ID AS id, v.VARIABLE_VALUE AS value FROM performance_schema.variables_by_thread v '
            "JOIN performance_schema.threads t USING (THREAD_ID) WHERE v.VARIABLE_NAME = 'wait_timeout' "
            'AND t.PROCESSLIST_ID IS NOT NULL')})
    if ('information_schema', 'INNODB_TRX') in present:
        snapshot['transactions'] = _optional(snapshot, 'transactions', query_error, lambda: db.query(
            'SELECT trx_id, trx_state AS state, trx_mysql_thread_id AS thread_id, '
            'TIMESTAMPDIFF(SECOND, trx_started, NOW()) AS age, '
            'TIMESTAMPDIFF(SECOND, trx_wait_started, NOW()) AS waiting, trx_rows_locked AS rows_locked, '
            f'trx_rows_modified AS rows_modified, LEFT(trx_query, {TEXT}) AS query FROM information_schema.INNODB_TRX'))
    else:
        snapshot['transactions'] = None
        snapshot['missing']['transactions'] = 'the server has no information_schema.INNODB_TRX'
    snapshot['lock_waits'] = None
    if ('information_schema', 'INNODB_LOCK_WAITS') in present:
        details = ('information_schema', 'INNODB_LOCKS') in present
        snapshot['lock_wait_view'] = 'information_schema.INNODB_LOCK_WAITS'
        snapshot['lock_waits'] = _optional(snapshot, 'lock_waits', query_error, lambda: db.query(
            'SELECT w.requesting_trx_id AS waiting_trx, w.blocking_trx_id AS blocking_trx, '
            + ('l.lock_table AS lock_table, l.lock_index AS lock_index, l.lock_mode AS lock_mode '
               'FROM information_schema.INNODB_LOCK_WAITS w LEFT JOIN information_schema.INNODB_LOCKS l '
               'ON l.lock_id = w.requested_lock_id' if details else
               'NULL AS lock_table, NULL AS lock_index, NULL AS lock_mode FROM information_schema.INNODB_LOCK_WAITS w')))
    elif ('performance_schema', 'data_lock_waits') in present:
        snapshot['lock_wait_view'] = 'performance_schema.data_lock_waits'
        snapshot['lock_waits'] = _optional(snapshot, 'lock_waits', query_error, lambda: db.query(
            'SELECT w.REQUESTING_ENGINE_TRANSACTION_ID AS waiting_trx, w.BLOCKING_ENGINE_TRANSACTION_ID AS blocking_trx, '
            "CONCAT(l.OBJECT_SCHEMA, '.', l.OBJECT_NAME) AS lock_table, l.INDEX_NAME AS lock_index, "
            'l.LOCK_MODE AS lock_mode FROM performance_schema.data_lock_waits w LEFT JOIN performance_schema.data_locks l '
            'ON l.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID'))
    else:
        snapshot['lock_wait_view'] = None
        snapshot['missing']['lock_waits'] = ('the server has neither information_schema.INNODB_LOCK_WAITS nor '
                                             'performance_schema.data_lock_waits: waits are taken from INNODB_TRX, '
                                             'without the blocking transaction')
    return snapshot


def _optional(snapshot, what, query_error, read_view):
    try:
        return read_view()
    except query_error as error:
        code = error.args[0] if error.args else None
        if code not in NOT_ALLOWED | NOT_THERE:
            raise
        snapshot['missing'][what] = f'not readable: {error.args[1] if len(error.args) > 1 else error}'
        if code in NOT_ALLOWED:
            snapshot['missing'][what] += ' (the login needs the PROCESS privilege)'
        return None


def services_from_configs(texts):
    """[{name, user, databases, connection_recycle_time, source}] of each database section with a connection.

    ``texts`` is [(path, text)] of oslo.config files (nova.conf, placement.conf, ...); the user and database come from
    the section's ``connection`` URL, the recycle time from ``connection_recycle_time`` (oslo.db's 3600 when unset).
    """
    services = []
    for path, text in texts:
        values = oslo_ini.read(text, path)
        recycles = {entry['section']: entry for entry in recycle_times(text, path)}
        for section in DATABASE_SECTIONS:
            if section not in recycles:
                continue
            url = urlsplit(values[(section, 'connection')].strip())
            user = unquote(url.username or '')
            database = unquote(url.path.lstrip('/'))
            stem = path.rstrip('/').rpartition('/')[2].rpartition('.')[0] or path
            services.append(dict(name=f'{stem} [{section}]', user=user, databases=[database] if database else [],
                                 connection_recycle_time=recycles[section]['recycle'],
                                 default=recycles[section]['default'], source=path))
    return services


def client_host(host):
    """The client address of a PROCESSLIST host, without the client's port (``10.0.0.5:41234`` -> ``10.0.0.5``)."""
    if not host:
        return host
    address, _sep, port = host.rpartition(':')
    return address if address and port.isdigit() else host


def is_system(process):
    return process['user'] in SYSTEM_USERS or process['command'] in SYSTEM_COMMANDS or not process['user']


def inventory(snapshot, services, default_recycle_time=OSLO_DEFAULT_RECYCLE, haproxy_timeout=None,
              long_transaction_seconds=60, max_connections_ratio=0.8, max_listed=200):
    """The grouped connections, their services and the findings, from one snapshot (``read``)."""
    variables = snapshot['variables']
    global_wait = variables['wait_timeout']
    per_thread = snapshot.get('thread_wait_timeouts') or {}
    trx_by_thread = {int(trx['thread_id']): trx for trx in snapshot['transactions'] or []
                     if int(trx['thread_id']) != snapshot['own_id']}
    services = [dict(service, databases=list(service.get('databases') or []),
                     connection_recycle_time=int(service.get('connection_recycle_time', OSLO_DEFAULT_RECYCLE)))
                for service in services]
    other = None
    if default_recycle_time is not None:
        other = dict(name='(other users)', user=None, databases=[], connection_recycle_time=int(default_recycle_time),
                     default=True, source='default_recycle_time')

    connections, system = [], 0
    for process in snapshot['processes']:
        if int(process['id']) == snapshot['own_id']:
            continue
        if is_system(process):
            system += 1
            continue
        service = _service_of(process, services) or other
        thread = int(process['id'])
        connections.append(dict(
            id=thread, user=process['user'], host=client_host(process['host']), db=process['db'],
            command=process['command'], time=int(process['time'] or 0), state=process['state'] or '',
            info=process['info'], service=service['name'] if service else None,
            wait_timeout=per_thread.get(thread, global_wait), in_transaction=thread in trx_by_thread))
    by_id = {item['id']: item for item in connections}

    groups = {}
    for item in connections:
        key = (item['user'], item['host'], item['db'], item['command'])
        group = groups.setdefault(key, dict(user=item['user'], host=item['host'], db=item['db'],
                                            command=item['command'], service=item['service'], count=0, time_max=0,
                                            idle_max=None, in_transaction=0))
        group['count'] += 1
        group['time_max'] = max(group['time_max'], item['time'])
        if item['command'] == 'Sleep':
            group['idle_max'] = max(group['idle_max'] or 0, item['time'])
        group['in_transaction'] += item['in_transaction']

    findings = []
    service_rows = []
    for service in services + ([other] if other else []):
        own = [item for item in connections if item['service'] == service['name']]
        if service is other and not own:
            continue
        idle = [item for item in own if item['command'] == 'Sleep']
        wait_timeout = min([item['wait_timeout'] for item in own] or [global_wait])
        row = dict(service, connections=len(own), idle=len(idle),
                   idle_max=max([item['time'] for item in idle] or [0]), wait_timeout=wait_timeout)
        service_rows.append(row)
        recycle = service['connection_recycle_time']
        if recycle >= wait_timeout:
            short = [item['id'] for item in own if item['wait_timeout'] <= recycle]
            findings.append(_finding(
                'wait_timeout_below_recycle', short, service=service['name'],
                message=(f"{service['name']}: connection_recycle_time {recycle} >= wait_timeout {wait_timeout} of "
                         f"{len(short) if own else 'its'} connection(s): MariaDB closes pooled connections before "
                         "oslo.db recycles them, and the service then fails on them ('Lost connection to MySQL "
                         "server', 'closed connection')")))
        held = sorted((item for item in idle if item['time'] > recycle), key=lambda item: -item['time'])
        if held:
            findings.append(_finding(
                'long_held', [item['id'] for item in held], service=service['name'],
                message=(f"{service['name']}: {len(held)} connection(s) idle longer than connection_recycle_time "
                         f"{recycle} (longest {held[0]['time']} s): long-held connections, the trigger seed 003 "
                         "names; each holds a slot of max_connections until it is used, recycled or cut")))

    if haproxy_timeout is not None:
        if global_wait >= haproxy_timeout:
            findings.append(_finding(
                'wait_timeout_above_haproxy', [],
                message=(f'wait_timeout {global_wait} >= haproxy timeout {_number(haproxy_timeout)}: haproxy cuts '
                         'idle connections before MariaDB closes them, under the services\' pools (seed 003)')))
        cut = sorted((item for item in connections if item['command'] == 'Sleep' and item['time'] > haproxy_timeout),
                     key=lambda item: -item['time'])
        if cut:
            findings.append(_finding(
                'idle_beyond_haproxy', [item['id'] for item in cut],
                message=(f'{len(cut)} connection(s) idle longer than the haproxy timeout {_number(haproxy_timeout)} '
                         f'(longest {cut[0]["time"]} s): those that came through haproxy are cut on the client side, '
                         "and the service's next use of them fails ('Lost connection to MySQL server')")))

    transactions = []
    for trx in snapshot['transactions'] or []:
        thread = int(trx['thread_id'])
        if thread == snapshot['own_id']:   # the inventory's own read view
            continue
        item = by_id.get(thread, {})
        transactions.append(dict(
            trx_id=str(trx['trx_id']), thread_id=thread, state=trx['state'], age=int(trx['age'] or 0),
            waiting=None if trx['waiting'] is None else int(trx['waiting']), rows_locked=int(trx['rows_locked'] or 0),
            rows_modified=int(trx['rows_modified'] or 0), query=trx['query'], user=item.get('user'),
            host=item.get('host'), db=item.get('db'), service=item.get('service'),
            idle=item.get('command') == 'Sleep', idle_time=item.get('time') if item.get('command') == 'Sleep' else 0))
    transactions.sort(key=lambda trx: -trx['age'])
    old = [trx for trx in transactions if trx['age'] >= long_transaction_seconds]
    idle_old = [trx for trx in old if trx['idle']]
    busy_old = [trx for trx in old if not trx['idle']]
    if idle_old:
        findings.append(_finding(
            'idle_in_transaction', [trx['thread_id'] for trx in idle_old],
            message=(f'{len(idle_old)} connection(s) idle inside a transaction open for at least '
                     f'{long_transaction_seconds} s (longest {idle_old[0]["age"]} s, '
                     f'{sum(trx["rows_locked"] for trx in idle_old)} row(s) locked): their locks stay until the client '
                     "commits; cut by a timeout, the client gets 'Transaction error, need to rollback'")))
    if busy_old:
        findings.append(_finding(
            'long_transaction', [trx['thread_id'] for trx in busy_old],
            message=(f'{len(busy_old)} transaction(s) running for at least {long_transaction_seconds} s '
                     f'(longest {busy_old[0]["age"]} s)')))

    lock_waits = _lock_waits(snapshot, transactions)
    if lock_waits:
        longest = max(wait['waiting_seconds'] or 0 for wait in lock_waits)
        findings.append(_finding(
            'lock_wait', [wait['waiting_thread'] for wait in lock_waits],
            message=(f"{len(lock_waits)} lock wait(s) (longest {longest} s of innodb_lock_wait_timeout "
                     f"{variables['innodb_lock_wait_timeout']}); blocked by thread(s) "
                     f"{', '.join(str(thread) for thread in sorted({w['blocking_thread'] for w in lock_waits} - {None})) or 'unknown'}")))

    status = snapshot['status']
    total = status.get('threads_connected', len(connections) + system + 1)
    ratio = total / variables['max_connections'] if variables['max_connections'] else 0
    if ratio >= max_connections_ratio:
        findings.append(_finding(
            'connections_near_max', [],
            message=(f"{total} connections of max_connections {variables['max_connections']} ({ratio:.0%}): "
                     'new logins fail once it is reached')))

    connections.sort(key=lambda item: (-(item['command'] == 'Sleep'), -item['time']))
    totals = dict(connections=len(connections), system_threads=system, threads_connected=total,
                  max_connections=variables['max_connections'], used_ratio=round(ratio, 4),
                  idle=sum(item['command'] == 'Sleep' for item in connections),
                  idle_max=max([item['time'] for item in connections if item['command'] == 'Sleep'] or [0]),
                  transactions=None if snapshot['transactions'] is None else len(transactions),
                  lock_waits=len(lock_waits), findings=len(findings))
    return dict(
        totals=totals, services=service_rows,
        groups=sorted(groups.values(), key=lambda group: (-group['count'], str(group['user']), str(group['host']),
                                                          str(group['db']), group['command'])),
        connections=connections[:max_listed], connections_truncated=len(connections) > max_listed,
        transactions=transactions, lock_waits=lock_waits, findings=findings)


def _service_of(process, services):
    for service in services:
        if process['user'] == service['user'] and (not service['databases'] or process['db'] in service['databases']):
            return service
    return None


def _lock_waits(snapshot, transactions):
    by_trx = {trx['trx_id']: trx for trx in transactions}
    waits = []
    if snapshot['lock_waits'] is not None:
        for wait in snapshot['lock_waits']:
            waiting = by_trx.get(str(wait['waiting_trx']), {})
            blocking = by_trx.get(str(wait['blocking_trx']), {})
            waits.append(dict(
                waiting_trx=str(wait['waiting_trx']), waiting_thread=waiting.get('thread_id'),
                waiting_user=waiting.get('user'), waiting_seconds=waiting.get('waiting'),
                waiting_query=waiting.get('query'), blocking_trx=str(wait['blocking_trx']),
                blocking_thread=blocking.get('thread_id'), blocking_user=blocking.get('user'),
                blocking_idle=blocking.get('idle'), blocking_age=blocking.get('age'), lock_table=wait['lock_table'],
                lock_index=wait['lock_index'], lock_mode=wait['lock_mode']))
    else:
        for trx in transactions:
            if trx['state'] == 'LOCK WAIT':
                waits.append(dict(
                    waiting_trx=trx['trx_id'], waiting_thread=trx['thread_id'], waiting_user=trx['user'],
                    waiting_seconds=trx['waiting'], waiting_query=trx['query'], blocking_trx=None,
                    blocking_thread=None, blocking_user=None, blocking_idle=None, blocking_age=None, lock_table=None,
                    lock_index=None, lock_mode=None))
    return waits


def _finding(kind, threads, message, service=None):
    return dict(kind=kind, service=service, message=message, count=len(threads), threads=threads[:LISTED_THREADS])


def _number(seconds):
    return int(seconds) if float(seconds).is_integer() else seconds

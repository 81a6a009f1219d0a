#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: mariadb_connection_info
short_description: Inventory a MariaDB/Galera node's connections, open transactions and lock waits
version_added: 0.1.0
description:
  - Takes one snapshot of the server it logs in to (one node of a Galera cluster) and returns its client connections
    grouped per user, client host, database and command, with their idle time against C(wait_timeout) and against the
    C(connection_recycle_time) of the service each belongs to; InnoDB's open transactions (C(information_schema.INNODB_TRX))
    and lock waits (C(information_schema.INNODB_LOCK_WAITS) and C(INNODB_LOCKS) on MariaDB 10.x, or
    C(performance_schema.data_lock_waits) where the server has that instead); totals against C(max_connections).
  - "Flags what seed 003 of this collection describes (nova-conductors stuck on dead database connections) in
    RV(findings): C(wait_timeout_below_recycle) (MariaDB closes a service's pooled connections before oslo.db recycles
    them), C(long_held) (connections idle longer than their service's recycle time), C(wait_timeout_above_haproxy) and
    C(idle_beyond_haproxy) (haproxy cuts idle connections under the pools; only with O(haproxy_timeout)),
    C(idle_in_transaction) and C(long_transaction) (transactions open at least O(long_transaction_seconds)),
    C(lock_wait), and C(connections_near_max)."
  - A connection belongs to the first service of O(services) (then of O(service_configs)) whose user, and databases
    when given, match it; any other client connection is judged against O(default_recycle_time).
  - C(wait_timeout) is each connection's own value where the server publishes it
    (C(performance_schema.variables_by_thread), with the performance schema on), else the global value.
  - The login needs the C(PROCESS) privilege to see other users' connections and InnoDB's transactions; without it
    the module still answers, says what it could not read in RV(missing) and warns.
  - Reads only; never kills a connection.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  services:
    description:
      - The services that pool connections to the server, each by its database user.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The service's name in the results (V(nova), V(placement)).
        type: str
        required: true
      user:
        description: The database user it logs in as.
        type: str
        required: true
      databases:
        description: Only its connections to these databases (empty - any).
        type: list
        elements: str
        default: []
      connection_recycle_time:
        description: Its oslo.db C([database] connection_recycle_time), in seconds.
        type: int
        default: 3600
  service_configs:
    description:
      - oslo.config files on the host the module runs on (V(/etc/nova/nova.conf), V(/etc/placement/placement.conf)).
        Each C([database]), C([api_database]) or C([placement_database]) section with a C(connection) is a service,
        whose user and database come from the connection URL and whose recycle time is its
        C(connection_recycle_time) (oslo.db's 3600 when unset). A missing file fails the task.
    type: list
    elements: path
    default: []
  default_recycle_time:
    description:
      - The recycle time the connections of no listed service are judged against (oslo.db's default). V(0) leaves
        them unjudged.
    type: int
    default: 3600
  haproxy_timeout:
    description:
      - The smallest C(timeout client) / C(timeout server) of the haproxy section in front of Galera, in seconds.
        Unset skips the haproxy findings.
    type: float
  long_transaction_seconds:
    description:
      - A transaction open this long or longer is a finding.
    type: int
    default: 60
  max_connections_ratio:
    description:
      - Connections at this share of C(max_connections) or above are a finding.
    type: float
    default: 0.8
  max_listed:
    description:
      - At most this many connections in RV(connections) (the idle ones first, longest idle first); the groups and
        totals always count all of them.
    type: int
    default: 200
  fail_on_findings:
    description:
      - Fail the task when there is any finding (after returning everything found).
    type: bool
    default: false
extends_documentation_fragment:
  - openstack_ops.runbooks.mariadb
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.INFO_MODULE
attributes:
  action_group:
    support: full
    membership:
      - openstack_ops.runbooks.mariadb
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - Any host that reaches the node; O(service_configs) are read on that host.
seealso:
  - module: openstack_ops.runbooks.galera_timeouts
  - module: openstack_ops.runbooks.mariadb_server_info
  - name: MariaDB information_schema.INNODB_LOCK_WAITS
    description: The lock wait view MariaDB 10.x offers.
    link: https://mariadb.com/kb/en/information-schema-innodb_lock_waits-table/
'''

EXAMPLES = r'''
- name: Inventory one Galera node's connections, nova's recycle time read from nova.conf
  openstack_ops.runbooks.mariadb_connection_info:
    login_host: 192.0.2.11
    login_user: ops
    login_password: "{{ ops_db_password }}"
    service_configs: [/etc/nova/nova.conf]
    haproxy_timeout: 5400
  register: connections

- name: Services named by hand (kolla-ansible's users)
  openstack_ops.runbooks.mariadb_connection_info:
    login_unix_socket: /var/run/mysqld/mysqld.sock
    services:
      - {name: nova, user: nova, databases: [nova, nova_cell0]}
      - {name: nova_api, user: nova_api}
      - {name: placement, user: placement, connection_recycle_time: 600}
'''

RETURN = r'''
server:
  description: The node logged in to - C(where) (socket or host:port), C(version), C(hostname).
  returned: always
  type: dict
  sample: {"where": "192.0.2.11:3306", "version": "10.11.11-MariaDB-0+deb12u1", "hostname": "ctl1"}
variables:
  description: The global C(wait_timeout), C(interactive_timeout), C(max_connections) and C(innodb_lock_wait_timeout).
  returned: always
  type: dict
  sample: {"wait_timeout": 28800, "interactive_timeout": 28800, "max_connections": 4096, "innodb_lock_wait_timeout": 50}
status:
  description: >-
    Global status counters, lower case - C(threads_connected), C(threads_running), C(max_used_connections),
    C(aborted_clients) (connections closed by wait_timeout or cut under the client), C(aborted_connects),
    C(connection_errors_max_connections), C(connections).
  returned: always
  type: dict
views:
  description: The transaction and lock views the server has (C(schema.TABLE)).
  returned: always
  type: list
  elements: str
  sample: ["information_schema.INNODB_LOCKS", "information_schema.INNODB_LOCK_WAITS", "information_schema.INNODB_TRX"]
lock_wait_view:
  description: The view the lock waits were read from; null when the server has none (waits then come from INNODB_TRX).
  returned: always
  type: str
missing:
  description: What could not be read and why (a view the server lacks, a missing PROCESS privilege).
  returned: always
  type: dict
totals:
  description: >-
    C(connections) (client connections, the module's own left out), C(system_threads), C(threads_connected),
    C(max_connections), C(used_ratio), C(idle), C(idle_max) (seconds), C(transactions) (null when unreadable),
    C(lock_waits), C(findings).
  returned: always
  type: dict
services:
  description: >-
    Each service with C(name), C(user), C(databases), C(connection_recycle_time), C(source), its C(connections),
    C(idle), C(idle_max) and the smallest C(wait_timeout) of its connections; C((other users)) when other client
    connections were judged against O(default_recycle_time).
  returned: always
  type: list
  elements: dict
groups:
  description: >-
    Connections per C(user), C(host) (client address, without its port), C(db) and C(command), with C(service),
    C(count), C(time_max) (seconds in the current command), C(idle_max) (seconds idle, null when none sleeps) and
    C(in_transaction) (how many have a transaction open).
  returned: always
  type: list
  elements: dict
  sample: [{"user": "nova", "host": "192.0.2.21", "db": "nova", "command": "Sleep", "service": "nova", "count": 40,
            "time_max": 5123, "idle_max": 5123, "in_transaction": 0}]
connections:
  description: >-
    Client connections (at most O(max_listed), idle ones first, longest idle first) - C(id), C(user), C(host), C(db),
    C(command), C(time), C(state), C(info), C(service), C(wait_timeout), C(in_transaction).
  returned: always
  type: list
  elements: dict
connections_truncated:
  description: Whether RV(connections) was cut at O(max_listed).
  returned: always
  type: bool
transactions:
  description: >-
    InnoDB's open transactions, oldest first - C(trx_id), C(thread_id), C(state), C(age), C(waiting) (seconds in a
    lock wait, else null), C(rows_locked), C(rows_modified), C(query), the connection's C(user), C(host), C(db),
    C(service), C(idle) (its connection sleeps) and C(idle_time).
  returned: always
  type: list
  elements: dict
lock_waits:
  description: >-
    Each waiting transaction and what blocks it - C(waiting_trx), C(waiting_thread), C(waiting_user),
    C(waiting_seconds), C(waiting_query), C(blocking_trx), C(blocking_thread), C(blocking_user), C(blocking_idle),
    C(blocking_age), C(lock_table), C(lock_index), C(lock_mode).
  returned: always
  type: list
  elements: dict
findings:
  description: >-
    What seed 003 describes, each with C(kind), C(service) (or null), C(message), C(count) and C(threads) (at most 20
    thread ids).
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "wait_timeout_below_recycle", "service": "nova [database]", "count": 12, "threads": [101, 102],
            "message": "nova [database]: connection_recycle_time 3600 >= wait_timeout 600 of 12 connection(s): ..."}]
msg:
  description: One line - connections, max_connections, transactions, lock waits and the finding kinds.
  returned: always
  type: str
'''

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_connections
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


class MariadbConnectionInfo(OpsModule):
    argument_spec = dict(
        services=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            user=dict(type='str', required=True),
            databases=dict(type='list', elements='str', default=[]),
            connection_recycle_time=dict(type='int', default=3600),
        )),
        service_configs=dict(type='list', elements='path', default=[]),
        default_recycle_time=dict(type='int', default=3600),
        haproxy_timeout=dict(type='float'),
        long_transaction_seconds=dict(type='int', default=60),
        max_connections_ratio=dict(type='float', default=0.8),
        max_listed=dict(type='int', default=200),
        fail_on_findings=dict(type='bool', default=False),
    )
    module_kwargs = dict(supports_check_mode=True)
    option_families = ('mariadb',)
    option_minimums = dict(default_recycle_time=0, haproxy_timeout=0, long_transaction_seconds=0, max_listed=0)

    def run(self):
        params = self.params
        services = list(params['services']) + mariadb_connections.services_from_configs(
            [(path, _read(path)) for path in params['service_configs']])
        snapshot = mariadb_connections.read(self.mariadb, mariadb.ERRORS)
        found = mariadb_connections.inventory(
            snapshot, services, default_recycle_time=params['default_recycle_time'] or None,
            haproxy_timeout=params['haproxy_timeout'], long_transaction_seconds=params['long_transaction_seconds'],
            max_connections_ratio=params['max_connections_ratio'], max_listed=params['max_listed'])
        for what, why in snapshot['missing'].items():
            if what != 'per_thread_wait_timeout':
                self.warn(f'{what}: {why}')
        totals = found['totals']
        kinds = sorted({finding['kind'] for finding in found['findings']})
        msg = (f"{totals['threads_connected']} of max_connections {totals['max_connections']} connected "
               f"({totals['connections']} client connections, {totals['idle']} idle, longest {totals['idle_max']} s); "
               f"{'?' if totals['transactions'] is None else totals['transactions']} open transaction(s), "
               f"{totals['lock_waits']} lock wait(s); findings: {', '.join(kinds) or 'none'}")
        result = dict(changed=False, msg=msg, server=dict(snapshot['server'], where=self.mariadb.where),
                      variables=snapshot['variables'], status=snapshot['status'], views=snapshot['views'],
                      lock_wait_view=snapshot['lock_wait_view'], missing=snapshot['missing'], **found)
        if found['findings'] and params['fail_on_findings']:
            raise OpsError(f"{self.mariadb.where}: {len(found['findings'])} finding(s): "
                           + '; '.join(finding['message'] for finding in found['findings']),
                           **{key: value for key, value in result.items() if key not in ('msg', 'changed')})
        return result


def _read(path):
    try:
        with open(path, encoding='utf-8') as handle:
            return handle.read()
    except OSError as error:
        raise OpsError(f'cannot read the service configuration {path}: {error.strerror}', path=path) from error


def main():
    MariadbConnectionInfo()()


if __name__ == '__main__':
    main()

#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: galera_timeouts
short_description: Check that services recycle DB connections before MariaDB drops them, and MariaDB before haproxy
version_added: 0.1.0
description:
  - Checks the order of the idle-connection timeouts between the OpenStack services and Galera, which seed 003 of this
    collection broke (C(closed connection) and C(sql timeout) errors in nova-conductor) -
    oslo.db C(connection_recycle_time) < MariaDB C(wait_timeout) < haproxy C(timeout client) and C(timeout server)
    of the Galera section.
  - C(connection_recycle_time) is read from the C([database]), C([api_database]) and C([placement_database]) sections
    (those with a C(connection)) of each file in O(service_configs); unset is the oslo.db default, 3600 seconds. The
    largest one counts.
  - The haproxy timeouts are those of the sections named in O(haproxy_sections), or of the C(defaults) section before
    them; for a C(backend) the client timeout is that of the frontends naming it. The smallest one counts.
  - C(wait_timeout) is O(wait_timeout) when given (a value about to be set), else the server's global value.
  - Fails with a message naming the three numbers when the order does not hold, unless O(fail=false).
  - Reads only.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  wait_timeout:
    description:
      - The MariaDB C(wait_timeout) to check, in seconds. Unset reads the global value from the server of the login
        options.
    type: int
  service_configs:
    description:
      - oslo.config files of the services that pool connections to Galera. A missing file fails the task.
    type: list
    elements: path
    default: [/etc/nova/nova.conf, /etc/placement/placement.conf]
  haproxy_config:
    description:
      - The haproxy configuration in front of Galera.
    type: path
    default: /etc/haproxy/haproxy.cfg
  haproxy_sections:
    description:
      - Names of the C(listen) or C(backend) sections that carry the Galera traffic (kolla-ansible - V(mariadb)). Each
        must exist.
    type: list
    elements: str
    default: [mariadb]
  fail:
    description:
      - Fail the task when the order does not hold. V(false) only reports it in RV(holds) and RV(msg).
    type: bool
    default: true
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
      - A controller that holds the service configurations and the haproxy configuration.
seealso:
  - module: openstack_ops.runbooks.mariadb_variables
  - module: openstack_ops.runbooks.haproxy_sections
  - name: oslo.db configuration options
    description: connection_recycle_time and its default.
    link: https://docs.openstack.org/oslo.db/latest/reference/opts.html
'''

EXAMPLES = r'''
- name: The timeouts of this controller's stack are in order
  openstack_ops.runbooks.galera_timeouts:
    haproxy_sections: [mariadb]

- name: Would wait_timeout 28800 be in order? (before setting it)
  openstack_ops.runbooks.galera_timeouts:
    wait_timeout: 28800
    fail: false
  register: order
'''

RETURN = r'''
holds:
  description: Whether connection_recycle_time < wait_timeout < haproxy timeout.
  returned: always
  type: bool
msg:
  description: The three numbers, where each comes from, and what goes wrong when the order does not hold.
  returned: always
  type: str
  sample: >-
    does not hold - connection_recycle_time 3600 (/etc/nova/nova.conf [database], the oslo.db default)
    < MariaDB wait_timeout 28800 < haproxy timeout 5400 (timeout client 90m of mariadb)
connection_recycle_time:
  description: The largest connection_recycle_time found, in seconds.
  returned: always
  type: int
wait_timeout:
  description: The wait_timeout checked, in seconds.
  returned: always
  type: int
haproxy_timeout:
  description: The smallest haproxy client or server timeout of the sections, in seconds; null when none is set.
  returned: always
  type: float
recycle_times:
  description: Every connection_recycle_time found, with its file and section.
  returned: always
  type: list
  elements: dict
haproxy_timeouts:
  description: Every client and server timeout of the sections, with where it is set.
  returned: always
  type: list
  elements: dict
'''

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_timeouts
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


class GaleraTimeouts(OpsModule):
    argument_spec = dict(
        wait_timeout=dict(type='int'),
        service_configs=dict(type='list', elements='path', default=['/etc/nova/nova.conf', '/etc/placement/placement.conf']),
        haproxy_config=dict(type='path', default='/etc/haproxy/haproxy.cfg'),
        haproxy_sections=dict(type='list', elements='str', default=['mariadb']),
        fail=dict(type='bool', default=True),
    )
    module_kwargs = dict(supports_check_mode=True)
    option_families = ('mariadb',)

    def run(self):
        if not self.params['service_configs'] or not self.params['haproxy_sections']:
            raise OpsError('service_configs and haproxy_sections must each name at least one')
        recycles = []
        for path in self.params['service_configs']:
            recycles.extend(mariadb_timeouts.recycle_times(_read(path, 'service configuration'), path))
        timeouts = mariadb_timeouts.haproxy_timeouts(_read(self.params['haproxy_config'], 'haproxy configuration'),
                                                     self.params['haproxy_sections'], self.params['haproxy_config'])
        wait_timeout = self.params['wait_timeout']
        if wait_timeout is None:
            wait_timeout = self._server_wait_timeout()
        holds, msg = mariadb_timeouts.check(recycles, wait_timeout, timeouts)
        limited = [entry['seconds'] for entry in timeouts if entry['seconds'] is not None]
        result = dict(changed=False, holds=holds, msg=msg, wait_timeout=wait_timeout,
                      connection_recycle_time=max(entry['recycle'] for entry in recycles),
                      haproxy_timeout=min(limited) if limited else None,
                      recycle_times=recycles, haproxy_timeouts=timeouts)
        if not holds and self.params['fail']:
            raise OpsError(f'the idle-connection timeouts are out of order: {msg}',
                           **{key: value for key, value in result.items() if key != 'msg'})
        return result

    def _server_wait_timeout(self):
        try:
            return int(self.mariadb.query('SELECT @@GLOBAL.wait_timeout AS value')[0]['value'])
        except mariadb.ERRORS as error:
            raise OpsError(f'cannot read wait_timeout from the server: {error}') from error


def _read(path, what):
    try:
        with open(path, encoding='utf-8') as handle:
            return handle.read()
    except OSError as error:
        raise OpsError(f'cannot read the {what} {path}: {error.strerror}', path=path) from error


def main():
    GaleraTimeouts()()


if __name__ == '__main__':
    main()

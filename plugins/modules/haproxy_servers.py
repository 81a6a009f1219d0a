#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: haproxy_servers
short_description: Put several haproxy backend servers in maintenance, or back in service, in one call
version_added: 0.1.0
description:
  - Reads the servers of one backend through haproxy's admin socket (C(show servers state)) and sets the admin
    state of the named ones (C(set server <backend>/<server> state maint|ready)), all in one command line.
  - Closing an API's entrance on a controller is one call, where M(community.general.haproxy) takes one per server.
  - Every server name is checked against the backend before anything is sent, so a typo changes nothing.
  - Runs on the load balancer, next to the socket; needs only Python's standard library.
  - Changes apply to the running haproxy only; a reload or restart resets them to the configuration's states.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  socket:
    description:
      - Path of haproxy's admin socket (a C(stats socket ... level admin) line in the configuration).
    type: path
    required: true
  backend:
    description:
      - Name of the backend, such as V(nova_api_back).
    type: str
    required: true
  servers:
    description:
      - Names of the backend's servers to change. Empty means every server of the backend.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(disabled) puts the servers in maintenance (no new connection is sent to them).
      - V(enabled) takes them out of maintenance and out of drain.
      - V(present) changes nothing and reports the servers' states.
    type: str
    choices: [disabled, enabled, present]
    default: present
  timeout:
    description:
      - Seconds to wait for the socket's answer.
    type: int
    default: 10
extends_documentation_fragment:
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.NO_ACTION_GROUP
attributes:
  check_mode:
    support: full
    details:
      - Reports the servers that would change; sends nothing.
  diff_mode:
    support: full
    details:
      - Shows each server's admin state before and after.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - The host that runs haproxy (or a host that can reach its admin socket file).
seealso:
  - module: community.general.haproxy
  - name: haproxy management guide
    description: The admin socket's C(show servers state) and C(set server) commands.
    link: https://docs.haproxy.org/2.6/management.html#9.3
'''

EXAMPLES = r'''
- name: Close the nova-api entrance on every load balancer
  openstack_ops.runbooks.haproxy_servers:
    socket: /run/haproxy/admin.sock
    backend: nova_api_back
    state: disabled
  delegate_to: "{{ item }}"
  loop: "{{ groups['controllers'] }}"

- name: Which placement servers are up?
  openstack_ops.runbooks.haproxy_servers:
    socket: /run/haproxy/admin.sock
    backend: placement_api_back
  register: placement_servers

- name: Every placement server is up
  ansible.builtin.assert:
    that: placement_servers.servers | rejectattr('operational', 'eq', 'up') | list | length == 0
'''

RETURN = r'''
servers:
  description:
    - The servers of the backend after the change (the planned states in check mode), in configuration order.
    - C(admin) is V(ready), V(drain) or V(maint); C(operational) is haproxy's view from its health checks
      (V(up), V(down), V(starting), V(stopping)).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "ctl1", "address": "10.0.0.11", "port": 8774, "admin": "maint", "operational": "up"}]
changed_servers:
  description: Names of the servers whose admin state was (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
  sample: [ctl1, ctl2]
'''

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.haproxy_socket import AdminSocket

# state option -> the admin state asked of haproxy
ADMIN_STATES = {'disabled': 'maint', 'enabled': 'ready'}


class HaproxyServers(OpsModule):
    argument_spec = dict(
        socket=dict(type='path', required=True),
        backend=dict(type='str', required=True),
        servers=dict(type='list', elements='str', default=[]),
        state=dict(type='str', choices=['disabled', 'enabled', 'present'], default='present'),
        timeout=dict(type='int', default=10),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        admin_socket = AdminSocket(self.params['socket'], timeout=self.params['timeout'])
        backend = self.params['backend']
        before = admin_socket.servers(backend)
        known = [server['name'] for server in before]
        unknown = [name for name in self.params['servers'] if name not in known]
        if unknown:
            raise OpsError(f"backend {backend!r} has no server {', '.join(unknown)} (its servers: {', '.join(known)})",
                           backend=backend, unknown=unknown)
        wanted = ADMIN_STATES.get(self.params['state'])
        targets = self.params['servers'] or known
        # only forced maintenance is ours to lift; maintenance from a health check or DNS is not
        to_change = [server['name'] for server in before if wanted and server['name'] in targets
                     and (server['admin'] != wanted if wanted == 'maint' else server['forced_maint'] or server['admin'] == 'drain')]

        after = before
        if to_change and not self.check_mode:
            admin_socket.set_admin_state(backend, to_change, wanted)
            after = admin_socket.servers(backend)
        elif to_change:
            after = [dict(server, admin=wanted) if server['name'] in to_change else server for server in before]

        result = dict(changed=bool(to_change), servers=[_public(server) for server in after], changed_servers=to_change)
        if self.diff_mode:
            result['diff'] = dict(before=_admin_lines(before), after=_admin_lines(after),
                                  before_header=f'{backend} (admin state)', after_header=f'{backend} (admin state)')
        return result


def _public(server):
    return {key: value for key, value in server.items() if key != 'forced_maint'}


def _admin_lines(servers):
    return ''.join(f"{server['name']}: {server['admin']}\n" for server in servers)


def main():
    HaproxyServers()()


if __name__ == '__main__':
    main()

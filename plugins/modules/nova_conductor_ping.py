#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: nova_conductor_ping
short_description: Ask one nova-conductor for an RPC answer through oslo.messaging
version_added: 0.1.0
description:
  - Sends the oslo.messaging C(oslo_rpc_server_ping) call to the RPC server of one nova service (by default the
    nova-conductor of O(server)) and waits for its C(pong).
  - A consumer on the C(conductor.<host>) queue only shows that a process holds a connection; a hung conductor keeps
    its consumer. An answer shows that the process reads its queue and replies, which is what a recovery needs to
    know.
  - The service must run with C([DEFAULT] rpc_ping_enabled = true) (oslo.messaging 12.4 or later); without it the
    call fails with C(NoSuchMethod) and the module fails saying so.
  - Never changes anything. A server that does not answer in time is reported with RV(answered=false), not as a
    failure, so that a runbook can record it and decide.
requirements:
  - oslo.messaging >= 12.4 on the host that runs the module (a controller's nova venv, or the Ansible controller)
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  transport_url:
    description:
      - The oslo.messaging transport URL of the cell the service listens on, as in nova.conf C([DEFAULT] transport_url),
        such as C(rabbit://nova:secret@ctl1:5672,nova:secret@ctl2:5672/).
    type: str
    required: true
  server:
    description:
      - The RPC server to ask, the service's C([DEFAULT] host), such as V(ctl1).
    type: str
    required: true
  topic:
    description:
      - The RPC topic of the service.
    type: str
    default: conductor
  exchange:
    description:
      - The control exchange of the service; nova's is V(nova).
    type: str
    default: nova
  timeout:
    description:
      - Seconds to wait for the answer.
    type: int
    default: 10
extends_documentation_fragment:
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.INFO_MODULE
  - openstack_ops.runbooks.attributes.PLATFORM
attributes:
  action_group:
    support: none
    membership: []
    details:
      - It takes a transport URL rather than one of the shared login option families.
seealso:
  - name: oslo.messaging rpc_ping_enabled
    description: The option that makes every RPC server answer C(oslo_rpc_server_ping).
    link: https://docs.openstack.org/oslo.messaging/latest/configuration/opts.html
'''

EXAMPLES = r'''
- name: Does the conductor on ctl2 answer?
  openstack_ops.runbooks.nova_conductor_ping:
    transport_url: "{{ nova_transport_url }}"
    server: ctl2
    timeout: 15
  register: ping

- name: Stop when it does not
  ansible.builtin.assert:
    that: ping.answered
    fail_msg: "nova-conductor on ctl2 did not answer: {{ ping.error }}"
'''

RETURN = r'''
answered:
  description: Whether the server answered the ping in time.
  returned: always
  type: bool
  sample: true
reply:
  description: The server's answer (V(pong)), or null.
  returned: always
  type: str
  sample: pong
elapsed:
  description: Seconds between the call and the answer (or the time-out).
  returned: always
  type: float
  sample: 0.05
error:
  description: Why there was no answer (the oslo.messaging exception), or null.
  returned: always
  type: str
  sample: "MessagingTimeout: Timed out waiting for a reply to message ID 5d0d..."
target:
  description: Where the ping was sent.
  returned: always
  type: dict
  sample: {"exchange": "nova", "topic": "conductor", "server": "ctl1"}
'''

import time
import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable, OpsError

try:
    import oslo_messaging
    from oslo_config import cfg
except ImportError:
    OSLO_IMPORT_ERROR = traceback.format_exc()
else:
    OSLO_IMPORT_ERROR = None


class NovaConductorPing(OpsModule):
    argument_spec = dict(
        transport_url=dict(type='str', required=True, no_log=True),
        server=dict(type='str', required=True),
        topic=dict(type='str', default='conductor'),
        exchange=dict(type='str', default='nova'),
        timeout=dict(type='int', default=10),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        if OSLO_IMPORT_ERROR:
            self.module.fail_json(msg=missing_required_lib('oslo.messaging'), exception=OSLO_IMPORT_ERROR)
        if self.params['timeout'] < 1:
            raise OpsError(f"timeout must be at least 1 second, not {self.params['timeout']}")
        target = dict(exchange=self.params['exchange'], topic=self.params['topic'], server=self.params['server'])
        result = dict(changed=False, target=target, answered=False, reply=None, error=None)
        started = time.monotonic()
        try:
            result['reply'] = self._call(target)
            result['answered'] = True
        except oslo_messaging.MessagingTimeout as error:
            result['error'] = f'MessagingTimeout: {error}'
        except oslo_messaging.NoSuchMethod as error:
            raise OpsError(f"{target['topic']}.{target['server']} does not offer oslo_rpc_server_ping: "
                           "set [DEFAULT] rpc_ping_enabled = true in its configuration", **target) from error
        except oslo_messaging.MessageDeliveryFailure as error:
            raise BackendUnavailable(f'Could not deliver the ping to the broker: {error}', **target) from error
        result['elapsed'] = round(time.monotonic() - started, 3)
        return result

    def _call(self, target):
        # oslo.messaging registers its tracing options on the global CONF only.
        conf = cfg.CONF
        conf([], project='openstack_ops-conductor-ping')
        try:
            transport = oslo_messaging.get_rpc_transport(conf, url=self.params['transport_url'])
        except (oslo_messaging.InvalidTransportURL, ValueError) as error:   # ValueError: a port that is not a number
            raise OpsError(f'transport_url is not a valid oslo.messaging URL: {error}') from error
        try:
            client = oslo_messaging.get_rpc_client(
                transport, oslo_messaging.Target(**target), timeout=self.params['timeout'], retry=2)
            return client.call({}, 'oslo_rpc_server_ping')
        finally:
            transport.cleanup()


def main():
    NovaConductorPing()()


if __name__ == '__main__':
    main()

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
  - Before asking, counts the consumers of the server's queue (C(<topic>.<server>)) with a passive queue declare, the
    broker's own figure at that moment (the management API's figure trails by its statistics interval, 5 s). A queue
    without a consumer cannot answer, so it is not asked.
  - With O(wait), keeps counting and asking until the server answers or O(wait) seconds have passed, so one task
    waits for a conductor that is starting.
  - Never changes anything. A server that does not answer in time is reported with RV(answered=false), not as a
    failure, so that a runbook can record it and decide.
  - The answer comes back on a C(reply_<id>) queue of the module's own. oslo.messaging keeps such a queue for
    C(rabbit_transient_queues_ttl) (1800 s) after its client has gone; the module's own expires one second after
    the module ends, so pings leave no queue behind on the broker.
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
      - Seconds to wait for the answer to one ping.
    type: int
    default: 10
  wait:
    description:
      - Seconds to keep trying, counting the queue's consumers every half second until there is one and asking
        until an answer comes. V(0) counts and asks once.
    type: int
    default: 0
extends_documentation_fragment:
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.NO_ACTION_GROUP
  - openstack_ops.runbooks.attributes.INFO_MODULE
  - openstack_ops.runbooks.attributes.PLATFORM
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

- name: Wait up to two minutes for a conductor that was just started to consume its queue and answer
  openstack_ops.runbooks.nova_conductor_ping:
    transport_url: "{{ nova_transport_url }}"
    server: ctl3
    timeout: 5
    wait: 120
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
consumers:
  description: Consumers of the server's queue at the last count (0 when the queue does not exist).
  returned: always
  type: int
  sample: 1
attempts:
  description: How many pings were sent (none while the queue had no consumer).
  returned: always
  type: int
  sample: 1
target:
  description: Where the ping was sent.
  returned: always
  type: dict
  sample: {"exchange": "nova", "topic": "conductor", "server": "ctl1"}
'''

import time
import traceback

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable, OpsError

try:
    import kombu
    import oslo_messaging
    from oslo_config import cfg
except ImportError:
    OSLO_IMPORT_ERROR = traceback.format_exc()
else:
    OSLO_IMPORT_ERROR = None

POLL_SECONDS = 0.5
# How long the broker keeps the module's reply queue once nothing consumes it (x-expires): oslo.messaging's default
# is 1800 s, so each ping would leave a reply_<id> queue behind for half an hour.
REPLY_QUEUE_TTL_SECONDS = 1


class NovaConductorPing(OpsModule):
    argument_spec = dict(
        transport_url=dict(type='str', required=True, no_log=True),
        server=dict(type='str', required=True),
        topic=dict(type='str', default='conductor'),
        exchange=dict(type='str', default='nova'),
        timeout=dict(type='int', default=10),
        wait=dict(type='int', default=0),
    )
    module_kwargs = dict(supports_check_mode=True)
    required_libraries = (('oslo.messaging', OSLO_IMPORT_ERROR),)
    option_minimums = dict(timeout=1, wait=0)

    def run(self):
        target = dict(exchange=self.params['exchange'], topic=self.params['topic'], server=self.params['server'])
        queue = f"{target['topic']}.{target['server']}"
        result = dict(changed=False, target=target, answered=False, reply=None, error=None, consumers=0, attempts=0)
        started = time.monotonic()
        deadline = started + self.params['wait']
        # oslo.messaging registers its tracing options on the global CONF only.
        conf = cfg.CONF
        conf([], project='openstack_ops-conductor-ping')
        url = self._parse_url(conf)
        transport = oslo_messaging.get_rpc_transport(conf, url=self.params['transport_url'])
        self.closing(transport, close=transport.cleanup)
        self._short_lived_reply_queue(conf)
        self._broker = None   # the kombu connection that counts the queue's consumers, released at the end
        self.closing(self, close=self._release_broker)
        client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(**target), timeout=self.params['timeout'], retry=2)
        while True:
            result['consumers'] = self._consumers(url, queue)
            if result['consumers']:
                result['attempts'] += 1
                try:
                    result['reply'] = client.call({}, 'oslo_rpc_server_ping')
                    result['answered'], result['error'] = True, None
                    break
                except oslo_messaging.MessagingTimeout as error:
                    result['error'] = f'MessagingTimeout: {error}'
                except oslo_messaging.NoSuchMethod as error:
                    raise OpsError(f"{queue} does not offer oslo_rpc_server_ping: "
                                   "set [DEFAULT] rpc_ping_enabled = true in its configuration", **target) from error
                except oslo_messaging.MessageDeliveryFailure as error:
                    raise BackendUnavailable(f'Could not deliver the ping to the broker: {error}', **target) from error
            else:
                result['error'] = f'no consumer on queue {queue}'
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(POLL_SECONDS, left))
        result['elapsed'] = round(time.monotonic() - started, 3)
        return result

    @staticmethod
    def _short_lived_reply_queue(conf):
        """Make the reply queue expire soon after the module ends. The rabbit driver registers the option when the
        transport is made and reads it when the reply queue's connection is made, at the first call."""
        try:
            conf.set_override('rabbit_transient_queues_ttl', REPLY_QUEUE_TTL_SECONDS, group='oslo_messaging_rabbit')
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):   # another driver (fake:// in tests): no such queue
            pass

    def _parse_url(self, conf):
        try:
            url = oslo_messaging.TransportURL.parse(conf, self.params['transport_url'])
        except (oslo_messaging.InvalidTransportURL, ValueError) as error:   # ValueError: a port that is not a number
            raise OpsError(f'transport_url is not a valid oslo.messaging URL: {error}') from error
        if not url.hosts:
            raise OpsError('transport_url names no broker host')
        return url

    def _consumers(self, url, queue):
        """The queue's consumer count, from the broker itself (a passive declare); 0 when the queue does not exist.

        One connection serves every count of a wait: a new one each half second would churn a broker that may be
        the very thing in trouble. Each count takes a channel of its own, since a 404 closes the one it came on.
        """
        if self._broker is not None:
            try:
                return self._count(self._broker, queue)
            except self._broker.connection_errors:
                self._release_broker()   # lost: connect again below, to whichever broker answers
        ssl = url.query.get('ssl', '').lower() in ('1', 'true', 'yes')
        errors = []
        for host in url.hosts:   # the first broker that answers, as oslo.messaging fails over
            connection = kombu.Connection(hostname=host.hostname, port=host.port, userid=host.username,
                                          password=host.password, virtual_host=url.virtual_host or '/', ssl=ssl,
                                          connect_timeout=self.params['timeout'])
            try:
                count = self._count(connection, queue)
            except connection.connection_errors as error:
                errors.append(f'{host.hostname}:{host.port}: {error}')
                connection.release()
                continue
            self._broker = connection
            return count
        raise BackendUnavailable(f"Could not reach the broker to count the consumers of {queue}: {'; '.join(errors)}")

    @staticmethod
    def _count(connection, queue):
        channel = connection.channel()
        try:
            return channel.queue_declare(queue=queue, passive=True).consumer_count
        except connection.channel_errors:   # 404: no such queue
            return 0
        finally:
            channel.close()   # a no-op for the channel a 404 closed

    def _release_broker(self):
        if self._broker is not None:
            self._broker.release()
            self._broker = None


def main():
    NovaConductorPing()()


if __name__ == '__main__':
    main()

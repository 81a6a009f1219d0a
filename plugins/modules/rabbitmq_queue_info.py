#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: rabbitmq_queue_info
short_description: List RabbitMQ queues with their message and consumer counts
version_added: 0.1.0
description:
  - Lists the queues of a RabbitMQ cluster through the management HTTP API, with their message and consumer counts,
    and sums the counts.
  - Filters by virtual host and by regular expressions on the queue name.
  - Run it before and after a recovery, such as restarting nova-conductor, to see queue depths and whether every
    queue has its consumers back.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  exclude:
    description:
      - Regular expressions, searched for anywhere in each queue name; a queue that matches any of them is left out.
      - Applied after O(include).
    type: list
    elements: str
    default: []
  include:
    description:
      - Regular expressions, searched for anywhere in each queue name; only queues that match at least one are listed.
      - Empty means every queue.
    type: list
    elements: str
    default: []
  live_consumers:
    description:
      - Count each queue's consumers from the broker's consumer list (C(/api/consumers)), which changes as soon as a
        consumer comes or goes, instead of the queue statistics, which trail by the statistics interval (5 s by
        default).
      - Use it to wait for consumers to go or come back, as after stopping nova-conductor. It costs one more request
        per virtual host, whose answer lists every consumer, so it is heavier on a broker with many thousands.
    type: bool
    default: false
  vhosts:
    description:
      - The virtual hosts whose queues to list.
      - Unset means O(vhost) when that is set, otherwise every virtual host.
      - A virtual host that does not exist fails the module, with a message naming it and the virtual hosts that
        exist, as in M(openstack_ops.runbooks.rabbitmq_purge), so that a misspelt name never selects nothing
        silently.
    type: list
    elements: str
extends_documentation_fragment:
  - openstack_ops.runbooks.rabbitmq
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.INFO_MODULE
  - openstack_ops.runbooks.attributes.PLATFORM
attributes:
  action_group:
    support: full
    membership:
      - openstack_ops.runbooks.rabbitmq
seealso:
  - name: RabbitMQ management HTTP API
    description: The C(/api/queues) endpoints this module reads.
    link: https://www.rabbitmq.com/docs/http-api-reference
'''

EXAMPLES = r'''
- name: Read the depth and consumers of nova-conductor's queues
  openstack_ops.runbooks.rabbitmq_queue_info:
    login_host: ctl1
    login_user: monitor
    login_password: "{{ rabbitmq_monitor_password }}"
    vhosts:
      - /
    include:
      - ^conductor
    exclude:
      - _fanout_
  register: conductor_queues

- name: Fail while a conductor queue has no consumer
  ansible.builtin.assert:
    that:
      - conductor_queues.queues | selectattr('consumers', 'equalto', 0) | list | length == 0
    fail_msg: "No consumer on {{ conductor_queues.queues | selectattr('consumers', 'equalto', 0) | map(attribute='name') | join(', ') }}"

- name: Count the messages waiting in every virtual host, with the login taken from module_defaults
  module_defaults:
    group/openstack_ops.runbooks.rabbitmq:
      login_host: ctl1
      login_user: monitor
      login_password: "{{ rabbitmq_monitor_password }}"
  block:
    - name: List every queue
      openstack_ops.runbooks.rabbitmq_queue_info:
      register: all_queues

    - name: Show the total
      ansible.builtin.debug:
        msg: "{{ all_queues.totals.messages }} messages in {{ all_queues.totals.queues }} queues"
'''

RETURN = r'''
queues:
  description: The queues that passed the filters, sorted by virtual host, then name.
  returned: always
  type: list
  elements: dict
  contains:
    consumers:
      description: The number of consumers. V(null) when the broker has no statistics for the queue yet.
      type: int
      sample: 1
    messages:
      description: Messages ready plus messages delivered but not yet acknowledged. V(null) when the broker has no
        statistics for the queue yet.
      type: int
      sample: 12
    messages_ready:
      description: Messages waiting to be delivered. V(null) when the broker has no statistics for the queue yet.
      type: int
      sample: 10
    messages_unacknowledged:
      description: Messages delivered to a consumer and not yet acknowledged. V(null) when the broker has no
        statistics for the queue yet.
      type: int
      sample: 2
    name:
      description: The queue name.
      type: str
      sample: conductor.ctl1
    state:
      description: The queue process state, such as V(running), V(idle), V(flow) or V(down). V(null) when the broker
        does not report one.
      type: str
      sample: running
    type:
      description: The queue type.
      type: str
      sample: classic
      choices: [classic, quorum, stream]
    vhost:
      description: The virtual host of the queue.
      type: str
      sample: /
totals:
  description: Sums over RV(queues); counts the broker did not report add nothing.
  returned: always
  type: dict
  contains:
    consumers:
      description: The number of consumers.
      type: int
      sample: 3
    messages:
      description: The number of messages.
      type: int
      sample: 12
    queues:
      description: The number of queues.
      type: int
      sample: 3
'''

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.rabbitmq_queues import QueueSelection


class RabbitMQQueueInfo(OpsModule):
    argument_spec = dict(
        exclude=dict(type='list', elements='str', default=[]),
        include=dict(type='list', elements='str', default=[]),
        live_consumers=dict(type='bool', default=False),
        vhosts=dict(type='list', elements='str'),
    )
    module_kwargs = dict(supports_check_mode=True)
    option_families = ('rabbitmq',)

    def run(self):
        selection = QueueSelection.from_params(self.params)
        queues = selection.select(selection.list_queues(self.rabbitmq))
        if self.params['live_consumers'] and queues:
            counts = self._consumer_counts(selection, {queue['vhost'] for queue in queues})
            for queue in queues:
                queue['consumers'] = counts.get((queue['vhost'], queue['name']), 0)
        return dict(changed=False, queues=queues, totals=_totals(queues))

    def _consumer_counts(self, selection, vhosts):
        if not selection.vhosts:   # every vhost was listed: one request for all
            return self.rabbitmq.consumer_counts()
        counts = {}
        for vhost in sorted(vhosts):
            counts.update(self.rabbitmq.consumer_counts(vhost))
        return counts


def _totals(queues):
    return dict(
        queues=len(queues),
        messages=sum(queue['messages'] or 0 for queue in queues),
        consumers=sum(queue['consumers'] or 0 for queue in queues),
    )


def main():
    RabbitMQQueueInfo()()


if __name__ == '__main__':
    main()

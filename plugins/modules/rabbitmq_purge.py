#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: rabbitmq_purge
short_description: Purge selected RabbitMQ queues, optionally archiving their messages, and republish archives
version_added: 0.1.0
description:
  - Purges the ready messages of the RabbitMQ queues chosen by virtual host, regular expressions on the name,
    consumer count and depth, as in step 4 of a nova-conductor recovery, and reports every queue it purged or
    skipped with its counts.
  - Replaces C(rabbitmqctl list_queues | egrep ... | xargs -P 30 rabbitmqctl purge_queue). It talks to the
    management HTTP API over keep-alive connections with bounded concurrency, works across virtual hosts, skips
    stream queues (they cannot be purged) and refuses a selection that matches every queue unless O(force=true).
  - With O(archive_dir), messages are drained into a checksummed JSON Lines archive instead of being thrown away,
    and O(action=republish) puts an archive's messages back.
  - 'Speed versus keeping the messages: a plain purge is one request per queue whatever its depth, and the
    messages are gone for good. Archiving moves every message through the management API and onto disk
    (roughly 1,000 to 10,000 messages a second instead of one request per queue), but nothing is lost: the
    archive can be read, checked with C(sha256sum -c), and republished.'
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  action:
    description:
      - V(purge) empties the selected queues (into O(archive_dir) when it is set).
      - V(republish) publishes the messages of the archive O(archive_path) back to the broker, after verifying its
        checksum. It is resumable and runs once per archive; the selection options are ignored.
    type: str
    choices: [purge, republish]
    default: purge
  archive_dir:
    description:
      - A directory on the host that runs the module. When set, messages are not purged but drained (fetched and
        removed with the management API's C(/get), C(ackmode=ack_requeue_false)) into a new file
        C(rabbitmq-purge-<UTC timestamp>.jsonl) there, with its SHA-256 in C(<file>.sha256).
      - Each batch is written and synced to disk before the next is fetched. No file is written when there was
        nothing to drain.
      - Needs the C(http) backend.
    type: path
  archive_path:
    description:
      - The archive to republish, the RV(archive.path) a purge with O(archive_dir) returned. Required with
        O(action=republish).
    type: path
  backend:
    description:
      - V(http) uses the management HTTP API (plugin C(rabbitmq_management)).
      - V(rabbitmqctl) runs C(rabbitmqctl) with its JSON formatter on the host that runs the module; for nodes
        without the management plugin. Every call starts an Erlang VM (about half a second), so it is much slower.
      - V(auto) uses V(http) when O(login_user) is set and the management API answers, otherwise V(rabbitmqctl).
        Bad credentials fail rather than fall back.
    type: str
    choices: [auto, http, rabbitmqctl]
    default: auto
  concurrency:
    description:
      - How many queues are purged (or drained, or republished) at the same time. At least V(1).
    type: int
    default: 10
  exclude:
    description:
      - Regular expressions, searched for anywhere in each queue name; a queue that matches any of them is left alone.
    type: list
    elements: str
    default: []
  force:
    description:
      - Allow a selection whose O(include) and O(exclude) match every queue of the selected virtual hosts.
      - With O(action=republish), publish an archive again although it was already republished.
    type: bool
    default: false
  include:
    description:
      - Regular expressions, searched for anywhere in each queue name; only queues that match at least one are
        purged. Empty means every queue, which O(force) must confirm.
    type: list
    elements: str
    default: []
  login_password:
    description:
      - The password of O(login_user).
      - Required with O(backend=http).
    type: str
    required: false
  login_user:
    description:
      - A RabbitMQ user with the C(administrator) tag, or the C(management) tag and C(read) permission on the queues'
        virtual hosts.
      - Required with O(backend=http). Without it, O(backend=auto) uses C(rabbitmqctl).
    type: str
    required: false
  min_messages:
    description:
      - Leave alone queues with fewer ready messages than this. The default skips empty queues.
    type: int
    default: 1
  only_unconsumed:
    description:
      - Leave alone queues that have a consumer, such as the queues of services that are still running.
    type: bool
    default: false
  rabbitmqctl_env:
    description:
      - Environment variables for C(rabbitmqctl), added to the module's environment, such as C(RABBITMQ_NODENAME),
        C(ERL_EPMD_PORT), or C(HOME) (where C(.erlang.cookie) is read from).
    type: dict
    default: {}
  rabbitmqctl_node:
    description:
      - The node C(rabbitmqctl) talks to (its C(-n) option), such as V(rabbit@ctl1). Unset means its default
        (C(RABBITMQ_NODENAME) or C(rabbit@<this host>)).
    type: str
  rabbitmqctl_path:
    description:
      - The C(rabbitmqctl) executable. Unset means the first C(rabbitmqctl) on the C(PATH), then C(/usr/sbin) and
        C(/usr/lib/rabbitmq/bin).
    type: path
  rabbitmqctl_timeout:
    description:
      - Seconds one C(rabbitmqctl) call may take before the module gives up on the node.
    type: int
    default: 60
  republish_to:
    description:
      - With O(action=republish), V(queue) publishes each message to the default exchange with its original queue as
        routing key, so it goes back to that queue only.
      - V(exchange) publishes it to its original exchange with its original routing key, so it is routed as it was
        first (a fanout exchange delivers it to every bound queue again).
    type: str
    choices: [queue, exchange]
    default: queue
  vhosts:
    description:
      - The virtual hosts whose queues to purge.
      - Unset means O(vhost) when that is set, otherwise every virtual host.
      - A virtual host that does not exist fails the module before anything is purged, with a message naming it
        and the virtual hosts that exist (as M(openstack_ops.runbooks.rabbitmq_queue_info) does).
    type: list
    elements: str
extends_documentation_fragment:
  - openstack_ops.runbooks.rabbitmq
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.PLATFORM
attributes:
  action_group:
    support: full
    membership:
      - openstack_ops.runbooks.rabbitmq
  check_mode:
    support: full
    details:
      - Reads the queues and reports what would be purged (or republished), with the message counts, and changes
        nothing.
  diff_mode:
    support: full
    details:
      - The ready messages of each purged queue before and after.
notes:
  - Message counts come from the broker's statistics, which the management plugin refreshes every
    C(collect_statistics_interval) (5 seconds by default); a run within that time of a purge may still see the
    old counts. C(rabbitmqctl) asks the queues themselves; a classic queue's count is current, but a quorum queue's
    count can trail by 2-3 seconds there too (seen on RabbitMQ 3.10). Archived counts are exact.
  - A purge drops ready messages only; messages delivered to a consumer and not yet acknowledged stay.
  - When the broker fails part-way, the module fails with the queues already purged (RV(queues) of the failure
    details C(purged)), those that failed and those not reached, and closes the archive with its checksum.
seealso:
  - module: openstack_ops.runbooks.rabbitmq_queue_info
  - name: RabbitMQ management HTTP API
    description: The C(/api/queues/{vhost}/{name}/contents), C(/get) and C(/api/exchanges/{vhost}/{name}/publish)
      endpoints this module uses.
    link: https://www.rabbitmq.com/docs/http-api-reference
'''

EXAMPLES = r'''
- name: Purge nova's RPC queues left behind by stopped conductors (seed 003, step 4)
  openstack_ops.runbooks.rabbitmq_purge:
    login_host: "{{ internal_vip }}"
    login_user: admin
    login_password: "{{ rabbitmq_admin_password }}"
    vhosts: [/]
    include: ['^reply_', '^cinder', '^conductor', '^compute']
    exclude: ['_fanout_']
  register: purge

- name: Show what was thrown away
  ansible.builtin.debug:
    msg: "{{ purge.totals.purged }} messages from {{ purge.totals.queues }} queues; skipped {{ purge.skipped_queues | length }}"

- name: Keep the messages instead, in a checksummed archive on the controller
  openstack_ops.runbooks.rabbitmq_purge:
    login_host: "{{ internal_vip }}"
    login_user: admin
    login_password: "{{ rabbitmq_admin_password }}"
    vhosts: [/nova]            # OpenStack-Ansible uses one vhost per service
    include: ['^conductor']
    only_unconsumed: true
    archive_dir: /var/backups/rabbitmq
  register: drained

- name: Put the archived messages back into their queues
  openstack_ops.runbooks.rabbitmq_purge:
    login_host: "{{ internal_vip }}"
    login_user: admin
    login_password: "{{ rabbitmq_admin_password }}"
    action: republish
    archive_path: "{{ drained.archive.path }}"
  when: drained.archive is not none

- name: On a node without the management plugin, use rabbitmqctl (here in a Kolla container's environment)
  openstack_ops.runbooks.rabbitmq_purge:
    backend: rabbitmqctl
    rabbitmqctl_node: rabbit@ctl1
    rabbitmqctl_env:
      HOME: /var/lib/rabbitmq
    include: ['^conductor']
    exclude: ['_fanout_']
'''

RETURN = r'''
action:
  description: What the module did, O(action).
  returned: always
  type: str
  sample: purge
msg:
  description:
    - With O(action=republish), what this run published (or, in check mode, would publish), told apart from what an
      earlier run of the same archive already published; a run that publishes nothing says so and why.
  returned: with O(action=republish)
  type: str
  sample: "Nothing published: the 7 messages of rabbitmq-20261122T031500Z.jsonl were already published by an earlier
    run (its .republished marker); force=true publishes them again"
archive:
  description:
    - The archive the messages were drained into (O(archive_dir)), or the one republished (O(action=republish)).
    - V(null) when no archive was written or read.
  returned: always
  type: dict
  contains:
    bytes:
      description: The size of the archive.
      type: int
      sample: 52011
    checksum_path:
      description: The file holding the archive's SHA-256, in C(sha256sum) format.
      type: str
      sample: /var/backups/rabbitmq/rabbitmq-purge-20240802T094140123456Z.jsonl.sha256
    messages:
      description: The number of messages in the archive.
      type: int
      sample: 120
    path:
      description: The archive, one JSON object a line.
      type: str
      sample: /var/backups/rabbitmq/rabbitmq-purge-20240802T094140123456Z.jsonl
    sha256:
      description: The SHA-256 of the archive.
      type: str
      sample: 3f7a0c9e6d1b8c1e0e5b2d5a8f5e6e2a9d0c4b7a1f2e3d4c5b6a7980a1b2c3d4
backend:
  description: The backend that did the work, V(http) or V(rabbitmqctl).
  returned: always
  type: str
  sample: http
duration:
  description: Seconds the module took, from the first read to the report.
  returned: always
  type: float
  sample: 0.42
queues:
  description:
    - The queues purged (in check mode, that would be purged), sorted by virtual host, then name.
    - With O(action=republish), the queues of the archive with the messages published back to each.
  returned: always
  type: list
  elements: dict
  contains:
    consumers:
      description: The consumers of the queue when it was read. Not returned with O(action=republish).
      type: int
      sample: 0
    messages:
      description: Messages in the queue when it was read (ready and unacknowledged); with O(action=republish), the
        queue's messages in the archive.
      type: int
      sample: 12
    name:
      description: The queue name.
      type: str
      sample: conductor.ctl2
    purged:
      description: Messages removed. The ready count read before purging, or the exact number drained into the
        archive. In check mode, the number that would be. Not returned with O(action=republish).
      type: int
      sample: 12
    republished:
      description: Messages published back with O(action=republish) (in check mode, that would be), this run and
        earlier interrupted runs of the same archive together.
      type: int
      sample: 12
    type:
      description: The queue type. Not returned with O(action=republish).
      type: str
      sample: classic
    vhost:
      description: The virtual host of the queue.
      type: str
      sample: /
skipped_queues:
  description:
    - Queues that matched O(include) and O(exclude) but were left alone, with why.
    - Not named C(skipped), which Ansible reserves for skipped tasks.
  returned: always
  type: list
  elements: dict
  contains:
    consumers:
      description: The consumers of the queue.
      type: int
      sample: 1
    messages:
      description: The messages in the queue.
      type: int
      sample: 0
    name:
      description: The queue name.
      type: str
      sample: nova-stream
    reason:
      description: Why the queue was left alone.
      type: str
      sample: stream queues cannot be purged
    type:
      description: The queue type.
      type: str
      sample: stream
    vhost:
      description: The virtual host of the queue.
      type: str
      sample: /
totals:
  description: Sums over RV(queues).
  returned: always
  type: dict
  contains:
    messages:
      description: Messages in those queues when they were read (with O(action=republish), in the archive).
      type: int
      sample: 40
    purged:
      description: Messages purged or drained (0 with O(action=republish)).
      type: int
      sample: 38
    queues:
      description: The number of queues.
      type: int
      sample: 4
    republished:
      description: Messages published back (0 with O(action=purge)).
      type: int
      sample: 0
    skipped:
      description: The number of queues in RV(skipped_queues).
      type: int
      sample: 1
'''

import os
import time

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import rabbitmq_archive, rabbitmqctl
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError, UnsafeToProceed
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.rabbitmq_queues import (
    QueueSelection,
    purge_queues,
    queue_key,
)


class RabbitMQPurge(OpsModule):
    argument_spec = dict(
        action=dict(type='str', default='purge', choices=['purge', 'republish']),
        archive_dir=dict(type='path'),
        archive_path=dict(type='path'),
        backend=dict(type='str', default='auto', choices=['auto', 'http', 'rabbitmqctl']),
        concurrency=dict(type='int', default=10),
        exclude=dict(type='list', elements='str', default=[]),
        force=dict(type='bool', default=False),
        include=dict(type='list', elements='str', default=[]),
        min_messages=dict(type='int', default=1),
        only_unconsumed=dict(type='bool', default=False),
        rabbitmqctl_env=dict(type='dict', default={}),
        rabbitmqctl_node=dict(type='str'),
        rabbitmqctl_path=dict(type='path'),
        rabbitmqctl_timeout=dict(type='int', default=60),
        republish_to=dict(type='str', default='queue', choices=['queue', 'exchange']),
        vhosts=dict(type='list', elements='str'),
    )
    module_kwargs = dict(
        supports_check_mode=True,
        required_if=[
            ('action', 'republish', ('archive_path',)),
            ('backend', 'http', ('login_user', 'login_password')),
        ],
        required_together=[('login_user', 'login_password')],
        mutually_exclusive=[('archive_dir', 'archive_path')],
    )
    option_families = ('rabbitmq',)
    option_minimums = {'concurrency': 1}

    @classmethod
    def full_argument_spec(cls):
        # The rabbitmqctl backend needs no API login, so the family's login becomes optional here.
        spec = super().full_argument_spec()
        for name in ('login_user', 'login_password'):
            spec[name] = dict(spec[name], required=False)
        return spec

    def run(self):
        started = time.monotonic()
        if self.params['action'] == 'republish':
            result = self._republish()
        else:
            result = self._purge()
        result['duration'] = round(time.monotonic() - started, 3)
        return result

    # --- backends -------------------------------------------------------------
    def _choose_backend(self, needs_http=None):
        return rabbitmqctl.choose_backend(self.params['backend'], lambda: self.rabbitmq, self._rabbitmqctl,
                                          self.params['login_user'], self.warn, needs_http=needs_http)

    def _rabbitmqctl(self, required):
        """A rabbitmqctl client for the rabbitmqctl_* options, closed when the module ends; None when not found."""
        path = self.params['rabbitmqctl_path'] or self.module.get_bin_path(
            'rabbitmqctl', required=required, opt_dirs=rabbitmqctl.SEARCH_DIRS)
        if path is None:
            return None
        return self.closing(rabbitmqctl.RabbitmqctlClient(
            path, node=self.params['rabbitmqctl_node'], env=self.params['rabbitmqctl_env'],
            timeout=self.params['rabbitmqctl_timeout']))

    # --- purge ----------------------------------------------------------------
    def _purge(self):
        selection = QueueSelection.from_params(self.params)
        archive_dir = self.params['archive_dir']
        if archive_dir and not os.path.isdir(archive_dir):
            raise OpsError(f'The archive directory {archive_dir} does not exist')
        backend, client = self._choose_backend(needs_http='archive_dir' if archive_dir else None)

        listed = [_counted(queue) for queue in selection.list_queues(client)]
        matched = selection.select(listed)
        if matched and len(matched) == len(listed) and not self.params['force']:
            raise UnsafeToProceed(
                f'The selection matches every one of the {len(listed)} queues of virtual host(s) '
                f"{', '.join(sorted({q['vhost'] for q in listed}))}: narrow it with include/exclude, or set force: true "
                'to purge them all', queues=len(listed))
        targets, skipped = [], []
        for queue in matched:
            reason = self._skip_reason(queue)
            if reason:
                skipped.append(dict(_describe(queue), reason=reason))
            else:
                targets.append(queue)

        if self.check_mode:
            purged = {queue_key(queue): queue['messages_ready'] for queue in targets}
            archive = None
        else:
            writer = rabbitmq_archive.ArchiveWriter(archive_dir) if archive_dir else None
            purged, archive = self._apply_purge(client, targets, writer)
        queues = [dict(_describe(queue), purged=purged[queue_key(queue)]) for queue in targets]
        total = sum(queue['purged'] for queue in queues)
        result = dict(
            changed=total > 0, action='purge', backend=backend, queues=queues, skipped_queues=skipped, archive=archive,
            totals=dict(queues=len(queues), messages=sum(q['messages'] for q in queues), purged=total, republished=0,
                        skipped=len(skipped)),
        )
        if self.diff_mode:
            result['diff'] = dict(
                before={_label(queue): queue['messages_ready'] for queue in targets},
                after={_label(queue): max(0, queue["messages_ready"] - purged[queue_key(queue)]) for queue in targets},
            )
        return result

    def _skip_reason(self, queue):
        if queue['type'] == 'stream':
            return 'stream queues cannot be purged'
        if self.params['only_unconsumed'] and queue['consumers']:
            return f"has {queue['consumers']} consumer(s) and only_unconsumed is set"
        if queue['messages_ready'] < self.params['min_messages']:
            return f"{queue['messages_ready']} ready message(s), fewer than min_messages ({self.params['min_messages']})"
        return None

    def _apply_purge(self, client, targets, writer):
        done, failed, not_reached = purge_queues(client, targets, self.params['concurrency'], writer)
        archive = writer.finish() if writer else None
        if failed:
            first = failed[0][1]
            raise OpsError(
                f'The purge stopped part-way: {len(done)} of {len(targets)} queue(s) purged, {len(failed)} failed, '
                f'{len(not_reached)} not reached. First error: {first.msg}',
                purged=[dict(_describe(queue), purged=count) for queue, count in done],
                failed=[dict(_describe(queue), error=error.msg) for queue, error in failed],
                not_reached=[_describe(queue) for queue in not_reached],
                archive=archive,
            )
        return {queue_key(queue): count for queue, count in done}, archive

    # --- republish ------------------------------------------------------------
    def _republish(self):
        archive = rabbitmq_archive.Republication(self.params['archive_path'], force=self.params['force'])
        backend, client = self._choose_backend(needs_http='action republish')
        archive.check_destinations(client, self.params['republish_to'])
        if self.check_mode:
            published = archive.planned()
            changed = any(archive.pending.values())
        else:
            published, changed = archive.publish(client, self.params['republish_to'], self.params['concurrency'])
        queues = [dict(vhost=vhost, name=name, messages=len(archive.by_queue[(vhost, name)]),
                       republished=published[(vhost, name)])
                  for vhost, name in archive.queues]
        return dict(
            changed=changed, action='republish', backend=backend, queues=queues, skipped_queues=[],
            msg=_republish_message(archive, published, self.check_mode),
            archive=archive.describe(),
            totals=dict(queues=len(queues), messages=sum(q['messages'] for q in queues), purged=0,
                        republished=sum(q['republished'] for q in queues), skipped=0),
        )


def _republish_message(archive, published, check_mode):
    """What this run published, told apart from what an earlier run of the same archive already had."""
    earlier = sum(archive.already.values())
    now = sum(published.values()) - earlier
    name = os.path.basename(archive.path)
    if not now:
        return (f'Nothing published: the {earlier} messages of {name} were already published by an earlier run '
                '(its .republished marker); force=true publishes them again')
    text = f"{'Would publish' if check_mode else 'Published'} {now} messages of {name}"
    return text + (f'; {earlier} more were published by an earlier run' if earlier else '')


def _counted(queue):
    """The queue with its unknown counts (no statistics yet) as 0, which is what purging can act on."""
    for count in ('messages', 'messages_ready', 'messages_unacknowledged', 'consumers'):
        queue[count] = queue[count] or 0
    return queue


def _label(queue):
    return f"{queue['vhost']}:{queue['name']}"


def _describe(queue):
    return dict(vhost=queue['vhost'], name=queue['name'], type=queue['type'], consumers=queue['consumers'],
                messages=queue['messages'])


def main():
    RabbitMQPurge()()


if __name__ == '__main__':
    main()

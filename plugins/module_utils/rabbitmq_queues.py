# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which RabbitMQ queues a module acts on, and purging them.

Every RabbitMQ module selects queues the same way, with the options
``vhosts`` (or the login family's ``vhost``), ``include`` and ``exclude``, so
that a selection checked with rabbitmq_queue_info is exactly what
rabbitmq_purge then purges. Both clients (rabbitmq.RabbitMQClient and
rabbitmqctl.RabbitmqctlClient) serve a selection.
"""

import re

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import rabbitmq_archive
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.workers import run_bounded


class QueueSelection:
    """Virtual hosts plus include/exclude regular expressions on the queue name.

    An empty vhosts means every virtual host. A named virtual host that does
    not exist fails the selection: a misspelt name must never select nothing
    silently, least of all before a purge.
    """

    def __init__(self, vhosts=None, include=(), exclude=()):
        self.vhosts = list(dict.fromkeys(vhosts or []))
        # Compiled first, so that a bad pattern fails before anything is read.
        self.include = compile_patterns(include, 'include')
        self.exclude = compile_patterns(exclude, 'exclude')

    @classmethod
    def from_params(cls, params):
        """The selection of a module's options: ``vhosts``, else the login's ``vhost``, and ``include``/``exclude``."""
        vhosts = params['vhosts'] or ([params['vhost']] if params['vhost'] else [])
        return cls(vhosts, params['include'], params['exclude'])

    def list_queues(self, client):
        """Every queue of the selected virtual hosts, whatever its name, sorted by virtual host, then name.

        Raises OpsError naming the missing virtual hosts and those that exist.
        """
        if not self.vhosts:
            return sorted(client.list_queues(), key=queue_key)
        queues, empty = [], []
        for vhost in self.vhosts:
            found = _vhost_queues(client, vhost)
            queues.extend(found)
            if not found:
                empty.append(vhost)
        # Only a vhost that gave no queues can be missing (the API answers 404, rabbitmqctl may list nothing):
        # checking those alone costs no request when every vhost has queues.
        if empty:
            known = client.list_vhosts()
            missing = [vhost for vhost in empty if vhost not in known]
            if missing:
                raise OpsError(f"Virtual host(s) {', '.join(repr(v) for v in missing)} do not exist "
                               f"(the broker has {', '.join(repr(v) for v in sorted(known))})", missing=missing)
        return sorted(queues, key=queue_key)

    def selects(self, name):
        """True when the queue name passes include and exclude."""
        return name_selected(name, self.include, self.exclude)

    def select(self, queues):
        """The queues whose names pass include and exclude, in their order."""
        return [queue for queue in queues if self.selects(queue['name'])]


def purge_queues(client, queues, concurrency, writer=None):
    """Empty the queues, ``concurrency`` at a time, with client.purge_queue, or drain them into writer.

    Returns run_bounded's ``(done, failed, not_reached)``, done holding
    ``(queue, messages removed)``: the ready count read before a purge (the API
    does not say how many it dropped), or the exact number drained.
    """
    if writer is None:
        def work(queue):
            client.purge_queue(queue['vhost'], queue['name'])
            return queue['messages_ready']
    else:
        def work(queue):
            return rabbitmq_archive.drain_queue(client, queue['vhost'], queue['name'], writer)
    return run_bounded(queues, work, concurrency)


def queue_key(queue):
    """The sort key, and identity, of a queue: (vhost, name)."""
    return (queue['vhost'], queue['name'])


def compile_patterns(patterns, option):
    """Queue-name regexes of a module option, or an OpsError naming the option and the bad pattern."""
    try:
        return [re.compile(pattern) for pattern in patterns]
    except re.error as error:
        raise OpsError(f'Invalid regular expression {error.pattern!r} in {option}: {error}') from error


def name_selected(name, include, exclude):
    """True when name matches an include pattern (or there are none) and no exclude pattern."""
    included = not include or any(pattern.search(name) for pattern in include)
    return included and not any(pattern.search(name) for pattern in exclude)


def _vhost_queues(client, vhost):
    try:
        return client.list_queues(vhost)
    except ApiError as error:
        if error.status != 404:
            raise
        return []

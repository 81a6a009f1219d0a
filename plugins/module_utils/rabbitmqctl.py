# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A client for RabbitMQ's rabbitmqctl CLI, for brokers without the management plugin.

It offers the queue calls of rabbitmq.RabbitMQClient (list_vhosts,
list_queues, purge_queue) with the same result shapes, so a module can use
either. Every call starts an Erlang VM (about half a second), so callers run
calls in parallel; each one has a timeout, so a hung node cannot hang the task.
"""

import json
import os
import subprocess

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable, OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.rabbitmq import QUEUE_COLUMNS

DEFAULT_TIMEOUT = 60

# What rabbitmqctl prints when it cannot talk to the node at all.
_UNREACHABLE = ('unable to perform an operation on node', 'nodedown', 'could not connect', 'epmd')


class RabbitmqctlClient:
    """Calls ``rabbitmqctl`` with the JSON formatter.

    path is the rabbitmqctl executable, node the node name (``-n``), env
    extra environment variables (RABBITMQ_NODENAME, ERL_EPMD_PORT, HOME for
    the Erlang cookie, ...) added to this process's environment, and timeout
    the seconds one call may take. runner stands in for subprocess.run in tests.
    """

    def __init__(self, path, node=None, env=None, timeout=DEFAULT_TIMEOUT, runner=subprocess.run):
        self.path = path
        self.node = node
        self.env = dict(os.environ, **{key: str(value) for key, value in (env or {}).items()})
        self.timeout = timeout
        self.runner = runner

    def list_vhosts(self):
        """The names of every virtual host."""
        return [item['name'] for item in self._json('list_vhosts', 'name')]

    def list_queues(self, vhost=None):
        """Queues of one vhost, or of every vhost, shaped like RabbitMQClient.list_queues()."""
        queues = []
        for name in [vhost] if vhost is not None else self.list_vhosts():
            queues.extend(_queue(item, name) for item in
                          self._json('list_queues', '-p', name, *[c for c in QUEUE_COLUMNS if c != 'vhost']))
        return queues

    def purge_queue(self, vhost, name):
        """Drop every ready message of a queue."""
        self._run('purge_queue', '-p', vhost, '--', name)

    def close(self):
        """Nothing to release: each call is its own process."""

    def _json(self, *args):
        out = self._run(*args, '--formatter', 'json')
        try:
            return json.loads(out) if out.strip() else []
        except ValueError as error:
            raise OpsError(f'rabbitmqctl {args[0]} printed something that is not JSON', output=out[:2000]) from error

    def _run(self, *args):
        argv = [self.path, '--quiet'] + (['-n', self.node] if self.node else []) + list(args)
        try:
            done = self.runner(argv, env=self.env, capture_output=True, text=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise BackendUnavailable(f'rabbitmqctl {args[0]} did not finish within {self.timeout} s',
                                     command=argv) from error
        except OSError as error:
            raise BackendUnavailable(f'Cannot run {self.path}: {error}', command=argv) from error
        if done.returncode != 0:
            text = (done.stderr or done.stdout or '').strip()
            error_class = BackendUnavailable if any(mark in text.lower() for mark in _UNREACHABLE) else OpsError
            raise error_class(f'rabbitmqctl {" ".join(args)} failed (exit code {done.returncode}): '
                              f'{_first_lines(text)}', command=argv, rc=done.returncode, stderr=text[:4000])
        return done.stdout


def _queue(item, vhost):
    queue = {column: item.get(column) for column in QUEUE_COLUMNS}
    queue['vhost'] = vhost
    queue['type'] = queue['type'] or 'classic'
    if queue['state'] == '':
        queue['state'] = None
    return queue


def _first_lines(text, count=3):
    return ' '.join(line.strip() for line in text.splitlines()[:count] if line.strip())

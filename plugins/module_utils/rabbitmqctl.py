# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A client for RabbitMQ's rabbitmqctl CLI, for brokers without the management plugin.

It offers the queue calls of rabbitmq.RabbitMQClient (list_vhosts,
list_queues, purge_queue) with the same result shapes, so a module can use
either. Every call starts an Erlang VM (about half a second), so callers run
calls in parallel; each one has a timeout, so a hung node cannot hang the task.

choose_backend() picks between this client and the management API's.
"""

import json
import os
import subprocess

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, BackendUnavailable, OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.rabbitmq import QUEUE_COLUMNS

DEFAULT_TIMEOUT = 60
# Where packages install rabbitmqctl when it is not on the PATH (Debian's sbin, the server's own bin).
SEARCH_DIRS = ['/usr/sbin', '/usr/lib/rabbitmq/bin']

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


def choose_backend(backend, api, rabbitmqctl, login_user, warn, needs_http=None):
    """The client for the ``backend`` option (auto, http or rabbitmqctl), as ``(backend name, client)``.

    api() returns the management API client; it is called only when that
    backend is used or tried, so the rabbitmqctl backend never connects to
    the API. rabbitmqctl(required) returns a RabbitmqctlClient, or None when
    required is false and there is no rabbitmqctl. needs_http names what
    needs the API (an option, such as ``archive_dir``), which rules
    rabbitmqctl out. auto uses the API when login_user is set and the API
    answers; it falls back to rabbitmqctl, with a warning, only when the API
    cannot be reached or is not there (404): bad credentials fail, so that a
    typo does not quietly take the slow path.
    """
    if needs_http and backend == 'rabbitmqctl':
        raise OpsError(f'{needs_http} needs the management HTTP API: use backend http or auto')
    if backend == 'http' or (backend == 'auto' and needs_http):
        if not login_user:
            raise OpsError(f"{needs_http or 'backend http'} needs login_user and login_password for the management API")
        return 'http', api()
    if backend == 'auto' and login_user:
        client = api()
        try:
            client.overview()
            return 'http', client
        except BackendUnavailable as error:
            unavailable = error
        except ApiError as error:
            if error.status != 404:
                raise
            unavailable = error
        fallback = rabbitmqctl(required=False)
        if fallback is None:
            raise unavailable
        warn(f'The management API is not available ({unavailable.msg}); using {fallback.path}.')
        return 'rabbitmqctl', fallback
    return 'rabbitmqctl', rabbitmqctl(required=True)


def _queue(item, vhost):
    queue = {column: item.get(column) for column in QUEUE_COLUMNS}
    queue['vhost'] = vhost
    queue['type'] = queue['type'] or 'classic'
    if queue['state'] == '':
        queue['state'] = None
    return queue


def _first_lines(text, count=3):
    return ' '.join(line.strip() for line in text.splitlines()[:count] if line.strip())

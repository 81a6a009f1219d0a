# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""haproxy's admin (stats) socket: read the servers of a backend, change their admin state.

Only the Python standard library: the code runs on the load balancer itself, next to the socket.
"""

import re
import socket

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable, OpsError

# srv_admin_state bits (haproxy include/haproxy/server-t.h): SRV_ADMF_MAINT, haproxy's own maintenance mask
# (forced, inherited, address resolution; a server disabled in the configuration has the forced bit too; 0x40 only
# says its FQDN was set over the socket), and forced/inherited drain.
ADMIN_MAINT = 0x01 | 0x02 | 0x20
ADMIN_FORCED_MAINT = 0x01
ADMIN_DRAIN = 0x08 | 0x10
# srv_op_state values.
OPERATIONAL = {0: 'down', 1: 'starting', 2: 'up', 3: 'stopping'}
# The characters haproxy allows in proxy and server names; anything else (a ';' would chain a second admin command)
# is refused before a command line is built.
_NAME = re.compile(r'^[A-Za-z0-9_.:-]+$')


class AdminSocket:
    """One command per connection, as haproxy's non-interactive mode answers and closes."""

    def __init__(self, path, timeout=10):
        self.path = path
        self.timeout = timeout

    def command(self, line):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(self.timeout)
        try:
            connection.connect(self.path)
            connection.sendall(line.encode() + b'\n')
            chunks = []
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError as error:
            raise BackendUnavailable(f'haproxy admin socket {self.path}: {error}', socket=self.path) from error
        finally:
            connection.close()
        return b''.join(chunks).decode(errors='replace')

    def servers(self, backend):
        """The servers of ``backend`` in configuration order: name, address, admin and operational state."""
        answer = self.command(f'show servers state {_checked("backend", backend)}')
        lines = [line for line in answer.splitlines() if line.strip()]
        header = next((line for line in lines if line.startswith('# ')), None)
        if header is None:
            raise OpsError(f'haproxy has no backend {backend!r} ({answer.strip() or "no answer"})',
                           socket=self.path, backend=backend)
        columns = header[2:].split()
        servers = []
        for line in lines[lines.index(header) + 1:]:
            row = dict(zip(columns, line.split()))
            if not line.startswith('#') and row.get('be_name') == backend:
                servers.append(_server(row))
        return servers

    def set_admin_state(self, backend, names, state):
        """Put ``names`` of ``backend`` in V(maint) or V(ready) with one command line; haproxy's errors are raised."""
        line = '; '.join(f'set server {_checked("backend", backend)}/{_checked("server", name)} state {state}'
                         for name in names)
        answer = self.command(line).strip()
        if answer:   # haproxy answers a successful `set server` with nothing
            raise OpsError(f'haproxy refused "{line}": {answer}', socket=self.path, backend=backend)


def _checked(kind, name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise OpsError(f'{name!r} is not an haproxy {kind} name (letters, digits, -, _, . and :)', **{kind: name})
    return name


def _server(row):
    admin = int(row['srv_admin_state'])
    if admin & ADMIN_MAINT:
        admin_state = 'maint'
    elif admin & ADMIN_DRAIN:
        admin_state = 'drain'
    else:
        admin_state = 'ready'
    return dict(
        name=row['srv_name'],
        address=row.get('srv_addr'),
        port=int(row['srv_port']) if row.get('srv_port', '').isdigit() else None,
        admin=admin_state,
        forced_maint=bool(admin & ADMIN_FORCED_MAINT),
        operational=OPERATIONAL.get(int(row['srv_op_state']), row['srv_op_state']),
    )

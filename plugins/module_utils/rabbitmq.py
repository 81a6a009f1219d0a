# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RabbitMQ login options and a client for the management HTTP API."""

import json
from http.client import HTTPException
from urllib.error import HTTPError
from urllib.parse import quote, urlencode

from ansible.module_utils.urls import Request

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import (
    ApiError,
    BackendUnavailable,
    OpsError,
)

# The client turns every transport error into an OpsError itself.
REQUIRED_LIBRARY = None
IMPORT_ERROR = None
ERRORS = ()
ERROR_LABEL = 'RabbitMQ request failed'

ARGUMENT_SPEC = dict(
    login_host=dict(type='str', default='localhost'),
    login_port=dict(type='int', default=15672),
    login_user=dict(type='str', required=True),
    login_password=dict(type='str', required=True, no_log=True),
    login_protocol=dict(type='str', default='http', choices=['http', 'https']),
    validate_certs=dict(type='bool', default=True),
    ca_cert=dict(type='path', aliases=['cacert']),
    client_cert=dict(type='path', aliases=['cert']),
    client_key=dict(type='path', aliases=['key'], no_log=False),
    vhost=dict(type='str'),
)

TIMEOUT = 30

_QUEUE_COLUMNS = ('vhost', 'name', 'type', 'state', 'messages', 'messages_ready', 'messages_unacknowledged', 'consumers')


def connect(params):
    """Return a RabbitMQClient for the management API the login options describe."""
    host = params['login_host']
    if ':' in host and not host.startswith('['):
        host = f'[{host}]'
    session = Request(
        url_username=params['login_user'],
        url_password=params['login_password'],
        force_basic_auth=True,
        validate_certs=params['validate_certs'],
        ca_path=params['ca_cert'],
        client_cert=params['client_cert'],
        client_key=params['client_key'],
        timeout=TIMEOUT,
        headers={'Accept': 'application/json', 'Content-Type': 'application/json'},
        http_agent='openstack_ops.runbooks',
    )
    return RabbitMQClient(f"{params['login_protocol']}://{host}:{params['login_port']}", session)


class RabbitMQClient:
    """The calls the runbooks make to the management API.

    session is one ansible.module_utils.urls.Request holding the credentials,
    TLS settings and headers for every call (tests pass a fake with the same
    ``open(method, url)`` method).
    """

    def __init__(self, base_url, session):
        self.base_url = base_url.rstrip('/')
        self.session = session

    def overview(self):
        """Cluster name, versions and message totals (GET /api/overview)."""
        return self._call('GET', '/api/overview')

    def list_queues(self, vhost=None):
        """Queues of one vhost, or of all vhosts, as plain dicts.

        Message and consumer counts are None when the broker has no
        statistics for a queue yet (just declared, or stats disabled).
        """
        path = '/api/queues' if vhost is None else f'/api/queues/{_segment(vhost)}'
        items = self._call('GET', path, query={'columns': ','.join(_QUEUE_COLUMNS)})
        return [_queue(item) for item in items]

    def purge_queue(self, vhost, name):
        """Drop every ready message of a queue."""
        self._call('DELETE', f'/api/queues/{_segment(vhost)}/{_segment(name)}/contents')

    def close(self):
        """Nothing to release: urllib closes each connection after its response."""

    def _call(self, method, path, query=None):
        url = self.base_url + path
        if query:
            url += '?' + urlencode(query, safe=',')
        try:
            with self.session.open(method, url) as response:
                payload = response.read()
        except HTTPError as error:
            text = error.read().decode(errors='replace')
            raise ApiError(f'RabbitMQ {method} {path} failed with HTTP {error.code}: {_reason(text)}',
                           status=error.code, body=text) from error
        except (OSError, HTTPException) as error:
            raise BackendUnavailable(
                f"Cannot reach the RabbitMQ management API at {self.base_url}: {getattr(error, 'reason', error)}",
                url=self.base_url) from error
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError as error:
            raise OpsError(f'RabbitMQ {method} {path} returned a body that is not JSON',
                           body=payload.decode(errors='replace')) from error


def _segment(name):
    """A vhost or queue name as one URL path segment ('/' becomes %2F)."""
    return quote(name, safe='')


def _queue(item):
    queue = {column: item.get(column) for column in _QUEUE_COLUMNS}
    queue['type'] = queue['type'] or 'classic'
    return queue


def _reason(text):
    try:
        error = json.loads(text)
        return error.get('reason') or error.get('error') or text
    except (ValueError, AttributeError):
        return text.strip()

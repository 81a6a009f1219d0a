# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RabbitMQ login options and a client for the management HTTP API."""

import base64
import http.client
import io
import json
import threading
from http.client import HTTPException
from urllib.error import HTTPError
from urllib.parse import quote, urlencode, urlsplit

from ansible.module_utils.common.text.converters import to_bytes

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
# The fields of a queue as list_queues() returns it (rabbitmqctl.py returns the same).
QUEUE_COLUMNS = _QUEUE_COLUMNS


def connect(params):
    """Return a RabbitMQClient for the management API the login options describe."""
    host = params['login_host']
    if ':' in host and not host.startswith('['):
        host = f'[{host}]'
    session = KeepAliveSession(
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

    session is one KeepAliveSession holding the credentials, TLS settings,
    headers and connections for every call (tests pass a fake with the same
    ``open(method, url, data=None)`` method). The client may be used from
    several threads at once.
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

    def consumer_counts(self, vhost=None):
        """{(vhost, queue name): consumers} from the broker's consumer list (GET /api/consumers).

        The list follows the broker's consumer events, so it changes as soon as a consumer comes or goes;
        a queue's own ``consumers`` figure is a statistic that trails by the statistics interval (5 s).
        """
        path = '/api/consumers' if vhost is None else f'/api/consumers/{_segment(vhost)}'
        counts = {}
        for item in self._call('GET', path, query={'columns': 'queue.name,queue.vhost'}):
            key = (item['queue']['vhost'], item['queue']['name'])
            counts[key] = counts.get(key, 0) + 1
        return counts

    def list_vhosts(self):
        """The names of every virtual host the user can see."""
        return [item['name'] for item in self._call('GET', '/api/vhosts', query={'columns': 'name'})]

    def purge_queue(self, vhost, name):
        """Drop every ready message of a queue."""
        self._call('DELETE', f'/api/queues/{_segment(vhost)}/{_segment(name)}/contents')

    def get_messages(self, vhost, name, count):
        """Take up to count ready messages off a queue, for good (ackmode ack_requeue_false).

        Bodies come back as text when they are valid UTF-8 and as base64
        otherwise (``payload_encoding`` says which).
        """
        return self._call('POST', f'/api/queues/{_segment(vhost)}/{_segment(name)}/get',
                          body=dict(count=count, ackmode='ack_requeue_false', encoding='auto'))

    def publish(self, vhost, exchange, routing_key, payload, payload_encoding='string', properties=None):
        """Publish one message; returns whether the broker routed it to at least one queue.

        An empty exchange name means the default exchange, which routes to the
        queue named by routing_key.
        """
        answer = self._call('POST', f'/api/exchanges/{_segment(vhost)}/{_segment(exchange or "amq.default")}/publish',
                            body=dict(routing_key=routing_key, payload=payload, payload_encoding=payload_encoding,
                                      properties=properties or {}))
        return bool(answer and answer.get('routed'))

    def close(self):
        """Close the connections the session keeps open."""
        close = getattr(self.session, 'close', None)
        if close is not None:
            close()

    def _call(self, method, path, query=None, body=None):
        url = self.base_url + path
        if query:
            url += '?' + urlencode(query, safe=',')
        try:
            if body is None:
                response = self.session.open(method, url)
            else:
                response = self.session.open(method, url, data=json.dumps(body).encode())
            with response:
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


class KeepAliveSession:
    """HTTP/1.1 keep-alive connections to the management API, one per thread.

    ansible.module_utils.urls.Request sends ``Connection: close``, so every
    request pays a TCP (and TLS) handshake: purging hundreds of queues then
    costs more in handshakes than in the broker. This session keeps one
    http.client connection per thread (a connection is not thread-safe) and
    still takes its TLS context from ansible.module_utils.urls and builds the
    Basic credentials as that module does. Its attributes and ``open()``
    mirror Request's, and HTTP errors are raised as urllib's HTTPError, as
    Request raises them.
    """

    def __init__(self, url_username, url_password, force_basic_auth=True, validate_certs=True, ca_path=None,
                 client_cert=None, client_key=None, timeout=TIMEOUT, headers=None, http_agent=None):
        self.url_username = url_username
        self.url_password = url_password
        self.force_basic_auth = force_basic_auth
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self.timeout = timeout
        self.headers = dict(headers or {})
        if http_agent:
            self.headers['User-Agent'] = http_agent
        self.headers['Authorization'] = basic_auth_header(url_username, url_password)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections = []
        self._context = None

    def open(self, method, url, data=None):
        parts = urlsplit(url)
        target = parts.path + (f'?{parts.query}' if parts.query else '')
        connection, reused = self._connection(parts)
        try:
            response = self._send(connection, method, target, data)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            # The broker closed an idle keep-alive connection before reading
            # the request: nothing was done, so send it again on a fresh one.
            connection.close()
            response = self._send(connection, method, target, data)
        payload = response.read()
        if response.status >= 400:
            raise HTTPError(url, response.status, response.reason, response.headers, io.BytesIO(payload))
        return io.BytesIO(payload)

    def close(self):
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def _send(self, connection, method, target, data):
        headers = dict(self.headers)
        if method == 'DELETE':
            # A DELETE has no body to offer, and the management API answers
            # 406 Not Acceptable when the request accepts JSON only.
            headers['Accept'] = '*/*'
        if data is not None:
            headers['Content-Length'] = str(len(data))
        connection.request(method, target, body=data, headers=headers)
        return connection.getresponse()

    def _connection(self, parts):
        connections = self._local.__dict__.setdefault('connections', {})
        key = (parts.scheme, parts.netloc)
        if key in connections:
            return connections[key], connections[key].sock is not None
        if parts.scheme == 'https':
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout,
                                                     context=self._tls_context())
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        connections[key] = connection
        with self._lock:
            self._connections.append(connection)
        return connection, False

    def _tls_context(self):
        # Imported here: ansible.module_utils.urls pulls in cryptography and more, which adds about a
        # tenth of a second to every module run, and only TLS needs it.
        from ansible.module_utils.urls import make_context  # pylint: disable=import-outside-toplevel
        with self._lock:
            if self._context is None:
                self._context = make_context(cafile=self.ca_path, validate_certs=self.validate_certs,
                                             client_cert=self.client_cert, client_key=self.client_key)
            return self._context


def basic_auth_header(username, password):
    """The value of a Basic Authorization header, as ansible.module_utils.urls.basic_auth_header makes it (as text)."""
    credentials = to_bytes(f"{username}:{'' if password is None else password}", errors='surrogate_or_strict')
    return 'Basic ' + base64.b64encode(credentials).decode()


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

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import http.server
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import threading
from http.client import RemoteDisconnected
from urllib.error import HTTPError, URLError

import pytest
from ansible.module_utils import urls

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import rabbitmq
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import (
    ApiError,
    BackendUnavailable,
    OpsError,
)

BASE = 'http://rmq:15672'
COLUMNS = '?columns=vhost,name,type,state,messages,messages_ready,messages_unacknowledged,consumers'


def test_list_queues_of_the_root_vhost_encodes_the_slash(fake_session):
    session = fake_session({('GET', f'{BASE}/api/queues/%2F{COLUMNS}'): [
        dict(vhost='/', name='conductor', type='quorum', state='running', messages=3, messages_ready=2,
             messages_unacknowledged=1, consumers=2, memory=1024),
    ]})

    queues = rabbitmq.RabbitMQClient(BASE + '/', session).list_queues('/')

    assert session.calls == [('GET', f'{BASE}/api/queues/%2F{COLUMNS}')]
    assert queues == [dict(vhost='/', name='conductor', type='quorum', state='running', messages=3,
                           messages_ready=2, messages_unacknowledged=1, consumers=2)]


def test_list_queues_without_a_vhost_lists_all_and_keeps_unknown_counts_unknown(fake_session):
    session = fake_session({('GET', f'{BASE}/api/queues{COLUMNS}'): [
        dict(vhost='nova', name='scheduler_fanout_1'),
    ]})

    queues = rabbitmq.RabbitMQClient(BASE, session).list_queues()

    assert queues == [dict(vhost='nova', name='scheduler_fanout_1', type='classic', state=None, messages=None,
                           messages_ready=None, messages_unacknowledged=None, consumers=None)]


def test_purge_queue_encodes_every_reserved_character(fake_session):
    url = f'{BASE}/api/queues/%2Fnova%20prod/reply_%2Fa%3Fb%23c%25/contents'
    session = fake_session({('DELETE', url): None})

    assert rabbitmq.RabbitMQClient(BASE, session).purge_queue('/nova prod', 'reply_/a?b#c%') is None
    assert session.calls == [('DELETE', url)]


def test_overview(fake_session):
    overview = {'cluster_name': 'rabbit@ctl1', 'rabbitmq_version': '3.10.8'}
    session = fake_session({('GET', f'{BASE}/api/overview'): overview})

    assert rabbitmq.RabbitMQClient(BASE, session).overview()['cluster_name'] == 'rabbit@ctl1'


def test_http_errors_become_api_errors_with_status_and_body(fake_session, make_http_error):
    url = f'{BASE}/api/queues/nope{COLUMNS}'
    body = {'error': 'Object Not Found', 'reason': 'Not Found'}
    session = fake_session({('GET', url): make_http_error(url, 404, body)})

    with pytest.raises(ApiError) as raised:
        rabbitmq.RabbitMQClient(BASE, session).list_queues('nope')

    assert raised.value.status == 404
    assert raised.value.msg == 'RabbitMQ GET /api/queues/nope failed with HTTP 404: Not Found'
    assert raised.value.details['body'] == '{"error": "Object Not Found", "reason": "Not Found"}'


@pytest.mark.parametrize('error, reason', [
    (URLError(ConnectionRefusedError(111, 'Connection refused')), 'Connection refused'),
    (TimeoutError('timed out'), 'timed out'),
    (RemoteDisconnected('Remote end closed connection without response'), 'Remote end closed'),
])
def test_transport_errors_mean_the_api_is_unavailable(fake_session, error, reason):
    session = fake_session({('GET', f'{BASE}/api/overview'): error})

    with pytest.raises(BackendUnavailable) as raised:
        rabbitmq.RabbitMQClient(BASE, session).overview()

    assert raised.value.msg.startswith(f'Cannot reach the RabbitMQ management API at {BASE}: ')
    assert reason in raised.value.msg
    assert raised.value.details == {'url': BASE}


def test_a_body_that_is_not_json_is_an_error(fake_session):
    session = fake_session({('GET', f'{BASE}/api/overview'): b'<html>login</html>'})

    with pytest.raises(OpsError) as raised:
        rabbitmq.RabbitMQClient(BASE, session).overview()

    assert raised.value.msg == 'RabbitMQ GET /api/overview returned a body that is not JSON'
    assert raised.value.details['body'] == '<html>login</html>'


def rabbitmq_params(**overrides):
    params = {name: option.get('default') for name, option in rabbitmq.ARGUMENT_SPEC.items()}
    params.update(login_user='monitor', login_password='secret')
    params.update(overrides)
    return params


def test_connect_builds_one_authenticated_session():
    client = rabbitmq.connect(rabbitmq_params(login_host='ctl1', login_protocol='https', login_port=15671,
                                              validate_certs=False, ca_cert='/ca.pem'))

    assert client.base_url == 'https://ctl1:15671'
    session = client.session
    assert (session.url_username, session.url_password, session.force_basic_auth) == ('monitor', 'secret', True)
    assert (session.validate_certs, session.ca_path, session.timeout) == (False, '/ca.pem', rabbitmq.TIMEOUT)
    assert session.headers['Accept'] == 'application/json'


def test_connect_brackets_an_ipv6_host():
    assert rabbitmq.connect(rabbitmq_params(login_host='fd00::5')).base_url == 'http://[fd00::5]:15672'


@pytest.mark.parametrize('user, password', [('monitor', 's3cret'), ('opérateur', 'pâss:word'), ('guest', None),
                                            ('guest', '')])
def test_the_basic_credentials_are_those_ansible_urls_would_send(user, password):
    session = rabbitmq.KeepAliveSession(user, password)

    assert session.headers['Authorization'] == urls.basic_auth_header(user, password).decode()


def test_plain_http_does_not_import_ansible_urls_and_tls_still_takes_its_context_from_it():
    """ansible.module_utils.urls adds about 0.1 s to a run; only TLS needs it."""
    code = textwrap.dedent('''
        import json
        import sys
        from ansible_collections.openstack_ops.runbooks.plugins.module_utils import rabbitmq
        session = rabbitmq.KeepAliveSession('monitor', 's3cret')
        before = 'ansible.module_utils.urls' in sys.modules
        session._tls_context()
        print(json.dumps([before, 'ansible.module_utils.urls' in sys.modules]))
    ''')
    root = pathlib.Path(rabbitmq.__file__).resolve().parents[5]
    out = subprocess.run([sys.executable, '-c', code], env=dict(os.environ, PYTHONPATH=str(root)), capture_output=True,
                         text=True, check=True, timeout=60).stdout

    assert json.loads(out) == [False, True]


class Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'   # keep-alive
    seen = []
    connections = []

    def setup(self):
        super().setup()
        Recorder.connections.append(self.client_address)

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        Recorder.seen.append((self.command, self.path, dict(self.headers), body))
        if self.path.startswith('/missing'):
            status, payload = 404, b'{"error": "Object Not Found", "reason": "Not Found"}'
        elif self.headers.get('Accept') == 'application/json' and self.command == 'DELETE':
            status, payload = 406, b''
        else:
            status, payload = (204, b'') if self.command == 'DELETE' else (200, b'{"routed": true}')
        self.send_response(status)
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _answer


@pytest.fixture
def server():
    Recorder.seen, Recorder.connections = [], []
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    httpd.server_close()


def client_for(base):
    return rabbitmq.RabbitMQClient(base, rabbitmq.KeepAliveSession('admin', 's3cret', headers={
        'Accept': 'application/json', 'Content-Type': 'application/json'}))


def test_one_connection_carries_every_request_with_credentials(server):
    client = client_for(server)

    client.purge_queue('/', 'conductor')
    client.purge_queue('nova/prod', 'reply_1')
    assert client.publish('/', '', 'conductor', 'hello', properties={'headers': {'a': 1}}) is True
    client.close()

    assert len(Recorder.connections) == 1
    assert [(method, path) for method, path, _headers, _body in Recorder.seen] == [
        ('DELETE', '/api/queues/%2F/conductor/contents'),
        ('DELETE', '/api/queues/nova%2Fprod/reply_1/contents'),
        ('POST', '/api/exchanges/%2F/amq.default/publish')]
    assert all(headers['Authorization'] == 'Basic YWRtaW46czNjcmV0' for _m, _p, headers, _b in Recorder.seen)
    assert json.loads(Recorder.seen[2][3]) == dict(routing_key='conductor', payload='hello', payload_encoding='string',
                                                   properties={'headers': {'a': 1}})


def test_get_messages_asks_for_removal_and_auto_encoding(server):
    client_for(server).get_messages('cell2', 'compute.cmp1', 500)

    method, path, _headers, body = Recorder.seen[0]
    assert (method, path) == ('POST', '/api/queues/cell2/compute.cmp1/get')
    assert json.loads(body) == dict(count=500, ackmode='ack_requeue_false', encoding='auto')


def test_http_errors_are_raised_as_urllib_does(server):
    session = rabbitmq.KeepAliveSession('admin', 's3cret')

    with pytest.raises(HTTPError) as raised:
        session.open('GET', f'{server}/missing')

    assert raised.value.code == 404
    assert b'Not Found' in raised.value.read()


def test_threads_get_their_own_connections(server):
    client = client_for(server)
    threads = [threading.Thread(target=client.purge_queue, args=('/', f'q{i}')) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()

    assert len(Recorder.seen) == 3
    assert len(Recorder.connections) == 3


def test_an_unreachable_api_is_backend_unavailable():
    client = client_for('http://127.0.0.1:1')

    with pytest.raises(BackendUnavailable):
        client.list_vhosts()

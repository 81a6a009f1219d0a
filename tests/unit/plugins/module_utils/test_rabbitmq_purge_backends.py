# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The keep-alive session, the rabbitmqctl client and the message archive."""

import datetime
import http.server
import json
import subprocess
import threading
from urllib.error import HTTPError

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import rabbitmq, rabbitmq_archive
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable, OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.rabbitmqctl import RabbitmqctlClient


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


class FakeRun:
    def __init__(self, outputs):
        self.outputs = outputs
        self.argvs = []

    def __call__(self, argv, **kwargs):
        self.argvs.append((argv, kwargs))
        output = self.outputs.pop(0)
        if isinstance(output, Exception):
            raise output
        return output


def done(stdout='', returncode=0, stderr=''):
    return subprocess.CompletedProcess([], returncode, stdout, stderr)


def test_rabbitmqctl_lists_every_vhost_with_the_json_formatter():
    run = FakeRun([done('[{"name":"/"},{"name":"cell2"}]'),
                   done('[{"name":"conductor","type":"classic","messages":3,"messages_ready":3,'
                        '"messages_unacknowledged":0,"consumers":0,"state":"running"}]'),
                   done('[]')])
    client = RabbitmqctlClient('/usr/lib/rabbitmq/bin/rabbitmqctl', node='rabbit@ctl1', env={'ERL_EPMD_PORT': 4370},
                               timeout=5, runner=run)

    queues = client.list_queues()

    assert queues == [dict(vhost='/', name='conductor', type='classic', state='running', messages=3, messages_ready=3,
                           messages_unacknowledged=0, consumers=0)]
    argv, kwargs = run.argvs[1]
    assert argv == ['/usr/lib/rabbitmq/bin/rabbitmqctl', '--quiet', '-n', 'rabbit@ctl1', 'list_queues', '-p', '/',
                    'name', 'type', 'state', 'messages', 'messages_ready', 'messages_unacknowledged', 'consumers',
                    '--formatter', 'json']
    assert kwargs['env']['ERL_EPMD_PORT'] == '4370' and kwargs['timeout'] == 5


def test_rabbitmqctl_purge_passes_the_name_after_the_options():
    run = FakeRun([done()])
    RabbitmqctlClient('rabbitmqctl', runner=run).purge_queue('nova', '-odd-name')

    assert run.argvs[0][0] == ['rabbitmqctl', '--quiet', 'purge_queue', '-p', 'nova', '--', '-odd-name']


@pytest.mark.parametrize('outcome, error_class, message', [
    (done(returncode=69, stderr="Error: unable to perform an operation on node 'rabbit@ctl1'."), BackendUnavailable,
     "rabbitmqctl list_vhosts name --formatter json failed (exit code 69): Error: unable to perform an operation on node"),
    (done(returncode=2, stderr='Error: vhost nope does not exist'), OpsError, 'vhost nope does not exist'),
    (subprocess.TimeoutExpired(['rabbitmqctl'], 5), BackendUnavailable, 'did not finish within 5 s'),
    (FileNotFoundError(2, 'No such file'), BackendUnavailable, 'Cannot run rabbitmqctl'),
    (done('not json'), OpsError, 'rabbitmqctl list_vhosts printed something that is not JSON'),
])
def test_rabbitmqctl_failures_are_named(outcome, error_class, message):
    client = RabbitmqctlClient('rabbitmqctl', timeout=5, runner=FakeRun([outcome]))

    with pytest.raises(error_class) as raised:
        client.list_vhosts()

    assert message in raised.value.msg


def test_archive_round_trip_and_checksum(tmp_path):
    writer = rabbitmq_archive.ArchiveWriter(str(tmp_path), now=datetime.datetime(2024, 8, 2, 9, 39, 40))
    assert writer.finish() is None and not list(tmp_path.iterdir())

    writer.write('/', 'conductor', [dict(payload='{"a": 1}', payload_encoding='string', payload_bytes=8,
                                         redelivered=False, exchange='nova', routing_key='conductor',
                                         properties={'headers': {'x': 1}}, message_count=0)])
    archive = writer.finish()

    assert archive['path'] == str(tmp_path / 'rabbitmq-purge-20240802T093940000000Z.jsonl')
    assert archive['messages'] == 1
    assert (tmp_path / 'rabbitmq-purge-20240802T093940000000Z.jsonl').stat().st_mode & 0o777 == 0o600
    assert rabbitmq_archive.verify(archive['path']) == archive['sha256']
    assert list(rabbitmq_archive.records(archive['path'])) == [dict(
        vhost='/', queue='conductor', payload='{"a": 1}', payload_encoding='string', payload_bytes=8,
        redelivered=False, exchange='nova', routing_key='conductor', properties={'headers': {'x': 1}})]


def test_an_archive_without_or_against_its_checksum_is_refused(tmp_path):
    archive = tmp_path / 'a.jsonl'
    archive.write_text('{}\n')
    with pytest.raises(OpsError, match='refusing to use an unverified archive'):
        rabbitmq_archive.verify(str(archive))

    (tmp_path / 'a.jsonl.sha256').write_text('0' * 64 + '  a.jsonl\n')
    with pytest.raises(OpsError, match='does not match its checksum'):
        rabbitmq_archive.verify(str(archive))

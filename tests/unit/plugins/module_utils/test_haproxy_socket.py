# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""haproxy: the admin socket client - what it sends, how it reads the servers of a backend and haproxy's errors.

haproxy is a thread behind a real Unix socket under tmp_path that answers each connection as haproxy's
non-interactive mode does: it reads one command line, writes its answer and closes.
"""

import socket
import threading

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import haproxy_socket as haproxy
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable, OpsError

COLUMNS = ('be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight '
           'srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state '
           'srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port '
           'srv_check_addr srv_agent_addr srv_agent_port')


def row(backend, name, address, op_state, admin_state, port='8774'):
    return f'3 {backend} 1 {name} {address} {op_state} {admin_state} 1 1 120 6 3 4 6 0 0 0 - {port} - 0 0 - - 0'


def state_answer(*rows):
    """``show servers state``: the format version, the column header, a row per server."""
    return '1\n# ' + COLUMNS + '\n' + ''.join(line + '\n' for line in rows) + '\n'


class FakeHaproxy:
    """Answers the commands it receives from ``answers`` (a string, or a callable of the command line)."""

    def __init__(self, path, answers, reply=True):
        self.path = path
        self.answers = answers
        self.reply = reply
        self.received = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(4)
        self.listener.settimeout(0.1)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping.is_set():
            try:
                connection, _address = self.listener.accept()
            except socket.timeout:
                continue
            with connection:
                connection.settimeout(2)
                data = b''
                while not data.endswith(b'\n'):
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.received.append(data)
                if not self.reply:   # hold the connection open without a word until the test ends
                    self.stopping.wait(5)
                    continue
                answer = self.answers(data.decode()) if callable(self.answers) else self.answers
                connection.sendall(answer if isinstance(answer, bytes) else answer.encode())

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def serve(tmp_path):
    """serve(answers, reply=True) starts a fake haproxy on tmp_path/admin.sock and returns it."""
    servers = []

    def start(answers, reply=True):
        servers.append(FakeHaproxy(str(tmp_path / 'admin.sock'), answers, reply))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_command_sends_one_line_and_returns_the_whole_answer(serve):
    big = 'x' * 200_000 + '\nend\n'   # more than one recv
    fake = serve(big)

    answer = haproxy.AdminSocket(fake.path).command('show info')

    assert answer == big
    assert fake.received == [b'show info\n']


def test_an_answer_that_is_not_utf8_is_still_read(serve):
    fake = serve(b'caf\xe9\n')

    assert haproxy.AdminSocket(fake.path).command('show info') == 'caf\ufffd\n'


def test_servers_are_read_in_configuration_order_with_their_states(serve):
    fake = serve(state_answer(
        row('nova_api', 'ctl1', '10.0.0.11', 2, 0),
        row('nova_api', 'ctl2', '10.0.0.12', 2, 0x08),          # drained by an operator
        row('nova_api', 'ctl3', '10.0.0.13', 0, 0x01),          # maintenance forced by an operator
        row('nova_api', 'ctl4', '10.0.0.14', 0, 0x02),          # maintenance inherited from a tracked server
        row('nova_api', 'ctl5', '10.0.0.15', 0, 0x01 | 0x04),   # "disabled" in the configuration
        row('nova_api', 'ctl6', '10.0.0.16', 0, 0x20),          # its name does not resolve
        row('nova_api', 'ctl7', '10.0.0.17', 1, 0x10),          # drain inherited
        row('nova_api', 'ctl8', '10.0.0.18', 3, 0x08 | 0x01),   # drained, then forced into maintenance
    ))

    servers = haproxy.AdminSocket(fake.path).servers('nova_api')

    assert fake.received == [b'show servers state nova_api\n']
    assert [(s['name'], s['admin'], s['forced_maint'], s['operational']) for s in servers] == [
        ('ctl1', 'ready', False, 'up'),
        ('ctl2', 'drain', False, 'up'),
        ('ctl3', 'maint', True, 'down'),
        ('ctl4', 'maint', False, 'down'),
        ('ctl5', 'maint', True, 'down'),
        ('ctl6', 'maint', False, 'down'),
        ('ctl7', 'drain', False, 'starting'),
        ('ctl8', 'maint', True, 'stopping'),
    ]
    assert servers[0] == dict(name='ctl1', address='10.0.0.11', port=8774, admin='ready', forced_maint=False,
                              operational='up')


def test_a_port_that_is_not_a_number_and_an_unknown_operational_state_are_kept_as_such(serve):
    fake = serve(state_answer(row('nova_api', 'ctl1', '10.0.0.11', 7, 0, port='-')))

    (server,) = haproxy.AdminSocket(fake.path).servers('nova_api')

    assert (server['port'], server['operational']) == (None, '7')


def test_rows_of_other_backends_are_left_out(serve):
    fake = serve(state_answer(row('glance_api', 'ctl1', '10.0.0.11', 2, 0), row('nova_api', 'ctl2', '10.0.0.12', 2, 0)))

    assert [s['name'] for s in haproxy.AdminSocket(fake.path).servers('nova_api')] == ['ctl2']


def test_a_backend_without_servers_has_none(serve):
    fake = serve(state_answer())

    assert haproxy.AdminSocket(fake.path).servers('nova_api') == []


@pytest.mark.parametrize('answer, shown', [
    ("Can't find backend.\n", "Can't find backend."),
    ('', 'no answer'),
])
def test_a_backend_haproxy_does_not_have_is_an_ops_error_with_its_answer(serve, answer, shown):
    fake = serve(answer)

    with pytest.raises(OpsError) as raised:
        haproxy.AdminSocket(fake.path).servers('nova_api')

    assert raised.value.msg == f"haproxy has no backend 'nova_api' ({shown})"
    assert raised.value.details == dict(socket=fake.path, backend='nova_api')


def test_set_admin_state_sends_one_line_for_all_servers(serve):
    fake = serve('\n')   # haproxy answers a successful `set server` with an empty line

    assert haproxy.AdminSocket(fake.path).set_admin_state('nova_api', ['ctl1', 'ctl3'], 'maint') is None
    assert fake.received == [b'set server nova_api/ctl1 state maint; set server nova_api/ctl3 state maint\n']


def test_set_admin_state_raises_what_haproxy_answers(serve):
    fake = serve('No such server.\n\n')

    with pytest.raises(OpsError) as raised:
        haproxy.AdminSocket(fake.path).set_admin_state('nova_api', ['ctl9'], 'ready')

    assert raised.value.msg == 'haproxy refused "set server nova_api/ctl9 state ready": No such server.'
    assert raised.value.details == dict(socket=fake.path, backend='nova_api')


def test_no_socket_means_haproxy_is_unavailable(tmp_path):
    path = str(tmp_path / 'admin.sock')

    with pytest.raises(BackendUnavailable) as raised:
        haproxy.AdminSocket(path).servers('nova_api')

    assert raised.value.msg.startswith(f'haproxy admin socket {path}: ')
    assert 'No such file or directory' in raised.value.msg
    assert raised.value.details == dict(socket=path)


def test_a_silent_haproxy_times_out_as_unavailable(serve):
    fake = serve('', reply=False)

    with pytest.raises(BackendUnavailable) as raised:
        haproxy.AdminSocket(fake.path, timeout=0.2).command('show info')

    assert raised.value.msg == f'haproxy admin socket {fake.path}: timed out'


def test_a_server_whose_fqdn_was_set_over_the_socket_is_still_ready(serve):
    fake = serve(state_answer(row('nova_api', 'ctl1', '10.0.0.11', 2, 0x40)))

    (server,) = haproxy.AdminSocket(fake.path).servers('nova_api')

    assert server['admin'] == 'ready'


@pytest.mark.parametrize('backend, names', [
    ('nova_api_back; shutdown sessions server nova_api_back/ctl1', ['ctl1']),
    ('nova_api_back', ['ctl1 state ready; set server nova_api_back/ctl2']),
    ('', ['ctl1']),
])
def test_a_name_haproxy_would_not_accept_is_refused_before_anything_is_sent(serve, backend, names):
    fake = serve('')
    admin = haproxy.AdminSocket(fake.path)

    with pytest.raises(OpsError, match='is not an haproxy (backend|server) name'):
        admin.set_admin_state(backend, names, 'maint')
    with pytest.raises(OpsError, match='is not an haproxy backend name'):
        admin.servers(backend if backend != 'nova_api_back' else 'a b')

    assert fake.received == []

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import types

import oslo_messaging
import pytest

from ansible_collections.openstack_ops.runbooks.plugins.modules import nova_conductor_ping

URL = 'rabbit://openstack:s3cret@rabbit.example:5672/'
ARGS = dict(transport_url=URL, server='ctl2', timeout=3)


class FakeClient:
    """An RPC client whose call() answers or raises what the test says (in turn, for a list); records the calls."""

    def __init__(self, outcome):
        self.outcomes = list(outcome) if isinstance(outcome, list) else None
        self.outcome = outcome
        self.calls = []

    def call(self, context, method):
        self.calls.append((context, method))
        outcome = self.outcomes.pop(0) if self.outcomes else self.outcome
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


REAL_TRANSPORT = oslo_messaging.get_rpc_transport
REAL_CONSUMERS = nova_conductor_ping.NovaConductorPing._consumers


@pytest.fixture
def rpc(monkeypatch):
    """use(outcome): oslo.messaging's own in-memory fake driver as the transport, a FakeClient as the client."""
    made = {}

    def transport(conf, url):
        made['url'] = url
        return REAL_TRANSPORT(conf, url='fake://')

    def use(outcome):
        client = FakeClient(outcome)

        def get_rpc_client(transport, target, **kwargs):
            made.update(target=target, kwargs=kwargs)
            return client

        monkeypatch.setattr(oslo_messaging, 'get_rpc_client', get_rpc_client)
        return client

    def consumers(_module, url, queue):
        made.setdefault('counted', []).append(queue)
        made['hosts'] = [(host.hostname, host.port) for host in url.hosts]
        return use.consumer_counts.pop(0) if len(use.consumer_counts) > 1 else use.consumer_counts[0]

    monkeypatch.setattr(oslo_messaging, 'get_rpc_transport', transport)
    monkeypatch.setattr(nova_conductor_ping.NovaConductorPing, '_consumers', consumers)
    monkeypatch.setattr(nova_conductor_ping, 'POLL_SECONDS', 0.01)
    use.made = made
    use.consumer_counts = [1]   # the broker's count at each look; the last one repeats
    return use


def test_an_answer_is_answered_with_the_reply_and_elapsed_time(run_module, rpc):
    client = rpc('pong')
    rc, result = run_module(nova_conductor_ping.main, ARGS)

    assert rc == 0
    assert result['changed'] is False
    assert result['answered'] is True
    assert result['reply'] == 'pong'
    assert result['error'] is None
    assert result['elapsed'] >= 0
    assert result['target'] == dict(exchange='nova', topic='conductor', server='ctl2')
    assert client.calls == [({}, 'oslo_rpc_server_ping')]
    assert rpc.made['target'].server == 'ctl2' and rpc.made['target'].exchange == 'nova'
    assert rpc.made['kwargs']['timeout'] == 3
    assert rpc.made['url'] == URL
    assert rpc.made['counted'] == ['conductor.ctl2'] and rpc.made['hosts'] == [('rabbit.example', 5672)]
    assert result['consumers'] == 1 and result['attempts'] == 1


def test_a_timeout_is_no_answer_not_a_failure(run_module, rpc):
    rpc(oslo_messaging.MessagingTimeout('Timed out waiting for a reply'))
    rc, result = run_module(nova_conductor_ping.main, ARGS)

    assert rc == 0
    assert result['answered'] is False
    assert result['reply'] is None
    assert result['error'].startswith('MessagingTimeout: Timed out')


def test_a_server_without_rpc_ping_enabled_fails_saying_which_option(run_module, rpc):
    rpc(oslo_messaging.NoSuchMethod('oslo_rpc_server_ping'))
    rc, result = run_module(nova_conductor_ping.main, ARGS)

    assert rc == 1
    assert 'conductor.ctl2 does not offer oslo_rpc_server_ping' in result['msg']
    assert 'rpc_ping_enabled = true' in result['msg']


def test_an_unreachable_broker_fails_clearly(run_module, rpc):
    rpc(oslo_messaging.MessageDeliveryFailure('Unable to connect to AMQP server after 2 tries'))
    rc, result = run_module(nova_conductor_ping.main, ARGS)

    assert rc == 1
    assert result['msg'].startswith('Could not deliver the ping to the broker')


def test_the_transport_url_password_never_appears_in_the_result(run_module, rpc):
    rpc(oslo_messaging.MessageDeliveryFailure(f'cannot reach {URL}'))
    rc, result = run_module(nova_conductor_ping.main, ARGS)

    assert rc == 1
    assert 's3cret' not in repr(result)


def test_a_timeout_below_one_second_is_refused_before_any_call(run_module, rpc):
    client = rpc('pong')
    rc, result = run_module(nova_conductor_ping.main, dict(ARGS, timeout=0))

    assert rc == 1
    assert 'timeout must be at least 1, not 0' in result['msg']
    assert client.calls == []


def test_a_transport_url_oslo_messaging_cannot_parse_is_refused(run_module):
    rc, result = run_module(nova_conductor_ping.main, dict(ARGS, transport_url='rabbit://user:s3cret@host:notaport/'))

    assert rc == 1
    assert 'transport_url is not a valid oslo.messaging URL' in result['msg']
    assert 's3cret' not in repr(result)


def test_a_queue_without_consumer_is_not_asked(run_module, rpc):
    client = rpc('pong')
    rpc.consumer_counts = [0]
    rc, result = run_module(nova_conductor_ping.main, ARGS)

    assert rc == 0
    assert result['answered'] is False and result['consumers'] == 0 and result['attempts'] == 0
    assert result['error'] == 'no consumer on queue conductor.ctl2'
    assert client.calls == []


def test_wait_keeps_counting_and_asking_until_the_answer(run_module, rpc):
    client = rpc([oslo_messaging.MessagingTimeout('Timed out'), 'pong'])
    rpc.consumer_counts = [0, 0, 1]
    rc, result = run_module(nova_conductor_ping.main, dict(ARGS, wait=30))

    assert rc == 0
    assert result['answered'] is True and result['error'] is None
    assert result['consumers'] == 1 and result['attempts'] == 2
    assert len(rpc.made['counted']) == 4 and len(client.calls) == 2


def test_wait_gives_up_when_its_time_is_out(run_module, rpc):
    client = rpc('pong')
    rpc.consumer_counts = [0]
    rc, result = run_module(nova_conductor_ping.main, dict(ARGS, wait=1))

    assert rc == 0
    assert result['answered'] is False and result['attempts'] == 0
    assert 1 <= result['elapsed'] < 10
    assert len(rpc.made['counted']) > 2 and client.calls == []


def test_a_negative_wait_is_refused(run_module, rpc):
    rpc('pong')
    rc, result = run_module(nova_conductor_ping.main, dict(ARGS, wait=-1))

    assert rc == 1
    assert 'wait must be at least 0, not -1' in result['msg']


class FakeBroker:
    """kombu's stand-in: each count takes the next outcome - a consumer count, 'missing' (a 404) or 'lost'."""

    channel_errors = (LookupError,)
    connection_errors = (ConnectionError,)

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.connections = []

    def Connection(self, **kwargs):   # noqa: N802 - kombu's name
        connection = types.SimpleNamespace(hostname=kwargs['hostname'], channels=[], released=False,
                                           channel_errors=self.channel_errors,
                                           connection_errors=self.connection_errors)
        connection.channel = lambda: self._channel(connection)
        connection.release = lambda: setattr(connection, 'released', True)
        self.connections.append(connection)
        return connection

    def _channel(self, connection):
        outcome = self.outcomes.pop(0)
        channel = types.SimpleNamespace(closed=False)

        def queue_declare(queue, passive):
            if outcome == 'lost':
                raise ConnectionError('Connection reset by peer')
            if outcome == 'missing':
                raise LookupError(f"NOT_FOUND - no queue '{queue}'")
            return types.SimpleNamespace(consumer_count=outcome)

        channel.queue_declare = queue_declare
        channel.close = lambda: setattr(channel, 'closed', True)
        connection.channels.append(channel)
        return channel


@pytest.fixture
def broker(monkeypatch, rpc):
    """use(outcomes): the real consumer count over a FakeBroker instead of kombu."""
    monkeypatch.setattr(nova_conductor_ping.NovaConductorPing, '_consumers', REAL_CONSUMERS)

    def use(outcomes):
        fake = FakeBroker(outcomes)
        monkeypatch.setattr(nova_conductor_ping, 'kombu', fake)
        return fake
    return use


def test_a_wait_counts_on_one_connection_with_a_channel_per_count(run_module, rpc, broker):
    rpc('pong')
    fake = broker(['missing', 0, 1])
    rc, result = run_module(nova_conductor_ping.main, dict(ARGS, wait=30))

    assert rc == 0 and result['answered'] is True and result['consumers'] == 1
    assert len(fake.connections) == 1 and fake.connections[0].released   # released when the module ends
    assert len(fake.connections[0].channels) == 3 and all(channel.closed for channel in fake.connections[0].channels)


def test_a_lost_connection_is_replaced_at_the_next_count(run_module, rpc, broker):
    rpc('pong')
    fake = broker([0, 'lost', 1])
    rc, result = run_module(nova_conductor_ping.main, dict(ARGS, wait=30))

    assert rc == 0 and result['answered'] is True
    assert [len(connection.channels) for connection in fake.connections] == [2, 1]
    assert all(connection.released for connection in fake.connections)


def test_no_broker_reachable_fails_naming_each(run_module, rpc, broker):
    rpc('pong')
    broker(['lost'])
    rc, result = run_module(nova_conductor_ping.main, ARGS)

    assert rc == 1
    assert result['msg'] == ('Could not reach the broker to count the consumers of conductor.ctl2: '
                             'rabbit.example:5672: Connection reset by peer')


def test_the_reply_queue_expires_a_second_after_the_module(run_module, rpc, monkeypatch):
    """oslo.messaging keeps a client's reply_<id> queue 30 minutes (rabbit_transient_queues_ttl); ours expires in 1 s."""
    rpc('pong')
    made = {}

    def rabbit_transport(conf, url):   # the real rabbit driver (it connects only when used; the client is fake)
        made['conf'] = conf
        return REAL_TRANSPORT(conf, url=URL)

    monkeypatch.setattr(oslo_messaging, 'get_rpc_transport', rabbit_transport)
    try:
        rc, result = run_module(nova_conductor_ping.main, ARGS)

        assert rc == 0 and result['answered'] is True
        assert made['conf'].oslo_messaging_rabbit.rabbit_transient_queues_ttl == 1
    finally:
        made['conf'].clear_override('rabbit_transient_queues_ttl', group='oslo_messaging_rabbit')

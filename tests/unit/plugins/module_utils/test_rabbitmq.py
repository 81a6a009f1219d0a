# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import json
import os
import pathlib
import subprocess
import sys
import textwrap
from http.client import RemoteDisconnected
from urllib.error import URLError

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

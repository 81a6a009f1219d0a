# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import subprocess

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, BackendUnavailable, OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.rabbitmqctl import RabbitmqctlClient, choose_backend


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


class Api:
    def __init__(self, answer=None):
        self.answer = answer

    def overview(self):
        if self.answer:
            raise self.answer
        return {}


def choose(backend, api=None, login_user='admin', installed=True, needs_http=None):
    """choose_backend with fakes; returns (backend, client, warnings, rabbitmqctl lookups)."""
    warnings, lookups = [], []
    ctl = RabbitmqctlClient('/usr/sbin/rabbitmqctl', runner=FakeRun([]))

    def rabbitmqctl(required):
        lookups.append(required)
        return ctl if installed or required else None
    name, client = choose_backend(backend, lambda: api or Api(), rabbitmqctl, login_user, warnings.append,
                                  needs_http=needs_http)
    return name, client, warnings, lookups


def test_auto_uses_the_api_when_it_answers_and_rabbitmqctl_without_a_login():
    assert choose('auto')[0] == 'http'
    name, _client, _warnings, lookups = choose('auto', login_user=None)
    assert (name, lookups) == ('rabbitmqctl', [True])


@pytest.mark.parametrize('answer', [BackendUnavailable('Cannot reach the RabbitMQ management API'),
                                    ApiError('RabbitMQ GET /api/overview failed with HTTP 404', status=404, body='')])
def test_auto_falls_back_with_a_warning_only_when_the_api_is_not_there(answer):
    name, client, warnings, lookups = choose('auto', api=Api(answer))

    assert (name, client.path, lookups) == ('rabbitmqctl', '/usr/sbin/rabbitmqctl', [False])
    assert warnings == [f'The management API is not available ({answer.msg}); using /usr/sbin/rabbitmqctl.']

    with pytest.raises(type(answer)):
        choose('auto', api=Api(answer), installed=False)


def test_auto_does_not_fall_back_on_bad_credentials():
    with pytest.raises(ApiError, match='401'):
        choose('auto', api=Api(ApiError('RabbitMQ GET /api/overview failed with HTTP 401', status=401, body='')))


@pytest.mark.parametrize('backend, login_user, message', [
    ('rabbitmqctl', 'admin', 'archive_dir needs the management HTTP API: use backend http or auto'),
    ('auto', None, 'archive_dir needs login_user and login_password for the management API'),
])
def test_what_needs_the_api_refuses_rabbitmqctl_and_a_missing_login(backend, login_user, message):
    with pytest.raises(OpsError) as raised:
        choose(backend, login_user=login_user, needs_http='archive_dir')

    assert raised.value.msg == message

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import json
import socket

import pytest
import requests
from keystoneauth1 import exceptions as ksa_exceptions

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, OpsError


def make_response(status, body=None, reason='OK'):
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    response._content = body if isinstance(body, bytes) else (b'' if body is None else json.dumps(body).encode())
    return response


def conflict(code, detail='conflict'):
    return make_response(409, {'errors': [{'status': 409, 'title': 'Conflict', 'detail': detail, 'code': code}]},
                         reason='Conflict')


class FakeAdapter:
    """Plays the part of conn.placement, the SDK's keystoneauth Adapter."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.calls = []

    def request(self, url, method, **kwargs):
        self.calls.append((method, url, kwargs))
        return self.responses.pop(0)


class FakeConnection:
    def __init__(self, adapter):
        self.placement = adapter
        self.closed = 0

    def close(self):
        self.closed += 1


def client_for(*responses):
    adapter = FakeAdapter(*responses)
    return placement.PlacementClient(FakeConnection(adapter)), adapter


def test_each_call_sends_its_microversion_and_never_lets_keystoneauth_raise():
    client, adapter = client_for(make_response(200, {'allocations': {}}), make_response(204), make_response(204),
                                 make_response(200, {'resource_providers': []}))

    assert client.get('/allocations/c1', '1.28') == {'allocations': {}}
    assert client.put('/allocations/c1', {'allocations': {}, 'consumer_generation': 1}, '1.38') is None
    assert client.delete('/allocations/c1', '1.0') is None
    assert client.post('/reshaper', {'inventories': {}}, '1.30') == {'resource_providers': []}

    assert adapter.calls == [
        ('GET', '/allocations/c1', dict(microversion='1.28', raise_exc=False, params=None)),
        ('PUT', '/allocations/c1', dict(microversion='1.38', raise_exc=False,
                                        json={'allocations': {}, 'consumer_generation': 1})),
        ('DELETE', '/allocations/c1', dict(microversion='1.0', raise_exc=False)),
        ('POST', '/reshaper', dict(microversion='1.30', raise_exc=False, json={'inventories': {}})),
    ]


def test_http_errors_carry_status_body_and_placement_error_codes():
    client, _adapter = client_for(conflict('placement.concurrent_update',
                                           'There was a conflict.\n\n consumer generation conflict  '))

    with pytest.raises(ApiError) as raised:
        client.put('/allocations/c1', {}, '1.38')

    error = raised.value
    assert error.status == 409
    assert error.msg == ('Placement PUT /allocations/c1 failed with HTTP 409: '
                         'There was a conflict. consumer generation conflict')
    assert error.details['codes'] == ['placement.concurrent_update']
    assert json.loads(error.details['body'])['errors'][0]['code'] == 'placement.concurrent_update'


def test_an_error_without_a_json_body_is_described_by_its_text():
    client, _adapter = client_for(make_response(503, b'Service Unavailable\n', reason='Service Unavailable'))

    with pytest.raises(ApiError) as raised:
        client.get('/', '1.0')

    assert raised.value.msg == 'Placement GET / failed with HTTP 503: Service Unavailable'
    assert raised.value.details['codes'] == []


def test_a_success_that_is_not_json_is_an_error():
    client, _adapter = client_for(make_response(200, b'<html>proxy login</html>'))

    with pytest.raises(OpsError) as raised:
        client.get('/resource_providers', '1.14')

    assert raised.value.msg == 'Placement GET /resource_providers returned a body that is not JSON'


def test_close_closes_the_sdk_connection():
    client, _adapter = client_for()

    client.close()

    assert client.conn.closed == 1


def test_retry_on_conflict_reruns_the_attempt_after_a_generation_conflict():
    client, adapter = client_for(conflict('placement.concurrent_update'), make_response(204))
    generations = iter([4, 5])

    def attempt():
        return client.put('/allocations/c1', {'consumer_generation': next(generations)}, '1.38')

    assert placement.retry_on_conflict(attempt) is None
    assert [call[2]['json']['consumer_generation'] for call in adapter.calls] == [4, 5]


def test_retry_on_conflict_gives_up_after_the_retries():
    client, adapter = client_for(*[conflict('placement.concurrent_update')] * 3)

    with pytest.raises(ApiError):
        placement.retry_on_conflict(lambda: client.put('/allocations/c1', {}, '1.38'), retries=2)

    assert len(adapter.calls) == 3


@pytest.mark.parametrize('response', [
    conflict('placement.undefined_code', 'Unable to allocate inventory: capacity exceeded'),
    make_response(400, {'errors': [{'status': 400, 'detail': 'bad request'}]}, reason='Bad Request'),
])
def test_retry_on_conflict_does_not_retry_other_errors(response):
    client, adapter = client_for(response, make_response(204))

    with pytest.raises(ApiError):
        placement.retry_on_conflict(lambda: client.put('/allocations/c1', {}, '1.38'))

    assert len(adapter.calls) == 1


def openstack_params(**overrides):
    params = dict.fromkeys(placement.ARGUMENT_SPEC)
    params.update(overrides)
    return params


def test_connect_passes_only_the_options_that_are_set(monkeypatch):
    seen = []
    monkeypatch.setattr(placement.load_sdk(), 'connect', lambda **kwargs: seen.append(kwargs) or 'conn')

    client = placement.connect(openstack_params(cloud='lab', validate_certs=False, ca_cert='/ca.pem',
                                                client_cert='/c.pem', client_key='/k.pem', api_timeout=9))

    assert client.conn == 'conn'
    assert seen == [dict(cloud='lab', verify=False, cacert='/ca.pem', cert='/c.pem', key='/k.pem', api_timeout=9)]


def test_connect_merges_the_options_over_a_cloud_dict(monkeypatch):
    seen = []
    monkeypatch.setattr(placement.load_sdk(), 'connect', lambda **kwargs: seen.append(kwargs))
    cloud = dict(auth_type='admin_token', auth=dict(endpoint='http://127.0.0.1:8778', token='admin'),
                 region_name='RegionOne')

    placement.connect(openstack_params(cloud=cloud, region_name='RegionTwo', auth=dict(token='other')))

    assert seen == [dict(auth_type='admin_token', auth=dict(endpoint='http://127.0.0.1:8778', token='other'),
                         region_name='RegionTwo')]
    assert cloud['auth']['token'] == 'admin'


def test_connect_reaches_the_endpoint_of_an_admin_token_cloud(tmp_path, monkeypatch):
    """The lab's clouds.yaml form, through the real SDK, against a port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    clouds = tmp_path / 'clouds.yaml'
    clouds.write_text(f'clouds:\n  lab:\n    auth_type: admin_token\n'
                      f'    auth: {{endpoint: "http://127.0.0.1:{port}", token: admin}}\n')
    monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(clouds))

    client = placement.connect(openstack_params(cloud='lab', api_timeout=2))
    try:
        # keystoneauth first looks for Placement's version document at the endpoint.
        with pytest.raises(ksa_exceptions.DiscoveryFailure) as raised:
            client.get('/resource_providers', '1.14')
    finally:
        client.close()

    assert isinstance(raised.value, placement.ERRORS)
    assert f'http://127.0.0.1:{port}' in str(raised.value)


def version_document(max_version, min_version='1.0'):
    return make_response(200, {'versions': [{'id': 'v1.0', 'max_version': max_version, 'min_version': min_version,
                                             'status': 'CURRENT', 'links': []}]})


@pytest.mark.parametrize('max_version, used, release', [
    ('1.39', '1.38', 'Yoga or later'), ('1.38', '1.38', 'Xena'), ('1.36', '1.36', 'Train to Wallaby'),
    ('1.31', '1.31', 'Stein'), ('1.30', '1.30', 'Rocky'), ('1.28', '1.28', 'Rocky'), ('1.17', '1.17', 'Queens'),
    ('1.10', '1.10', 'Pike'), ('1.40', '1.38', 'Yoga or later'),
])
def test_the_microversion_is_the_highest_both_know_read_once_from_the_version_document(max_version, used, release):
    client, adapter = client_for(version_document(max_version), make_response(200, {'resource_providers': []}))

    assert client.microversion == used
    client.get('/resource_providers', client.microversion)

    assert client.negotiate() == dict(microversion=used, max_version=max_version, min_version='1.0', release=release)
    # The version document is read without a microversion header, once.
    assert adapter.calls[0] == ('GET', '/', dict(raise_exc=False))
    assert adapter.calls[1][2]['microversion'] == used and len(adapter.calls) == 2
    assert client.at_least('1.28') is (placement.version_tuple(used) >= (1, 28))


def test_a_server_older_than_pike_is_refused():
    client, _adapter = client_for(version_document('1.4'))
    with pytest.raises(OpsError, match=r'Placement serves microversions up to 1.4 \(Ocata\); this module '
                                       r'needs at least 1.10 \(Pike\)'):
        client.negotiate()

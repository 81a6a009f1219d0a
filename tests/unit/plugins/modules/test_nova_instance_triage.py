# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_db, placement
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError
from ansible_collections.openstack_ops.runbooks.plugins.modules import nova_instance_triage
from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.module_utils.placement_fakes import Negotiated
from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.module_utils.test_nova_triage import (
    NODE,
    VM,
    cloud,
    instance,
)


class FakePlacement(Negotiated):
    def __init__(self, allocations):
        self.allocations = allocations
        self.calls = []

    def get(self, path, microversion, params=None):
        self.calls.append(('GET', path, microversion))
        if isinstance(self.allocations, Exception):
            raise self.allocations
        if path.startswith('/allocations/'):
            return dict(allocations=self.allocations)
        return dict(uuid=path.rsplit('/', 1)[1], name='cmp1', root_provider_uuid=path.rsplit('/', 1)[1])

    def close(self):
        pass


@pytest.fixture
def backends(monkeypatch):
    made = {}

    def use(nova, allocations=None):
        fake = FakePlacement({} if allocations is None else allocations)
        monkeypatch.setattr(nova_db, 'connect', lambda params: made.setdefault('nova', nova))
        monkeypatch.setattr(placement, 'connect', lambda params: made.setdefault('placement', fake))
        nova.close = lambda: None
        return fake
    return use


ARGS = dict(nova_db=dict(login_host='db', login_user='ops', login_password='secret'))


def test_one_instance_is_triaged_with_its_allocations_and_nothing_is_changed(run_module, backends):
    fake = backends(cloud(cell1=dict(instances=[instance()])), {NODE: dict(resources={'VCPU': 1}, generation=3)})
    rc, result = run_module(nova_instance_triage.main, dict(ARGS, instances=[VM.upper()], _ansible_check_mode=True))
    assert rc == 0, result
    assert result['changed'] is False
    report = result['instances'][0]
    assert report['verdict'] == 'healthy', report['problems']
    assert report['allocations']['providers'][NODE] == dict(name='cmp1', root_provider_uuid=NODE, resources={'VCPU': 1})
    assert result['summary'] == dict(triaged=1, verdicts=dict(healthy=1))
    assert result['selection']['mode'] == 'given'
    assert result['trace_request_terms'] == [VM]
    assert ('GET', f'/allocations/{VM}', '1.38') in fake.calls


def test_a_placement_failure_is_reported_in_the_instance_not_as_the_module_failing(run_module, backends):
    unavailable = ApiError('Placement GET failed with HTTP 503', status=503, body='')
    backends(cloud(cell1=dict(instances=[instance()])), unavailable)
    rc, result = run_module(nova_instance_triage.main, dict(ARGS, instances=[VM]))
    assert rc == 0, result
    assert result['instances'][0]['allocations']['error'] == 'Placement GET failed with HTTP 503'


def test_an_unknown_uuid_is_not_found_and_a_name_is_refused_before_anything_is_read(run_module, backends):
    backends(cloud(mapping_cell=False))
    rc, result = run_module(nova_instance_triage.main, dict(ARGS, instances=[VM], read_allocations=False))
    assert rc == 0
    assert result['instances'][0]['verdict'] == 'not_found' and result['trace_request_terms'] == []
    assert result['instances'][0]['allocations'] is None

    rc, result = run_module(nova_instance_triage.main, dict(ARGS, instances=['my-server']))
    assert rc == 1
    assert result['msg'] == 'Not an instance UUID: my-server; nothing was read'


def test_without_instances_every_error_or_stuck_one_is_triaged(run_module, backends):
    rows = [instance(vm_state='error'), instance('aaaaaaaa-0000-4000-8000-000000000009')]
    backends(cloud(cell1=dict(instances=rows)))
    rc, result = run_module(nova_instance_triage.main, dict(ARGS, read_allocations=False))
    assert rc == 0, result
    assert [report['instance_uuid'] for report in result['instances']] == [VM]
    assert result['selection'] == dict(mode='error_or_stuck', stuck_after=600, limit=20)

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""placement_state: Placement's providers, inventories and allocations read through a fake API."""

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement_state
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.module_utils.placement_fakes import Negotiated

INV = dict(total=7841, reserved=512, allocation_ratio=1.5, min_unit=1, max_unit=7841, step_size=1)


def test_capacity_is_placements_formula_rounded_down():
    assert placement_state.capacity(INV) == 10993


def listed(uuid, name, root=None):
    return dict(uuid=uuid, name=name, generation=1, parent_provider_uuid=root, root_provider_uuid=root or uuid)


class FakeAPI(Negotiated):
    """Placement answering the reads of PlacementState.read: compute1 (with an FPGA child), compute2 and nfs."""

    PROVIDERS = [listed('cn1', 'compute1'), listed('fpga', 'compute1_fpga', root='cn1'), listed('cn2', 'compute2'),
                 listed('nfs', 'shared')]

    def __init__(self):
        self.calls = []

    def get(self, path, microversion, params=None):
        self.calls.append((path, microversion, params))
        if path == '/resource_providers':
            if params is None:
                return dict(resource_providers=self.PROVIDERS)
            if params == {'required': 'MISC_SHARES_VIA_AGGREGATE'}:
                return dict(resource_providers=[listed('nfs', 'shared')])
            assert params == {'member_of': 'in:agg1'}
            return dict(resource_providers=[listed('nfs', 'shared'), listed('cn2', 'compute2')])
        uuid, part = path.split('/')[2:]
        if part == 'inventories':
            return dict(inventories={'MEMORY_MB': INV} if uuid == 'cn1' else {})
        if part == 'allocations':
            return dict(allocations={'c1': dict(resources={'MEMORY_MB': 1024})} if uuid == 'cn1' else {})
        assert (uuid, part) == ('nfs', 'aggregates')
        return dict(aggregates=['agg1'])


def test_the_api_reader_asks_for_each_provider_at_the_audits_microversion():
    client = FakeAPI()
    seen = []

    state = placement_state.PlacementState.read(client, concurrency=2, on_allocations=seen.append)

    assert sorted(state.providers) == ['cn1', 'cn2', 'fpga', 'nfs']
    assert state.providers['cn1']['allocations'] == {'c1': {'MEMORY_MB': 1024}}
    assert state.consumers() == {'c1': {'cn1': {'MEMORY_MB': 1024}}}
    assert state.inventory_report('cn1')['MEMORY_MB']['free'] == 10993 - 1024
    assert state.sharing == {'nfs'} and state.share_peers == {'nfs': {'cn2'}}
    assert sorted(seen, key=len) == [{}, {}, {}, {'c1': {'MEMORY_MB': 1024}}]
    assert {microversion for _path, microversion, _params in client.calls} == {'1.38'}   # the newest it uses
    assert sorted(path for path, _microversion, _params in client.calls if path.count('/') == 3) == [
        '/resource_providers/cn1/allocations', '/resource_providers/cn1/inventories',
        '/resource_providers/cn2/allocations', '/resource_providers/cn2/inventories',
        '/resource_providers/fpga/allocations', '/resource_providers/fpga/inventories',
        '/resource_providers/nfs/aggregates',
        '/resource_providers/nfs/allocations', '/resource_providers/nfs/inventories']


class FailingAPI(FakeAPI):
    def get(self, path, microversion, params=None):
        if path.endswith('/inventories'):
            raise OpsError(f'Placement GET {path} failed with HTTP 503: Service Unavailable')
        return super().get(path, microversion, params)


def test_a_failed_provider_read_is_raised_and_stops_the_reading():
    client = FailingAPI()
    with pytest.raises(OpsError, match='GET /resource_providers/cn1/inventories failed'):
        placement_state.PlacementState.read(client, concurrency=1)
    assert [path for path, _microversion, _params in client.calls] == ['/resource_providers']


def test_a_selection_keeps_whole_trees_and_refuses_unknown_providers():
    assert [rp['uuid'] for rp in placement_state.select_providers(FakeAPI.PROVIDERS, ['compute1'])] == ['cn1', 'fpga']
    with pytest.raises(OpsError, match='Unknown resource provider'):
        placement_state.select_providers(FakeAPI.PROVIDERS, ['compute9'])


def test_scope_names_the_trees_and_what_came_with_a_named_child():
    providers = {
        'root': dict(uuid='root', name='compute1', root_provider_uuid='root'),
        'fpga': dict(uuid='fpga', name='compute1_fpga0', root_provider_uuid='root'),
        'other': dict(uuid='other', name='compute2', root_provider_uuid='other'),
    }

    assert placement_state.scope({k: providers[k] for k in ('root', 'fpga')}, ['compute1_fpga0']) == dict(
        requested=['compute1_fpga0'], trees=['compute1'], also_included=['compute1'])
    assert placement_state.scope(providers, ['root', 'compute2', 'fpga'])['also_included'] == []


class PikeAPI(FakeAPI):
    """Placement at 1.10: providers listed without tree fields, no ?required= on the listing."""

    max_version = '1.10'

    def get(self, path, microversion, params=None):
        assert microversion == '1.10'
        assert not (params or {}).get('required'), 'GET /resource_providers?required= needs 1.18'
        if path.endswith('/traits'):
            self.calls.append((path, microversion, params))
            return dict(traits=['MISC_SHARES_VIA_AGGREGATE'] if '/nfs/' in path else [])
        answer = super().get(path, microversion, params)
        if path == '/resource_providers':
            answer = dict(resource_providers=[{k: v for k, v in rp.items() if not k.endswith('provider_uuid')}
                                              for rp in answer['resource_providers'] if rp['uuid'] != 'fpga'])
        return answer


def test_a_pike_placement_is_read_with_what_it_has():
    state = placement_state.PlacementState.read(PikeAPI())
    assert state.providers['cn1']['root_provider_uuid'] == 'cn1'
    assert state.providers['cn1']['parent_provider_uuid'] is None
    assert state.sharing == {'nfs'} and state.share_peers == {'nfs': {'cn2'}}

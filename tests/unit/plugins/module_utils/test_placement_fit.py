# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""placement_fit: resource requests, flavors, and why a provider tree cannot take a request."""

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement_fit, placement_state
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

INV = dict(total=7841, reserved=512, allocation_ratio=1.5, min_unit=1, max_unit=7841, step_size=1)


def provider(uuid, inventories=None, allocations=None):
    return dict(uuid=uuid, name=uuid, generation=1, parent_provider_uuid=None, root_provider_uuid=uuid,
                inventories=inventories or {}, allocations=allocations or {})


@pytest.mark.parametrize('text, expected', [
    ('VCPU:1,MEMORY_MB:1024,DISK_GB:10', {'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 10}),
    ('CUSTOM_FPGA=2, VCPU:0', {'CUSTOM_FPGA': 2}),
    ({'MEMORY_MB': 512}, {'MEMORY_MB': 512}),
])
def test_resource_requests_are_parsed(text, expected):
    assert placement_fit.parse_resources(text) == expected


@pytest.mark.parametrize('text, message', [
    ('VCPU=one', "Invalid resource request 'VCPU=one'"),
    ('vcpu:1', "Invalid resource request 'vcpu:1'"),
    ('VCPU:0', 'asks for nothing'),
])
def test_bad_resource_requests_are_named(text, message):
    with pytest.raises(OpsError, match=message):
        placement_fit.parse_resources(text)


class FakePlacement:
    def __init__(self, candidates):
        self.candidates = candidates

    def get(self, path, microversion, params=None):
        assert path == '/allocation_candidates'
        return dict(allocation_requests=[dict(allocations={rp: {}}) for rp in self.candidates])


def test_fit_names_the_blocking_class_and_the_shortfall():
    full = provider('cn1', inventories=dict(MEMORY_MB=INV, VCPU=dict(INV, total=8, allocation_ratio=16.0,
                                                                     max_unit=8, reserved=0)),
                    allocations={'x': dict(MEMORY_MB=11426, VCPU=1)})
    roomy = provider('cn2', inventories=dict(MEMORY_MB=INV, VCPU=dict(INV, total=8, allocation_ratio=16.0,
                                                                      max_unit=8, reserved=0)))
    state = placement_state.PlacementState({'cn1': full, 'cn2': roomy}, set(), {})

    report = placement_fit.fit(FakePlacement(['cn2']), state, dict(VCPU=1, MEMORY_MB=1024), [])

    assert report['fits'] is True
    assert report['candidates'] == [dict(uuid='cn2', name='cn2', fits=10)]
    [blocked] = report['blocked']
    [reason] = blocked['reasons']
    assert (reason['resource_class'], reason['free'], reason['shortfall']) == ('MEMORY_MB', -433, 1457)


def test_fit_explains_max_unit():
    inv = dict(INV, max_unit=512)
    state = placement_state.PlacementState({'cn1': provider('cn1', inventories=dict(MEMORY_MB=inv))}, set(), {})
    report = placement_fit.fit(FakePlacement([]), state, dict(MEMORY_MB=1024), [])
    assert report['blocked'][0]['reasons'][0]['reason'] == 'MEMORY_MB: asks 1024, more than max_unit 512'


class FlavorDB:
    def __init__(self, flavors, extra_specs):
        self.flavors, self.extra_specs = flavors, extra_specs

    def query(self, sql, args):
        if 'FROM flavors' in sql:
            return [flavor for flavor in self.flavors if flavor['name'] == args[0]]
        return [dict(key=key, value=value) for key, value in self.extra_specs]


def test_a_flavor_becomes_the_request_nova_would_make():
    db = FlavorDB([dict(id=1, name='m1.small', vcpus=2, memory_mb=1024, root_gb=10, ephemeral_gb=5, swap=512)],
                  [('hw:cpu_policy', 'dedicated'), ('resources:CUSTOM_FPGA', '1'), ('resources:DISK_GB', '0'),
                   ('trait:HW_CPU_X86_AVX2', 'required'), ('trait:CUSTOM_SLOW', 'forbidden')])

    resources, traits = placement_fit.flavor_request(db, 'm1.small')

    assert resources == {'PCPU': 2, 'MEMORY_MB': 1024, 'CUSTOM_FPGA': 1}
    assert traits == ['HW_CPU_X86_AVX2']
    with pytest.raises(OpsError, match="Unknown flavor 'm1.tiny'"):
        placement_fit.flavor_request(db, 'm1.tiny')

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""placement_fit: requests, flavors, and hosts counted and explained the way Placement assembles candidates."""

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement_fit, placement_state
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.module_utils.placement_fakes import Negotiated

INV = dict(total=7841, reserved=512, allocation_ratio=1.5, min_unit=1, max_unit=7841, step_size=1)
SHARES = 'MISC_SHARES_VIA_AGGREGATE'


def inv(total, **extra):
    return dict(dict(total=total, reserved=0, allocation_ratio=1.0, min_unit=1, max_unit=total, step_size=1), **extra)


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


class World(Negotiated):
    """A Placement of providers {uuid: dict(name, root, inventories, allocations, traits, aggregates)}.

    It answers the listings the fit check makes from the providers; /allocation_candidates answers ``answer``
    (what the real Placement returns is the integration tests' business).
    """

    def __init__(self, providers, answer):
        self.providers = providers
        self.answer = answer
        self.queries = []

    def listed(self, uuid):
        rp = self.providers[uuid]
        return dict(uuid=uuid, name=rp.get('name', uuid), generation=1, root_provider_uuid=rp.get('root', uuid),
                    parent_provider_uuid=rp.get('root'))

    def get(self, path, microversion, params=None):
        assert microversion == self.microversion
        if path == '/allocation_candidates':
            self.queries.append(params)
            return dict(allocation_requests=[dict(allocations={rp: {} for rp in req}) for req in self.answer])
        if path == '/resource_providers':
            params = params or {}
            chosen = list(self.providers)
            if 'required' in params:
                chosen = [u for u in chosen if params['required'] in self.providers[u].get('traits', ())]
            if 'member_of' in params:
                wanted = set(params['member_of'][3:].split(','))
                chosen = [u for u in chosen if wanted & set(self.providers[u].get('aggregates', ()))]
            return dict(resource_providers=[self.listed(u) for u in chosen])
        uuid, part = path.split('/')[2:]
        rp = self.providers[uuid]
        if part == 'aggregates':
            return dict(aggregates=rp.get('aggregates', []))
        if part == 'traits':
            return dict(traits=rp.get('traits', []))
        if part == 'inventories':
            return dict(inventories=rp.get('inventories', {}))
        return dict(allocations={c: dict(resources=r) for c, r in rp.get('allocations', {}).items()})

    def state(self, only=None):
        return placement_state.PlacementState.read(self, only)


def run_fit(world, resources=None, only=None, **extra):
    request = placement_fit.make_request(resources, **extra)
    return placement_fit.fit(world, world.state(only), request)


def fits(report):
    return {c['name']: c['fits'] for c in report['candidates']}, {b['name']: b for b in report['blocked']}


def compute(name, vcpu=8, memory=4096, disk=None, **extra):
    inventories = dict(VCPU=inv(vcpu), MEMORY_MB=inv(memory))
    if disk:
        inventories['DISK_GB'] = inv(disk)
    return dict(extra, name=name, inventories=inventories)


def test_fit_names_the_blocking_class_and_the_shortfall():
    world = World({
        'cn1': dict(name='cn1', inventories=dict(MEMORY_MB=INV, VCPU=dict(INV, total=8, allocation_ratio=16.0,
                                                                          max_unit=8, reserved=0)),
                    allocations={'x': dict(MEMORY_MB=11426, VCPU=1)}),
        'cn2': dict(name='cn2', inventories=dict(MEMORY_MB=INV, VCPU=dict(INV, total=8, allocation_ratio=16.0,
                                                                          max_unit=8, reserved=0))),
    }, answer=[['cn2']])

    report = run_fit(world, dict(VCPU=1, MEMORY_MB=1024))

    assert report['fits'] is True
    assert report['candidates'] == [dict(uuid='cn2', name='cn2', fits=10, sharing_providers=[])]
    [blocked] = report['blocked']
    [reason] = blocked['reasons']
    assert (reason['resource_class'], reason['free'], reason['shortfall']) == ('MEMORY_MB', -433, 1457)
    assert reason['reason'].startswith('MEMORY_MB: asks 1024, only 0 free: capacity 10993')


def test_fit_explains_max_unit():
    world = World({'cn1': dict(name='cn1', inventories=dict(MEMORY_MB=dict(INV, max_unit=512)))}, answer=[])
    report = run_fit(world, dict(MEMORY_MB=1024))
    assert report['blocked'][0]['reasons'][0]['reason'] == 'MEMORY_MB: cn1 asks 1024, more than max_unit 512'


def shared_storage_world(answer):
    """cn1 and cn2 have no disk of their own: nfs (100 GB) shares it with them through agg1; cn3 is alone."""
    return World({
        'cn1': compute('cn1', aggregates=['agg1']),
        'cn2': compute('cn2', aggregates=['agg1']),
        'cn3': compute('cn3'),
        'nfs': dict(name='nfs', inventories=dict(DISK_GB=inv(100)), traits=[SHARES], aggregates=['agg1'],
                    allocations={'old': dict(DISK_GB=30)}),
    }, answer)


def test_a_host_served_by_a_sharing_provider_fits_and_the_sharing_provider_is_no_host():
    world = shared_storage_world(answer=[['cn1', 'nfs'], ['cn2', 'nfs']])

    report = run_fit(world, dict(VCPU=1, MEMORY_MB=256, DISK_GB=10))

    candidates, blocked = fits(report)
    # 70 GB free on the shared storage: 7 copies on either host alone, 7 in all (not 14).
    assert candidates == {'cn1': 7, 'cn2': 7}
    assert [c['sharing_providers'] for c in report['candidates']] == [['nfs'], ['nfs']]
    assert report['total_fits'] == 7
    assert list(blocked) == ['cn3']
    assert blocked['cn3']['reasons'][0]['reason'] == (
        'DISK_GB: no inventory of DISK_GB in the tree or in a sharing provider in an aggregate with it')


def test_a_sharing_provider_outside_the_selection_still_serves_a_selected_host():
    world = shared_storage_world(answer=[['cn1', 'nfs']])
    report = run_fit(world, dict(DISK_GB=10, VCPU=1), only=['cn1'])
    assert fits(report)[0] == {'cn1': 7}
    assert report['candidates'][0]['sharing_providers'] == ['nfs']


def numa_world(answer, **numa0):
    """cn1: memory and disk on the root, 4 VCPU on each of two NUMA children; cn2: one flat provider."""
    return World({
        'cn1': dict(name='cn1', inventories=dict(MEMORY_MB=inv(8192), DISK_GB=inv(100))),
        'numa0': dict(dict(name='cn1_numa0', root='cn1', inventories=dict(VCPU=inv(4))), **numa0),
        'numa1': dict(name='cn1_numa1', root='cn1', inventories=dict(VCPU=inv(4))),
        'cn2': compute('cn2', vcpu=8, memory=8192, disk=100, traits=['CUSTOM_SLOW']),
    }, answer)


def test_a_nested_tree_counts_every_child_that_can_serve():
    report = run_fit(numa_world([['cn1', 'numa0'], ['cn1', 'numa1'], ['cn2']]), dict(VCPU=2, MEMORY_MB=512,
                                                                                     DISK_GB=1))
    # Two copies on each NUMA child: four, not the two of the roomiest child.
    assert fits(report)[0] == {'cn1': 4, 'cn2': 4}
    assert report['total_fits'] == 8


def test_required_traits_are_met_by_the_providers_of_a_copy_together():
    world = numa_world([['cn1', 'numa0']], traits=['HW_CPU_X86_AVX2'])
    report = run_fit(world, dict(VCPU=2, MEMORY_MB=512), required=['HW_CPU_X86_AVX2'])
    candidates, blocked = fits(report)
    assert candidates == {'cn1': 2}                # only numa0 brings the trait
    assert blocked['cn2']['reasons'] == [dict(resource_class=None, reason=(
        'no provider of the tree or sharing with it has the required trait(s) HW_CPU_X86_AVX2'))]
    assert world.queries[-1]['required'] == 'HW_CPU_X86_AVX2'


def test_a_forbidden_trait_blocks_the_host_that_has_it():
    world = numa_world([['cn1', 'numa0'], ['cn1', 'numa1']])
    report = run_fit(world, dict(VCPU=1, MEMORY_MB=512), forbidden=['CUSTOM_SLOW'])
    candidates, blocked = fits(report)
    assert candidates == {'cn1': 8}
    assert blocked['cn2']['reasons'][0]['reason'] == 'MEMORY_MB: cn2 has forbidden trait(s) CUSTOM_SLOW'
    assert world.queries[-1]['required'] == '!CUSTOM_SLOW'


def test_member_of_limits_the_hosts_to_an_aggregate():
    agg = '6f0e0a0e-0000-4000-8000-000000000001'
    world = World({'cn1': compute('cn1', aggregates=[agg]), 'cn2': compute('cn2')}, answer=[['cn1']])
    report = run_fit(world, dict(VCPU=1), member_of=placement_fit.parse_member_of([agg]))
    candidates, blocked = fits(report)
    assert candidates == {'cn1': 8}
    assert blocked['cn2']['reasons'][0]['reason'] == 'VCPU: cn2 is in none of the aggregates of member_of'
    assert world.queries[-1]['member_of'] == [f'in:{agg}']


def test_granular_groups_with_isolate_need_a_provider_each():
    world = numa_world([['cn1', 'numa0', 'numa1']])
    report = run_fit(world, dict(MEMORY_MB=512), groups={'1': dict(resources=dict(VCPU=1)),
                                                         '2': dict(resources=dict(VCPU=1))}, group_policy='isolate')
    candidates, blocked = fits(report)
    assert candidates == {'cn1': 4}
    assert blocked['cn2']['reasons'][0]['reason'].startswith(
        'group_policy isolate puts the 2 numbered groups on different providers, and only 1 provider(s) can '
        'serve them: cn2')
    assert world.queries[-1] == dict(resources='MEMORY_MB:512', resources1='VCPU:1', resources2='VCPU:1',
                                     group_policy='isolate')
    none = run_fit(world, dict(MEMORY_MB=512), groups={'1': dict(resources=dict(VCPU=1)),
                                                       '2': dict(resources=dict(VCPU=1))}, group_policy='none')
    assert fits(none)[1] == {} or fits(none)[0]['cn1'] == 4


def test_below_microversion_1_29_one_copy_takes_one_provider_per_tree():
    world = numa_world([])
    world.max_version = '1.28'
    report = run_fit(world, dict(VCPU=1, MEMORY_MB=512))
    assert report['blocked'][0]['name'] == 'cn1' and report['blocked'][0]['fits'] == 0
    assert fits(report)[1]['cn1']['reasons'][0]['reason'].startswith('every part of the request finds room')


def test_a_request_the_server_is_too_old_for_is_refused_by_name():
    world = numa_world([])
    world.max_version = '1.17'
    with pytest.raises(OpsError, match=r'up to 1.17 \(Queens\); the request uses forbidden traits \(microversion '
                                       r'1.22\), which it does not know'):
        run_fit(world, dict(VCPU=1), forbidden=['CUSTOM_SLOW'])
    assert run_fit(world, dict(VCPU=1), required=['CUSTOM_SLOW'])['request']['required_traits'] == ['CUSTOM_SLOW']


def test_numbered_groups_need_a_group_policy():
    with pytest.raises(OpsError, match='2 numbered groups needs group_policy none or isolate'):
        placement_fit.make_request({}, groups={'1': dict(resources=dict(VCPU=1)), '2': dict(resources=dict(VCPU=1))})
    with pytest.raises(OpsError, match='Invalid member_of'):
        placement_fit.parse_member_of(['in:'])


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

    request = placement_fit.flavor_request(db, 'm1.small')

    assert request['groups'][''] == dict(resources={'PCPU': 2, 'MEMORY_MB': 1024, 'CUSTOM_FPGA': 1},
                                         required=['HW_CPU_X86_AVX2'], forbidden=['CUSTOM_SLOW'], member_of=[])
    with pytest.raises(OpsError, match="Unknown flavor 'm1.tiny'"):
        placement_fit.flavor_request(db, 'm1.tiny')


def test_a_flavor_with_granular_groups_and_a_group_policy():
    db = FlavorDB([dict(id=1, name='numa', vcpus=2, memory_mb=1024, root_gb=10, ephemeral_gb=0, swap=0)],
                  [('resources:VCPU', '0'), ('resources1:VCPU', '1'), ('resources2:VCPU', '1'),
                   ('trait1:HW_CPU_X86_AVX2', 'required'), ('group_policy', 'isolate')])

    request = placement_fit.flavor_request(db, 'numa')

    assert request['group_policy'] == 'isolate'
    assert request['groups']['']['resources'] == {'MEMORY_MB': 1024, 'DISK_GB': 10}
    assert request['groups']['1'] == dict(resources={'VCPU': 1}, required=['HW_CPU_X86_AVX2'], forbidden=[],
                                          member_of=[])
    assert placement_fit.query(request) == dict(resources='DISK_GB:10,MEMORY_MB:1024', resources1='VCPU:1',
                                                required1='HW_CPU_X86_AVX2', resources2='VCPU:1',
                                                group_policy='isolate')

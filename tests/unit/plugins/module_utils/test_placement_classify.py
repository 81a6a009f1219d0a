# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""placement_classify: each allocation judged against Nova's state, with no database or API behind it."""

import datetime

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import (
    placement_classify,
    placement_nova_state,
    placement_state,
)

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)
CELL1 = 'c1'


def provider(uuid, root=None):
    return dict(uuid=uuid, name=uuid, generation=1, parent_provider_uuid=None if root is None else root,
                root_provider_uuid=root or uuid, inventories={}, allocations={})


def nova_state(**kwargs):
    state = placement_nova_state.NovaState()
    state.now = NOW
    state.cells = {CELL1: dict(name='cell1', reachable=True, error=None)}
    state.compute_nodes = {'cn1': dict(cell=CELL1, host='compute1', node='compute1'),
                           'cn2': dict(cell=CELL1, host='compute2', node='compute2')}
    for key, value in kwargs.items():
        setattr(state, key, value)
    return state


def instance(host='compute1', compute='cn1', deleted=0, created_at=NOW - datetime.timedelta(days=1),
             vm_state='active'):
    return dict(cell=CELL1, host=host, node=host, compute_uuid=compute, deleted=deleted, created_at=created_at,
                vm_state=vm_state, task_state=None)


PLACEMENT = placement_state.PlacementState(
    {'cn1': provider('cn1'), 'cn2': provider('cn2'), 'fpga': provider('fpga', root='cn1'),
     'shared': provider('shared')},
    sharing={'shared'}, share_peers={'shared': {'cn2'}})


def classify(nova, consumer, rp):
    return placement_classify.Classifier(PLACEMENT, nova, 3600).classify(consumer, rp)[0]


@pytest.mark.parametrize('consumer_instance, rp, expected', [
    (instance(), 'cn1', 'active'),
    (instance(), 'fpga', 'active'),
    (instance(host='compute2', compute='cn2'), 'shared', 'active'),
    (instance(), 'shared', 'stale_source'),
    (instance(host='compute2', compute='cn2'), 'cn1', 'stale_source'),
    (instance(deleted=7), 'cn1', 'deleted_instance'),
    (instance(host=None, compute=None, vm_state='building', created_at=NOW), 'cn1', 'building'),
    (instance(host=None, compute=None, vm_state='error'), 'cn1', 'stale_source'),
])
def test_instances_are_classified_by_where_they_live(consumer_instance, rp, expected):
    assert classify(nova_state(instances={'i': consumer_instance}), 'i', rp) == expected


def test_a_migration_in_progress_covers_both_ends_and_an_ended_one_covers_nothing():
    moving = dict(uuid='m', instance_uuid='i', status='running', migration_type='live-migration',
                  source_compute='compute1', dest_compute='compute2', in_progress=True, nodes={'cn1', 'cn2'})
    ended = dict(moving, uuid='m2', status='error', in_progress=False)
    nova = nova_state(instances={'i': instance(host='compute2', compute='cn2')},
                      migrations={'m': moving, 'm2': ended}, migrations_by_instance={'i': [moving]})
    assert classify(nova, 'i', 'cn1') == 'migration_in_progress'
    assert classify(nova, 'm', 'cn1') == 'migration_in_progress'
    assert classify(nova, 'm2', 'cn1') == 'orphan'


def test_build_requests_are_kept_only_inside_the_grace_period():
    nova = nova_state(build_requests={'young': NOW - datetime.timedelta(minutes=5),
                                      'old': NOW - datetime.timedelta(days=2)})
    assert classify(nova, 'young', 'cn1') == 'building'
    assert classify(nova, 'old', 'cn1') == 'orphan'
    assert classify(nova, 'nobody', 'cn1') == 'orphan'


def test_an_unread_cell_makes_unknown_and_mapped_consumers_unverifiable():
    nova = nova_state(_mappings={'mapped': 'c2', 'moved': 'c2'},
                      instances={'known': instance(deleted=3), 'moved': instance(deleted=1)})
    nova.cells['c2'] = dict(name='cell2', reachable=False, error='down')
    assert classify(nova, 'mapped', 'cn1') == 'unverifiable'
    # A deleted copy in a readable cell says nothing while its mapping points to the unread cell.
    assert classify(nova, 'moved', 'cn1') == 'unverifiable'
    assert classify(nova, 'nobody', 'cn1') == 'unverifiable'
    assert classify(nova, 'known', 'cn1') == 'deleted_instance'


SMALL_FLAVOR = dict(name='m1.small', vcpus=1, memory_mb=1024, root_gb=10, ephemeral_gb=0, swap=0, extra_specs={})
WANTED = {'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 10}
INVENTORY = dict(total=100, reserved=0, allocation_ratio=1.0, min_unit=1, max_unit=100, step_size=1)


def flavored(held, **kwargs):
    """A PlacementState where consumer 'i' holds ``held``, and a NovaState where 'i' runs m1.small on compute2."""
    providers = {uuid: dict(provider(uuid), inventories=dict.fromkeys(WANTED, INVENTORY)) for uuid in ('cn1', 'cn2')}
    for uuid, resources in held.items():
        providers[uuid]['allocations'] = {'i': resources}
    placement = placement_state.PlacementState(providers, sharing=set(), share_peers={})
    settled = dict(instance(host='compute2', compute='cn2'), flavor=SMALL_FLAVOR, is_bfv=False, image_properties={})
    settled.update(kwargs)
    return placement, nova_state(instances={'i': settled})


@pytest.mark.parametrize('held, expected', [
    ({'cn2': WANTED}, {'cn2': 'active'}),
    ({'cn2': WANTED, 'cn1': WANTED}, {'cn2': 'active', 'cn1': 'stale_source'}),    # the doubled case stays as it was
    ({'cn2': {'VCPU': 1, 'MEMORY_MB': 1024}}, {'cn2': 'mismatched'}),               # a class missing
    ({'cn2': dict(WANTED, MEMORY_MB=512)}, {'cn2': 'mismatched'}),                   # a wrong amount
    ({'cn1': WANTED}, {'cn1': 'mismatched'}),                                       # on another node only
    ({'cn2': {'VCPU': 1}, 'cn1': {'MEMORY_MB': 1024, 'DISK_GB': 10}}, {'cn2': 'mismatched', 'cn1': 'mismatched'}),
])
def test_a_settled_instance_is_judged_against_its_flavor(held, expected):
    placement, nova = flavored(held)
    classifier = placement_classify.Classifier(placement, nova, 3600)
    assert {rp: classifier.classify('i', rp)[0] for rp in held} == expected
    judged, mismatch, why_not = classifier.flavor_check('i')
    assert judged is True and why_not is None
    assert (mismatch is not None) == ('mismatched' in expected.values())
    if mismatch:
        assert mismatch['target'] == {'cn2': WANTED} and mismatch['flavor'] == 'm1.small'
        assert 'its allocation differs from its flavor m1.small' in classifier.classify('i', next(iter(held)))[1]


MIXED = dict(SMALL_FLAVOR, extra_specs={'hw:cpu_policy': 'mixed'})


@pytest.mark.parametrize('changes, judged, why_not', [
    (dict(task_state='resize_prep'), False, None),          # a task under way: as heal_allocations, not judged
    (dict(vm_state='error'), False, None),
    (dict(vm_state='stopped'), True, None),                 # a stopped instance still holds its flavor
    (dict(flavor=None), False, placement_classify.NOT_JUDGED_NO_FLAVOR),
    (dict(compute_uuid='cn9'), False, placement_classify.NOT_JUDGED_NO_PROVIDER),
    (dict(flavor=MIXED), False, 'hw:cpu_policy=mixed (its PCPU/VCPU split) is not worked out by this check'),
])
def test_only_settled_instances_with_a_readable_flavor_are_judged(changes, judged, why_not):
    placement, nova = flavored({'cn2': {'VCPU': 1}}, **changes)
    nova.compute_nodes['cn9'] = dict(cell=CELL1, host='compute9', node='compute9')
    classifier = placement_classify.Classifier(placement, nova, 3600)
    assert classifier.flavor_check('i')[0::2] == (judged, why_not)
    assert (classifier.classify('i', 'cn2')[0] == 'mismatched') is judged


def test_a_migration_in_progress_or_a_scoped_read_is_not_judged():
    placement, nova = flavored({'cn2': {'VCPU': 1}})
    nova.migrations_by_instance = {'i': [dict(in_progress=True, nodes={'cn1', 'cn2'})]}
    assert placement_classify.Classifier(placement, nova, 3600).flavor_check('i') == (False, None, None)
    placement, nova = flavored({'cn2': {'VCPU': 1}})
    assert placement_classify.Classifier(placement, nova, 3600, check_flavors=False).classify('i', 'cn2')[0] == 'active'

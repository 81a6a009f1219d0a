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

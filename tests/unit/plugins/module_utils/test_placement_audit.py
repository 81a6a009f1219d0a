# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""placement_audit: the report levels, on a small cloud read from dicts."""

import datetime

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import (
    placement_audit,
    placement_classify,
    placement_clean,
    placement_nova_state,
    placement_state,
)
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)
CELL1 = 'c1'
INV = dict(total=7841, reserved=512, allocation_ratio=1.5, min_unit=1, max_unit=7841, step_size=1)


def provider(uuid, inventories, allocations):
    return dict(uuid=uuid, name=uuid, generation=1, parent_provider_uuid=None, root_provider_uuid=uuid,
                inventories=inventories, allocations=allocations)


def instance(host, compute):
    return dict(cell=CELL1, host=host, node=host, compute_uuid=compute, deleted=0,
                created_at=NOW - datetime.timedelta(days=1), vm_state='active', task_state=None)


def report_cloud():
    """cn1 over capacity with an orphan and a stale half; cn2 only active; cn3 short with only active."""
    memory = dict(INV, total=100, reserved=0, allocation_ratio=1.0, max_unit=100)
    state = placement_state.PlacementState({
        'cn1': provider('cn1', inventories={'MEMORY_MB': INV},
                        allocations={'orphan1': {'MEMORY_MB': 11000}, 'stale': {'MEMORY_MB': 1}}),
        'cn2': provider('cn2', inventories={'MEMORY_MB': memory},
                        allocations={'live': {'MEMORY_MB': 10}, 'stale': {'MEMORY_MB': 1}}),
        'cn3': provider('cn3', inventories={'MEMORY_MB': memory}, allocations={'big': {'MEMORY_MB': 101}}),
    }, sharing=set(), share_peers={})
    nova = placement_nova_state.NovaState()
    nova.now = NOW
    nova.cells = {CELL1: dict(name='cell1', reachable=True, error=None)}
    nova.compute_nodes = {f'cn{n}': dict(cell=CELL1, host=f'compute{n}', node=f'compute{n}') for n in (1, 2, 3)}
    nova.instances = {'live': instance('compute2', 'cn2'), 'stale': instance('compute2', 'cn2'),
                      'big': instance('compute3', 'cn3')}
    return state, nova


def test_every_report_level_counts_everything_and_returns_only_what_it_promises():
    state, nova = report_cloud()
    full, problems, summary = (placement_audit.audit(state, nova, 3600, report)
                               for report in ('full', 'problems', 'summary'))
    expected_summary = dict(providers=3, consumers=4, problem_consumers=2, over_capacity=['cn1', 'cn3'],
                            allocations=dict(active=3, migration_in_progress=0, stale_source=1, deleted_instance=0,
                                             orphan=1, building=0, unverifiable=0, mismatched=0),
                            flavor_check=dict(checked=True, judged=0, mismatched=0, not_judged={
                                placement_classify.NOT_JUDGED_NO_FLAVOR: 3}))
    assert full['summary'] == problems['summary'] == summary['summary'] == expected_summary
    assert [r['report'] for r in (full, problems, summary)] == ['full', 'problems', 'summary']

    assert [p['uuid'] for p in full['providers']] == ['cn1', 'cn2', 'cn3']
    assert [c['uuid'] for c in full['consumers']] == ['big', 'live', 'orphan1', 'stale']

    # problems: cn2 holds only active allocations and has room, so it is left out; cn3 is short, so it stays,
    # with no consumer listed but its counts over all of them.
    assert [p['uuid'] for p in problems['providers']] == ['cn1', 'cn3']
    cn1, cn3 = problems['providers']
    assert [(e['consumer_uuid'], e['classification']) for e in cn1['consumers']] == [
        ('orphan1', 'orphan'), ('stale', 'stale_source')]
    assert cn3['consumers'] == [] and cn3['summary']['active'] == 1
    assert cn3['inventories']['MEMORY_MB']['free'] == -1
    # A problem consumer keeps all of its allocations: the active half a stale_source clean keeps is visible.
    assert [c['uuid'] for c in problems['consumers']] == ['orphan1', 'stale']
    assert [(a['provider_uuid'], a['classification']) for a in problems['consumers'][1]['allocations']] == [
        ('cn1', 'stale_source'), ('cn2', 'active')]
    assert problems['consumers'] == [c for c in full['consumers'] if c['uuid'] in ('orphan1', 'stale')]

    assert 'providers' not in summary and 'consumers' not in summary
    assert placement_audit.summarize(full) == summary
    assert summary['cells'] == full['cells'] and summary['complete'] is True


def test_a_provider_entry_names_its_compute_node_and_cell():
    state, nova = report_cloud()
    cn2 = placement_audit.audit(state, nova, 3600, 'full')['providers'][1]
    assert cn2['compute_node'] == dict(host='compute2', node='compute2', cell='cell1')
    assert cn2['sharing'] is False and cn2['generation'] == 1


def test_a_clean_plans_the_same_from_the_problems_report_as_from_the_full_one():
    state, nova = report_cloud()
    full, problems = (placement_audit.audit(state, nova, 3600, report) for report in ('full', 'problems'))
    for classes in (placement_classify.CLEANABLE, ['orphan'], ['stale_source']):
        assert placement_clean.plan_clean(problems, classes) == placement_clean.plan_clean(full, classes)
    assert placement_clean.plan_clean(problems, placement_classify.CLEANABLE) == {
        'orphan1': {'cn1': 'orphan'}, 'stale': {'cn1': 'stale_source'}}
    with pytest.raises(OpsError, match="report must be one of full, problems, summary, not 'all'"):
        placement_audit.audit(state, nova, 3600, 'all')

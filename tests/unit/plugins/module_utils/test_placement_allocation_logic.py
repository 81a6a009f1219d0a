# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import datetime
import json
import re

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import (
    allocation_backup,
    placement_audit,
    placement_clean,
    placement_fit,
)
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, OpsError, UnsafeToProceed

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)
CELL1 = 'c1'
INV = dict(total=7841, reserved=512, allocation_ratio=1.5, min_unit=1, max_unit=7841, step_size=1)


def provider(uuid, root=None, inventories=None, allocations=None):
    return dict(uuid=uuid, name=uuid, generation=1, parent_provider_uuid=None if root is None else root,
                root_provider_uuid=root or uuid, inventories=inventories or {}, allocations=allocations or {})


def nova_state(**kwargs):
    state = placement_audit.NovaState()
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


PLACEMENT = placement_audit.PlacementState(
    {'cn1': provider('cn1'), 'cn2': provider('cn2'), 'fpga': provider('fpga', root='cn1'),
     'shared': provider('shared')},
    sharing={'shared'}, share_peers={'shared': {'cn2'}})


def classify(nova, consumer, rp):
    return placement_audit.Classifier(PLACEMENT, nova, 3600).classify(consumer, rp)[0]


def test_capacity_is_placements_formula_rounded_down():
    assert placement_audit.capacity(INV) == 10993


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


def test_plan_clean_takes_only_the_chosen_classes_and_consumers():
    audit = dict(consumers=[
        dict(uuid='a', allocations=[dict(provider_uuid='cn1', classification='stale_source'),
                                    dict(provider_uuid='cn2', classification='active')]),
        dict(uuid='b', allocations=[dict(provider_uuid='cn1', classification='orphan')]),
        dict(uuid='c', allocations=[dict(provider_uuid='cn1', classification='building')]),
    ])
    assert placement_clean.plan_clean(audit, placement_audit.CLEANABLE) == {
        'a': {'cn1': 'stale_source'}, 'b': {'cn1': 'orphan'}}
    assert placement_clean.plan_clean(audit, ['orphan'], only_consumers={'a'}) == {}
    with pytest.raises(UnsafeToProceed, match='would change 2 consumers, more than max_changes=1'):
        placement_clean.enforce_cap({'a': {}, 'b': {}}, 1)


def report_cloud():
    """cn1 over capacity with an orphan and a stale half; cn2 only active; cn3 short with only active."""
    memory = dict(INV, total=100, reserved=0, allocation_ratio=1.0, max_unit=100)
    state = placement_audit.PlacementState({
        'cn1': provider('cn1', inventories={'MEMORY_MB': INV},
                        allocations={'orphan1': {'MEMORY_MB': 11000}, 'stale': {'MEMORY_MB': 1}}),
        'cn2': provider('cn2', inventories={'MEMORY_MB': memory},
                        allocations={'live': {'MEMORY_MB': 10}, 'stale': {'MEMORY_MB': 1}}),
        'cn3': provider('cn3', inventories={'MEMORY_MB': memory}, allocations={'big': {'MEMORY_MB': 101}}),
    }, sharing=set(), share_peers={})
    nova = nova_state(instances={'live': instance(host='compute2', compute='cn2'),
                                 'stale': instance(host='compute2', compute='cn2'),
                                 'big': instance(host='compute3', compute='cn3')})
    nova.compute_nodes['cn3'] = dict(cell=CELL1, host='compute3', node='compute3')
    return state, nova


def test_every_report_level_counts_everything_and_returns_only_what_it_promises():
    state, nova = report_cloud()
    full, problems, summary = (placement_audit.audit(state, nova, 3600, report)
                               for report in ('full', 'problems', 'summary'))
    expected_summary = dict(providers=3, consumers=4, problem_consumers=2, over_capacity=['cn1', 'cn3'],
                            allocations=dict(active=3, migration_in_progress=0, stale_source=1, deleted_instance=0,
                                             orphan=1, building=0, unverifiable=0))
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


def test_a_clean_plans_the_same_from_the_problems_report_as_from_the_full_one():
    state, nova = report_cloud()
    full, problems = (placement_audit.audit(state, nova, 3600, report) for report in ('full', 'problems'))
    for classes in (placement_audit.CLEANABLE, ['orphan'], ['stale_source']):
        assert placement_clean.plan_clean(problems, classes) == placement_clean.plan_clean(full, classes)
    assert placement_clean.plan_clean(problems, placement_audit.CLEANABLE) == {
        'orphan1': {'cn1': 'orphan'}, 'stale': {'cn1': 'stale_source'}}
    with pytest.raises(OpsError, match="report must be one of full, problems, summary, not 'all'"):
        placement_audit.audit(state, nova, 3600, 'all')


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
    state = placement_audit.PlacementState({'cn1': full, 'cn2': roomy}, set(), {})

    report = placement_fit.fit(FakePlacement(['cn2']), state, dict(VCPU=1, MEMORY_MB=1024), [])

    assert report['fits'] is True
    assert report['candidates'] == [dict(uuid='cn2', name='cn2', fits=10)]
    [blocked] = report['blocked']
    [reason] = blocked['reasons']
    assert (reason['resource_class'], reason['free'], reason['shortfall']) == ('MEMORY_MB', -433, 1457)


def test_fit_explains_max_unit():
    inv = dict(INV, max_unit=512)
    state = placement_audit.PlacementState({'cn1': provider('cn1', inventories=dict(MEMORY_MB=inv))}, set(), {})
    report = placement_fit.fit(FakePlacement([]), state, dict(MEMORY_MB=1024), [])
    assert report['blocked'][0]['reasons'][0]['reason'] == 'MEMORY_MB: asks 1024, more than max_unit 512'


def test_a_backup_round_trips_and_a_changed_one_is_refused(tmp_path):
    consumers = {'a': allocation_backup.snapshot(dict(
        allocations={'cn1': {'resources': {'VCPU': 1}, 'generation': 3}}, consumer_generation=1,
        consumer_type='INSTANCE', project_id='p', user_id='u'))}
    path, digest = allocation_backup.write(str(tmp_path / 'b'), consumers)
    document = allocation_backup.read(path)
    assert document['consumers'] == consumers and document['checksum'] == digest
    assert (tmp_path / 'b').stat().st_mode & 0o777 == 0o700

    tampered = json.loads(open(path).read())
    tampered['consumers']['a']['allocations']['cn1']['resources']['VCPU'] = 2
    with open(path, 'w') as stream:
        json.dump(tampered, stream)
    with pytest.raises(OpsError, match='fails its checksum'):
        allocation_backup.read(path)


class ConflictOnce:
    """Placement that answers the first PUT with a generation conflict."""

    def __init__(self):
        self.allocation = dict(allocations={'cn1': {'resources': {'VCPU': 1}}, 'cn2': {'resources': {'VCPU': 1}}},
                               consumer_generation=1, project_id='p', user_id='u', consumer_type='INSTANCE')
        self.puts = []

    def get(self, path, microversion, params=None):
        return json.loads(json.dumps(self.allocation))

    def put(self, path, body, microversion):
        self.puts.append(body)
        if len(self.puts) == 1:
            self.allocation['consumer_generation'] = 2
            raise ApiError('conflict', status=409, body='', codes=['placement.concurrent_update'])
        self.allocation['allocations'] = body['allocations']


def test_a_generation_conflict_is_re_read_re_classified_and_retried(tmp_path):
    client = ConflictOnce()
    decided = []

    def reclassify(consumer, allocations):
        decided.append(sorted(allocations))
        return {'cn2': 'stale_source'}   # after the re-read, a different part is stale

    cleaner = placement_clean.Cleaner(client, placement_audit.CLEANABLE, reclassify, str(tmp_path))
    [change] = cleaner.apply({'a': {'cn1': 'stale_source'}})

    assert [put['consumer_generation'] for put in client.puts] == [1, 2]
    assert decided == [['cn1', 'cn2']]
    assert change['attempts'] == 2 and set(change['removed']) == {'cn2'}
    assert client.allocation['allocations'] == {'cn1': {'resources': {'VCPU': 1}}}
    assert len(cleaner.backups) == 2


def test_conflicts_stop_after_the_retries():
    client = ConflictOnce()

    def always_conflict(path, body, microversion):
        raise ApiError('conflict', status=409, body='', codes=['placement.concurrent_update'])

    client.put = always_conflict
    cleaner = placement_clean.Cleaner(client, placement_audit.CLEANABLE, lambda c, a: {'cn1': 'orphan'},
                                      '/nonexistent/never', retries=0)
    cleaner._backup = lambda allocations: None
    with pytest.raises(ApiError):
        cleaner.apply({'a': {'cn1': 'orphan'}})


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


class CountingNovaDB:
    """nova_api plus one cell, answering the audit's queries from dicts and counting them."""

    def __init__(self, instances, fail_cell=False):
        self.instances = instances          # uuid -> host
        self.fail_cell = fail_cell
        self.queries = []

    def query(self, sql, args=None):
        table = re.search(r'FROM (\w+)', sql)
        self.queries.append(table.group(1) if table else sql)
        if 'UTC_TIMESTAMP' in sql:
            return [dict(now=NOW)]
        if 'FROM cell_mappings' in sql:
            return [dict(id=1, uuid=CELL1, name='cell1', database_connection='mysql+pymysql://nova@db/nova_cell1')]
        if 'FROM compute_nodes' in sql:
            return [dict(uuid='cn1', host='compute1', hypervisor_hostname='compute1')]
        if 'FROM instances' in sql:
            listed = re.findall(r"'([^']*)'", sql.split(' IN ', 1)[1])
            return [dict(uuid=u, host=self.instances[u], node=self.instances[u], vm_state='active',
                         created_at=NOW, deleted=0) for u in listed if u in self.instances]
        return []

    def literals(self, values):
        return ', '.join(f"'{value}'" for value in values)

    def cell(self, database_connection, override=None):
        if self.fail_cell:
            raise OpsError('Cannot connect to database nova_cell1 at db:3306')
        return self


def test_nova_is_read_alongside_placement_in_chunks_never_per_consumer(monkeypatch):
    monkeypatch.setattr(placement_audit, 'CHUNK', 10)
    consumers = [f'c{n:03d}' for n in range(45)]
    nova_db = CountingNovaDB({u: 'compute1' for u in consumers[::2]})
    feed = placement_audit.NovaFeed(lambda: placement_audit.NovaState.open(nova_db))
    for start in range(0, 45, 3):           # providers' allocations as they arrive, some consumers twice
        feed.put(consumers[start:start + 3] + consumers[:2])
    nova = feed.result()
    assert set(nova.instances) == set(consumers[::2])
    assert nova.instances['c000']['compute_uuid'] == 'cn1'
    # 3 to open, then 5 chunks of at most 10 consumers: build_requests, instances, and migrations twice (by
    # instance for the instances found, by their own uuid for the other consumers). Every cell was read, so
    # the instance mappings, which only matter for a cell that could not be, are not.
    assert len(nova_db.queries) == 3 + 5 * 4
    assert 'instance_mappings' not in nova_db.queries
    assert nova_db.queries.count('instances') == 5


class FailingNovaDB(CountingNovaDB):
    def query(self, sql, args=None):
        raise OpsError('Cannot connect to database nova_api at db:3306')


def test_a_nova_error_in_the_reader_thread_is_raised_to_the_caller():
    feed = placement_audit.NovaFeed(lambda: placement_audit.NovaState.open(FailingNovaDB({})))
    feed.put(['a', 'b'])
    with pytest.raises(OpsError, match='Cannot connect to database nova_api'):
        feed.result()


def test_an_unreadable_cell_is_reported_not_raised():
    feed = placement_audit.NovaFeed(lambda: placement_audit.NovaState.open(CountingNovaDB({}, fail_cell=True)))
    feed.put(['a'])
    nova = feed.result()
    assert nova.unreachable_cells == [CELL1]
    assert nova.cells[CELL1]['error'] == 'Cannot connect to database nova_cell1 at db:3306'

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import datetime
import re

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_cells, nova_triage
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable

NOW = datetime.datetime(2026, 12, 3, 12, 0, 0)
CELL0, CELL1 = nova_cells.CELL0_UUID, '11111111-1111-1111-1111-111111111111'
VM = 'aaaaaaaa-0000-4000-8000-000000000001'
NODE = 'cccccccc-0000-4000-8000-00000000000c'
OTHER_NODE = 'cccccccc-0000-4000-8000-00000000000d'


def ago(seconds):
    return NOW - datetime.timedelta(seconds=seconds)


class FakeDatabase:
    """Answers SELECTs from in-memory tables: ``col = %s`` and ``col IN (...)`` conditions are applied in order."""

    def __init__(self, tables):
        self.tables = tables
        self.statements = []

    def query(self, sql, args=None):
        self.statements.append(sql)
        if 'UTC_TIMESTAMP(6) AS now' in sql:
            return [dict(now=NOW)]
        table = re.search(r'FROM (\w+)', sql).group(1)
        rows = [dict(row) for row in self.tables.get(table, [])]
        args = list(args or ())
        if "vm_state = 'error' OR" in sql:    # the selection of ERROR or stuck instances
            cutoff, limit = args
            rows = [dict(row, changed=row['updated_at'] or row['created_at'], failed=int(row['vm_state'] == 'error'))
                    for row in rows if not row['deleted'] and (row['vm_state'] == 'error' or (
                        row['task_state'] and (row['updated_at'] or row['created_at']) < cutoff))]
            assert 'ORDER BY failed, changed, uuid' in sql
            return sorted(rows, key=lambda row: (row['failed'], row['changed'], row['uuid']))[:limit]
        where = sql.split(' WHERE ', 1)[1] if ' WHERE ' in sql else ''
        for match in re.finditer(r'`?(\w+)`? (= %s|IN \(([%s, ]+)\))', where):
            column = match.group(1)
            if match.group(2) == '= %s':
                value = args.pop(0)
                rows = [row for row in rows if row.get(column) == value]
            else:
                count = match.group(3).count('%s')
                values, args = args[:count], args[count:]
                rows = [row for row in rows if row.get(column) in values]
        return rows


class FakeNova:
    def __init__(self, api, cells):
        self.api = api
        self.cells = cells

    def query(self, sql, args=None):
        return self.api.query(sql, args)

    def cell(self, url, override=None):
        database = self.cells[url]
        if isinstance(database, Exception):
            raise database
        return database


def cell_row(cell_id, uuid, name):
    return dict(id=cell_id, uuid=uuid, name=name, database_connection=f'mysql+pymysql://nova:secret@db/{name}',
                transport_url='rabbit://openstack:secret@mq/', disabled=0)


def instance(uuid=VM, **fields):
    row = dict(uuid=uuid, display_name='vm1', project_id='p', user_id='u', host='cmp1', node='cmp1',
               vm_state='active', task_state=None, power_state=1, created_at=ago(3600), updated_at=ago(3000),
               launched_at=ago(3000), deleted=0, hidden=0)
    row.update(fields)
    return row


def service(**fields):
    row = {'host': 'cmp1', 'binary': 'nova-compute', 'disabled': 0, 'disabled_reason': None, 'forced_down': 0,
           'last_seen_up': ago(5), 'created_at': ago(86400), 'updated_at': ago(5), 'report_count': 900,
           'version': 68, 'deleted': 0}
    row.update(fields)
    return row


def cloud(cell1=None, cell0=None, mapping_cell=2, build_requests=()):
    cell1_tables = dict(instances=[], instance_actions=[], instance_actions_events=[], instance_faults=[],
                        migrations=[], services=[service()], compute_nodes=[
                            dict(uuid=NODE, host='cmp1', hypervisor_hostname='cmp1', deleted=0)])
    cell1_tables.update(cell1 or {})
    cell0_tables = dict(instances=[], instance_actions=[], instance_actions_events=[], instance_faults=[],
                        migrations=[])
    cell0_tables.update(cell0 or {})
    mappings = [] if mapping_cell is False else [dict(instance_uuid=VM, cell_id=mapping_cell, project_id='p',
                                                      user_id='u', queued_for_delete=0, created_at=ago(3600))]
    api = FakeDatabase(dict(cell_mappings=[cell_row(1, CELL0, 'cell0'), cell_row(2, CELL1, 'cell1')],
                            instance_mappings=mappings, build_requests=list(build_requests)))
    cells = {'mysql+pymysql://nova:secret@db/cell0': FakeDatabase(cell0_tables),
             'mysql+pymysql://nova:secret@db/cell1': FakeDatabase(cell1_tables)}
    return FakeNova(api, cells)


def allocations_on(*providers):
    def read(_uuid):
        return dict(providers={uuid: dict(name=name, root_provider_uuid=uuid, resources={'VCPU': 1})
                               for uuid, name in providers}, error=None)
    return read


def triage(nova, **kwargs):
    return nova_triage.Triage(nova, **kwargs).open()


def test_an_active_instance_on_a_live_host_with_its_allocation_is_healthy():
    nova = cloud(cell1=dict(instances=[instance()]))
    report = triage(nova, allocations=allocations_on((NODE, 'cmp1'))).instance(VM)
    assert report['verdict'] == 'healthy', report['problems']
    assert report['cell'] == 'cell1' and report['step'] is None and report['problems'] == []
    assert report['host_service']['up'] is True and report['host_service']['last_report_age_seconds'] == 5
    assert 'last_seen_up' in report['host_service']['rule']
    assert not [sql for db in [nova.api, *nova.cells.values()] for sql in db.statements
                if not sql.lstrip().upper().startswith('SELECT')]


def test_no_valid_host_in_cell0_names_scheduling_its_services_the_decoded_fault_and_the_request_id():
    failed = instance(host=None, node=None, vm_state='error', launched_at=None)
    cell0 = dict(instances=[failed],
                 instance_actions=[dict(id=7, instance_uuid=VM, action='create', request_id='req-1', user_id='u',
                                        project_id='p', start_time=ago(60), finish_time=None, message=None,
                                        deleted=0)],
                 instance_actions_events=[dict(action_id=7, event='conductor_schedule_and_build_instances',
                                               result='Error', host='ctl1', start_time=ago(60), finish_time=ago(59),
                                               details=None, traceback='NoValidHost: No valid host', deleted=0)],
                 instance_faults=[dict(instance_uuid=VM, code=500, message='No valid host was found. ',
                                       details='\\u627e\\u4e0d\\u5230\\u4e3b\\u673a', host='ctl1',
                                       created_at=ago(59), deleted=0)])
    report = triage(cloud(cell0=cell0, mapping_cell=1)).instance(VM)
    assert report['verdict'] == 'error' and report['cell0'] is True
    assert report['step']['name'] == 'scheduling' and report['step']['seed_steps'] == '3-12'
    assert {'nova-scheduler', 'nova-conductor'} <= set(report['step']['services'])
    assert report['faults'][0]['details'] == '找不到主机'
    assert report['request_ids'] == ['req-1']
    assert report['actions'][0]['events'][0]['result'] == 'Error'
    assert report['host_service'] is None
    assert '/var/log/kolla/nova/nova-scheduler.log' in [path for where in report['where_to_look']
                                                        for path in where['logs']]


@pytest.mark.parametrize('task_state, step, first_service', [
    ('networking', 'networking', 'nova-compute'),
    ('block_device_mapping', 'block_device_mapping', 'nova-compute'),
    ('spawning', 'spawning', 'nova-compute'),
    ('powering-off', 'power action', 'nova-compute'),
    ('resize_prep', 'resize: scheduling', 'nova-conductor'),
])
def test_an_instance_long_in_a_task_state_is_stuck_at_its_step(task_state, step, first_service):
    row = instance(vm_state='building' if task_state in nova_triage.STEPS and task_state in (
        'networking', 'block_device_mapping', 'spawning') else 'active', task_state=task_state, updated_at=ago(900))
    report = triage(cloud(cell1=dict(instances=[row])), stuck_after=600).instance(VM)
    assert report['verdict'] == 'stuck'
    assert report['step']['name'] == step and report['step']['services'][0] == first_service
    assert report['problems'][0] == f'in task_state {task_state} for 900s (more than 600s)'


def test_a_young_task_state_is_in_progress_and_a_dead_compute_is_named_with_the_unpicked_action():
    row = instance(task_state='powering-off', updated_at=ago(100))
    actions = [dict(id=3, instance_uuid=VM, action='stop', request_id='req-stop', user_id='u', project_id='p',
                    start_time=ago(100), finish_time=None, message=None, deleted=0)]
    nova = cloud(cell1=dict(instances=[row], instance_actions=actions, services=[service(last_seen_up=ago(300))]))
    report = triage(nova, stuck_after=600).instance(VM)
    assert report['verdict'] == 'host_down'
    assert report['host_service']['up'] is False and report['host_service']['last_report_age_seconds'] == 300
    assert 'nova-compute on cmp1 is down: last heartbeat 300s ago (> 60s)' in report['problems']
    assert any('action stop (req-stop) has no event yet' in problem for problem in report['problems'])
    report = triage(nova, stuck_after=60).instance(VM)
    assert report['verdict'] == 'stuck'


def test_forced_down_and_disabled_services_are_problems_even_with_a_fresh_heartbeat():
    down = service(forced_down=1, disabled=1, disabled_reason='maintenance')
    nova = cloud(cell1=dict(instances=[instance()], services=[down]))
    report = triage(nova).instance(VM)
    assert report['verdict'] == 'host_down'
    assert report['problems'] == ['nova-compute on cmp1 is down: forced down',
                                  'nova-compute on cmp1 is disabled: maintenance']


def test_a_uuid_that_matches_nothing_is_not_found_and_an_only_build_request_is_building():
    assert triage(cloud(mapping_cell=False)).instance(VM)['verdict'] == 'not_found'
    report = triage(cloud(mapping_cell=None, build_requests=[dict(instance_uuid=VM, created_at=ago(30))])).instance(VM)
    assert report['verdict'] == 'building' and report['step']['name'] == 'scheduling'
    old = triage(cloud(mapping_cell=None, build_requests=[dict(instance_uuid=VM, created_at=ago(7200))])).instance(VM)
    assert old['verdict'] == 'stuck'


def test_a_lost_mapping_and_allocations_elsewhere_are_problems():
    nova = cloud(cell1=dict(instances=[instance()]), mapping_cell=False)
    report = triage(nova, allocations=allocations_on((NODE, 'cmp1'), (OTHER_NODE, 'cmp2'))).instance(VM)
    assert report['verdict'] == 'attention'
    assert report['problems'][0].startswith('no instance mapping in nova_api: the API answers 404')
    assert 'holds allocations on cmp2 besides its host cmp1' in report['problems'][1]
    report = triage(cloud(cell1=dict(instances=[instance()])), allocations=allocations_on()).instance(VM)
    assert report['problems'] == ['no allocations in Placement although it is on cmp1: the scheduler counts its '
                                  'resources as free']


def test_the_selection_takes_error_and_stuck_instances_oldest_first_and_skips_an_unreachable_cell():
    rows = [instance('aaaaaaaa-0000-4000-8000-000000000002', vm_state='error', updated_at=ago(50)),
            instance('aaaaaaaa-0000-4000-8000-000000000003', task_state='spawning', updated_at=ago(5000)),
            instance('aaaaaaaa-0000-4000-8000-000000000004', task_state='spawning', updated_at=ago(10)),
            instance('aaaaaaaa-0000-4000-8000-000000000005')]
    nova = cloud(cell1=dict(instances=rows))
    nova.cells['mysql+pymysql://nova:secret@db/cell0'] = BackendUnavailable('Cannot connect to db:3306')
    found = triage(nova, stuck_after=600)
    assert found.select(10) == ['aaaaaaaa-0000-4000-8000-000000000003', 'aaaaaaaa-0000-4000-8000-000000000002']
    assert found.select(1) == ['aaaaaaaa-0000-4000-8000-000000000003']
    assert [cell['reachable'] for cell in found.cells_report()] == [False, True]


def test_step_table_and_decoding():
    assert nova_triage.step_of('scheduling')['services'][:3] == ['nova-api', 'nova-conductor', 'nova-scheduler']
    assert nova_triage.step_of('networking')['services'] == ['nova-compute', 'neutron-server']
    assert nova_triage.step_of('something-new')['name'] == 'something-new'
    assert nova_triage.decode('a \\u4e3b b') == 'a 主 b'
    assert nova_triage.is_uuid(VM) and not nova_triage.is_uuid('vm1')


def test_stuck_instances_come_before_older_error_instances_so_a_limit_never_hides_them():
    rows = [instance('aaaaaaaa-0000-4000-8000-000000000002', vm_state='error', updated_at=ago(90000)),
            instance('aaaaaaaa-0000-4000-8000-000000000006', vm_state='error', updated_at=ago(80000)),
            instance('aaaaaaaa-0000-4000-8000-000000000003', task_state='spawning', updated_at=ago(700))]
    found = triage(cloud(cell1=dict(instances=rows)), stuck_after=600)
    assert found.select(1) == ['aaaaaaaa-0000-4000-8000-000000000003']
    assert found.select(10) == ['aaaaaaaa-0000-4000-8000-000000000003', 'aaaaaaaa-0000-4000-8000-000000000002',
                                'aaaaaaaa-0000-4000-8000-000000000006']

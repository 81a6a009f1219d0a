# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import datetime
import re

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_cells
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import BackendUnavailable, OpsError

NOW = datetime.datetime(2024, 1, 2, 12, 0, 0)
OLD = datetime.datetime(2023, 1, 1)
CELL0, CELL1, CELL2 = nova_cells.CELL0_UUID, '11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222'


class FakeDatabase:
    """Answers the audit's statements from in-memory tables; records the writes."""

    def __init__(self, tables):
        self.tables = tables
        self.writes = []
        self.commits = 0
        self.rollbacks = 0

    def _rows(self, sql, args):
        table = re.search(r'FROM (\w+)', sql).group(1)
        rows = list(self.tables.get(table, []))
        if 'IN (' in sql:
            wanted = set(args)
            key = 'instance_uuid' if table in ('instance_mappings',) else 'uuid'
            rows = [row for row in rows if row[key] in wanted]
        if table == 'instance_mappings' and 'project_id <>' in sql:
            rows = [row for row in rows if row['project_id'] != nova_cells.MIGRATION_MARKER]
        if table == 'services':
            rows = [row for row in rows if row.get('binary', 'nova-compute') == 'nova-compute']
        return rows

    def query(self, sql, args=None):
        if 'UTC_TIMESTAMP() AS now' in sql:
            return [dict(now=NOW)]
        return self._rows(sql, args)

    def stream(self, sql, args=None):
        columns = [name.strip() for name in re.search(r'SELECT (.*?) FROM', sql).group(1).split(',')]
        for row in self._rows(sql, args):
            yield tuple(row.get(column) for column in columns)

    def execute(self, sql, args=None):
        self.writes.append((sql, args))
        return 1

    def commit(self):
        self.commits += 1

    def rollback(self):
        self.rollbacks += 1


class FakeNova:
    def __init__(self, api, cells):
        self.api = api
        self.cells = cells
        self.opened = []

    def query(self, sql, args=None):
        return self.api.query(sql, args)

    def cell(self, url, override=None):
        self.opened.append((url, override))
        database = self.cells[url]
        if isinstance(database, Exception):
            raise database
        return database


def cell_row(cell_id, uuid, name):
    return dict(id=cell_id, uuid=uuid, name=name, database_connection=f'mysql+pymysql://nova:secret@db/{name}',
                transport_url=f'rabbit://openstack:secret@mq/{name}', disabled=0)


def instance(uuid, deleted=0, hidden=0, host='cmp1', project='p1'):
    return dict(uuid=uuid, deleted=deleted, hidden=hidden, display_name=f'vm-{uuid}', project_id=project,
                user_id='u1', host=host, node=host, vm_state='active', task_state=None, created_at=OLD)


def mapping(uuid, cell_id, created_at=OLD, project='p1'):
    return dict(instance_uuid=uuid, cell_id=cell_id, project_id=project, user_id='u1', created_at=created_at)


def world(api_tables=None, cell1=None, cell2=None, cell0=None):
    api = FakeDatabase(dict(dict(
        cell_mappings=[cell_row(1, CELL0, 'cell0'), cell_row(2, CELL1, 'cell1'), cell_row(3, CELL2, 'cell2')],
        instance_mappings=[], build_requests=[], host_mappings=[]), **(api_tables or {})))
    cells = {}
    for name, tables in (('cell0', cell0), ('cell1', cell1), ('cell2', cell2)):
        url = f'mysql+pymysql://nova:secret@db/{name}'
        cells[url] = tables if isinstance(tables, Exception) else FakeDatabase(dict(
            dict(instances=[], services=[], compute_nodes=[], shadow_instances=[]), **(tables or {})))
    return FakeNova(api, cells)


def types(result):
    return sorted(finding['type'] for finding in result['findings'])


def test_a_consistent_cloud_has_no_findings_and_counts_what_it_read():
    nova = world(
        dict(instance_mappings=[mapping('a', 2), mapping('b', 3), mapping('f', 1),
                                dict(mapping('marker', None), project_id=nova_cells.MIGRATION_MARKER)],
             host_mappings=[dict(host='cmp1', cell_id=2, created_at=OLD)]),
        cell1=dict(instances=[instance('a'), instance('a', hidden=1)],
                   services=[dict(host='cmp1', created_at=OLD)],
                   compute_nodes=[dict(host='CMP1', hypervisor_hostname='cmp1.example', created_at=OLD)]),
        cell2=dict(instances=[instance('b')]),
        cell0=dict(instances=[instance('f', host=None)]))

    result = nova_cells.CellAudit(nova).run()

    assert result['findings'] == []
    assert result['summary']['instances'] == 3
    assert result['summary']['instance_mappings'] == 3   # the map_instances marker is not an instance
    cells = {cell['name']: cell for cell in result['cells']}
    assert cells['cell1']['compute_hosts'] == 1 and cells['cell0']['compute_hosts'] is None
    assert cells['cell1']['database_connection'] == 'mysql+pymysql://nova:********@db/cell1'
    assert cells['cell1']['transport_url'] == 'rabbit://openstack:********@mq/cell1'
    assert nova.api.rollbacks == 1   # the read snapshot ends before the re-checks


def test_each_kind_of_mapping_damage_is_told_apart():
    nova = world(
        dict(instance_mappings=[mapping('wrong', 3), mapping('deleted', 2), mapping('archived', 2),
                                mapping('gone-cell', 9), mapping('null-old', None), mapping('null-young', None, NOW),
                                mapping('building', None), mapping('null-found', None)],
             build_requests=[dict(instance_uuid='building')]),
        cell1=dict(instances=[instance('vanished'), instance('wrong'), instance('deleted', deleted=7),
                              instance('gone-cell'), instance('null-found'), instance('old-deleted', deleted=8)],
                   shadow_instances=[dict(uuid='archived')]))

    result = nova_cells.CellAudit(nova).run()
    found = {(f['type'], f.get('instance_uuid')): f for f in result['findings']}

    assert sorted(found) == [
        ('instance_without_mapping', 'vanished'),
        ('mapping_to_archived_instance', 'archived'),
        ('mapping_to_deleted_instance', 'deleted'),
        ('mapping_to_missing_cell', 'gone-cell'),
        ('mapping_to_wrong_cell', 'wrong'),
        ('mapping_without_cell', 'null-found'),
        ('mapping_without_cell', 'null-old'),
    ]
    assert found[('instance_without_mapping', 'vanished')]['repair'] == 'missing_instance_mappings'
    assert found[('mapping_to_wrong_cell', 'wrong')]['mapped_cell'] == 'cell2'
    assert found[('mapping_to_wrong_cell', 'wrong')]['cell'] == 'cell1'
    assert found[('mapping_to_missing_cell', 'gone-cell')]['mapped_cell_id'] == 9
    assert found[('mapping_to_missing_cell', 'gone-cell')]['repair'] == 'wrong_cell_mappings'
    assert found[('mapping_without_cell', 'null-found')]['repair'] == 'wrong_cell_mappings'
    assert found[('mapping_without_cell', 'null-old')]['repair'] is None
    assert found[('mapping_without_cell', 'null-old')]['mapping_age_seconds'] == int((NOW - OLD).total_seconds())
    assert found[('mapping_to_archived_instance', 'archived')]['in_shadow_table'] is True
    assert found[('mapping_to_deleted_instance', 'deleted')]['repair'] is None


def test_an_unreachable_cell_is_reported_and_nothing_in_it_is_judged():
    nova = world(dict(instance_mappings=[mapping('in-cell2', 3), mapping('vanished-elsewhere', 2)],
                      host_mappings=[dict(host='cmp9', cell_id=3, created_at=OLD)]),
                 cell2=BackendUnavailable('Cannot connect to database nova_cell2 at db:3306: timed out'))

    result = nova_cells.CellAudit(nova, cell_timeout=4).run()

    [down] = result['findings'][:1]
    assert down['type'] == 'cell_unreachable' and down['cell'] == 'cell2'
    assert 'within 4s' in down['message'] and 'its 1 instance mappings and 1 host mappings' in down['message']
    assert down['database_connection'] == 'mysql+pymysql://nova:********@db/cell2'
    # cell2's mapping and host mapping are not judged; cell1's mapping whose instance is nowhere is.
    assert types(result) == ['cell_unreachable', 'mapping_to_archived_instance']
    assert result['summary']['unreachable_cells'] == 1
    assert all(override['connect_timeout'] == 4 and override['read_timeout'] == 4 for _url, override in nova.opened)


def test_cell_connections_override_the_mapping_by_name_or_uuid():
    nova = world()
    overrides = nova_cells.cell_overrides([dict(cell='cell1', login_host='10.0.0.5', login_port=None,
                                                login_password='pw', login_user=None, login_unix_socket=None,
                                                login_db=None),
                                           dict(cell=CELL2, login_port=13306)])

    nova_cells.CellAudit(nova, overrides=overrides).run()

    opened = {url.rsplit('/', 1)[1]: override for url, override in nova.opened}
    assert opened['cell1'] == dict(connect_timeout=10, read_timeout=10, host='10.0.0.5', password='pw')
    assert opened['cell2'] == dict(connect_timeout=10, read_timeout=10, port=13306)


def test_cell_connections_naming_an_unknown_cell_is_refused():
    with pytest.raises(OpsError, match='not in cell_mappings: cell9'):
        nova_cells.CellAudit(world(), overrides={'cell9': {}}).run()


def test_hosts_without_mapping_stale_host_mappings_and_missing_cells():
    nova = world(
        dict(host_mappings=[dict(host='cmp1', cell_id=2, created_at=OLD), dict(host='gone', cell_id=2, created_at=OLD),
                            dict(host='cmp7', cell_id=9, created_at=OLD)]),
        cell1=dict(services=[dict(host='cmp1', created_at=OLD), dict(host='cmp2', created_at=OLD),
                             dict(host='twice', created_at=OLD)],
                   compute_nodes=[dict(host='cmp3', hypervisor_hostname='cmp3.example', created_at=OLD)]),
        cell2=dict(services=[dict(host='twice', created_at=OLD)]))

    result = nova_cells.CellAudit(nova).run()
    found = {(f['type'], f['host']): f for f in result['findings']}

    assert sorted(found) == [('compute_host_without_mapping', 'cmp2'), ('compute_host_without_mapping', 'cmp3'),
                             ('compute_host_without_mapping', 'twice'), ('host_mapping_to_missing_cell', 'cmp7'),
                             ('host_mapping_to_missing_host', 'gone')]
    assert found[('compute_host_without_mapping', 'cmp3')]['service'] is False
    assert found[('compute_host_without_mapping', 'cmp3')]['compute_nodes'] == ['cmp3.example']
    assert found[('compute_host_without_mapping', 'cmp2')]['repair'] == 'missing_host_mappings'
    assert found[('compute_host_without_mapping', 'twice')]['repair'] is None
    assert found[('compute_host_without_mapping', 'twice')]['cells'] == ['cell1', 'cell2']


def test_repairs_are_planned_only_for_the_selected_types_and_written_conditionally():
    nova = world(dict(instance_mappings=[mapping('wrong', 3)]),
                 cell1=dict(instances=[instance('vanished', project='p9'), instance('wrong')],
                            services=[dict(host='cmp2', created_at=OLD)]))
    audit = nova_cells.CellAudit(nova)
    result = audit.run()

    only_hosts = nova_cells.plan_repairs(result['findings'], ['missing_host_mappings'], audit.cells)
    actions = nova_cells.plan_repairs(result['findings'], list(nova_cells.REPAIRS), audit.cells)

    assert [a['host'] for a in only_hosts] == ['cmp2']
    assert [(a['repair'], a.get('instance_uuid') or a['host'], a['cell_id'], a.get('from_cell_id'))
            for a in actions] == [('missing_instance_mappings', 'vanished', 2, None),
                                  ('wrong_cell_mappings', 'wrong', 2, 3),
                                  ('missing_host_mappings', 'cmp2', 2, None)]
    assert nova_cells.diff(actions) == dict(
        before={'instance_mappings/vanished': None, 'instance_mappings/wrong': 'cell2', 'host_mappings/cmp2': None},
        after={'instance_mappings/vanished': 'cell1', 'instance_mappings/wrong': 'cell1', 'host_mappings/cmp2': 'cell1'})

    nova_cells.apply_repairs(nova.api, actions)

    assert nova.api.commits == 1 and all(action['applied'] for action in actions)
    insert, update, host = nova.api.writes
    assert 'WHERE NOT EXISTS' in insert[0] and insert[1] == ('vanished', 2, 'p9', 'u1', 'vanished')
    assert 'cell_id <=> %s' in update[0] and update[1] == (2, 'wrong', 3)
    assert host[0].startswith('INSERT INTO host_mappings') and host[1] == (2, 'cmp2', 'cmp2')


def test_a_failed_write_rolls_back_every_write():
    api = FakeDatabase({})

    def lost_connection(sql, args=None):
        raise RuntimeError('lost connection')

    api.execute = lost_connection
    action = dict(repair='missing_host_mappings', table='host_mappings', host='cmp2', cell_id=2)

    with pytest.raises(RuntimeError):
        nova_cells.apply_repairs(api, [action])

    assert api.rollbacks == 1 and api.commits == 0

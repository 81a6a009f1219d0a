# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""placement_nova_state: Nova read in chunks, in a thread of its own, from a fake nova_api and cell."""

import datetime
import json
import re

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement_nova_state
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)
CELL1 = 'c1'


class CountingNovaDB:
    """nova_api plus one cell, answering the audit's queries from dicts and counting them."""

    def __init__(self, instances, fail_cell=False, extra=None, roots=None, system_metadata=None):
        self.instances = instances          # uuid -> host
        self.extra = extra or {}            # uuid -> instance_extra.flavor
        self.roots = roots or {}            # uuid -> destination_type of the root block device mapping
        self.system_metadata = system_metadata or {}    # uuid -> {key: value}
        self.fail_cell = fail_cell
        self.queries = []
        self.overrides = []

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
                         task_state=None, image_ref='' if u.startswith('bfv') else 'image-1',
                         created_at=NOW, deleted=0) for u in listed if u in self.instances]
        listed = re.findall(r"'([^']*)'", sql.rsplit(' IN ', 1)[-1])
        if 'FROM instance_extra' in sql:
            return [dict(instance_uuid=u, flavor=self.extra[u]) for u in listed if u in self.extra]
        if 'FROM block_device_mapping' in sql:
            assert 'boot_index = 0' in sql and 'deleted = 0' in sql
            return [dict(instance_uuid=u, destination_type=self.roots[u]) for u in listed if u in self.roots]
        if 'FROM instance_system_metadata' in sql:
            assert "IN ('image_hw_cpu_policy')" in sql
            return [dict(instance_uuid=u, key=key, value=value) for u in listed
                    for key, value in self.system_metadata.get(u, {}).items()]
        return []

    def literals(self, values):
        return ', '.join(f"'{value}'" for value in values)

    def cell(self, database_connection, override=None):
        self.overrides.append(override)
        if self.fail_cell:
            raise OpsError('Cannot connect to database nova_cell1 at db:3306')
        return self


def test_nova_is_read_alongside_placement_in_chunks_never_per_consumer(monkeypatch):
    monkeypatch.setattr(placement_nova_state, 'CHUNK', 10)
    consumers = [f'c{n:03d}' for n in range(45)]
    nova_db = CountingNovaDB({u: 'compute1' for u in consumers[::2]})
    feed = placement_nova_state.NovaFeed(placement_nova_state.NovaSource(nova_db))
    for start in range(0, 45, 3):           # providers' allocations as they arrive, some consumers twice
        feed.put(consumers[start:start + 3] + consumers[:2])
    nova = feed.result()
    assert set(nova.instances) == set(consumers[::2])
    assert nova.instances['c000']['compute_uuid'] == 'cn1'
    # 3 to open, then 5 chunks of at most 10 consumers: build_requests, instances, what the flavor check needs
    # of the settled instances (instance_extra, block_device_mapping, instance_system_metadata), and migrations
    # twice (by instance for the instances found, by their own uuid for the other consumers). Every cell was
    # read, so the instance mappings, which only matter for a cell that could not be, are not.
    assert len(nova_db.queries) == 3 + 5 * 7
    assert 'instance_mappings' not in nova_db.queries
    assert nova_db.queries.count('instances') == 5


def test_a_source_reads_the_cells_with_its_override():
    nova_db = CountingNovaDB({'i1': 'compute1'})
    nova = placement_nova_state.NovaSource(nova_db, {'host': '10.0.0.9'}).read(['i1', 'gone'])
    assert set(nova.instances) == {'i1'}
    assert nova_db.overrides == [{'host': '10.0.0.9'}]


class FailingNovaDB(CountingNovaDB):
    def query(self, sql, args=None):
        raise OpsError('Cannot connect to database nova_api at db:3306')


def test_a_nova_error_in_the_reader_thread_is_raised_to_the_caller():
    feed = placement_nova_state.NovaFeed(placement_nova_state.NovaSource(FailingNovaDB({})))
    feed.put(['a', 'b'])
    with pytest.raises(OpsError, match='Cannot connect to database nova_api'):
        feed.result()


def test_an_unreadable_cell_is_reported_not_raised():
    feed = placement_nova_state.NovaFeed(placement_nova_state.NovaSource(CountingNovaDB({}, fail_cell=True)))
    feed.put(['a'])
    nova = feed.result()
    assert nova.unreachable_cells == [CELL1]
    assert nova.cells[CELL1]['error'] == 'Cannot connect to database nova_cell1 at db:3306'


def flavor_json(**data):
    return json.dumps({'cur': {'nova_object.name': 'Flavor', 'nova_object.data': dict(
        dict(name='m1.small', vcpus=1, memory_mb=512, root_gb=10, ephemeral_gb=0, swap=0, extra_specs={}), **data)},
        'old': None, 'new': None})


def test_settled_instances_get_their_flavor_boot_source_and_image_properties():
    nova_db = CountingNovaDB(
        {'i1': 'compute1', 'bfv1': 'compute1', 'bfv2': 'compute1', 'i2': 'compute1', 'i3': 'compute1'},
        extra={'i1': flavor_json(extra_specs={'hw:cpu_policy': 'dedicated'}), 'bfv1': flavor_json(),
               'bfv2': flavor_json(), 'i2': flavor_json(), 'i3': 'not json'},
        roots={'i2': 'volume', 'bfv2': 'local'}, system_metadata={'i1': {'image_hw_cpu_policy': 'dedicated'}})
    nova = placement_nova_state.NovaSource(nova_db).read(['i1', 'bfv1', 'bfv2', 'i2', 'i3'])
    assert nova.instances['i1']['flavor']['extra_specs'] == {'hw:cpu_policy': 'dedicated'}
    assert nova.instances['i1']['image_properties'] == {'hw_cpu_policy': 'dedicated'}
    # A root mapping decides; without one, no image_ref means a volume, as nova decides.
    assert {u: nova.instances[u]['is_bfv'] for u in ('i1', 'bfv1', 'bfv2', 'i2')} == {
        'i1': False, 'bfv1': True, 'bfv2': False, 'i2': True}
    assert nova.instances['i3']['flavor'] is None
    assert nova.instances['bfv1']['flavor'] == dict(name='m1.small', vcpus=1, memory_mb=512, root_gb=10,
                                                    ephemeral_gb=0, swap=0, extra_specs={})

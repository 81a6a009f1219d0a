"""placement_db.read on a fake database: rows of Placement's tables in, the API reader's PlacementState out."""
import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement_db
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


class FakePlacementDB:
    name = 'placement'

    def __init__(self, tables=placement_db.TABLES):
        self.tables = tables
        self.statements = []

    def query(self, sql, args=None):
        self.statements.append(sql)
        if sql == 'SHOW TABLES':
            return [{'Tables_in_placement': table} for table in self.tables]
        if sql == placement_db.PROVIDERS:
            return [dict(id=1, uuid='cn1', name='compute1', generation=3, parent_provider_uuid=None, root_provider_uuid='cn1'),
                    dict(id=2, uuid='fpga', name='compute1_fpga', generation=1, parent_provider_uuid='cn1',
                         root_provider_uuid='cn1'),
                    dict(id=3, uuid='cn2', name='compute2', generation=7, parent_provider_uuid=None, root_provider_uuid='cn2'),
                    dict(id=4, uuid='nfs', name='shared', generation=2, parent_provider_uuid=None, root_provider_uuid='nfs')]
        if sql == placement_db.INVENTORIES:
            return [dict(resource_provider_id=1, name='MEMORY_MB', total=7841, reserved=512, min_unit=1, max_unit=7841,
                         step_size=1, allocation_ratio=1.5),
                    dict(resource_provider_id=2, name='CUSTOM_FPGA', total=4, reserved=0, min_unit=1, max_unit=1,
                         step_size=1, allocation_ratio=1.0)]
        if sql == placement_db.SHARING:
            assert args == ('MISC_SHARES_VIA_AGGREGATE',)
            return [dict(resource_provider_id=4)]
        if sql == placement_db.AGGREGATES:
            return [dict(resource_provider_id=4, uuid='agg1'), dict(resource_provider_id=3, uuid='agg1'),
                    dict(resource_provider_id=1, uuid='agg2')]
        return []

    def stream(self, sql, args=None):
        assert sql == placement_db.ALLOCATIONS
        yield from [(1, 'c1', 'MEMORY_MB', 1024), (1, 'c1', 'VCPU', 1), (2, 'c2', 'CUSTOM_FPGA', 1), (4, 'c3', 'DISK_GB', 10)]

    def rollback(self):
        self.statements.append('ROLLBACK')


def test_rows_become_the_state_the_api_reader_builds_in_one_snapshot():
    database = FakePlacementDB()
    state = placement_db.read(database)

    assert state.providers['cn1'] == dict(
        uuid='cn1', name='compute1', generation=3, parent_provider_uuid=None, root_provider_uuid='cn1',
        inventories={'MEMORY_MB': dict(total=7841, reserved=512, min_unit=1, max_unit=7841, step_size=1,
                                       allocation_ratio=1.5)},
        allocations={'c1': {'MEMORY_MB': 1024, 'VCPU': 1}})
    assert state.providers['fpga']['allocations'] == {'c2': {'CUSTOM_FPGA': 1}}
    assert state.sharing == {'nfs'} and state.share_peers == {'nfs': {'cn2'}}
    assert database.statements[1].startswith('START TRANSACTION WITH CONSISTENT SNAPSHOT')
    assert database.statements[-1] == 'ROLLBACK'


def test_a_selection_keeps_trees_and_sharing_peers_outside_it():
    state = placement_db.read(FakePlacementDB(), only=['compute1', 'nfs'])

    assert sorted(state.providers) == ['cn1', 'fpga', 'nfs']
    # compute2 is not audited, but its disk comes from nfs: an instance there still makes nfs's allocation active.
    assert state.share_peers == {'nfs': {'cn2'}}


def test_a_database_without_placements_tables_is_refused_before_any_read():
    database = FakePlacementDB(tables=('resource_providers', 'inventories', 'allocations', 'instances'))
    with pytest.raises(OpsError, match='^Database placement is not a Placement database: it has no '
                                       'placement_aggregates, resource_classes, resource_provider_aggregates, '
                                       'resource_provider_traits, traits table'):
        placement_db.read(database)
    assert database.statements == ['SHOW TABLES']


def test_an_unknown_provider_in_the_selection_is_an_error():
    with pytest.raises(OpsError, match='Unknown resource provider'):
        placement_db.read(FakePlacementDB(), only=['compute9'])

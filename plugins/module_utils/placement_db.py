# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Placement's providers, inventories and allocations read from its own database, read-only.

Six SELECTs in one consistent snapshot instead of two API requests per provider: the same PlacementState the
API reader builds, for clouds where thousands of requests to Placement are what an audit waits on. Writes
never come this way; clean and restore go through the API with generations.

The tables are those of the openstack/placement schema (unchanged in shape since Placement left Nova in
Stein): standard resource classes are rows of resource_classes too (Placement syncs them at start-up with
the ids os-resource-classes gives them), custom ones have ids from 10000.
"""

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement_state import (
    SHARING_TRAIT,
    PlacementState,
    select_providers,
)

TABLES = ('resource_providers', 'inventories', 'allocations', 'resource_classes', 'traits',
          'resource_provider_traits', 'placement_aggregates', 'resource_provider_aggregates')
PROVIDERS = (
    'SELECT rp.id, rp.uuid, rp.name, rp.generation, parent.uuid AS parent_provider_uuid, '
    'root.uuid AS root_provider_uuid FROM resource_providers rp '
    'LEFT JOIN resource_providers parent ON parent.id = rp.parent_provider_id '
    'LEFT JOIN resource_providers root ON root.id = rp.root_provider_id')
INVENTORIES = (
    'SELECT inv.resource_provider_id, rc.name, inv.total, inv.reserved, inv.min_unit, inv.max_unit, '
    'inv.step_size, inv.allocation_ratio FROM inventories inv '
    'JOIN resource_classes rc ON rc.id = inv.resource_class_id')
ALLOCATIONS = (
    'SELECT a.resource_provider_id, a.consumer_id, rc.name, a.used FROM allocations a '
    'JOIN resource_classes rc ON rc.id = a.resource_class_id')
SHARING = (
    'SELECT rpt.resource_provider_id FROM resource_provider_traits rpt '
    'JOIN traits t ON t.id = rpt.trait_id WHERE t.name = %s')
AGGREGATES = (
    'SELECT rpa.resource_provider_id, pa.uuid FROM resource_provider_aggregates rpa '
    'JOIN placement_aggregates pa ON pa.id = rpa.aggregate_id')


def read(database, only=None):
    """The PlacementState of the database, all of it read in one snapshot."""
    found = {next(iter(row.values())) for row in database.query('SHOW TABLES')}
    missing = sorted(set(TABLES) - found)
    if missing:
        raise OpsError(f"Database {database.name} is not a Placement database: it has no {', '.join(missing)} "
                       'table(s). Set placement_database to the database named in the [placement_database] '
                       'connection of placement.conf.', missing_tables=missing)
    # Every SELECT below sees the same moment, which two thousand API requests cannot promise.
    database.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
    try:
        rows = database.query(PROVIDERS)
        uuid_of = {row['id']: row['uuid'] for row in rows}
        if only:
            rows = select_providers(rows, only)
        by_id = {}
        for row in rows:
            by_id[row['id']] = dict(
                uuid=row['uuid'], name=row['name'], generation=row['generation'],
                parent_provider_uuid=row['parent_provider_uuid'], root_provider_uuid=row['root_provider_uuid'],
                inventories={}, allocations={})
        for row in database.query(INVENTORIES):
            provider = by_id.get(row['resource_provider_id'])
            if provider is not None:
                provider['inventories'][row['name']] = dict(
                    total=row['total'], reserved=row['reserved'], min_unit=row['min_unit'],
                    max_unit=row['max_unit'], step_size=row['step_size'],
                    allocation_ratio=float(row['allocation_ratio']))
        for provider_id, consumer, resource_class, used in database.stream(ALLOCATIONS):
            provider = by_id.get(provider_id)
            if provider is not None:
                provider['allocations'].setdefault(consumer, {})[resource_class] = used
        sharing_ids = {row['resource_provider_id'] for row in database.query(SHARING, (SHARING_TRAIT,))} & set(by_id)
        aggregates = {}
        for row in database.query(AGGREGATES):
            aggregates.setdefault(row['resource_provider_id'], set()).add(row['uuid'])
    finally:
        database.rollback()
    # Placement's member_of lists every provider in the aggregates, not only those the audit selected.
    members = {}
    for provider_id, uuids in aggregates.items():
        for aggregate in uuids:
            members.setdefault(aggregate, set()).add(provider_id)
    share_peers = {}
    for provider_id in sharing_ids:
        peers = set().union(*(members[aggregate] for aggregate in aggregates.get(provider_id, ())))
        share_peers[uuid_of[provider_id]] = {uuid_of[peer] for peer in peers} - {uuid_of[provider_id]}
    return PlacementState({provider['uuid']: provider for provider in by_id.values()},
                          {uuid_of[provider_id] for provider_id in sharing_ids}, share_peers)

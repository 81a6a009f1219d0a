# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Placement's state: every resource provider with its inventories, usage and allocations.

Read through the API here (two calls per provider, under bounded concurrency), or
from Placement's database by placement_db; both build the same PlacementState, which
the classifier, the audit report and the fit check read and never change.
"""

import math

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement import (
    RESOURCE_PROVIDERS,
    provider_path,
)
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.workers import run_bounded

# The trait of a provider that serves the providers in its aggregates (shared storage).
SHARING_TRAIT = 'MISC_SHARES_VIA_AGGREGATE'


def capacity(inventory):
    """What Placement lets be allocated: (total - reserved) * allocation_ratio, as a whole number."""
    return int(math.floor((inventory['total'] - inventory['reserved']) * inventory['allocation_ratio']))


class PlacementState:
    """Every resource provider with its inventories, usage and allocations, read at one time."""

    def __init__(self, providers, sharing, share_peers):
        self.providers = providers          # uuid -> provider dict (with inventories, allocations)
        self.sharing = sharing              # uuids of sharing providers
        self.share_peers = share_peers      # sharing provider uuid -> uuids of providers in its aggregates

    @classmethod
    def read(cls, client, only=None, concurrency=8, on_allocations=None):
        """Read Placement; ``only`` limits the providers to these UUIDs or names (and their trees).

        on_allocations(consumer uuids), when given, is called with each provider's consumers as soon as they
        are read, so that Nova can be read at the same time; it is called from the reading threads.
        """
        listed = [_with_tree(rp) for rp in client.get(RESOURCE_PROVIDERS, client.microversion)['resource_providers']]
        if only:
            listed = select_providers(listed, only)
        providers = {rp['uuid']: dict(
            uuid=rp['uuid'], name=rp['name'], generation=rp['generation'],
            parent_provider_uuid=rp['parent_provider_uuid'], root_provider_uuid=rp['root_provider_uuid'],
        ) for rp in listed}
        _read_providers(client, providers, concurrency, on_allocations)
        sharing, share_peers = _read_sharing(client, set(providers))
        return cls(providers, sharing, share_peers)

    def consumers(self):
        """consumer uuid -> {provider uuid: resources}."""
        result = {}
        for uuid, provider in self.providers.items():
            for consumer, resources in provider['allocations'].items():
                result.setdefault(consumer, {})[uuid] = resources
        return result

    def usage(self, uuid):
        used = {}
        for resources in self.providers[uuid]['allocations'].values():
            for resource_class, amount in resources.items():
                used[resource_class] = used.get(resource_class, 0) + amount
        return used

    def inventory_report(self, uuid):
        """Per resource class: the inventory fields, used, capacity and free."""
        used = self.usage(uuid)
        report = {}
        for resource_class, inventory in sorted(self.providers[uuid]['inventories'].items()):
            cap = capacity(inventory)
            report[resource_class] = dict(
                total=inventory['total'], reserved=inventory['reserved'],
                allocation_ratio=inventory['allocation_ratio'], min_unit=inventory['min_unit'],
                max_unit=inventory['max_unit'], step_size=inventory['step_size'],
                used=used.get(resource_class, 0), capacity=cap, free=cap - used.get(resource_class, 0))
        return report


def _read_providers(client, providers, concurrency, on_allocations):
    """Add each provider's inventories and allocations, ``concurrency`` providers at a time.

    Two GETs per provider is what an API audit waits on, so they overlap (workers.run_bounded); after a
    failure no further provider is read, and the first failure in the providers' order is raised.
    """
    def read_provider(uuid):
        provider = providers[uuid]
        provider['inventories'] = client.get(provider_path(uuid, 'inventories'), client.microversion)['inventories']
        allocations = client.get(provider_path(uuid, 'allocations'), client.microversion)['allocations']
        provider['allocations'] = {consumer: body['resources'] for consumer, body in allocations.items()}
        if on_allocations is not None:
            on_allocations(provider['allocations'])

    _done, failed, _not_reached = run_bounded(list(providers), read_provider, max(1, concurrency), errors=(Exception,))
    if failed:
        raise failed[0][1]


def _with_tree(listed):
    """A listed provider with its tree fields: before microversion 1.14 there are no trees, each is its own root."""
    if 'root_provider_uuid' in listed:
        return listed
    return dict(listed, parent_provider_uuid=None, root_provider_uuid=listed['uuid'])


def sharing_providers(client, among):
    """The providers of ``among`` with the sharing trait: one listing from microversion 1.18, else their traits."""
    if client.at_least('1.18'):
        return {rp['uuid'] for rp in client.get(
            RESOURCE_PROVIDERS, client.microversion, params={'required': SHARING_TRAIT})['resource_providers']} & set(among)
    return {uuid for uuid in among
            if SHARING_TRAIT in client.get(provider_path(uuid, 'traits'), client.microversion)['traits']}


def _read_sharing(client, selected):
    """The selected sharing providers, and for each the providers in its aggregates (selected or not)."""
    sharing = sharing_providers(client, selected)
    share_peers = {}
    for uuid in sharing:
        share_peers[uuid] = aggregate_peers(client, uuid)
    return sharing, share_peers


def aggregate_peers(client, uuid):
    """The providers in any aggregate of provider ``uuid``, other than itself."""
    aggregates = client.get(provider_path(uuid, 'aggregates'), client.microversion)['aggregates']
    peers = set()
    if aggregates:
        peers = {rp['uuid'] for rp in client.get(
            RESOURCE_PROVIDERS, client.microversion,
            params={'member_of': 'in:' + ','.join(aggregates)})['resource_providers']}
    return peers - {uuid}


def select_providers(listed, only):
    """The listed providers in the trees of ``only`` (UUIDs or names); an unknown one is an error."""
    by_uuid = {rp['uuid']: rp for rp in listed}
    by_name = {rp['name']: rp for rp in listed}
    unknown = [wanted for wanted in only if wanted not in by_uuid and wanted not in by_name]
    if unknown:
        raise OpsError(f"Unknown resource provider(s): {', '.join(unknown)}", unknown=unknown)
    roots = {(by_uuid.get(wanted) or by_name[wanted])['root_provider_uuid'] for wanted in only}
    return [rp for rp in listed if rp['root_provider_uuid'] in roots]


def scope(providers, requested):
    """What a selection by ``requested`` (UUIDs or names) covers: the trees, and the providers not named.

    A provider named is read with its whole tree (a clean of a child also changes its root's consumers), which
    a result says explicitly rather than leave to be inferred.
    """
    named = set(requested)
    roots = sorted({provider['root_provider_uuid'] for provider in providers.values()})
    return dict(requested=list(requested),
                trees=[providers[root]['name'] if root in providers else root for root in roots],
                also_included=sorted(provider['name'] for provider in providers.values()
                                     if provider['uuid'] not in named and provider['name'] not in named))

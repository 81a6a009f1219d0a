# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which consumer is which: one allocation on one provider judged against Nova, with the reason.

The classifier only reads a PlacementState and a NovaState; the audit report and
the clean's re-classification after a conflict both decide through it, so a
consumer is judged the same way whichever asks.

A settled instance (placement_nova_state.settled_instance) with no migration in progress is also judged as a
whole against its flavor (placement_flavor): when what its node holds differs, every allocation of the
consumer is V(mismatched), and the repair writes the whole consumer anew.
"""

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement_flavor
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement_nova_state import settled_instance

ACTIVE = 'active'
MIGRATION_IN_PROGRESS = 'migration_in_progress'
STALE_SOURCE = 'stale_source'
DELETED_INSTANCE = 'deleted_instance'
ORPHAN = 'orphan'
BUILDING = 'building'
UNVERIFIABLE = 'unverifiable'
MISMATCHED = 'mismatched'
CLASSIFICATIONS = (ACTIVE, MIGRATION_IN_PROGRESS, STALE_SOURCE, DELETED_INSTANCE, ORPHAN, BUILDING, UNVERIFIABLE,
                   MISMATCHED)
# What a clean may remove: nothing Nova still counts on, nothing that could not be verified.
CLEANABLE = (ORPHAN, DELETED_INSTANCE, STALE_SOURCE)
# What a clean may rewrite, only when asked by name: an instance's allocation, to what its flavor asks for.
REPAIRABLE = (MISMATCHED,)

# Why a settled instance's allocation was not judged against its flavor (audit.summary.flavor_check).
NOT_JUDGED_NO_FLAVOR = 'its flavor could not be read from instance_extra'
NOT_JUDGED_NO_PROVIDER = 'its compute node has no resource provider in what was read'


class Classifier:
    """Decides, for one consumer's allocation on one provider, what it is and why."""

    def __init__(self, placement, nova, grace_period, check_flavors=True, held=None):
        self.placement = placement
        self.nova = nova
        self.grace_period = grace_period
        self.check_flavors = check_flavors
        self._held = held               # {consumer: {provider: resources}}; read from ``placement`` when None
        self.flavor_checks = {}         # consumer -> (judged, mismatch or None, None or why it was not judged)

    def compute_of(self, provider_uuid):
        """The compute node uuid a provider belongs to (its root), or None."""
        root = self.placement.providers[provider_uuid]['root_provider_uuid']
        return root if root in self.nova.compute_nodes else None

    def _young(self, created_at):
        return created_at is not None and (self.nova.now - created_at).total_seconds() < self.grace_period

    def _hosted_here(self, compute_uuid, provider_uuid):
        if compute_uuid is None:
            return False
        if self.placement.providers[provider_uuid]['root_provider_uuid'] == compute_uuid:
            return True
        # A sharing provider (shared storage) serves the computes in its aggregates.
        return (provider_uuid in self.placement.sharing
                and compute_uuid in self.placement.share_peers.get(provider_uuid, ()))

    def classify(self, consumer, provider_uuid):
        """(classification, reason) of ``consumer``'s allocation on ``provider_uuid``."""
        nova = self.nova
        mapped_cell = nova.mapped_cell(consumer)
        if mapped_cell and not nova.cells.get(mapped_cell, {}).get('reachable', False):
            return UNVERIFIABLE, f"its instance mapping points to cell {self.cell_name(mapped_cell)}, which could not be read"
        instance = nova.instances.get(consumer)
        if instance is not None:
            return self._classify_instance(consumer, instance, provider_uuid)
        migration = nova.migrations.get(consumer)
        if migration is not None:
            if migration['in_progress']:
                return MIGRATION_IN_PROGRESS, (f"it is the consumer of {migration['migration_type']} "
                                               f"{consumer} of instance {migration['instance_uuid']}, "
                                               f"status {migration['status']}")
            return ORPHAN, (f"it is the consumer of {migration['migration_type']} {consumer} of instance "
                            f"{migration['instance_uuid']}, which ended with status {migration['status']}")
        if consumer in nova.build_requests:
            created = nova.build_requests[consumer]
            if self._young(created):
                return BUILDING, f'a build request created at {created} is inside the grace period'
            return ORPHAN, f'only a build request created at {created}, older than the grace period, and no instance'
        if nova.unreachable_cells:
            cells = ', '.join(self.cell_name(uuid) for uuid in nova.unreachable_cells)
            return UNVERIFIABLE, f'no instance, migration or build request found, but cell(s) {cells} could not be read'
        return ORPHAN, 'no instance, migration or build request in any cell'

    def _classify_instance(self, consumer, instance, provider_uuid):
        cell = self.cell_name(instance['cell'])
        if instance['deleted']:
            return DELETED_INSTANCE, f'instance {consumer} is deleted in cell {cell}'
        mismatch = self.mismatch(consumer)
        if mismatch is not None:
            names = {uuid: provider['name'] for uuid, provider in self.placement.providers.items()}
            return MISMATCHED, (f"instance lives on host {instance['host']} node {instance['node']} in cell {cell}; "
                                f"its allocation differs from its flavor {mismatch['flavor']}: "
                                + placement_flavor.describe(mismatch, names))
        if self._hosted_here(instance['compute_uuid'], provider_uuid):
            return ACTIVE, f"instance lives on host {instance['host']} node {instance['node']} in cell {cell}"
        for migration in self.nova.migrations_by_instance.get(consumer, ()):
            if migration['in_progress'] and any(self._hosted_here(node, provider_uuid) for node in migration['nodes']):
                return MIGRATION_IN_PROGRESS, (f"{migration['migration_type']} {migration['uuid']} from "
                                               f"{migration['source_compute']} to {migration['dest_compute']} "
                                               f"is {migration['status']}")
        if self._young(instance['created_at']) and (instance['host'] is None or instance['vm_state'] == 'building'):
            return BUILDING, f"instance created at {instance['created_at']} is inside the grace period"
        if instance['host'] is None:
            return STALE_SOURCE, (f"instance is in vm_state {instance['vm_state']} with no host in cell {cell}; "
                                  'no migration in progress explains this allocation')
        return STALE_SOURCE, (f"instance lives on host {instance['host']} node {instance['node']} in cell {cell}; "
                              'no migration in progress explains this allocation')

    def flavor_check(self, consumer):
        """(True, mismatch, None) for a settled instance judged against its flavor (mismatch None when it
        matches), (False, None, why not) when it could not be judged, (False, None, None) for any other consumer."""
        if consumer not in self.flavor_checks:
            self.flavor_checks[consumer] = self._check_flavor(consumer)
        return self.flavor_checks[consumer]

    def mismatch(self, consumer):
        return self.flavor_check(consumer)[1]

    def _check_flavor(self, consumer):
        instance = self.nova.instances.get(consumer)
        if not self.check_flavors or not settled_instance(instance):
            return False, None, None
        if any(m['in_progress'] for m in self.nova.migrations_by_instance.get(consumer, ())):
            return False, None, None
        compute = instance['compute_uuid']
        if compute not in self.placement.providers:
            return False, None, NOT_JUDGED_NO_PROVIDER
        if not instance.get('flavor'):
            return False, None, NOT_JUDGED_NO_FLAVOR
        wanted, why_not = placement_flavor.expected(instance['flavor'], instance.get('is_bfv', False),
                                                    instance.get('image_properties'))
        if wanted is None:
            return False, None, why_not
        providers = self.placement.providers
        home = {uuid for uuid in providers if self._hosted_here(compute, uuid)}
        if self._held is None:
            self._held = self.placement.consumers()
        mismatch = placement_flavor.judge(
            self._held.get(consumer, {}), home, wanted,
            {uuid: set(providers[uuid].get('inventories') or ()) for uuid in home}, compute)
        if mismatch is not None:
            mismatch = dict(mismatch, flavor=instance['flavor']['name'], host=instance['host'], node=instance['node'],
                            compute_node=compute, boot_from_volume=bool(instance.get('is_bfv')))
        return True, mismatch, None

    def cell_name(self, cell_uuid):
        """The cell's name for messages; its uuid when it has none or is unknown."""
        cell = self.nova.cells.get(cell_uuid)
        return cell['name'] or cell_uuid if cell else cell_uuid

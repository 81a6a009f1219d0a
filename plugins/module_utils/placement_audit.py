# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read Placement's providers and allocations, read what Nova knows, classify every consumer.

Placement is read with two calls per provider (inventories and allocations), under
bounded concurrency; Nova with a handful of queries per cell and chunk of consumers, never
one per consumer, in a thread of its own while Placement is still being read (NovaFeed).
"""

import concurrent.futures
import math
import queue
import threading
from urllib.parse import quote

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import mask_url

# Yoga and later: consumer types exist, and every read and write below is valid at it.
MICROVERSION = '1.38'

SHARING_TRAIT = 'MISC_SHARES_VIA_AGGREGATE'

ACTIVE = 'active'
MIGRATION_IN_PROGRESS = 'migration_in_progress'
STALE_SOURCE = 'stale_source'
DELETED_INSTANCE = 'deleted_instance'
ORPHAN = 'orphan'
BUILDING = 'building'
UNVERIFIABLE = 'unverifiable'
CLASSIFICATIONS = (ACTIVE, MIGRATION_IN_PROGRESS, STALE_SOURCE, DELETED_INSTANCE, ORPHAN, BUILDING, UNVERIFIABLE)
CLEANABLE = (ORPHAN, DELETED_INSTANCE, STALE_SOURCE)

# How much of the audit is returned: everything, what needs attention, or counts only.
FULL = 'full'
PROBLEMS = 'problems'
SUMMARY = 'summary'
REPORTS = (FULL, PROBLEMS, SUMMARY)

# nova.db.main.api migration_get_in_progress_by_host_and_node: every other status still
# holds allocations (a "finished" resize keeps the source allocation until it is confirmed).
MIGRATION_DONE_STATUSES = ('confirmed', 'reverted', 'error', 'failed', 'completed', 'cancelled', 'done')

# Rows per IN (...) list, so that the number of queries grows with consumers / CHUNK only.
CHUNK = 2000


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
        are read, so that Nova can be read at the same time.
        """
        listed = client.get('/resource_providers', MICROVERSION)['resource_providers']
        if only:
            listed = select_providers(listed, only)
        providers = {rp['uuid']: dict(
            uuid=rp['uuid'], name=rp['name'], generation=rp['generation'],
            parent_provider_uuid=rp['parent_provider_uuid'], root_provider_uuid=rp['root_provider_uuid'],
        ) for rp in listed}

        def read_provider(uuid):
            path = f'/resource_providers/{uuid}'
            return (uuid, client.get(f'{path}/inventories', MICROVERSION)['inventories'],
                    client.get(f'{path}/allocations', MICROVERSION)['allocations'])

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            for uuid, inventories, allocations in pool.map(read_provider, list(providers)):
                providers[uuid]['inventories'] = inventories
                providers[uuid]['allocations'] = {consumer: body['resources']
                                                  for consumer, body in allocations.items()}
                if on_allocations is not None:
                    on_allocations(providers[uuid]['allocations'])

        sharing = {rp['uuid'] for rp in client.get(
            '/resource_providers', MICROVERSION, params={'required': SHARING_TRAIT})['resource_providers']}
        sharing &= set(providers)
        share_peers = {}
        for uuid in sharing:
            aggregates = client.get(f'/resource_providers/{uuid}/aggregates', MICROVERSION)['aggregates']
            peers = set()
            if aggregates:
                peers = {rp['uuid'] for rp in client.get(
                    '/resource_providers', MICROVERSION,
                    params={'member_of': 'in:' + ','.join(aggregates)})['resource_providers']}
            share_peers[uuid] = peers - {uuid}
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


def select_providers(listed, only):
    by_uuid = {rp['uuid']: rp for rp in listed}
    by_name = {rp['name']: rp for rp in listed}
    unknown = [wanted for wanted in only if wanted not in by_uuid and wanted not in by_name]
    if unknown:
        raise OpsError(f"Unknown resource provider(s): {', '.join(unknown)}", unknown=unknown)
    roots = {(by_uuid.get(wanted) or by_name[wanted])['root_provider_uuid'] for wanted in only}
    return [rp for rp in listed if rp['root_provider_uuid'] in roots]


class NovaState:
    """What Nova's databases say about a set of consumer UUIDs; read-only, never one query per consumer.

    open() reads the cells and their compute nodes; add() reads what Nova knows about more consumers, in
    chunks of CHUNK UUIDs: one nova_api query and up to three per cell per chunk. A consumer is read once.
    """

    def __init__(self):
        self.cells = {}             # cell uuid -> {name, reachable, error}
        self.instances = {}         # instance uuid -> row (+ cell, compute_uuid)
        self.migrations = {}        # migration uuid -> row (+ cell)
        self.migrations_by_instance = {}
        self.build_requests = {}    # instance uuid -> created_at
        self._mappings = None       # instance uuid -> cell uuid or None, read only when needed (mapped_cell)
        self.compute_nodes = {}     # compute node uuid -> {cell, host, node}
        self.now = None
        self._nova_db = None
        self._cell_by_id = {}
        self._databases = {}        # cell uuid -> Database, for the cells that could be read
        self._nodes = {}            # cell uuid -> {(host, node): compute node uuid}
        self._seen = set()
        self._migration_rows = set()

    @property
    def unreachable_cells(self):
        return sorted(uuid for uuid, cell in self.cells.items() if not cell['reachable'])

    @classmethod
    def read(cls, nova_db, consumer_uuids, cell_override=None):
        state = cls.open(nova_db, cell_override)
        state.add(consumer_uuids)
        return state

    @classmethod
    def open(cls, nova_db, cell_override=None):
        """The cells, their compute nodes and the database clock; no consumer read yet."""
        state = cls()
        state._nova_db = nova_db
        state.now = nova_db.query('SELECT UTC_TIMESTAMP() AS now')[0]['now']
        cells = nova_db.query('SELECT id, uuid, name, database_connection FROM cell_mappings')
        state._cell_by_id = {cell['id']: cell['uuid'] for cell in cells}
        for cell in cells:
            state.cells[cell['uuid']] = dict(name=cell['name'], reachable=True, error=None)
            try:
                database = nova_db.cell(cell['database_connection'], cell_override)
                state._read_compute_nodes(cell['uuid'], database)
            except OpsError as error:
                state._unreachable(cell['uuid'], error)
            else:
                state._databases[cell['uuid']] = database
        return state

    def add(self, consumer_uuids):
        """Read what Nova knows about these consumers (those not read before)."""
        new = sorted(set(consumer_uuids) - self._seen)
        self._seen.update(new)
        for chunk in _chunks(new):
            # Escaped once, used by every query of the chunk (a cloud has many consumers and cells).
            listed = self._nova_db.literals(chunk)
            for row in self._nova_db.query(
                    f'SELECT instance_uuid, created_at FROM build_requests WHERE instance_uuid IN ({listed})'):
                self.build_requests[row['instance_uuid']] = row['created_at']
            # Every cell is asked about every consumer, whatever its mapping says: an instance whose
            # mapping points to the wrong cell must still be found, or it would look like an orphan.
            for cell_uuid, database in list(self._databases.items()):
                self._guarded(cell_uuid, self._read_instances, database, listed)
            instances = [uuid for uuid in chunk if uuid in self.instances]
            others = [uuid for uuid in chunk if uuid not in self.instances]
            for cell_uuid, database in list(self._databases.items()):
                self._guarded(cell_uuid, self._read_migrations, database, instances, others)

    def mapped_cell(self, consumer):
        """The cell the consumer's instance mapping points to, or None.

        It only decides anything when a cell could not be read, so only then are the mappings read (all of
        them at once, in chunks).
        """
        if not self.unreachable_cells:
            return None
        if self._mappings is None:
            self._mappings = {}
            for chunk in _chunks(sorted(self._seen)):
                for row in self._nova_db.query('SELECT instance_uuid, cell_id FROM instance_mappings '
                                               f'WHERE instance_uuid IN ({self._nova_db.literals(chunk)})'):
                    self._mappings[row['instance_uuid']] = self._cell_by_id.get(row['cell_id'])
        return self._mappings.get(consumer)

    def _guarded(self, cell_uuid, read, database, *args):
        try:
            read(cell_uuid, database, *args)
        except OpsError as error:
            self._unreachable(cell_uuid, error)

    def _unreachable(self, cell_uuid, error):
        self.cells[cell_uuid].update(reachable=False, error=mask_url(error.msg))
        self._databases.pop(cell_uuid, None)

    def _read_compute_nodes(self, cell_uuid, database):
        nodes = self._nodes.setdefault(cell_uuid, {})
        for row in database.query(
                'SELECT uuid, host, hypervisor_hostname FROM compute_nodes WHERE deleted = 0'):
            self.compute_nodes[row['uuid']] = dict(cell=cell_uuid, host=row['host'], node=row['hypervisor_hostname'])
            nodes[(row['host'], row['hypervisor_hostname'])] = row['uuid']

    def _read_instances(self, cell_uuid, database, listed):
        nodes = self._nodes[cell_uuid]
        for row in database.query(
                'SELECT uuid, host, node, vm_state, created_at, deleted FROM instances '
                f'WHERE uuid IN ({listed})'):
            # A live row wins over soft-deleted copies of the same uuid (there should be none).
            if row['uuid'] in self.instances and not self.instances[row['uuid']]['deleted']:
                continue
            row.update(cell=cell_uuid, compute_uuid=nodes.get((row['host'], row['node'])))
            self.instances[row['uuid']] = row

    def _read_migrations(self, cell_uuid, database, instances, others):
        """The migrations of the chunk's instances, and those whose own uuid is one of the other consumers.

        Two queries, not one with OR: MariaDB answers two IN lists joined by OR several times slower.
        """
        nodes = self._nodes[cell_uuid]
        columns = ('id, uuid, instance_uuid, status, migration_type, source_compute, source_node, '
                   'dest_compute, dest_node')
        for field, uuids in (('instance_uuid', instances), ('uuid', others)):
            if not uuids:
                continue
            for row in database.query(f'SELECT {columns} FROM migrations WHERE deleted = 0 '
                                      f'AND {field} IN ({database.literals(uuids)})'):
                # A migration can match by its instance and by its own uuid: keep it once.
                if (cell_uuid, row['id']) in self._migration_rows:
                    continue
                self._migration_rows.add((cell_uuid, row['id']))
                row.update(cell=cell_uuid, in_progress=row['status'] not in MIGRATION_DONE_STATUSES,
                           nodes={nodes.get((row['source_compute'], row['source_node'])),
                                  nodes.get((row['dest_compute'], row['dest_node']))} - {None})
                if row['uuid']:
                    self.migrations[row['uuid']] = row
                self.migrations_by_instance.setdefault(row['instance_uuid'], []).append(row)


class NovaFeed:
    """Reads Nova in a thread of its own while Placement is still being read.

    put() hands over consumer UUIDs as providers' allocations arrive; full chunks of CHUNK new UUIDs are
    read at once, the rest when result() is called, which returns the NovaState (or raises what reading
    it raised). Only this thread uses the Nova connections until result() returns.
    """

    def __init__(self, open_state):
        self._queue = queue.Queue()
        self._state = None
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(open_state,), name='nova-reader', daemon=True)
        self._thread.start()

    def put(self, consumer_uuids):
        self._queue.put(list(consumer_uuids))

    def result(self):
        self.stop()
        if self._error is not None:
            raise self._error
        return self._state

    def stop(self):
        """Let the thread finish what it was given, and wait for it."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self, open_state):
        seen, pending = set(), []
        self._guard(self._open, open_state)
        for batch in iter(self._queue.get, None):
            new = [uuid for uuid in batch if uuid not in seen]
            seen.update(new)
            pending.extend(new)
            while len(pending) >= CHUNK and self._error is None:
                self._guard(self._state.add, pending[:CHUNK])
                pending = pending[CHUNK:]
        if self._error is None:
            self._guard(self._state.add, pending)

    def _open(self, open_state):
        self._state = open_state()

    def _guard(self, read, *args):
        """Run read(*args), keeping what it raises for result() to raise in the caller's thread."""
        try:
            read(*args)
        except Exception as error:  # pylint: disable=broad-except
            self._error = error


def _chunks(items):
    return [items[start:start + CHUNK] for start in range(0, len(items), CHUNK)]


class Classifier:
    """Decides, for one consumer's allocation on one provider, what it is and why."""

    def __init__(self, placement, nova, grace_period):
        self.placement = placement
        self.nova = nova
        self.grace_period = grace_period

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
            return UNVERIFIABLE, f"its instance mapping points to cell {self._cell_name(mapped_cell)}, which could not be read"
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
            cells = ', '.join(self._cell_name(uuid) for uuid in nova.unreachable_cells)
            return UNVERIFIABLE, f'no instance, migration or build request found, but cell(s) {cells} could not be read'
        return ORPHAN, 'no instance, migration or build request in any cell'

    def _classify_instance(self, consumer, instance, provider_uuid):
        cell = self._cell_name(instance['cell'])
        if instance['deleted']:
            return DELETED_INSTANCE, f'instance {consumer} is deleted in cell {cell}'
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

    def _cell_name(self, cell_uuid):
        cell = self.nova.cells.get(cell_uuid)
        return cell['name'] or cell_uuid if cell else cell_uuid


def audit(placement, nova, grace_period, report=FULL):
    """The audit result: providers with inventory figures and classified consumers.

    ``report`` chooses how much of it is returned (every allocation is classified whatever it is):
    V(full) every provider and consumer; V(problems) only the consumers with an allocation that is not
    active (with all their allocations) and the providers that hold one or are short of a resource class
    (with only those consumers); V(summary) only the counts, the cells and the over-capacity names.
    """
    if report not in REPORTS:
        raise OpsError(f"report must be one of {', '.join(REPORTS)}, not {report!r}")
    classifier = Classifier(placement, nova, grace_period)
    consumers = {}
    providers = []
    over_capacity = []
    for uuid in sorted(placement.providers, key=lambda uuid: (placement.providers[uuid]['name'], uuid)):
        provider = placement.providers[uuid]
        entries = []
        for consumer, resources in sorted(provider['allocations'].items()):
            classification, reason = classifier.classify(consumer, uuid)
            entries.append(dict(consumer_uuid=consumer, classification=classification, reason=reason,
                                resources=resources))
            consumers.setdefault(consumer, []).append(dict(
                provider_uuid=uuid, provider_name=provider['name'], classification=classification,
                reason=reason, resources=resources))
        inventories = placement.inventory_report(uuid)
        short = any(inv['free'] < 0 for inv in inventories.values())
        if short:
            over_capacity.append(provider['name'])
        counts = _count(entry['classification'] for entry in entries)
        if report == PROBLEMS:
            entries = [entry for entry in entries if entry['classification'] != ACTIVE]
            if not (short or entries):
                continue
        elif report == SUMMARY:
            continue
        compute_uuid = classifier.compute_of(uuid)
        node = nova.compute_nodes.get(compute_uuid) if compute_uuid else None
        providers.append(dict(
            uuid=uuid, name=provider['name'], generation=provider['generation'],
            parent_provider_uuid=provider['parent_provider_uuid'],
            root_provider_uuid=provider['root_provider_uuid'],
            sharing=uuid in placement.sharing,
            compute_node=dict(host=node['host'], node=node['node'],
                              cell=classifier._cell_name(node['cell'])) if node else None,
            inventories=inventories,
            consumers=entries,
            summary=counts))
    allocations = _count(a['classification'] for held in consumers.values() for a in held)
    problem_consumers = sorted(consumer for consumer, held in consumers.items()
                               if any(a['classification'] != ACTIVE for a in held))
    cells = [dict(uuid=uuid, name=cell['name'], reachable=cell['reachable'], error=cell['error'])
             for uuid, cell in sorted(nova.cells.items(), key=lambda item: (item[1]['name'] or '', item[0]))]
    result = dict(
        report=report,
        cells=cells,
        complete=not nova.unreachable_cells,
        summary=dict(
            providers=len(placement.providers),
            consumers=len(consumers),
            problem_consumers=len(problem_consumers),
            allocations=allocations,
            over_capacity=sorted(over_capacity),
        ),
    )
    if report != SUMMARY:
        listed = sorted(consumers) if report == FULL else problem_consumers
        result.update(providers=providers, consumers=[
            dict(uuid=consumer, allocations=consumers[consumer],
                 classifications=sorted({a['classification'] for a in consumers[consumer]}))
            for consumer in listed])
    return result


def summarize(audit_result):
    """The same audit cut down to report=summary."""
    result = {key: value for key, value in audit_result.items() if key not in ('providers', 'consumers')}
    result['report'] = SUMMARY
    return result


def _count(classifications):
    counts = dict.fromkeys(CLASSIFICATIONS, 0)
    for classification in classifications:
        counts[classification] += 1
    return counts


def consumer_path(consumer):
    return f"/allocations/{quote(consumer, safe='')}"

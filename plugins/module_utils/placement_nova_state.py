# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Nova's state for Placement's consumers: instances, migrations and build requests, read from nova's databases.

Read-only, with a handful of queries per cell and chunk of consumers, never one per
consumer; the cells come from nova_api's cell_mappings, every cell is asked about
every consumer. NovaFeed reads it in a thread of its own while Placement is still
being read; NovaSource says where Nova is, so the module hands down data, not code.
"""

import queue
import threading

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement_flavor import parse_flavor
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import mask_url

# nova.db.main.api migration_get_in_progress_by_host_and_node: every other status still
# holds allocations (a "finished" resize keeps the source allocation until it is confirmed).
MIGRATION_DONE_STATUSES = ('confirmed', 'reverted', 'error', 'failed', 'completed', 'cancelled', 'done')

# The vm_states in which an instance holds exactly its flavor on its node (nova's resource tracker counts them all)
# when no task is under way: the instances whose allocation is checked against their flavor.
SETTLED_VM_STATES = ('active', 'paused', 'rescued', 'stopped', 'suspended')
# The image properties (copied into instance_system_metadata with the image_ prefix) that change the request.
IMAGE_PROPERTIES = ('hw_cpu_policy',)

# Rows per IN (...) list, so that the number of queries grows with consumers / CHUNK only.
CHUNK = 2000


class NovaSource:
    """Where Nova is read from: the nova_api database client and the cell connection override.

    Plain data with the two reads the audit and the clean make, so that neither needs a callback.
    """

    def __init__(self, nova_db, cell_override=None):
        self.nova_db = nova_db
        self.cell_override = cell_override

    def open(self):
        """A NovaState with the cells and compute nodes read, and no consumer yet (NovaState.open)."""
        return NovaState.open(self.nova_db, self.cell_override)

    def read(self, consumer_uuids):
        """A NovaState of these consumers (NovaState.read): what a re-classification after a conflict needs."""
        return NovaState.read(self.nova_db, consumer_uuids, self.cell_override)


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
            for cell_uuid, database in list(self._databases.items()):
                settled = [uuid for uuid in chunk if settled_instance(self.instances.get(uuid), cell_uuid)]
                if settled:
                    self._guarded(cell_uuid, self._read_flavors, database, settled)
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
                'SELECT uuid, host, node, vm_state, task_state, image_ref, created_at, deleted FROM instances '
                f'WHERE uuid IN ({listed})'):
            # A live row wins over soft-deleted copies of the same uuid (there should be none).
            if row['uuid'] in self.instances and not self.instances[row['uuid']]['deleted']:
                continue
            row.update(cell=cell_uuid, compute_uuid=nodes.get((row['host'], row['node'])))
            self.instances[row['uuid']] = row

    def _read_flavors(self, cell_uuid, database, uuids):
        """What the flavor check needs of settled instances: the flavor nova keeps with the instance
        (instance_extra.flavor), whether it boots from volume (its root block device mapping, else no image_ref,
        as nova.compute.utils.is_volume_backed_instance decides) and the image properties that change the request.
        """
        listed = database.literals(uuids)
        for row in database.query(f'SELECT instance_uuid, flavor FROM instance_extra WHERE instance_uuid IN ({listed})'):
            self.instances[row['instance_uuid']]['flavor'] = parse_flavor(row['flavor'])
        roots = {row['instance_uuid']: row['destination_type'] for row in database.query(
            'SELECT instance_uuid, destination_type FROM block_device_mapping '
            f'WHERE deleted = 0 AND boot_index = 0 AND instance_uuid IN ({listed})')}
        keys = database.literals(['image_' + name for name in IMAGE_PROPERTIES])
        properties = {}
        for row in database.query('SELECT instance_uuid, `key`, value FROM instance_system_metadata '
                                  f'WHERE deleted = 0 AND `key` IN ({keys}) AND instance_uuid IN ({listed})'):
            properties.setdefault(row['instance_uuid'], {})[row['key'][len('image_'):]] = row['value']
        for uuid in uuids:
            instance = self.instances[uuid]
            instance.setdefault('flavor', None)
            instance['is_bfv'] = roots[uuid] == 'volume' if uuid in roots else not instance['image_ref']
            instance['image_properties'] = properties.get(uuid, {})

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
    it raised). Only this thread uses the Nova connections (those of ``source``, a NovaSource) until
    result() returns.
    """

    def __init__(self, source):
        self._queue = queue.Queue()
        self._state = None
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(source,), name='nova-reader', daemon=True)
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

    def _run(self, source):
        seen, pending = set(), []
        self._guard(self._open, source)
        for batch in iter(self._queue.get, None):
            new = [uuid for uuid in batch if uuid not in seen]
            seen.update(new)
            pending.extend(new)
            while len(pending) >= CHUNK and self._error is None:
                self._guard(self._state.add, pending[:CHUNK])
                pending = pending[CHUNK:]
        if self._error is None:
            self._guard(self._state.add, pending)

    def _open(self, source):
        self._state = source.open()

    def _guard(self, read, *args):
        """Run read(*args), keeping what it raises for result() to raise in the caller's thread."""
        try:
            read(*args)
        except Exception as error:  # pylint: disable=broad-except
            self._error = error


def settled_instance(instance, cell_uuid=None):
    """Whether ``instance`` (a row read here) holds its flavor on its node: not deleted, on a known compute node,
    in a SETTLED_VM_STATES state with no task under way (nova-manage placement heal_allocations skips an instance
    with a task too)."""
    return bool(instance is not None and not instance['deleted'] and instance.get('compute_uuid')
                and instance.get('vm_state') in SETTLED_VM_STATES and instance.get('task_state') is None
                and (cell_uuid is None or instance['cell'] == cell_uuid))


def _chunks(items):
    return [items[start:start + CHUNK] for start in range(0, len(items), CHUNK)]

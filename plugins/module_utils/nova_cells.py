# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cells v2 consistency: nova_api's mappings checked against every cell database, and their repairs.

nova-api finds an instance through instance_mappings -> cell_mappings -> the
cell's database, and a compute host through host_mappings. The audit reads
each table once (the big ones streamed), joins them in memory by uuid or host,
and fetches the facts an operator needs only for the rows it reports.
"""

import collections

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_db as nova_db_utils
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import mask_url

CELL0_UUID = '00000000-0000-0000-0000-000000000000'
# nova-manage cell_v2 map_instances keeps its progress in a fake mapping with this project.
MIGRATION_MARKER = 'INSTANCE_MIGRATION_MARKER'
BATCH = 1000

REPAIRS = ('missing_instance_mappings', 'wrong_cell_mappings', 'missing_host_mappings')

FINDING_TYPES = (
    'cell_unreachable',
    'instance_without_mapping',
    'mapping_without_cell',
    'mapping_to_missing_cell',
    'mapping_to_wrong_cell',
    'mapping_to_deleted_instance',
    'mapping_to_archived_instance',
    'compute_host_without_mapping',
    'host_mapping_to_missing_cell',
    'host_mapping_to_missing_host',
)

# Login option -> PyMySQL keyword, for the per-cell connection overrides.
OVERRIDE_KEYWORDS = dict(login_host='host', login_port='port', login_user='user', login_password='password',
                         login_unix_socket='unix_socket', login_db='database')

CELL_CONNECTION_SPEC = dict(
    cell=dict(type='str', required=True),
    login_host=dict(type='str'),
    login_port=dict(type='int'),
    login_user=dict(type='str'),
    login_password=dict(type='str', no_log=True),
    login_unix_socket=dict(type='str'),
    login_db=dict(type='str'),
)

_RESOLVED = object()   # the mapping's instance was found in the mapped cell
_MISSING = object()


class Cell:
    """A row of cell_mappings and, once opened, the connection to its database."""

    def __init__(self, row):
        self.id = row['id']
        self.uuid = row['uuid']
        self.name = row['name']
        self.database_connection = row['database_connection'] or ''
        self.transport_url = row['transport_url'] or ''
        self.disabled = bool(row['disabled'])
        self.db = None
        self.error = None
        self.hosts = {}
        self.counts = collections.Counter()

    @property
    def is_cell0(self):
        return self.uuid == CELL0_UUID

    @property
    def label(self):
        return self.name or self.uuid

    @property
    def reachable(self):
        return self.db is not None

    def report(self):
        return dict(
            id=self.id, uuid=self.uuid, name=self.name, cell0=self.is_cell0, disabled=self.disabled,
            reachable=self.reachable, error=self.error,
            database_connection=mask_url(self.database_connection), transport_url=mask_url(self.transport_url),
            instances=self.counts['instances'] if self.reachable else None,
            deleted_instances=self.counts['deleted_instances'] if self.reachable else None,
            compute_hosts=None if self.is_cell0 or not self.reachable else self.counts['compute_hosts'],
            instance_mappings=self.counts['instance_mappings'], host_mappings=self.counts['host_mappings'],
        )


def read_cells(nova, overrides):
    """Every cell of cell_mappings, in id order; cell_connections naming a cell that is not there is refused."""
    rows = nova.query('SELECT id, uuid, name, database_connection, transport_url, disabled '
                      'FROM cell_mappings ORDER BY id')
    cells = [Cell(row) for row in rows]
    known = {cell.name for cell in cells} | {cell.uuid for cell in cells}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise OpsError(f"cell_connections names cells that are not in cell_mappings: {', '.join(unknown)}; "
                       f"cells: {', '.join(cell.label for cell in cells)}")
    return cells


def open_cell(nova, cell, overrides, cell_timeout):
    """Connect to a cell's database (its mapping's URL, then the overrides by name and by uuid), or keep the error
    on the cell; returns whether it is reachable."""
    override = dict(connect_timeout=cell_timeout, read_timeout=cell_timeout)
    override.update(overrides.get(cell.name, {}))
    override.update(overrides.get(cell.uuid, {}))
    try:
        cell.db = nova.cell(cell.database_connection, override)
    except OpsError as error:
        cell.error = mask_url(error.msg)
    return cell.reachable


def cell_overrides(cell_connections):
    """{cell name or uuid: PyMySQL keywords} from the cell_connections option."""
    overrides = {}
    for entry in cell_connections or ():
        override = {OVERRIDE_KEYWORDS[option]: value for option, value in entry.items()
                    if option in OVERRIDE_KEYWORDS and value is not None}
        if entry['cell'] in overrides:
            raise OpsError(f"cell_connections names cell {entry['cell']!r} twice")
        overrides[entry['cell']] = override
    return overrides


class CellAudit:
    """One pass over nova_api and every cell; ``run()`` returns cells, findings and a summary."""

    def __init__(self, nova, overrides=None, cell_timeout=10, stale_after=3600):
        self.nova = nova
        self.overrides = overrides or {}
        self.cell_timeout = cell_timeout
        self.stale_after = stale_after
        self.cells = []
        self.by_id = {}
        self.findings = []
        self.now = None

    # ------------------------------------------------------------ reading

    def run(self):
        self._load_cells()
        self.now = self.nova.query('SELECT UTC_TIMESTAMP() AS now')[0]['now']
        mapped_cell = {}
        for uuid, cell_id in self.nova.api.stream(
                'SELECT instance_uuid, cell_id FROM instance_mappings WHERE project_id <> %s', (MIGRATION_MARKER,)):
            mapped_cell[uuid] = cell_id
        building = {row[0] for row in self.nova.api.stream(
            'SELECT instance_uuid FROM build_requests WHERE instance_uuid IS NOT NULL')}
        host_mappings = self.nova.query('SELECT host, cell_id, created_at FROM host_mappings')
        # End the read snapshot: the re-checks below must see rows written since.
        self.nova.api.rollback()

        counts = collections.Counter(mapped_cell.values())
        for cell in self.cells:
            cell.counts['instance_mappings'] = counts.get(cell.id, 0)
            cell.counts['host_mappings'] = sum(1 for row in host_mappings if row['cell_id'] == cell.id)

        located = {}   # uuid -> Cell, for instances found outside the cell their mapping names
        unmapped = []  # (Cell, uuid)
        deleted = []   # (Cell, uuid)
        for cell in self.cells:
            if self._open(cell):
                self._scan_instances(cell, mapped_cell, located, unmapped, deleted)

        self._report_unreachable(host_mappings)
        self._report_unmapped_instances(unmapped)
        self._report_mappings(mapped_cell, building, located, deleted)
        self._report_hosts(host_mappings)
        return self.result()

    def _load_cells(self):
        self.cells = read_cells(self.nova, self.overrides)
        self.by_id = {cell.id: cell for cell in self.cells}

    def _open(self, cell):
        return open_cell(self.nova, cell, self.overrides, self.cell_timeout)

    def _scan_instances(self, cell, mapped_cell, located, unmapped, deleted):
        """Stream the cell's instances; a failure midway leaves the cell unreachable and unjudged."""
        found_unmapped, found_deleted, found_elsewhere = [], [], []
        counts = collections.Counter()
        try:
            for uuid, deleted_id, hidden in cell.db.stream('SELECT uuid, deleted, hidden FROM instances'):
                if hidden:
                    continue  # the other cell's copy during a cross-cell resize
                counts['deleted_instances' if deleted_id else 'instances'] += 1
                mapped = mapped_cell.get(uuid, _MISSING)
                if mapped is _RESOLVED:
                    continue
                if mapped == cell.id:
                    mapped_cell[uuid] = _RESOLVED
                    if deleted_id:
                        found_deleted.append(uuid)
                elif mapped is _MISSING:
                    if not deleted_id:
                        found_unmapped.append(uuid)
                else:
                    found_elsewhere.append(uuid)
            if not cell.is_cell0:
                self._read_hosts(cell)
        except nova_db_utils.ERRORS as error:
            cell.db = None
            cell.error = mask_url(f'Reading the cell database failed: {error}')
            return
        cell.counts.update(counts)
        unmapped.extend((cell, uuid) for uuid in found_unmapped)
        deleted.extend((cell, uuid) for uuid in found_deleted)
        located.update((uuid, cell) for uuid in found_elsewhere)

    def _read_hosts(self, cell):
        hosts = {}
        for row in cell.db.query("SELECT host, created_at FROM services "
                                 "WHERE `binary` = 'nova-compute' AND deleted = 0 AND host IS NOT NULL"):
            hosts.setdefault(row['host'].lower(), dict(host=row['host'], service=True, compute_nodes=[],
                                                       created_at=row['created_at']))
        for row in cell.db.query('SELECT host, hypervisor_hostname, created_at FROM compute_nodes '
                                 'WHERE deleted = 0 AND host IS NOT NULL ORDER BY id'):
            entry = hosts.setdefault(row['host'].lower(), dict(host=row['host'], service=False, compute_nodes=[],
                                                               created_at=row['created_at']))
            entry['compute_nodes'].append(row['hypervisor_hostname'])
        cell.hosts = hosts
        cell.counts['compute_hosts'] = len(hosts)

    def _details(self, cell, uuids):
        """Facts of instances in a cell, by uuid, fetched in batches."""
        return _by_uuid(cell.db, 'uuid', 'SELECT uuid, display_name, project_id, user_id, host, node, vm_state, '
                        'task_state, created_at, deleted FROM instances WHERE uuid IN ({})', uuids)

    def _mapping_details(self, uuids):
        return _by_uuid(self.nova, 'instance_uuid', 'SELECT instance_uuid, cell_id, project_id, user_id, created_at '
                        'FROM instance_mappings WHERE instance_uuid IN ({})', uuids)

    # ------------------------------------------------------------ findings

    def _add(self, kind, message, repair=None, **facts):
        self.findings.append(dict(type=kind, message=message, repair=repair, **facts))

    def _age(self, created_at):
        if created_at is None or self.now is None:
            return None
        return int((self.now - created_at).total_seconds())

    def _instance_facts(self, row, cell):
        return dict(instance_uuid=row['uuid'], instance_name=row['display_name'], project_id=row['project_id'],
                    user_id=row['user_id'], host=row['host'], node=row['node'], vm_state=row['vm_state'],
                    task_state=row['task_state'], instance_deleted=bool(row['deleted']),
                    cell=cell.label, cell_uuid=cell.uuid,
                    created_at=_iso(row['created_at']), age_seconds=self._age(row['created_at']))

    def _report_unreachable(self, host_mappings):
        for cell in self.cells:
            if not cell.reachable:
                self._add('cell_unreachable',
                          f'The database of cell {cell.label} cannot be read within {self.cell_timeout}s: '
                          f'{cell.error}; its {cell.counts["instance_mappings"]} instance mappings and '
                          f'{cell.counts["host_mappings"]} host mappings are not judged',
                          cell=cell.label, cell_uuid=cell.uuid, error=cell.error,
                          database_connection=mask_url(cell.database_connection))

    def _report_unmapped_instances(self, unmapped):
        by_cell = collections.defaultdict(list)
        for cell, uuid in unmapped:
            by_cell[cell].append(uuid)
        for cell, uuids in by_cell.items():
            # Mapped since the snapshot (a build that just finished, a concurrent repair): not a finding.
            mapped_now = set(self._mapping_details(uuids))
            facts = self._details(cell, [uuid for uuid in uuids if uuid not in mapped_now])
            for uuid in sorted(facts):
                row = facts[uuid]
                self._add('instance_without_mapping',
                          f'Instance {uuid} is in cell {cell.label} but has no instance mapping: '
                          'the API answers 404 for it',
                          repair='missing_instance_mappings', **self._instance_facts(row, cell))

    def _report_mappings(self, mapped_cell, building, located, deleted):
        by_cell = collections.defaultdict(list)
        for cell, uuid in deleted:
            by_cell[cell].append(uuid)
        for cell, uuids in by_cell.items():
            facts = self._details(cell, uuids)
            for uuid in sorted(facts):
                self._add('mapping_to_deleted_instance',
                          f'Instance {uuid} in cell {cell.label} is deleted but still mapped; '
                          '`nova-manage db archive_deleted_rows` removes both',
                          mapped_cell=cell.label, mapped_cell_uuid=cell.uuid, **self._instance_facts(facts[uuid], cell))

        remaining = [(uuid, cell_id) for uuid, cell_id in mapped_cell.items() if cell_id is not _RESOLVED]
        candidates = [(uuid, cell_id) for uuid, cell_id in remaining
                      if not (cell_id is None and uuid in building)
                      and not (cell_id in self.by_id and not self.by_id[cell_id].reachable)]
        if not candidates:
            return
        mappings = self._mapping_details([uuid for uuid, _cell_id in candidates])
        found = collections.defaultdict(list)
        for uuid, _cell_id in candidates:
            if uuid in located:
                found[located[uuid]].append(uuid)
        instance_facts = {}
        for cell, uuids in found.items():
            instance_facts.update(self._details(cell, uuids))
        archived = collections.defaultdict(list)
        for uuid, cell_id in sorted(candidates):
            mapping = mappings.get(uuid)
            if mapping is None or mapping['cell_id'] != cell_id:
                continue  # deleted or changed since the snapshot
            self._judge_mapping(mapping, located.get(uuid), instance_facts.get(uuid), archived)
        for cell, uuids in archived.items():
            self._report_archived(cell, uuids, mappings)

    def _judge_mapping(self, mapping, cell, facts, archived):
        uuid, cell_id = mapping['instance_uuid'], mapping['cell_id']
        where = self._instance_facts(facts, cell) if facts else dict(instance_uuid=uuid)
        # The instance row, when found, is the truth about project and user.
        common = dict(project_id=mapping['project_id'], user_id=mapping['user_id'],
                      mapping_created_at=_iso(mapping['created_at']),
                      mapping_age_seconds=self._age(mapping['created_at']))
        common.update(where)
        repair = 'wrong_cell_mappings' if facts else None
        found = f'; the instance is in cell {cell.label}' if facts else '; the instance is in no reachable cell'
        if cell_id is None:
            age = self._age(mapping['created_at'])
            if age is not None and age < self.stale_after:
                return
            self._add('mapping_without_cell',
                      f'Instance mapping {uuid} has no cell and no build request{found}',
                      repair=repair, mapped_cell=None, mapped_cell_uuid=None, **common)
        elif cell_id not in self.by_id:
            self._add('mapping_to_missing_cell',
                      f'Instance mapping {uuid} points to cell id {cell_id}, which is not in cell_mappings{found}',
                      repair=repair, mapped_cell=None, mapped_cell_uuid=None, mapped_cell_id=cell_id, **common)
        elif facts:
            mapped = self.by_id[cell_id]
            self._add('mapping_to_wrong_cell',
                      f'Instance mapping {uuid} points to cell {mapped.label}{found}',
                      repair=repair, mapped_cell=mapped.label, mapped_cell_uuid=mapped.uuid, **common)
        else:
            archived[self.by_id[cell_id]].append(uuid)

    def _report_archived(self, cell, uuids, mappings):
        shadowed = set()
        try:
            for start in range(0, len(uuids), BATCH):
                batch = uuids[start:start + BATCH]
                placeholders = ', '.join(['%s'] * len(batch))
                shadowed.update(row['uuid'] for row in cell.db.query(
                    f'SELECT uuid FROM shadow_instances WHERE uuid IN ({placeholders})', batch))
        except nova_db_utils.ERRORS:
            shadowed = None   # no shadow table readable: say so rather than guess
        for uuid in uuids:
            mapping = mappings[uuid]
            where = 'archived to shadow_instances' if shadowed and uuid in shadowed else 'not in its database'
            self._add('mapping_to_archived_instance',
                      f'Instance mapping {uuid} points to cell {cell.label}, but the instance is {where} '
                      'nor in any other reachable cell',
                      instance_uuid=uuid, project_id=mapping['project_id'], user_id=mapping['user_id'],
                      mapped_cell=cell.label, mapped_cell_uuid=cell.uuid,
                      in_shadow_table=None if shadowed is None else uuid in shadowed,
                      mapping_created_at=_iso(mapping['created_at']),
                      mapping_age_seconds=self._age(mapping['created_at']))

    def _report_hosts(self, host_mappings):
        cells = [cell for cell in self.cells if cell.reachable and not cell.is_cell0]
        where = collections.defaultdict(list)
        for cell in cells:
            for key in cell.hosts:
                where[key].append(cell)
        mapped = {row['host'].lower(): row for row in host_mappings}
        for key in sorted(where):
            if key in mapped:
                continue
            homes = where[key]
            entry = homes[0].hosts[key]
            ambiguous = len(homes) > 1
            self._add('compute_host_without_mapping',
                      f"Compute host {entry['host']} in cell {' and '.join(c.label for c in homes)} has no host "
                      'mapping: the scheduler never picks it'
                      + ('; it is in more than one cell, so it is not mapped automatically' if ambiguous else ''),
                      repair=None if ambiguous else 'missing_host_mappings',
                      host=entry['host'], cell=homes[0].label, cell_uuid=homes[0].uuid,
                      cells=[c.label for c in homes], service=entry['service'], compute_nodes=entry['compute_nodes'],
                      created_at=_iso(entry['created_at']), age_seconds=self._age(entry['created_at']))
        for key, row in sorted(mapped.items()):
            homes = [c.label for c in where.get(key, [])]
            elsewhere = f"; the host is in cell {', '.join(homes)}" if homes else ''
            facts = dict(host=row['host'], mapped_cell_id=row['cell_id'], cells=homes,
                         created_at=_iso(row['created_at']), age_seconds=self._age(row['created_at']))
            cell = self.by_id.get(row['cell_id'])
            if cell is None:
                self._add('host_mapping_to_missing_cell',
                          f"Host mapping {row['host']} points to cell id {row['cell_id']}, which is not in "
                          f'cell_mappings{elsewhere}', mapped_cell=None, mapped_cell_uuid=None, **facts)
            elif cell.reachable and not cell.is_cell0 and key not in cell.hosts:
                self._add('host_mapping_to_missing_host',
                          f"Host mapping {row['host']} points to cell {cell.label}, which has no compute service or "
                          f'node of that name{elsewhere}; `nova-manage cell_v2 delete_host` removes it',
                          mapped_cell=cell.label, mapped_cell_uuid=cell.uuid, **facts)

    def result(self):
        summary = collections.Counter(finding['type'] for finding in self.findings)
        return dict(
            cells=[cell.report() for cell in self.cells],
            findings=self.findings,
            summary=dict(
                {kind: summary.get(kind, 0) for kind in FINDING_TYPES},
                findings=len(self.findings),
                instances=sum(cell.counts['instances'] for cell in self.cells),
                instance_mappings=sum(cell.counts['instance_mappings'] for cell in self.cells),
                unreachable_cells=sum(1 for cell in self.cells if not cell.reachable),
                repairable=sum(1 for finding in self.findings if finding['repair']),
            ),
        )


# ---------------------------------------------------------------- repairs

def plan_repairs(findings, repairs, cells):
    """The writes that fix the findings of the selected repair types, in a stable order."""
    by_uuid = {cell.uuid: cell for cell in cells}
    actions = []
    for finding in findings:
        if finding['repair'] not in repairs:
            continue
        cell = by_uuid[finding['cell_uuid']]
        if finding['repair'] == 'missing_host_mappings':
            actions.append(dict(repair=finding['repair'], table='host_mappings', host=finding['host'],
                                cell=cell.label, cell_uuid=cell.uuid, cell_id=cell.id, from_cell=None))
        else:
            actions.append(dict(repair=finding['repair'], table='instance_mappings',
                                instance_uuid=finding['instance_uuid'], project_id=finding['project_id'],
                                user_id=finding['user_id'], cell=cell.label, cell_uuid=cell.uuid, cell_id=cell.id,
                                from_cell=finding.get('mapped_cell'), from_cell_id=_from_cell_id(finding, cells)))
    return actions


def _from_cell_id(finding, cells):
    if finding['type'] == 'instance_without_mapping' or finding['type'] == 'mapping_without_cell':
        return None
    if finding['type'] == 'mapping_to_missing_cell':
        return finding['mapped_cell_id']
    return next(cell.id for cell in cells if cell.uuid == finding['mapped_cell_uuid'])


def apply_repairs(api, actions):
    """Run the writes in one transaction; each is conditional on the row still being as audited.

    Returns the actions with ``applied`` set; a row changed by someone else
    since the audit is left alone (applied=False).
    """
    try:
        for action in actions:
            action['applied'] = _apply(api, action) == 1
        api.commit()
    except BaseException:
        api.rollback()
        raise
    return actions


def _apply(api, action):
    if action['table'] == 'host_mappings':
        return api.execute(
            'INSERT INTO host_mappings (created_at, cell_id, host) SELECT UTC_TIMESTAMP(), %s, %s FROM DUAL '
            'WHERE NOT EXISTS (SELECT 1 FROM host_mappings WHERE host = %s)',
            (action['cell_id'], action['host'], action['host']))
    if action['repair'] == 'missing_instance_mappings':
        return api.execute(
            'INSERT INTO instance_mappings (created_at, instance_uuid, cell_id, project_id, user_id, queued_for_delete) '
            'SELECT UTC_TIMESTAMP(), %s, %s, %s, %s, 0 FROM DUAL '
            'WHERE NOT EXISTS (SELECT 1 FROM instance_mappings WHERE instance_uuid = %s)',
            (action['instance_uuid'], action['cell_id'], action['project_id'], action['user_id'],
             action['instance_uuid']))
    return api.execute(
        'UPDATE instance_mappings SET cell_id = %s, updated_at = UTC_TIMESTAMP() '
        'WHERE instance_uuid = %s AND cell_id <=> %s',
        (action['cell_id'], action['instance_uuid'], action['from_cell_id']))


def verify_repairs(api, actions):
    """Re-read every repaired row; sets ``verified`` on each action."""
    for action in actions:
        if action['table'] == 'host_mappings':
            rows = api.query('SELECT cell_id FROM host_mappings WHERE host = %s', (action['host'],))
        else:
            rows = api.query('SELECT cell_id FROM instance_mappings WHERE instance_uuid = %s',
                             (action['instance_uuid'],))
        action['verified'] = bool(rows) and rows[0]['cell_id'] == action['cell_id']
    return actions


def diff(actions):
    """Ansible diff of the planned writes: each mapping's cell before and after."""
    before, after = {}, {}
    for action in actions:
        key = f"{action['table']}/{action.get('instance_uuid') or action['host']}"
        before[key] = action['from_cell']
        after[key] = action['cell']
    return dict(before=before, after=after)


def _iso(moment):
    return moment.isoformat() if moment is not None else None


def _by_uuid(db, key, sql, uuids):
    """{row[key]: row} of ``sql`` (its ``IN ({})`` filled with placeholders) over uuids, BATCH at a time."""
    rows = {}
    for start in range(0, len(uuids), BATCH):
        batch = uuids[start:start + BATCH]
        for row in db.query(sql.format(', '.join(['%s'] * len(batch))), batch):
            rows[row[key]] = row
    return rows

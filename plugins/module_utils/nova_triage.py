# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Instance triage: where an instance stands in Nova and where to look next, read from nova's databases.

Seed 004 reads an instance's task_state as the step of the boot it is in (scheduling, networking,
block_device_mapping, spawning) and so the service and log to read next. This file holds that table (and the
other task states nova has), reads one instance from nova_api and its cell - mapping, row, actions and their
events (with the request ids the trace follows), faults, migrations, its host's nova-compute service - and judges
it. Read-only: only SELECTs, a handful per instance.
"""

import datetime
import re
import uuid as uuid_module

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_cells
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_db as nova_db_utils
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import mask_url

# nova's servicegroup DB driver (nova/servicegroup/drivers/db.py) and servicegroup API: a service is down when it is
# forced down, or when its last heartbeat (last_seen_up, else created_at) is more than service_down_time seconds old.
SERVICE_DOWN_TIME = 60
SERVICE_RULE = ('up unless forced_down, or unless its last heartbeat (services.last_seen_up, else created_at) is '
                'more than service_down_time ({seconds}s) old - nova-api and the scheduler use the same rule')

# Where each service logs, below kolla's /var/log/kolla/ and a package install's /var/log/.
LOGS = {
    'nova-api': 'nova/nova-api.log',
    'nova-scheduler': 'nova/nova-scheduler.log',
    'nova-conductor': 'nova/nova-conductor.log',
    'nova-compute': 'nova/nova-compute.log',
    'placement-api': 'placement/placement-api.log',
    'neutron-server': 'neutron/neutron-server.log',
    'cinder-api': 'cinder/cinder-api.log',
    'cinder-volume': 'cinder/cinder-volume.log',
    'glance-api': 'glance/glance-api.log',
    'libvirt': 'libvirt/libvirtd.log',
}

_SCHEDULING = ('nova-api', 'nova-conductor', 'nova-scheduler', 'placement-api')

# Seed 004's boot steps (the numbers are the seed's steps of the boot), then nova's other task states
# (nova/compute/task_states.py), each with the services that move it on, first the one to read first.
STEPS = {
    'scheduling': ('scheduling', '3-12', _SCHEDULING,
                   'nova-api hands the request to the super conductor, which asks nova-scheduler (filters and '
                   "Placement's allocation candidates) for a host"),
    'networking': ('networking', '23-25', ('nova-compute', 'neutron-server'),
                   "nova-compute on the chosen host asks neutron-server for the instance's ports"),
    'block_device_mapping': ('block_device_mapping', '26-28', ('nova-compute', 'cinder-api', 'cinder-volume'),
                             "nova-compute on the chosen host waits for cinder to create and attach the volumes"),
    'spawning': ('spawning', '29', ('nova-compute', 'libvirt'),
                 'nova-compute has the hypervisor driver create the guest'),
}
_COMPUTE = ('nova-compute', 'libvirt')
_OTHER_STATES = {
    ('image_snapshot', 'image_snapshot_pending', 'image_pending_upload', 'image_uploading', 'image_backup'):
        ('snapshot', ('nova-compute', 'glance-api'), 'nova-compute snapshots the disk and uploads it to glance'),
    ('updating_password',): ('set password', _COMPUTE, 'nova-compute sets the password through the hypervisor'),
    ('resize_prep',): ('resize: scheduling', ('nova-conductor', 'nova-scheduler', 'nova-compute'),
                       'the conductor asks the scheduler for a destination, whose nova-compute prepares it'),
    ('resize_migrating', 'resize_migrated'): ('resize: moving the disk', _COMPUTE,
                                              "the source host's nova-compute copies the disk to the destination"),
    ('resize_finish',): ('resize: finishing', _COMPUTE, "the destination's nova-compute starts the guest there"),
    ('resize_reverting',): ('resize: reverting', _COMPUTE, 'the computes move the guest back to its source'),
    ('resize_confirming',): ('resize: confirming', _COMPUTE, "the source's nova-compute removes the old guest"),
    ('rebooting', 'reboot_pending', 'reboot_started', 'rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard'):
        ('reboot', _COMPUTE, "nova-compute on the instance's host reboots the guest"),
    ('pausing', 'unpausing', 'suspending', 'resuming', 'powering-off', 'powering-on', 'rescuing', 'unrescuing'):
        ('power action', _COMPUTE, "nova-compute on the instance's host asks the hypervisor"),
    ('rebuilding',): ('rebuild', ('nova-conductor', 'nova-scheduler', 'nova-compute'),
                      'the conductor (and the scheduler for a new image) hands the rebuild to nova-compute'),
    ('rebuild_block_device_mapping',): ('rebuild: block devices', ('nova-compute', 'cinder-api', 'cinder-volume'),
                                        'nova-compute re-attaches the volumes'),
    ('rebuild_spawning',): ('rebuild: spawning', _COMPUTE, 'nova-compute creates the guest again'),
    ('migrating',): ('live migration', ('nova-compute', 'libvirt', 'nova-conductor'),
                     'the source and destination nova-compute copy the running guest'),
    ('deleting', 'soft-deleting', 'restoring'): ('delete', ('nova-compute', 'nova-api'),
                                                 "nova-compute on the instance's host destroys the guest"),
    ('shelving', 'shelving_image_pending_upload', 'shelving_image_uploading', 'shelving_offloading'):
        ('shelve', ('nova-compute', 'glance-api'), 'nova-compute snapshots the guest and removes it from the host'),
    ('unshelving',): ('unshelve', ('nova-conductor', 'nova-scheduler', 'nova-compute'),
                      'the conductor asks the scheduler for a host, whose nova-compute spawns the guest'),
}
for _states, (_name, _services, _what) in _OTHER_STATES.items():
    for _state in _states:
        STEPS[_state] = (_name, None, _services, _what)

# A failed build names its step in the fault's message or in the failed event (nova's exceptions and events).
_FAULT_STEPS = (
    (re.compile(r'NoValidHost|No valid host|MaxRetriesExceeded|Exceeded maximum number of retries', re.I),
     'scheduling'),
    (re.compile(r'port|network|vif|neutron', re.I), 'networking'),
    (re.compile(r'volume|block.device|cinder', re.I), 'block_device_mapping'),
)
_EVENT_STEPS = (
    ('conductor_schedule_and_build_instances', 'scheduling'),
    ('schedule_instances', 'scheduling'),
    ('compute__do_build_and_run_instance', 'spawning'),
)

# vm_states of an instance that is where its user left it.
SETTLED_STATES = ('active', 'stopped', 'paused', 'suspended', 'shelved', 'shelved_offloaded', 'rescued', 'resized',
                  'soft-delete')
# nova.db.main.api migration_get_in_progress_by_host_and_node: the statuses of a migration that is over.
MIGRATION_DONE = ('confirmed', 'reverted', 'error', 'failed', 'completed', 'cancelled', 'done')
VERDICTS = ('not_found', 'deleted', 'error', 'stuck', 'in_progress', 'building', 'host_down', 'attention', 'healthy')
# Kept of a fault's details or an event's traceback: the end, where the exception is.
MAX_TEXT = 4000
ESCAPE = re.compile(r'\\u([0-9a-fA-F]{4})')


def decode(text):
    r"""``\u627e\u4e0d`` in a fault's message or details (seed 000) as the characters it stands for."""
    if not text or '\\u' not in text:
        return text
    return ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)


def _tail(text, limit=MAX_TEXT):
    text = decode(text)
    if text and len(text) > limit:
        return '...' + text[-limit:]
    return text


def is_uuid(value):
    try:
        return str(uuid_module.UUID(str(value))) == str(value).lower()
    except ValueError:
        return False


def log_paths(service):
    """Where a service's log is in a kolla deployment and in a package install."""
    if service not in LOGS:
        return []
    return [f'/var/log/kolla/{LOGS[service]}', f'/var/log/{LOGS[service]}']


def step_of(task_state):
    """Seed 004's table: the step a task_state stands for, the services that move it on, what happens."""
    name, seed_steps, services, what = STEPS.get(task_state, (task_state, None, ('nova-compute',), None))
    return dict(name=name, task_state=task_state, seed_steps=seed_steps, services=list(services), what=what)


def failed_step(in_cell0, faults, actions):
    """The step a failed build died in: its fault's message, else its failed event, else cell0 (no host ever)."""
    if faults:
        text = f"{faults[0]['message'] or ''} {faults[0]['details'] or ''}"[:2000]
        for pattern, step in _FAULT_STEPS:
            if pattern.search(text):
                return step
    for action in actions:
        for event in action['events']:
            if event['result'] and event['result'].lower() == 'error':
                for prefix, step in _EVENT_STEPS:
                    if event['event'].startswith(prefix):
                        return step
    if in_cell0:
        return 'scheduling'
    return None


def _iso(moment):
    return moment.isoformat() if moment is not None else None


def _age(now, moment):
    if moment is None or now is None:
        return None
    return int((now - moment).total_seconds())


class Triage:
    """Reads nova_api and the cells once per run, then one instance at a time (``instance``) or a selection."""

    def __init__(self, nova, overrides=None, cell_timeout=10, stuck_after=600, service_down_time=SERVICE_DOWN_TIME,
                 max_actions=10, allocations=None):
        self.nova = nova
        # allocations(instance uuid) -> dict(providers={uuid: {name, root_provider_uuid, resources}}, error), or None
        self.allocations = allocations
        self.overrides = overrides or {}
        self.cell_timeout = cell_timeout
        self.stuck_after = stuck_after
        self.service_down_time = service_down_time
        self.max_actions = max_actions
        self.now = None
        self.cells = []
        self.by_id = {}

    def open(self):
        """The database clock and every cell, each opened (or its error kept)."""
        self.now = self.nova.query('SELECT UTC_TIMESTAMP(6) AS now')[0]['now']
        self.cells = nova_cells.read_cells(self.nova, self.overrides)
        self.by_id = {cell.id: cell for cell in self.cells}
        for cell in self.cells:
            nova_cells.open_cell(self.nova, cell, self.overrides, self.cell_timeout)
        return self

    def cells_report(self):
        return [dict(name=cell.name, uuid=cell.uuid, cell0=cell.is_cell0, reachable=cell.reachable, error=cell.error)
                for cell in self.cells]

    def select(self, limit):
        """UUIDs of the instances in a task_state for longer than stuck_after, then of those in ERROR, each oldest
        change first: a cloud's old ERROR leftovers never crowd a newly stuck instance out of the limit."""
        found = []
        for cell in self.cells:
            if not cell.reachable:
                continue
            rows = self._read(cell, "SELECT uuid, vm_state = 'error' AS failed, COALESCE(updated_at, created_at) AS changed "
                                    "FROM instances WHERE deleted = 0 AND (vm_state = 'error' OR (task_state IS NOT NULL "
                                    'AND COALESCE(updated_at, created_at) < %s)) ORDER BY failed, changed, uuid LIMIT %s',
                              (self._cutoff(), limit))
            found.extend((bool(row['failed']), row['changed'], row['uuid']) for row in rows or ())
        return [uuid for _failed, _changed, uuid in sorted(found)[:limit]]

    def _cutoff(self):
        return self.now - datetime.timedelta(seconds=self.stuck_after)

    def _read(self, cell, sql, args=None):
        """Rows from a cell; a cell that fails now is marked unreachable and gives None."""
        try:
            return cell.db.query(sql, args)
        except nova_db_utils.ERRORS as error:
            cell.db = None
            cell.error = mask_url(f'Reading the cell database failed: {error}')
            return None

    # ------------------------------------------------------------ one instance

    def instance(self, instance_uuid):
        """Everything Nova's databases say about one instance, with the step, the verdict and the problems."""
        report = dict(instance_uuid=instance_uuid, found=False, problems=[], request_ids=[])
        mapping = self.nova.query('SELECT cell_id, project_id, user_id, queued_for_delete, created_at '
                                  'FROM instance_mappings WHERE instance_uuid = %s', (instance_uuid,))
        building = self.nova.query('SELECT instance_uuid, created_at FROM build_requests WHERE instance_uuid = %s',
                                   (instance_uuid,))
        mapped = self.by_id.get(mapping[0]['cell_id']) if mapping and mapping[0]['cell_id'] is not None else None
        report['mapping'] = dict(
            exists=bool(mapping), cell=mapped.label if mapped else None,
            cell_id=mapping[0]['cell_id'] if mapping else None,
            queued_for_delete=bool(mapping[0]['queued_for_delete']) if mapping else None,
            build_request=bool(building))
        cell, row = self._locate(instance_uuid, mapped)
        unreachable = [c.label for c in self.cells if not c.reachable]
        report['allocations'] = self.allocations(instance_uuid) if self.allocations else None
        if row is None:
            self._not_found(report, mapping, building, mapped, unreachable)
            allocation_problems(report)
            if report['problems']:
                report['summary'] += f"; {'; '.join(report['problems'])}"
            return report

        report.update(found=True, cell=cell.label, cell_uuid=cell.uuid, cell0=cell.is_cell0)
        report.update(self._facts(row))
        if not mapping:
            report['problems'].append(f'no instance mapping in nova_api: the API answers 404 for it although it is '
                                      f'in cell {cell.label} (check_cells.yml repairs it)')
        elif mapped is not cell:
            report['problems'].append(f"its instance mapping points to cell {report['mapping']['cell'] or 'none'}, "
                                      f'but it is in cell {cell.label} (check_cells.yml repairs it)')
        report['actions'] = self._actions(cell, instance_uuid)
        report['faults'] = self._faults(cell, instance_uuid)
        report['migrations'] = self._migrations(cell, instance_uuid)
        report['host_service'] = self._service(cell, row['host']) if row['host'] and not cell.is_cell0 else None
        report['compute_node_uuid'] = self._node_uuid(cell, row['host'], row['node']) if row['host'] else None
        report['request_ids'] = list(dict.fromkeys(
            action['request_id'] for action in report['actions'] if action['request_id']))
        allocation_problems(report)
        self._judge(report, row, cell)
        return report

    def _locate(self, instance_uuid, mapped):
        """(cell, instance row): the mapped cell first, then every other cell (a lost or wrong mapping)."""
        order = ([mapped] if mapped else []) + [cell for cell in self.cells if cell is not mapped]
        for cell in order:
            if not cell.reachable:
                continue
            rows = self._read(cell, 'SELECT uuid, display_name, project_id, user_id, host, node, vm_state, '
                                    'task_state, power_state, created_at, updated_at, launched_at, deleted, hidden '
                                    'FROM instances WHERE uuid = %s ORDER BY deleted', (instance_uuid,))
            rows = [row for row in rows or () if not row.get('hidden')]
            if rows:
                return cell, rows[0]
        return None, None

    def _not_found(self, report, mapping, building, mapped, unreachable):
        if building:
            age = _age(self.now, building[0]['created_at'])
            step = step_of('scheduling')
            report.update(verdict='building', step=step, state_age_seconds=age, summary=(
                f'Only a build request exists (for {age}s): the boot is being scheduled, no cell holds it yet; '
                f"read {', '.join(step['services'])}"))
            report['where_to_look'] = self._where(step['services'], None)
            if age is not None and age > self.stuck_after:
                report['verdict'] = 'stuck'
                report['problems'].append(f'a build request older than {self.stuck_after}s: the super conductor or '
                                          'nova-scheduler never finished with it')
            return report
        where = f"cell {mapped.label} (its mapping's)" if mapped else 'no cell'
        why = (f" and cell(s) {', '.join(unreachable)} could not be read" if unreachable else '')
        report.update(verdict='not_found', step=None, summary=(
            f"No instance {report['instance_uuid']} in any cell{why}; "
            + (f'its mapping points to {where}' if mapping else 'no instance mapping or build request either')))
        return report

    def _facts(self, row):
        return dict(
            name=row['display_name'], project_id=row['project_id'], user_id=row['user_id'], host=row['host'],
            node=row['node'], vm_state=row['vm_state'], task_state=row['task_state'],
            power_state=row['power_state'], deleted=bool(row['deleted']), created_at=_iso(row['created_at']),
            updated_at=_iso(row['updated_at']), launched_at=_iso(row['launched_at']),
            state_age_seconds=_age(self.now, row['updated_at'] or row['created_at']))

    def _actions(self, cell, instance_uuid):
        actions = self._read(cell, 'SELECT id, action, request_id, user_id, project_id, start_time, finish_time, '
                                   'message FROM instance_actions WHERE instance_uuid = %s AND deleted = 0 '
                                   'ORDER BY start_time DESC, id DESC LIMIT %s', (instance_uuid, self.max_actions)) or []
        events = {}
        if actions:
            placeholders = ', '.join(['%s'] * len(actions))
            for event in self._read(cell, 'SELECT action_id, event, result, host, start_time, finish_time, details, '
                                          f'traceback FROM instance_actions_events WHERE action_id IN ({placeholders}) '
                                          'AND deleted = 0 ORDER BY start_time, id',
                                    [action['id'] for action in actions]) or ():
                events.setdefault(event['action_id'], []).append(dict(
                    event=event['event'], result=event['result'], host=event['host'],
                    start_time=_iso(event['start_time']), finish_time=_iso(event['finish_time']),
                    details=_tail(event['details']), traceback=_tail(event['traceback'])))
        return [dict(action=action['action'], request_id=action['request_id'], user_id=action['user_id'],
                     project_id=action['project_id'], start_time=_iso(action['start_time']),
                     finish_time=_iso(action['finish_time']), message=decode(action['message']),
                     events=events.get(action['id'], []))
                for action in actions]

    def _faults(self, cell, instance_uuid):
        rows = self._read(cell, 'SELECT code, message, details, host, created_at FROM instance_faults '
                                'WHERE instance_uuid = %s AND deleted = 0 ORDER BY created_at DESC, id DESC LIMIT 5',
                          (instance_uuid,)) or []
        return [dict(code=row['code'], message=decode(row['message']), details=_tail(row['details']),
                     host=row['host'], created_at=_iso(row['created_at'])) for row in rows]

    def _migrations(self, cell, instance_uuid):
        rows = self._read(cell, 'SELECT id, uuid, migration_type, status, source_compute, source_node, dest_compute, '
                                'dest_node, created_at, updated_at FROM migrations '
                                'WHERE instance_uuid = %s AND deleted = 0 ORDER BY created_at DESC, id DESC',
                          (instance_uuid,)) or []
        return [dict(uuid=row['uuid'], migration_type=row['migration_type'], status=row['status'],
                     in_progress=row['status'] not in MIGRATION_DONE, source_compute=row['source_compute'],
                     source_node=row['source_node'], dest_compute=row['dest_compute'], dest_node=row['dest_node'],
                     created_at=_iso(row['created_at']), updated_at=_iso(row['updated_at'])) for row in rows]

    def _service(self, cell, host):
        """The host's nova-compute service as nova judges it (SERVICE_RULE)."""
        rows = self._read(cell, 'SELECT host, `binary`, disabled, disabled_reason, forced_down, last_seen_up, '
                                'created_at, updated_at, report_count, version FROM services '
                                "WHERE host = %s AND `binary` = 'nova-compute' AND deleted = 0", (host,))
        if not rows:
            return dict(host=host, binary='nova-compute', exists=False, up=False)
        row = rows[0]
        heartbeat = row['last_seen_up'] or row['created_at']
        age = _age(self.now, heartbeat)
        # nova compares the exact elapsed time: a heartbeat 60.4 s old is down at service_down_time 60
        up = not row['forced_down'] and heartbeat is not None and \
            abs((self.now - heartbeat).total_seconds()) <= self.service_down_time
        return dict(host=row['host'], binary=row['binary'], exists=True, up=up, disabled=bool(row['disabled']),
                    disabled_reason=row['disabled_reason'], forced_down=bool(row['forced_down']),
                    last_seen_up=_iso(row['last_seen_up']), updated_at=_iso(row['updated_at']),
                    last_report_age_seconds=age, report_count=row['report_count'], version=row['version'],
                    rule=SERVICE_RULE.format(seconds=self.service_down_time))

    def _node_uuid(self, cell, host, node):
        rows = self._read(cell, 'SELECT uuid, hypervisor_hostname FROM compute_nodes WHERE host = %s AND deleted = 0',
                          (host,)) or []
        match = [row['uuid'] for row in rows if row['hypervisor_hostname'] == node] or [row['uuid'] for row in rows]
        return match[0] if match else None

    def _where(self, services, host):
        return [dict(service=service, host=host if service in _COMPUTE else None, logs=log_paths(service))
                for service in services]

    # ------------------------------------------------------------ the verdict

    def _judge(self, report, row, cell):
        vm_state, task_state, age = row['vm_state'], row['task_state'], report['state_age_seconds']
        service = report['host_service']
        problems = report['problems']
        if service is not None:
            if not service['exists']:
                problems.append(f"its host {row['host']} has no nova-compute service in cell {cell.label}")
            elif not service['up']:
                why = 'forced down' if service['forced_down'] else \
                    f"last heartbeat {service['last_report_age_seconds']}s ago (> {self.service_down_time}s)"
                problems.append(f"nova-compute on {row['host']} is down: {why}")
            if service.get('disabled'):
                problems.append(f"nova-compute on {row['host']} is disabled"
                                + (f": {service['disabled_reason']}" if service['disabled_reason'] else ''))
        moving = [m for m in report['migrations'] if m['in_progress']]
        if moving and not task_state:
            problems.append(f"migration {moving[0]['uuid']} ({moving[0]['migration_type']}) is still "
                            f"{moving[0]['status']} with no task_state")
        open_actions = [a for a in report['actions'] if not a['finish_time'] and not a['events']]

        if report['deleted']:
            step, verdict = None, 'deleted'
        elif vm_state == 'error':
            name = failed_step(cell.is_cell0, report['faults'], report['actions'])
            step, verdict = (step_of(name) if name else None), 'error'
            if step is not None:
                step['task_state'] = None
        elif task_state:
            step = step_of(task_state)
            verdict = 'stuck' if age is not None and age > self.stuck_after else 'in_progress'
            if verdict == 'stuck':
                problems.insert(0, f'in task_state {task_state} for {age}s (more than {self.stuck_after}s)')
        else:
            step = None
            if vm_state not in SETTLED_STATES:
                problems.append(f'vm_state {vm_state} with no task_state')
            verdict = 'attention' if problems else 'healthy'
        if verdict in ('in_progress', 'healthy', 'attention') and service is not None and not service['up']:
            verdict = 'host_down'
        if open_actions and (task_state or verdict in ('stuck', 'host_down')):
            action = open_actions[0]
            problems.append(f"action {action['action']} ({action['request_id']}) has no event yet: no service has "
                            'picked up its message' + (f" - nova-compute on {row['host']} is down"
                                                       if service is not None and not service['up'] else ''))
        report['step'] = step
        report['verdict'] = verdict
        report['where_to_look'] = self._where(step['services'], row['host']) if step else (
            self._where(['nova-compute'], row['host']) if row['host'] else [])
        report['summary'] = _summary(report, cell)


def _summary(report, cell):
    state = f"vm_state {report['vm_state']}, task_state {report['task_state'] or 'none'}"
    text = f"{report['verdict']}: {state} in cell {cell.label}" + (f" on {report['host']}" if report['host'] else '')
    step = report['step']
    if step:
        text += f"; step {step['name']}" + (f" (seed 004 steps {step['seed_steps']})" if step['seed_steps'] else '')
        text += f"; read {', '.join(step['services'])}"
    if report['faults']:
        text += f"; fault: {report['faults'][0]['message']}"
    if report['problems']:
        text += f"; {'; '.join(report['problems'])}"
    return text


def allocation_problems(report):
    """What the instance's Placement allocations say against its host and migrations, added to its problems."""
    allocations = report.get('allocations')
    if not allocations or allocations.get('error'):
        return
    providers = allocations['providers']
    node = report.get('compute_node_uuid')
    moving = [m for m in report.get('migrations', ()) if m['in_progress']]
    names = [provider['name'] or uuid for uuid, provider in sorted(providers.items())]
    if not report['found'] or report['deleted']:
        if providers:
            report['problems'].append(f"holds allocations on {', '.join(names)} although "
                                      + ('it is deleted' if report['found'] else 'no cell has it'))
        return
    if report['vm_state'] == 'error' and not report['host']:
        if providers:
            report['problems'].append(f"failed before it had a host but holds allocations on {', '.join(names)}")
        return
    if not report['host'] or report['vm_state'] == 'shelved_offloaded':
        return
    if not providers:
        report['problems'].append(f"no allocations in Placement although it is on {report['host']}: the "
                                  'scheduler counts its resources as free')
        return
    # A provider of the host's tree (its compute node, or a child of it) is the host's.
    elsewhere = [provider['name'] or uuid for uuid, provider in sorted(providers.items())
                 if node not in (uuid, provider.get('root_provider_uuid'))]
    if node and elsewhere and not moving:
        report['problems'].append(f"holds allocations on {', '.join(elsewhere)} besides its host {report['host']}, "
                                  'with no migration in progress (a failed migration leaves this)')

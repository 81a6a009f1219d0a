#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: cell_mapping_check
short_description: Audit and repair Nova cells v2 mappings (instance, host and cell mappings)
version_added: 0.1.0
description:
  - nova-api finds an instance through C(nova_api.instance_mappings), then C(cell_mappings), then the cell's
    database; it finds a compute host through C(host_mappings). When a mapping row is lost, a running instance
    answers C(404 Instance could not be found) and a compute host is never scheduled to.
  - This module reads C(cell_mappings), C(instance_mappings), C(host_mappings) and C(build_requests) from
    nova_api, and C(instances), C(services) and C(compute_nodes) from every cell database, and reports each
    inconsistency with the facts needed to act on it. Each table is read once; no query is made per instance.
  - Reported findings (RV(findings[].type)) are instances with no mapping; mappings with no cell and no build
    request older than O(stale_after); mappings to a cell that does not exist or to the wrong cell; mappings of
    deleted or archived instances; compute hosts with no host mapping; host mappings to a missing cell or to a
    host the cell does not have; and cells whose database cannot be read within O(cell_timeout).
  - Nothing in an unreachable cell is judged. Cell0 holds the instances whose build failed; it is checked for
    instance mappings but has no compute hosts.
  - With O(repair), the module recreates missing instance mappings from the instance rows, points mappings at
    the cell that holds the instance, and creates missing host mappings. A fresh verified backup of the nova_api
    database is required first (see O(backup_dir)). It never deletes a cell, an instance, a host or a mapping.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  backup_dir:
    description:
      - The directory of the database backups (as made by C(playbooks/backup_databases.yml)) that a repair
        relies on.
      - Before any write, a complete, verified backup of the nova_api database younger than O(backup_max_age)
        must be there, or O(take_backup) must be set; otherwise nothing is written and the module fails.
    type: path
    default: /var/backups/openstack_ops
  backup_max_age:
    description:
      - The age, in seconds, beyond which a backup in O(backup_dir) no longer counts as fresh.
    type: int
    default: 1800
  cell_timeout:
    description:
      - Seconds allowed to connect to a cell database and for each read from it. A cell that does not answer in
        time is reported as V(cell_unreachable) and nothing in it is judged.
    type: int
    default: 10
  repair:
    description:
      - The kinds of finding to repair; empty means audit only.
      - V(missing_instance_mappings) creates the mapping of each V(instance_without_mapping), with the instance's
        project, user and cell.
      - V(wrong_cell_mappings) points each V(mapping_to_wrong_cell), V(mapping_to_missing_cell) and
        V(mapping_without_cell) at the cell that holds the instance, when one does.
      - V(missing_host_mappings) maps each V(compute_host_without_mapping) to its cell, as
        C(nova-manage cell_v2 discover_hosts) would; a host found in two cells is left alone.
      - Repairs are refused while any cell is unreachable, since an instance or host may also be there.
    type: list
    elements: str
    choices: [missing_host_mappings, missing_instance_mappings, wrong_cell_mappings]
    default: []
  stale_after:
    description:
      - Seconds after which an instance mapping with no cell and no build request is reported. Younger ones may
        belong to a build that is being scheduled.
    type: int
    default: 3600
  take_backup:
    description:
      - Take a new backup of the nova_api database into O(backup_dir) before repairing, instead of requiring an
        existing fresh one. Needs C(mariadb-dump) or C(mysqldump) where the module runs.
    type: bool
    default: false
extends_documentation_fragment:
  - openstack_ops.runbooks.mariadb.CELL_CONNECTIONS
  - openstack_ops.runbooks.mariadb
  - openstack_ops.runbooks.mariadb.NOVA_DB
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.PLATFORM
attributes:
  check_mode:
    support: full
    details:
      - The audit runs and RV(repairs) lists the planned writes; nothing is written and no backup is taken.
      - A fresh backup is still required (unless O(take_backup) is set), so a dry run fails as the real run would.
  diff_mode:
    support: full
    details:
      - The diff shows the cell of each repaired mapping before and after.
  action_group:
    support: full
    membership:
      - openstack_ops.runbooks.nova_db
notes:
  - Cell database URLs and transport URLs are shown with their passwords masked.
  - A repair writes to the nova_api database only, so O(login_user) then needs C(INSERT) and C(UPDATE) on
    C(instance_mappings) and C(host_mappings). Like C(nova-manage cell_v2 discover_hosts), a created host mapping
    leaves C(compute_nodes.mapped) alone; discover_hosts finds the mapping and skips the host.
  - Each write is conditional on the row still being as audited, and all writes of a run are one transaction.
  - Templated cell database URLs (C({username}) and similar fields filled from nova.conf) are not supported;
    such a cell is reported unreachable.
seealso:
  - name: nova-manage cell_v2
    description: verify_instance checks one instance; map_instances and discover_hosts create mappings blindly.
    link: https://docs.openstack.org/nova/latest/cli/nova-manage.html#cells-v2-commands
'''

EXAMPLES = r'''
- name: Audit the cells v2 mappings
  openstack_ops.runbooks.cell_mapping_check:
    login_host: "{{ database_vip }}"
    login_user: nova_audit
    login_password: "{{ nova_audit_password }}"
  register: cells

- name: Fail when an instance is invisible to the API
  ansible.builtin.assert:
    that: cells.summary.instance_without_mapping == 0
    fail_msg: "{{ cells.findings | selectattr('type', 'equalto', 'instance_without_mapping')
                  | map(attribute='instance_uuid') | join(', ') }} have no instance mapping"

- name: Reach cell2's database through another address than the one in cell_mappings
  openstack_ops.runbooks.cell_mapping_check:
    login_host: "{{ database_vip }}"
    login_user: nova_audit
    login_password: "{{ nova_audit_password }}"
    cell_connections:
      - cell: cell2
        login_host: 10.20.0.5
        login_port: 3306
    cell_timeout: 5

- name: Recreate lost instance mappings and host mappings, backing up nova_api first
  openstack_ops.runbooks.cell_mapping_check:
    login_host: "{{ database_vip }}"
    login_user: root
    login_password: "{{ database_root_password }}"
    repair:
      - missing_instance_mappings
      - wrong_cell_mappings
      - missing_host_mappings
    backup_dir: /var/backups/openstack_ops
    take_backup: true
  register: repaired
'''

RETURN = r'''
backup:
  description:
    - The manifest of the backup the repair relied on (or took), as written by the db_backup tooling, with
      C(age_seconds), its age when the repair started (V(0) for the backup O(take_backup) just took; null in check
      mode with O(take_backup), where none is taken).
  returned: when repairs were planned
  type: dict
  sample: {"id": "20240101T000000Z-db1", "databases": ["nova_api"], "age_seconds": 42}
cells:
  description: Every cell in C(cell_mappings), in id order, with what was read from it.
  returned: always
  type: list
  elements: dict
  contains:
    cell0:
      description: Whether this is cell0, the cell of failed builds.
      type: bool
    compute_hosts:
      description: Hosts with a nova-compute service or a compute node in the cell. V(null) for cell0 and
        unreachable cells.
      type: int
      sample: 12
    database_connection:
      description: The cell's database URL, password masked.
      type: str
      sample: mysql+pymysql://nova:********@db1:3306/nova_cell1
    deleted_instances:
      description: Deleted (not yet archived) instance rows. V(null) when unreachable.
      type: int
    disabled:
      description: Whether the cell is disabled for new instances.
      type: bool
    error:
      description: Why the cell's database could not be read, or V(null).
      type: str
    host_mappings:
      description: Host mappings that point to this cell.
      type: int
    id:
      description: The cell mapping's id, which C(instance_mappings.cell_id) refers to.
      type: int
    instance_mappings:
      description: Instance mappings that point to this cell.
      type: int
    instances:
      description: Instance rows that are not deleted (the hidden copies of a cross-cell resize are left out).
        V(null) when unreachable.
      type: int
      sample: 1200
    name:
      description: The cell's name.
      type: str
      sample: cell1
    reachable:
      description: Whether the cell's database was read.
      type: bool
    transport_url:
      description: The cell's message queue URL, password masked.
      type: str
    uuid:
      description: The cell's uuid.
      type: str
changed:
  description: Whether any mapping was written. Always V(false) without O(repair); in check mode, whether a repair
    would write.
  returned: always
  type: bool
findings:
  description:
    - Every inconsistency found, before any repair. Each has RV(findings[].type), RV(findings[].message) and
      RV(findings[].repair); the other keys depend on the type.
  returned: always
  type: list
  elements: dict
  contains:
    type:
      description: What is wrong.
      type: str
      choices: [cell_unreachable, instance_without_mapping, mapping_without_cell, mapping_to_missing_cell,
                mapping_to_wrong_cell, mapping_to_deleted_instance, mapping_to_archived_instance,
                compute_host_without_mapping, host_mapping_to_missing_cell, host_mapping_to_missing_host]
    message:
      description: One sentence for the operator.
      type: str
      sample: "Instance 2f565c93-6eec-4a74-b8e8-f55638b56da3 is in cell cell1 but has no instance mapping:
        the API answers 404 for it"
    repair:
      description: The O(repair) choice that fixes this finding, or V(null) when the module does not repair it.
      type: str
    instance_uuid:
      description: The instance concerned (instance and mapping findings).
      type: str
    instance_name:
      description: The instance's display name, when its row was found.
      type: str
    project_id:
      description: The instance's project (from the instance row, else the mapping).
      type: str
    user_id:
      description: The instance's user.
      type: str
    host:
      description: The instance's compute host, or the host of a host finding.
      type: str
    node:
      description: The instance's hypervisor node.
      type: str
    vm_state:
      description: The instance's vm_state.
      type: str
    task_state:
      description: The instance's task_state.
      type: str
    instance_deleted:
      description: Whether the instance row is soft-deleted.
      type: bool
    cell:
      description: The cell that holds the instance or host (name, else uuid).
      type: str
    cell_uuid:
      description: The uuid of RV(findings[].cell).
      type: str
    cells:
      description: Host findings; every cell that has the host.
      type: list
      elements: str
    mapped_cell:
      description: Mapping findings; the cell the mapping points to, V(null) when it points to none or to a missing
        one.
      type: str
    mapped_cell_uuid:
      description: The uuid of RV(findings[].mapped_cell).
      type: str
    mapped_cell_id:
      description: The C(cell_id) of a mapping whose cell is missing (host mapping findings always have it).
      type: int
    in_shadow_table:
      description: V(mapping_to_archived_instance); whether the instance is in the mapped cell's C(shadow_instances).
      type: bool
    created_at:
      description: When the instance, host or host mapping was created (UTC, ISO 8601).
      type: str
    age_seconds:
      description: Seconds since RV(findings[].created_at), by the nova_api database's clock.
      type: int
    mapping_created_at:
      description: Mapping findings; when the instance mapping was created.
      type: str
    mapping_age_seconds:
      description: Seconds since RV(findings[].mapping_created_at).
      type: int
    service:
      description: V(compute_host_without_mapping); whether the host has a nova-compute service row.
      type: bool
    compute_nodes:
      description: V(compute_host_without_mapping); the hypervisor hostnames of the host's compute nodes.
      type: list
      elements: str
    error:
      description: V(cell_unreachable); why the database could not be read, passwords masked.
      type: str
    database_connection:
      description: V(cell_unreachable); the cell's database URL, password masked.
      type: str
repairs:
  description: The writes O(repair) selected, in the order they were (or in check mode would be) made.
  returned: always
  type: list
  elements: dict
  contains:
    repair:
      description: The O(repair) choice.
      type: str
    table:
      description: V(instance_mappings) or V(host_mappings).
      type: str
    instance_uuid:
      description: The instance whose mapping is written.
      type: str
    host:
      description: The host whose mapping is created.
      type: str
    project_id:
      description: The project of a created instance mapping.
      type: str
    user_id:
      description: The user of a created instance mapping.
      type: str
    cell:
      description: The cell the mapping points to afterwards.
      type: str
    cell_uuid:
      description: The uuid of RV(repairs[].cell).
      type: str
    cell_id:
      description: The cell_mappings id written.
      type: int
    from_cell:
      description: The cell the mapping pointed to before, V(null) for none, missing or a created mapping.
      type: str
    from_cell_id:
      description: The C(cell_id) the row must still have for the update to apply.
      type: int
    applied:
      description: Whether the write changed a row; V(false) when the row changed since the audit. Not in check mode.
      type: bool
    verified:
      description: Whether re-reading the row after the commit showed the intended cell. Not in check mode.
      type: bool
summary:
  description: Counts of findings by type (every type present, zero when none), plus totals.
  returned: always
  type: dict
  contains:
    findings:
      description: All findings.
      type: int
    instances:
      description: Instances (not deleted) read from the reachable cells.
      type: int
      sample: 100000
    instance_mappings:
      description: Instance mappings that point to a known cell.
      type: int
    repairable:
      description: Findings that a O(repair) choice fixes.
      type: int
    unreachable_cells:
      description: Cells whose database could not be read.
      type: int
    instance_without_mapping:
      description: One count per finding type; the other types have the same form.
      type: int
  sample: {"findings": 1, "instances": 3, "instance_mappings": 2, "repairable": 1, "unreachable_cells": 0,
           "instance_without_mapping": 1, "cell_unreachable": 0, "mapping_without_cell": 0}
'''

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_backup as backup, nova_cells
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import UnsafeToProceed


class CellMappingCheck(OpsModule):
    argument_spec = dict(
        backup.GUARD_ARGUMENT_SPEC,
        cell_connections=dict(type='list', elements='dict', default=[], options=nova_cells.CELL_CONNECTION_SPEC),
        cell_timeout=dict(type='int', default=10),
        repair=dict(type='list', elements='str', default=[], choices=list(nova_cells.REPAIRS)),
        stale_after=dict(type='int', default=3600),
    )
    module_kwargs = dict(supports_check_mode=True)
    option_families = ('nova_db',)
    option_minimums = dict(cell_timeout=1, backup_max_age=1, stale_after=0)

    def run(self):
        audit = nova_cells.CellAudit(
            self.nova_db, overrides=nova_cells.cell_overrides(self.params['cell_connections']),
            cell_timeout=self.params['cell_timeout'], stale_after=self.params['stale_after'])
        result = audit.run()
        actions = nova_cells.plan_repairs(result['findings'], self.params['repair'], audit.cells)
        result.update(changed=False, repairs=actions)
        if not actions:
            return result

        unreachable = [cell.label for cell in audit.cells if not cell.reachable]
        if unreachable:
            raise UnsafeToProceed(
                f"Not repairing while cell(s) {', '.join(unreachable)} cannot be read: an instance or host may also be "
                'there. Fix the connection (see cell_connections) or run without repair; nothing was changed',
                unreachable_cells=unreachable, planned_repairs=len(actions))
        result['changed'] = True
        if self.diff_mode:
            result['diff'] = nova_cells.diff(actions)
        # In check mode too: a dry run reports a missing backup as the real run would.
        result['backup'] = backup.guard(self.nova_db.api, [self.params['login_db']], self.params, check_mode=self.check_mode)
        if self.check_mode:
            return result
        nova_cells.apply_repairs(self.nova_db.api, actions)
        nova_cells.verify_repairs(self.nova_db.api, actions)
        result['changed'] = any(action['applied'] for action in actions)
        if self.diff_mode:
            result['diff'] = nova_cells.diff([action for action in actions if action['applied']])
        return result


def main():
    CellMappingCheck()()


if __name__ == '__main__':
    main()

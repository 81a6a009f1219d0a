#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: db_restore
short_description: Restore databases from a backup taken by db_backup, after verifying it
version_added: 0.1.0
description:
  - Restores the databases of one backup made by M(openstack_ops.runbooks.db_backup), named by its id.
  - Before loading anything, checks every file of the backup against the size and sha256 in its manifest,
    decompresses it and looks for the dump's completion line. A backup that fails any check is refused and
    nothing is changed.
  - Each target database is dropped, created again with the character set and collation it had when backed up,
    and loaded from the dump, so it ends up exactly as backed up (tables created since are gone).
  - By default, first takes a new backup of the target databases that exist, so the restore itself can be undone.
  - O(target_names) restores a database under another name, to inspect a backup next to the live data.
  - Returns the C(CHECKSUM TABLE) value of every restored table, read back after loading.
  - Stop the services using a database (nova-api, nova-conductor, placement-api) before restoring it in place.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  backup_dir:
    description:
      - The directory holding the backups.
    type: path
    default: /var/backups/openstack_ops
  backup_id:
    description:
      - The id of the backup to restore, the name of its folder in O(backup_dir), such as V(20261122T031500Z-db1).
    type: str
    required: true
  backup_before_restore:
    description:
      - Take a backup of the target databases that exist before replacing them, and return its manifest in
        RV(pre_restore_backup).
      - Only turn this off for targets that hold nothing worth keeping, such as an inspection copy.
    type: bool
    default: true
  databases:
    description:
      - The databases of the backup to restore. Unset means all of them.
    type: list
    elements: str
  target_names:
    description:
      - Restore a database of the backup under another name, as a mapping from the name in the backup to the
        target name, such as C(nova_api=nova_api_restored). Databases not named here keep their name.
    type: dict
    default: {}
extends_documentation_fragment:
  - openstack_ops.runbooks.mariadb
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.PLATFORM
attributes:
  action_group:
    support: full
    membership:
      - openstack_ops.runbooks.mariadb
  check_mode:
    support: full
    details:
      - Verifies the backup files (checksums, gzip, completion line) and reports which databases would be
        replaced; loads nothing, so it does not prove that the dump loads cleanly.
  diff_mode:
    support: full
    details:
      - Shows each target database's table count before, and the backup it would come from after.
requirements:
  - the C(mariadb) or C(mysql) command on the host running the module
  - the C(mariadb-dump) or C(mysqldump) command too when O(backup_before_restore=true)
notes:
  - Every run that is not in check mode loads the backup again and reports a change; run it on purpose only,
    as C(playbooks/restore_databases.yml) does behind a confirmation variable.
  - O(login_user) needs the privileges to drop and create the target databases and to load their contents.
seealso:
  - module: openstack_ops.runbooks.db_backup
'''

EXAMPLES = r'''
- name: Load nova_api from a backup into nova_api_restored, to look at the lost instance mappings
  openstack_ops.runbooks.db_restore:
    login_user: root
    login_password: "{{ db_root_password }}"
    backup_id: 20261122T031500Z-db1
    databases: [nova_api]
    target_names:
      nova_api: nova_api_restored
    backup_before_restore: false

- name: Put nova_api back as it was in the backup (nova-api and nova-conductor are stopped)
  openstack_ops.runbooks.db_restore:
    login_user: root
    login_password: "{{ db_root_password }}"
    backup_id: 20261122T031500Z-db1
    databases: [nova_api]
  register: restore

- name: Show the backup that holds the state before the restore
  ansible.builtin.debug:
    msg: "Undo with backup_id={{ restore.pre_restore_backup.id }}"
'''

RETURN = r'''
backup:
  description: The manifest of the backup restored from (see M(openstack_ops.runbooks.db_backup)).
  returned: always
  type: dict
  sample: {id: 20261122T031500Z-db1, created_at: "2026-11-22T03:15:00Z", databases: [nova_api], complete: true}
pre_restore_backup:
  description: The manifest of the backup of the target databases taken just before the restore; V(null) when
    none was taken (check mode, O(backup_before_restore=false), or no target existed yet).
  returned: always
  type: dict
  sample: {id: 20261122T040000Z-db1, databases: [nova_api], complete: true}
restored:
  description: One entry per database restored (in check mode, that would be restored).
  returned: always
  type: list
  elements: dict
  contains:
    database:
      description: The database name in the backup.
      type: str
      sample: nova_api
    target:
      description: The database it was restored into.
      type: str
      sample: nova_api_restored
    existed:
      description: Whether the target database existed before (and so was replaced).
      type: bool
      sample: true
    tables:
      description: The number of tables in the target after the restore (in check mode, before).
      type: int
      sample: 32
    checksums:
      description: C(CHECKSUM TABLE) of each table of the target after the restore; empty in check mode.
      type: dict
      sample: {instance_mappings: 2847103391, cell_mappings: 1440279634}
msg:
  description: What was done, in one sentence.
  returned: always
  type: str
  sample: Restored nova_api from backup 20261122T031500Z-db1 into nova_api (32 tables)
'''

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_backup as backup
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


class DBRestore(OpsModule):
    argument_spec = dict(
        backup_dir=dict(type='path', default='/var/backups/openstack_ops'),
        backup_id=dict(type='str', required=True),
        backup_before_restore=dict(type='bool', default=True),
        databases=dict(type='list', elements='str'),
        target_names=dict(type='dict', default={}),
    )
    module_kwargs = dict(supports_check_mode=True)
    option_families = ('mariadb',)

    def run(self):
        backup_dir, backup_id = self.params['backup_dir'], self.params['backup_id']
        manifest = self._manifest(backup_dir, backup_id)
        plan = self._plan(manifest)
        problems = backup.verify_backup(backup_dir, backup_id, list(dict(plan)), deep=True)
        if problems:
            raise OpsError(f"Refusing to restore backup {backup_id}: {'; '.join(problems)}. Nothing was changed",
                           backup_id=backup_id, problems=problems)

        before = self._targets_state(list(dict(plan).values()))
        restored = [dict(database=database, target=target, existed=before[target] is not None,
                         tables=before[target] or 0, checksums={}) for database, target in plan]
        result = dict(changed=True, backup=manifest, pre_restore_backup=None, restored=restored)
        if self.diff_mode:
            result['diff'] = dict(
                before={target: (f'{count} tables' if count is not None else 'absent') for target, count in before.items()},
                after={target: f'{database} from backup {backup_id}' for database, target in plan})
        if self.check_mode:
            result['msg'] = (f"Check mode: backup {backup_id} verified (checksums, gzip, completion line); would replace "
                             f"{_describe(plan)}. Nothing was loaded, so this check does not prove the dump loads")
            return result

        existing = [target for target, count in before.items() if count is not None]
        if existing and self.params['backup_before_restore']:
            result['pre_restore_backup'] = backup.take_backup(backup_dir, existing, self.mariadb)
        self._restore(manifest, plan, restored, result['pre_restore_backup'])
        result['msg'] = (f'Restored {_describe(plan)} from backup {backup_id} '
                         f"({', '.join(str(item['tables']) for item in restored)} tables)")
        if result['pre_restore_backup']:
            result['msg'] += f"; the state before is in backup {result['pre_restore_backup']['id']}"
        return result

    def _manifest(self, backup_dir, backup_id):
        manifest = backup.read_manifest(backup_dir, backup_id)
        if manifest is None:
            newest = [item['id'] for item in backup.list_backups(backup_dir)[:5]]
            raise OpsError(f"No backup {backup_id!r} in {backup_dir}; the newest there: {', '.join(newest) or 'none'}",
                           backup_id=backup_id, available=newest)
        return manifest

    def _plan(self, manifest):
        """(database in the backup, target database) pairs, checked before anything is touched."""
        databases = self.params['databases'] or manifest['databases']
        unknown = [name for name in databases if name not in manifest['databases']]
        if unknown:
            raise OpsError(f"Backup {manifest['id']} has no {', '.join(unknown)}; it holds "
                           f"{', '.join(manifest['databases'])}")
        names = self.params['target_names']
        stray = [name for name in names if name not in databases]
        if stray:
            raise OpsError(f"target_names renames {', '.join(stray)}, which is not being restored")
        plan = [(database, names.get(database) or database) for database in dict.fromkeys(databases)]
        targets = list(dict(plan).values())
        for target in targets:
            backup.check_name(target)
            if target in backup.SYSTEM_DATABASES:
                raise OpsError(f'Refusing to restore into the system database {target}')
        if len(set(targets)) != len(targets):
            raise OpsError(f"Two databases would be restored into the same target: {targets}")
        return plan

    def _targets_state(self, targets):
        """{target: table count, or None when the database does not exist}."""
        placeholders = ', '.join(['%s'] * len(targets))
        rows = self.mariadb.query(
            'SELECT s.SCHEMA_NAME AS name, COUNT(t.TABLE_NAME) AS tables FROM information_schema.SCHEMATA s '
            'LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME '
            f'WHERE s.SCHEMA_NAME IN ({placeholders}) GROUP BY s.SCHEMA_NAME', targets)
        counts = {row['name']: int(row['tables']) for row in rows}
        return {target: counts.get(target) for target in targets}

    def _restore(self, manifest, plan, restored, pre_restore):
        self.mariadb.rollback()   # end this session's read transaction before the client drops databases
        done = []
        for (database, target), entry in zip(plan, restored):
            try:
                backup.restore_database(self.params['backup_dir'], manifest, database, target, self.mariadb)
            except OpsError as error:
                undo = (f"the state before is in backup {pre_restore['id']}" if pre_restore
                        else 'no backup of the state before was taken')
                raise OpsError(f"{error.msg}. Restored before the failure: {', '.join(done) or 'nothing'}; "
                               f"{target} is left incomplete; {undo}", restored=done, failed=target,
                               pre_restore_backup=pre_restore and pre_restore['id']) from error
            done.append(target)
            server = self.mariadb.open_database(target)
            try:
                entry['checksums'] = backup.table_checksums(server)
            finally:
                server.close()
            entry['tables'] = len(entry['checksums'])


def _describe(plan):
    return ', '.join(database if database == target else f'{database} into {target}' for database, target in plan)


def main():
    DBRestore()()


if __name__ == '__main__':
    main()

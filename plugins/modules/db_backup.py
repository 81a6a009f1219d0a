#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: db_backup
short_description: Take a verified logical backup of OpenStack databases, and prune old ones
version_added: 0.1.0
description:
  - Dumps each database with C(mariadb-dump) (or C(mysqldump)) using C(--single-transaction), C(--routines),
    C(--triggers) and C(--events), gzip-compressed, into a new folder C(<backup_dir>/<backup_id>) with a
    C(manifest.json) recording the server, the time, the tool version and each file's size and sha256.
  - The backup is written under a temporary name, each file is gzip-tested, checked for the dump's completion
    line and hashed, and only then renamed to its id. On any failure the partial files are removed and nothing
    is left behind.
  - C(--single-transaction) gives a consistent snapshot of each database without locking InnoDB tables, so it is
    safe on a Galera node that is serving traffic. Each database is its own snapshot.
  - After a new backup, removes old backups beyond O(keep_count) or older than O(keep_days) (see there).
  - Destructive modules of this collection refuse to run unless such a backup, younger than their limit, exists.
  - The dump tool runs on the host that runs this module; it reaches the database server through the login
    options, so the backup can be written on the database host itself or on the Ansible controller.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  backup_dir:
    description:
      - The directory holding the backups, created (mode 0700) when missing.
    type: path
    default: /var/backups/openstack_ops
  databases:
    description:
      - The databases to dump, each into its own file.
      - An unknown database fails the task before anything is dumped.
    type: list
    elements: str
    default: [nova_api, nova, nova_cell0, placement]
  keep_count:
    description:
      - After a successful backup, keep this many newest backups of the same set of databases and remove older
        ones. Backups of a different set of databases are counted separately.
      - Unset keeps every backup as far as the count is concerned.
    type: int
  keep_days:
    description:
      - After a successful backup, remove backups older than this many days.
      - The newest backup of each set of databases is never removed, whatever its age.
      - Folders without a complete manifest (including other files in O(backup_dir)) are never touched.
    type: float
  reuse_max_age:
    description:
      - When a verified backup of all O(databases) younger than this many seconds already exists, return it
        instead of taking a new one, and report no change.
      - V(0) always takes a new backup.
    type: int
    default: 0
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
      - Connects, checks the login and that every database exists, and reports what would be dumped and which old
        backups would be removed.
      - A check run dumps nothing, so it proves nothing about the backup itself.
  diff_mode:
    support: full
    details:
      - Shows the list of backup ids in O(backup_dir) before and after.
requirements:
  - the C(mariadb-dump) or C(mysqldump) command on the host running the module
notes:
  - O(login_user) needs C(SELECT), C(SHOW VIEW), C(TRIGGER), C(EVENT) and C(LOCK TABLES) on the databases.
  - The dump tool gets the login through a private temporary option file, never on its command line.
seealso:
  - module: openstack_ops.runbooks.db_restore
  - name: mariadb-dump
    description: The dump tool and its --single-transaction option.
    link: https://mariadb.com/kb/en/mariadb-dump/
'''

EXAMPLES = r'''
- name: Back up the nova and placement databases on the database host, keeping a week of backups
  openstack_ops.runbooks.db_backup:
    login_unix_socket: /run/mysqld/mysqld.sock
    login_user: backup
    login_password: "{{ db_backup_password }}"
    databases: [nova_api, nova, nova_cell0, placement]
    backup_dir: /var/backups/openstack_ops
    keep_count: 10
    keep_days: 7
  register: db_backup

- name: Write the backup on the controller instead, reaching the database over TCP
  openstack_ops.runbooks.db_backup:
    login_host: "{{ hostvars[groups['db'][0]].ansible_host }}"
    login_user: backup
    login_password: "{{ db_backup_password }}"
    databases: [nova_api]
    backup_dir: "{{ playbook_dir }}/backups"
  delegate_to: localhost
  run_once: true

- name: Make sure a backup of nova_api at most 30 minutes old exists, taking one only when there is none
  openstack_ops.runbooks.db_backup:
    login_user: backup
    login_password: "{{ db_backup_password }}"
    databases: [nova_api]
    reuse_max_age: 1800
'''

RETURN = r'''
backup:
  description: The manifest of the backup taken (or reused). V(null) in check mode.
  returned: always
  type: dict
  contains:
    id:
      description: The backup id, also the name of its folder in O(backup_dir); sortable by time.
      type: str
      sample: 20261122T031500Z-db1
    created_at:
      description: When the backup was taken, ISO 8601 UTC.
      type: str
      sample: "2026-11-22T03:15:00Z"
    complete:
      description: Always V(true) for a backup that exists under its id.
      type: bool
      sample: true
    databases:
      description: The databases in the backup.
      type: list
      elements: str
      sample: [nova_api, placement]
    files:
      description: One entry per database.
      type: list
      elements: dict
      sample:
        - database: nova_api
          path: nova_api.sql.gz
          size: 3737
          sha256: 67b7b4f747756ab02cda34089be1241d5177cf25f1ccafdbe15b138e50883384
    charsets:
      description: The default character set and collation of each database, used to recreate it at restore.
      type: dict
      sample: {nova_api: {charset: utf8mb3, collation: utf8mb3_general_ci}}
    server:
      description: The server dumped, with the host (or socket) and port connected to, its version and hostname.
      type: dict
      sample: {host: 127.0.0.1, port: 3306, version: 10.11.19-MariaDB-0+deb12u1, hostname: db1}
    tool:
      description: The dump tool and its version.
      type: str
      sample: mariadb-dump 10.19 Distrib 10.11.19-MariaDB
path:
  description: The folder of the backup. V(null) in check mode.
  returned: always
  type: str
  sample: /var/backups/openstack_ops/20261122T031500Z-db1
reused:
  description: Whether an existing backup younger than O(reuse_max_age) was returned instead of a new one.
  returned: always
  type: bool
  sample: false
would_dump:
  description: In check mode, the databases that would be dumped with their data size on the server in bytes.
  returned: check mode, when a backup would be taken
  type: dict
  sample: {nova_api: 1343488, placement: 802816}
removed:
  description: Ids of the old backups removed by retention (in check mode, that would be removed).
  returned: always
  type: list
  elements: str
  sample: [20261115T031500Z-db1]
msg:
  description: What was done, in one sentence.
  returned: always
  type: str
  sample: Backed up nova_api, placement to /var/backups/openstack_ops/20261122T031500Z-db1 (2 files, 9.2 KiB)
'''

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_backup as backup
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import UnsafeToProceed

DAY = 86400


class DBBackup(OpsModule):
    argument_spec = dict(
        backup_dir=dict(type='path', default='/var/backups/openstack_ops'),
        databases=dict(type='list', elements='str', default=['nova_api', 'nova', 'nova_cell0', 'placement']),
        keep_count=dict(type='int'),
        keep_days=dict(type='float'),
        reuse_max_age=dict(type='int', default=0),
    )
    module_kwargs = dict(supports_check_mode=True)
    option_families = ('mariadb',)
    option_minimums = dict(keep_count=1)

    def run(self):
        params = self.params
        backup_dir = params['backup_dir']
        databases = list(dict.fromkeys(params['databases']))
        before = [item['id'] for item in backup.list_backups(backup_dir)]

        manifest = self._reusable(backup_dir, databases)
        result = dict(changed=False, reused=manifest is not None, backup=manifest, path=None, removed=[])
        if manifest is None:
            if self.check_mode:
                server = backup.inspect_server(self.mariadb, databases)
                result.update(changed=True, would_dump=server['sizes'])
            else:
                manifest = backup.take_backup(backup_dir, databases, self.mariadb)
                result.update(changed=True, backup=manifest)
        if manifest is not None:
            result['path'] = f"{backup_dir.rstrip('/')}/{manifest['id']}"

        removed = self._retention(backup_dir, manifest)
        result['removed'] = removed
        result['changed'] = result['changed'] or bool(removed)
        result['msg'] = self._message(result, databases, backup_dir)
        if self.diff_mode:
            after = [item for item in before if item not in removed]
            if manifest is not None and manifest['id'] not in after:
                after.insert(0, manifest['id'])
            elif manifest is None and self.check_mode and not result['reused']:
                after.insert(0, '(new backup)')
            result['diff'] = dict(before=dict(backups=before), after=dict(backups=after),
                                  before_header=backup_dir, after_header=backup_dir)
        return result

    def _reusable(self, backup_dir, databases):
        if self.params['reuse_max_age'] <= 0:
            return None
        try:
            return backup.require_fresh_backup(backup_dir, databases, self.params['reuse_max_age'])
        except UnsafeToProceed:
            return None

    def _retention(self, backup_dir, manifest):
        keep_count, keep_days = self.params['keep_count'], self.params['keep_days']
        if keep_count is None and keep_days is None:
            return []
        protect = [manifest['id']] if manifest else []
        plan = backup.plan_retention(backup_dir, keep_count, None if keep_days is None else keep_days * DAY,
                                     protect=protect)
        if not self.check_mode:
            for item in plan:
                backup.remove_backup(backup_dir, item['id'])
        return [item['id'] for item in plan]

    def _message(self, result, databases, backup_dir):
        names = ', '.join(databases)
        if result['reused']:
            text = f"Reused backup {result['backup']['id']} of {names}, younger than {self.params['reuse_max_age']} s"
        elif self.check_mode:
            text = (f'Check mode: would dump {names} to a new backup in {backup_dir}. Nothing was dumped, so this '
                    'check proves nothing about the backup itself')
        else:
            size = sum(item['size'] for item in result['backup']['files'])
            text = f"Backed up {names} to {result['path']} ({len(result['backup']['files'])} files, {size / 1024:.1f} KiB)"
        if result['removed']:
            verb = 'would remove' if self.check_mode else 'removed'
            text += f"; retention {verb} {', '.join(result['removed'])}"
        return text


def main():
    DBBackup()()


if __name__ == '__main__':
    main()

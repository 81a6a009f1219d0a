#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: mariadb_variables
short_description: Set MariaDB server variables at runtime where they are dynamic, and persist them in an option file
version_added: 0.1.0
description:
  - Reads what the server says of each variable in O(variables) (C(information_schema.SYSTEM_VARIABLES) - its type,
    range or allowed values, whether it is read-only, its global value), and checks every name and value before
    anything is changed. An unknown name, a value of the wrong type or out of range fails the task naming each
    problem, and nothing is changed.
  - Dynamic variables whose global value differs are set with C(SET GLOBAL), which takes effect at once for new
    sessions. On a Galera cluster C(SET GLOBAL) is not replicated; run the module on every node.
  - Every variable is then written to O(option_file), in section O(section), unless O(persist=false). Only the lines
    of the variables set are rewritten (a trailing comment kept) or added at the end of the section; comments and
    other lines stay. The previous file is backed up next to it and the new one replaces it atomically.
  - Read-only variables cannot change while the server runs. They are written to the file, and RV(restart_required)
    tells the caller that the server still runs another value. The module never restarts the server; the
    galera_tuning role restarts Galera nodes one at a time.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  variables:
    description:
      - The variables to set, by name (as C(SHOW VARIABLES) spells it; dashes are taken as underscores) and value.
      - Numeric variables take an integer, or a size with a K, M, G or T suffix (powers of 1024) as in an option file.
        Boolean variables take V(ON) or V(OFF) (or a YAML boolean); enumerated ones one of their values.
      - C(wsrep_provider_options) is refused; its parts differ in what a running provider accepts.
    type: dict
    required: true
  option_file:
    description:
      - The option file that keeps the values across restarts; created (mode 0644) when missing. It must be read by
        the server, for example a file in a directory of an C(!includedir) line; the later file wins for a variable
        set twice, hence the C(99-) prefix of the default.
    type: path
    default: /etc/mysql/mariadb.conf.d/99-openstack-ops.cnf
  section:
    description:
      - The option-file section the variables go to.
    type: str
    default: mysqld
  runtime:
    description:
      - Set dynamic variables at runtime with C(SET GLOBAL). V(false) only writes the option file.
    type: bool
    default: true
  persist:
    description:
      - Write the variables to O(option_file). V(false) only sets them at runtime, for a server whose configuration
        another tool renders (kolla-ansible's C(galera.cnf), where the override goes to the deploy host with
        M(openstack_ops.runbooks.mariadb_option_file)); RV(restart_required) still tells the read-only variables
        that differ.
    type: bool
    default: true
  backup:
    description:
      - Keep a copy of the previous option file (timestamped, next to it, not read by the server) before it is replaced.
    type: bool
    default: true
extends_documentation_fragment:
  - openstack_ops.runbooks.mariadb
  - openstack_ops.runbooks.attributes
attributes:
  action_group:
    support: full
    membership:
      - openstack_ops.runbooks.mariadb
  check_mode:
    support: full
    details:
      - Connects, validates every variable and reports what would be set and the option file's diff; nothing is set
        or written.
  diff_mode:
    support: full
    details:
      - The option file before and after, with its secrets masked (C(********)) on both sides - passwords in URLs
        and the values of options whose names contain C(password), C(passwd), C(secret), C(token), C(credential),
        C(private_key) or C(sst_auth) (such as C(wsrep_sst_auth)), commented out too. A change of a secret alone
        shows no changed line, though the task still reports changed. The file written is not masked.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - The database node whose option file is written; the login reaches that node's server.
notes:
  - O(login_user) needs the C(SYSTEM_VARIABLES_ADMIN) or C(SUPER) privilege for C(SET GLOBAL); root through the
    Unix socket has it.
seealso:
  - module: openstack_ops.runbooks.galera_status
  - module: openstack_ops.runbooks.galera_timeouts
  - name: MariaDB server system variables
    description: Each variable, its type, range and whether it is dynamic.
    link: https://mariadb.com/kb/en/server-system-variables/
'''

EXAMPLES = r'''
- name: Seed 003 timeouts and seed 002 flush policy on this node, at runtime and in the option file
  openstack_ops.runbooks.mariadb_variables:
    variables:
      wait_timeout: 28800
      interactive_timeout: 28800
      innodb_lock_wait_timeout: 50
      innodb_flush_log_at_trx_commit: 2
      max_connections: 4096
  register: tuning

- name: A restart-only variable is written to the file; restart_required says the node needs a restart
  openstack_ops.runbooks.mariadb_variables:
    variables:
      innodb_log_buffer_size: 32M
    login_unix_socket: /run/mysqld/mysqld.sock
  register: log_buffer
'''

RETURN = r'''
variables:
  description: Each variable, its value before and after, and what was (or would be) done.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: wait_timeout, before: '600', wanted: 28800, after: '28800', dynamic: true, runtime_change: true,
       file_before: null, file_change: true, restart_required: false}
changed_variables:
  description: Names of the variables set at runtime or written to the option file.
  returned: always
  type: list
  elements: str
  sample: [wait_timeout, innodb_log_buffer_size]
restart_required:
  description: Whether a read-only variable's running value differs from the wanted one (the file has the wanted one).
  returned: always
  type: bool
restart_variables:
  description: The read-only variables that differ until the server restarts.
  returned: always
  type: list
  elements: str
  sample: [innodb_log_buffer_size]
option_file:
  description: The option file written, or null with O(persist=false).
  returned: always
  type: str
  sample: /etc/mysql/mariadb.conf.d/99-openstack-ops.cnf
backup_file:
  description: The copy of the previous option file.
  returned: when the file existed and was replaced, with O(backup=true)
  type: str
  sample: /etc/mysql/mariadb.conf.d/99-openstack-ops.cnf.4321.2026-11-22@12:00:00~
'''

import os

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_variables as mv
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import textfile
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import file_diff

FILE_HEADER = ('Written by openstack_ops.runbooks (mariadb_variables); values set here are also set at runtime\n'
               'when dynamic. Edit with the galera_tuning role or keep the same values by hand.')


class MariadbVariables(OpsModule):
    argument_spec = dict(
        variables=dict(type='dict', required=True),
        option_file=dict(type='path', default='/etc/mysql/mariadb.conf.d/99-openstack-ops.cnf'),
        section=dict(type='str', default='mysqld'),
        runtime=dict(type='bool', default=True),
        persist=dict(type='bool', default=True),
        backup=dict(type='bool', default=True),
    )
    module_kwargs = dict(supports_check_mode=True)
    option_families = ('mariadb',)

    def run(self):
        if not self.params['variables']:
            raise OpsError('variables is empty: nothing to set')
        if not (self.params['runtime'] or self.params['persist']):
            raise OpsError('runtime and persist are both false: nothing would be set')
        path = self.params['option_file'] if self.params['persist'] else None
        before_text = textfile.read(path, 'the option file') if path and os.path.exists(path) else ''
        db = self.mariadb
        names = [mv.normalize_name(name) for name in self.params['variables']]
        known = mv.read_variables(db, names)
        wanted = mv.check_requested(self.params['variables'], known)
        entries = mv.plan(wanted, known, mv.read_file_values(before_text, self.params['section'].lower()))
        if not path:
            for entry in entries:
                entry['file_change'] = False
        if not self.params['runtime']:
            for entry in entries:
                entry['restart_required'] = entry['restart_required'] or entry['runtime_change']
                entry['runtime_change'] = False
        after_text = (mv.render(before_text, wanted, self.params['section'].lower(), header=FILE_HEADER) if path
                      else before_text)
        result = dict(option_file=path)
        if not self.check_mode:
            self._set_global(db, entries)
            if after_text != before_text:
                # mysqld reads its option files as the mysql user, and ignores world-writable ones
                result.update(textfile.replace(self.module, path, after_text, backup=self.params['backup'],
                                               mode=0o644, prefix='.mariadb_variables.'))
        self._after(db, entries)
        for entry in entries:
            entry['file_change'] = entry['file_change'] and after_text != before_text
        changed = [entry['name'] for entry in entries if entry['runtime_change'] or entry['file_change']]
        restart = [entry['name'] for entry in entries if entry['restart_required']]
        result.update(changed=bool(changed) or after_text != before_text, variables=entries,
                      changed_variables=changed, restart_required=bool(restart), restart_variables=restart)
        if self.diff_mode and path:
            # secrets masked on both sides: a change of a password alone shows no changed line, yet changed is true
            result['diff'] = file_diff(before_text, after_text, path)
        return result

    @staticmethod
    def _set_global(db, entries):
        for entry in entries:
            if not entry['runtime_change']:
                continue
            name = entry['name']   # checked against the server's own list of names
            try:
                db.execute(f'SET GLOBAL {name} = %s', [entry['wanted']])
            except mariadb.ERRORS as error:
                done = [other['name'] for other in entries if other['runtime_change'] and other is not entry
                        and entries.index(other) < entries.index(entry)]
                raise OpsError(f'SET GLOBAL {name} = {entry["wanted"]!r} failed: {error}. Set before it at runtime: '
                               f'{", ".join(done) or "nothing"}; the option file was not written',
                               variable=name) from error

    def _after(self, db, entries):
        """The global values now (planned ones in check mode); a value the server rounded is warned about."""
        current = mv.read_variables(db, [entry['name'] for entry in entries])
        for entry in entries:
            value = current[entry['name']]['value']
            if entry['runtime_change'] and self.check_mode:
                value = mv.format_value(entry['wanted']).strip('"')
            elif entry['runtime_change'] and not mv.same(current[entry['name']], entry['wanted'], value):
                self.warn(f"the server set {entry['name']} to {value}, not {entry['wanted']} (rounded or capped); "
                          'set that value to make later runs report no change')
            entry['after'] = value


def main():
    MariadbVariables()()


if __name__ == '__main__':
    main()

#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: mariadb_option_file
short_description: Set options in a section of a MariaDB option file, keeping its comments, without a server
version_added: 0.1.0
description:
  - Writes each of O(options) to section O(section) of O(path), the way M(openstack_ops.runbooks.mariadb_variables)
    writes its option file - only the lines of the options set are rewritten (a trailing comment kept), a dash and an
    underscore in a name are the same, a missing option goes to the end of its section and a missing section to the
    end of the file; comments and every other line stay in place.
  - For a file no server on this host reads, such as kolla-ansible's override C(/etc/kolla/config/galera.cnf) on the
    deploy host, which its C(merge_configs) merges into each node's rendered C(galera.cnf). The values are written as
    given; check them first against the running servers (M(openstack_ops.runbooks.mariadb_variables) in check mode, as
    the galera_tuning role does) and pass the C(wanted) values it returns.
  - The previous file is backed up next to it and the new one replaces it atomically, keeping its mode and owner.
    Never restarts anything.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  path:
    description:
      - The option file. Its directory must exist; the file is created (mode 0640) when missing.
    type: path
    required: true
  section:
    description:
      - The section the options go to.
    type: str
    default: mysqld
  options:
    description:
      - The options, by name (dashes taken as underscores) and value (a number, or a string written quoted where it
        holds spaces or quotes).
    type: dict
    required: true
extends_documentation_fragment:
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.NO_ACTION_GROUP
  - openstack_ops.runbooks.files
attributes:
  check_mode:
    support: full
    details:
      - Reports the options that would change and the file's diff; nothing is written.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - The host that keeps the file, such as kolla-ansible's deploy host.
seealso:
  - module: openstack_ops.runbooks.mariadb_variables
  - name: kolla-ansible MariaDB guide
    description: Where kolla-ansible takes a galera.cnf override from, and the reconfigure that applies it.
    link: https://docs.openstack.org/kolla-ansible/latest/reference/databases/mariadb-guide.html
'''

EXAMPLES = r'''
- name: Seed 003 timeouts in kolla-ansible's galera.cnf override (kolla-ansible reconfigure -t mariadb applies it)
  openstack_ops.runbooks.mariadb_option_file:
    path: /etc/kolla/config/galera.cnf
    options:
      wait_timeout: 5000
      innodb_lock_wait_timeout: 50
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
changed_options:
  description: The options written (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [wait_timeout]
options:
  description: Each option's value in the file before (null when absent) and after.
  returned: always
  type: dict
  sample: {wait_timeout: {before: '28800', after: '5000'}}
path:
  description: The file.
  returned: always
  type: str
  sample: /etc/kolla/config/galera.cnf
backup_file:
  description: The copy of the previous file.
  returned: when the file existed and was replaced, with O(backup=true)
  type: str
  sample: /etc/kolla/config/galera.cnf.4321.2026-12-02@12:00:00~
'''

import os

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_variables as mv
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import textfile
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import file_diff


class MariadbOptionFile(OpsModule):
    argument_spec = dict(
        path=dict(type='path', required=True),
        section=dict(type='str', default='mysqld'),
        options=dict(type='dict', required=True),
        backup=dict(type='bool', default=True),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        path, section = self.params['path'], self.params['section'].lower()
        wanted = self._wanted(self.params['options'])
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise OpsError(f'{directory} does not exist (the directory of {path}); nothing was written', path=path)
        before_text = textfile.read(path, 'the option file') if os.path.exists(path) else ''
        current = mv.read_file_values(before_text, section)
        after_text = mv.render(before_text, wanted, section)
        changed = [name for name, value in wanted.items() if current.get(name) != mv.format_value(value)]
        result = dict(changed=after_text != before_text, changed_options=changed, path=path,
                      options={name: dict(before=current.get(name), after=mv.format_value(value))
                               for name, value in wanted.items()})
        if after_text != before_text and not self.check_mode:
            result.update(textfile.replace(self.module, path, after_text, backup=self.params['backup'], mode=0o640,
                                           prefix='.mariadb_option_file.'))
        if self.diff_mode:
            # secrets masked on both sides: a change of a password alone shows no changed line, yet changed is true
            result['diff'] = file_diff(before_text, after_text, path)
        return result

    @staticmethod
    def _wanted(options):
        """{name: value}, every problem named at once; a value of one line, a name the option file can hold."""
        if not options:
            raise OpsError('options is empty: nothing to set')
        wanted, problems = {}, []
        for raw_name, value in options.items():
            name = mv.normalize_name(raw_name)
            if not mv.NAME.match(name):
                problems.append(f'{raw_name!r} is not an option name')
            elif name in wanted:
                problems.append(f'{raw_name} is given twice (dashes and underscores are the same)')
            elif value is None or isinstance(value, (dict, list)) or '\n' in str(value):
                problems.append(f'{name}: {value!r} is not a value of one line')
            else:
                wanted[name] = 'ON' if value is True else 'OFF' if value is False else value
        if problems:
            raise OpsError('invalid options, nothing was written: ' + '; '.join(problems), problems=problems)
        return wanted


def main():
    MariadbOptionFile()()


if __name__ == '__main__':
    main()

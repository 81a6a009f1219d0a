#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: haproxy_active_server
short_description: Keep one active server in chosen haproxy sections and the others C(backup) (a single Galera writer)
version_added: 0.1.0
description:
  - Reads the C(server) lines of the C(backend) and C(listen) sections whose names match O(sections) and reports the
    active ones (those without the C(backup) flag). Several active servers in a Galera section means every node takes
    writes - a read on one node may not yet see a write committed through another (seed 002 - volume ids lost).
  - With O(state=single), makes one server of each matched section active and flags every other one C(backup), as
    kolla-ansible and openstack-ansible render their Galera section - haproxy then sends every connection to that
    one server while it is UP, and to the first backup that is UP when it is not.
  - The active server is O(active), else the first server without C(backup) in file order (the one already active,
    when there is one), else the first server. Only the C(backup) word of the C(server) lines changes (indentation
    and trailing comment kept); every other line stays as it was.
  - Refuses, before anything is changed, a section with no C(server) line (C(server-template), servers from DNS),
    an O(active) server the section does not have or that is C(disabled), and C(option allbackups) (it sends to every
    backup at once when the active server is down - several writers again).
  - The new file is checked with O(validate) (C(haproxy -c)) before it replaces the live one, the live one is backed
    up first, and the replacement is atomic. Does not reload haproxy; the caller does.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  sections:
    description:
      - Regular expressions searched for in the names of C(backend) and C(listen) sections; a section matching any of
        them is read (and, with O(state=single), edited).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(single) makes one server of each matched section active and the others C(backup).
      - V(present) changes nothing and reports the active servers of each section.
    type: str
    choices: [single, present]
    default: single
  active:
    description:
      - The server (its name on the C(server) line) to keep active in every matched section. Unset, each section keeps
        its first server without C(backup), or its first server when all are C(backup).
      - Every load balancer of a cloud should name the same one.
    type: str
extends_documentation_fragment:
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.NO_ACTION_GROUP
  - openstack_ops.runbooks.files
  - openstack_ops.runbooks.haproxy
attributes:
  check_mode:
    support: full
    details:
      - Reports the planned active and backup servers and the diff; the candidate is not validated.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - The load balancer whose configuration is edited.
seealso:
  - module: openstack_ops.runbooks.haproxy_sections
  - module: openstack_ops.runbooks.haproxy_servers
  - name: haproxy configuration manual, server backup
    description: A backup server is used only when every active server is down.
    link: https://docs.haproxy.org/2.6/configuration.html#5.2-backup
'''

EXAMPLES = r'''
- name: Which Galera nodes take writes through haproxy?
  openstack_ops.runbooks.haproxy_active_server:
    sections: ['^mariadb$', '^galera']
    state: present
  register: galera_writers

- name: One Galera writer, the other nodes backup (as kolla-ansible renders it)
  openstack_ops.runbooks.haproxy_active_server:
    sections: ['^mariadb$', '^galera']
    active: ctl1
  notify: Reload haproxy
'''

RETURN = r'''
sections:
  description: Every matched section, its servers, which were active before and which are (or would be) now.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: mariadb, kind: listen, servers: [ctl1, ctl2, ctl3], active_before: [ctl1, ctl2, ctl3], active: [ctl1],
       backup: [ctl2, ctl3], multi_writer: true, allbackups: false, changed: true}
active:
  description: The active servers of each matched section after the change (planned, in check mode), by section name.
  returned: always
  type: dict
  sample: {mariadb: [ctl1]}
multi_writer:
  description: Names of the matched sections that had more than one active server (before the change).
  returned: always
  type: list
  elements: str
  sample: [mariadb]
changed_sections:
  description: Names of the sections that were (or would be) changed.
  returned: always
  type: list
  elements: str
  sample: [mariadb]
msg:
  description: What was found and done, with the consequence of several writers when there were.
  returned: always
  type: str
backup_file:
  description: The copy of the previous file.
  returned: when a backup was made
  type: str
  sample: /etc/haproxy/haproxy.cfg.12345.2026-11-22@09:40:00~
validation:
  description: What the validate command printed (warnings included).
  returned: when the file was replaced
  type: str
'''

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import haproxy_config as cfg
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import textfile
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import file_diff

CONSEQUENCE = ('every one of them takes writes, so a read on one node may not yet see a write committed through '
               'another (seed 002: Cinder volume ids lost); one active server with the others backup sends every '
               'read and write to one node')


class HaproxyActiveServer(OpsModule):
    argument_spec = dict(
        cfg.FILE_ARGUMENT_SPEC,
        state=dict(type='str', choices=['single', 'present'], default='single'),
        active=dict(type='str'),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        patterns = cfg.patterns_of(self.params['sections'])
        path = self.params['path']
        before = textfile.read(path, 'the haproxy configuration')
        lines = before.splitlines(keepends=True)
        report = self._plan(lines, patterns)
        after = ''.join(lines)
        result = dict(changed=after != before, sections=report,
                      active={entry['name']: entry['active'] for entry in report},
                      multi_writer=[entry['name'] for entry in report if entry['multi_writer']],
                      changed_sections=[entry['name'] for entry in report if entry['changed']])
        result['msg'] = _message(report, self.check_mode)
        if self.diff_mode:
            result['diff'] = file_diff(before, after, path)   # stats auth and userlist passwords masked
        if result['changed'] and not self.check_mode:
            result.update(cfg.replace(self.module, path, after, self.params['validate'], backup=self.params['backup'],
                                      prefix='.haproxy_active_server.'))
        return result

    def _plan(self, lines, patterns):
        """Check every matched section, then (state=single) rewrite their server lines in ``lines``."""
        sections = cfg.parse(lines)
        matched = cfg.matching(sections, patterns, self.params['require_match'], self.params['path'])
        plans = [self._check(lines, sections, section) for section in matched]   # every refusal before any edit
        return [self._apply(lines, plan) for plan in plans]

    def _check(self, lines, sections, section):
        servers = cfg.servers(lines, section)
        where = f"{section.kind} {section.name} in {self.params['path']}"
        if not servers:
            raise OpsError(f'{where} has no server line (server-template or servers from DNS cannot be made backup one '
                           'by one); nothing was changed', section=section.name)
        defaults = next((other for other in reversed(sections[:sections.index(section)]) if other.kind == 'defaults'),
                        None)
        allbackups = any(cfg.find(lines, owner, 'option', 'allbackups') is not None
                         for owner in (section, defaults) if owner is not None)
        active_before = [server['name'] for server in servers if not server['backup']]
        wanted = self.params['active']
        if wanted is not None:
            names = [server['name'] for server in servers]
            if wanted not in names:
                raise OpsError(f"{where} has no server {wanted!r} (its servers: {', '.join(names)}); nothing was changed",
                               section=section.name, servers=names)
            writer = wanted
        else:
            writer = active_before[0] if active_before else servers[0]['name']
        if self.params['state'] == 'single':
            if next(server for server in servers if server['name'] == writer)['disabled']:
                raise OpsError(f'{where}: server {writer} is disabled and cannot be the active one; nothing was changed',
                               section=section.name)
            if allbackups:
                raise OpsError(f'{where} has option allbackups: when the active server is down every backup takes '
                               'connections at once, several writers again. Remove it first; nothing was changed',
                               section=section.name)
        return dict(section=section, servers=servers, writer=writer, active_before=active_before,
                    allbackups=allbackups)

    def _apply(self, lines, plan):
        servers = plan['servers']
        single = self.params['state'] == 'single'
        changed = False
        for server in servers:
            backup = server['name'] != plan['writer'] if single else server['backup']
            if backup != server['backup']:
                lines[server['index']] = cfg.with_flag(lines[server['index']], 'backup', backup)
                changed = True
        active = [plan['writer']] if single else plan['active_before']
        return dict(name=plan['section'].name, kind=plan['section'].kind,
                    servers=[server['name'] for server in servers], active_before=plan['active_before'],
                    active=active, backup=[server['name'] for server in servers if server['name'] not in active],
                    multi_writer=len(plan['active_before']) > 1, allbackups=plan['allbackups'], changed=changed)


def _message(report, check_mode):
    parts = []
    for entry in report:
        name, before = entry['name'], entry['active_before']
        if entry['multi_writer']:
            found = f"{name} has {len(before)} active servers ({', '.join(before)}): {CONSEQUENCE}"
        elif before:
            found = f'{name} has one active server ({before[0]})'
        else:
            found = f'{name} has no active server (every one is backup)'
        if entry['changed']:
            found += (f"; {'planned' if check_mode else 'now'}: {entry['active'][0]} active, "
                      f"{', '.join(entry['backup']) or 'no other server'} backup")
        parts.append(found)
    return '. '.join(parts) or 'no section matched'


def main():
    HaproxyActiveServer()()


if __name__ == '__main__':
    main()

#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: haproxy_sections
short_description: Set the balance algorithm and timeouts of chosen haproxy backends, changing nothing else
version_added: 0.1.0
description:
  - Edits the C(backend) and C(listen) sections whose names match O(sections) in an haproxy configuration file. Only
    the C(balance) and C(timeout) lines it sets are rewritten (indentation and trailing comment kept) or added under
    the section's header; every other line, comment and the order stay as they were.
  - A section without a C(balance) line of its own inherits the one of the C(defaults) section before it, and is
    judged by that.
  - The new file is checked with O(validate) (C(haproxy -c)) before it replaces the live one, the live one is backed
    up first, and the replacement is atomic. A candidate that fails the check changes nothing.
  - Does not reload haproxy; the caller does (C(systemctl reload haproxy) keeps established connections).
  - With neither O(balance) nor O(timeouts) it only reads, and reports the matched sections' balance and the
    C(defaults) sections' (RV(defaults)), as the haproxy_balance role reads the files kolla-ansible renders.
  - Seed 002 of this collection, volume-create requests lost behind C(balance source), is the case it was made for
    (O(balance=roundrobin), O(replace=[source])), and the Galera timeouts of the same incident (O(timeouts)).
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  sections:
    description:
      - Regular expressions searched for in the names of C(backend) and C(listen) sections; a section matching any of
        them is edited.
      - Each expression must match at least one section (see O(require_match)), so a misspelt backend fails before
        anything is changed.
    type: list
    elements: str
    required: true
  balance:
    description:
      - The balance algorithm to set, such as V(roundrobin) or V(leastconn), with its arguments if it takes any.
    type: str
  replace:
    description:
      - Set O(balance) only in sections whose algorithm (their own or the inherited one) is one of these; a section
        balancing otherwise is left alone and reported as such.
      - An empty list sets O(balance) everywhere O(sections) match.
    type: list
    elements: str
    default: [source]
  timeouts:
    description:
      - C(timeout) settings to set in each matched section, by name (V(client), V(server), V(connect), ...) and
        value (such as V(90m)).
    type: dict
    default: {}
extends_documentation_fragment:
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.NO_ACTION_GROUP
  - openstack_ops.runbooks.files
  - openstack_ops.runbooks.haproxy
attributes:
  check_mode:
    support: full
    details:
      - Reports the planned changes and the diff; the candidate is not validated.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - The load balancer whose configuration is edited.
seealso:
  - module: openstack_ops.runbooks.haproxy_servers
  - name: haproxy configuration manual, balance
    description: The algorithms and what each does to a client's requests.
    link: https://docs.haproxy.org/2.6/configuration.html#4.2-balance
'''

EXAMPLES = r'''
- name: OpenStack APIs balanced round-robin instead of by source address
  openstack_ops.runbooks.haproxy_sections:
    sections: ['^nova_api', '^nova_metadata', '^cinder_api', '^placement', '^glance_api', '^neutron_server', '^keystone']
    balance: roundrobin
    replace: [source]
  register: balance_fix
  notify: Reload haproxy

- name: Galera connections survive long idle periods (seed 002)
  openstack_ops.runbooks.haproxy_sections:
    sections: ['^mariadb$', '^galera']
    timeouts: {client: 90m, server: 90m}
  notify: Reload haproxy
'''

RETURN = r'''
sections:
  description: Every matched section, what it had, and what it has now (planned, in check mode).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: nova_api_back, kind: backend, balance_before: source, inherited: false, balance: roundrobin,
       timeouts_before: {}, timeouts: {}, changed: true}
defaults:
  description: Each C(defaults) section of the file, in order, with its name (null when unnamed) and the words of
    its own C(balance) line (null when it has none).
  returned: always
  type: list
  elements: dict
  sample: [{name: null, balance: source}]
changed_sections:
  description: Names of the sections that were (or would be) changed.
  returned: always
  type: list
  elements: str
  sample: [nova_api_back, cinder_api_back]
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

import re

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import haproxy_config as cfg
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import textfile
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import file_diff


class HaproxySections(OpsModule):
    argument_spec = dict(
        cfg.FILE_ARGUMENT_SPEC,
        balance=dict(type='str'),
        replace=dict(type='list', elements='str', default=['source']),
        timeouts=dict(type='dict', default={}),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        patterns = self._check_input()
        path = self.params['path']
        before = textfile.read(path, 'the haproxy configuration')
        lines = before.splitlines(keepends=True)
        defaults = [dict(name=section.name, balance=cfg.value(lines, cfg.find(lines, section, 'balance'), 1))
                    for section in cfg.parse(lines) if section.kind == 'defaults']
        report = self._edit(lines, patterns)
        after = ''.join(lines)
        result = dict(changed=after != before, sections=report, defaults=defaults,
                      changed_sections=[section['name'] for section in report if section['changed']])
        if self.diff_mode:
            result['diff'] = file_diff(before, after, path)   # stats auth and userlist passwords masked
        if result['changed'] and not self.check_mode:
            result.update(self._replace(path, after))
        return result

    def _check_input(self):
        patterns = cfg.patterns_of(self.params['sections'])
        for name, timeout in self.params['timeouts'].items():
            if not re.fullmatch(r'[a-z][a-z-]*', str(name)) or not re.fullmatch(r'\d+(us|ms|s|m|h|d)?', str(timeout)):
                raise OpsError(f'timeouts: {name}: {timeout!r} is not an haproxy timeout (a number with an optional '
                               'unit: us, ms, s, m, h, d)', timeout=name)
        return patterns

    def _edit(self, lines, patterns):
        sections = cfg.parse(lines)
        matched = cfg.matching(sections, patterns, self.params['require_match'], self.params['path'])
        # from the last section up, so that inserted lines do not move the sections still to edit
        return [self._edit_section(lines, sections, section) for section in reversed(matched)][::-1]

    def _edit_section(self, lines, sections, section):
        own = cfg.find(lines, section, 'balance')
        defaults = next((other for other in reversed(sections[:sections.index(section)]) if other.kind == 'defaults'),
                        None)
        inherited = own is None
        balance_before = cfg.value(lines, own if own is not None else
                                   (cfg.find(lines, defaults, 'balance') if defaults else None), 1)
        entry = dict(name=section.name, kind=section.kind, balance_before=balance_before, inherited=inherited,
                     balance=balance_before, timeouts_before={}, timeouts={}, changed=False)
        inserts = []
        for name, timeout in self.params['timeouts'].items():
            index = cfg.find(lines, section, 'timeout', name)
            entry['timeouts_before'][name] = cfg.value(lines, index, 2)
            entry['timeouts'][name] = str(timeout)
            if index is None:
                inserts.append(f'timeout {name} {timeout}')
            elif entry['timeouts_before'][name] != str(timeout):
                lines[index] = cfg.rewrite(lines[index], f'timeout {name} {timeout}')
                entry['changed'] = True
        wanted = self.params['balance']
        if wanted and balance_before != wanted and (not self.params['replace'] or
                                                    (balance_before or '').split(' ', maxsplit=1)[0] in self.params['replace']):
            entry['balance'] = wanted
            if own is None:
                inserts.insert(0, f'balance {wanted}')
            else:
                lines[own] = cfg.rewrite(lines[own], f'balance {wanted}')
                entry['changed'] = True
        if inserts:
            indent = cfg.indent_of(lines, section)
            lines[section.header + 1:section.header + 1] = [f'{indent}{words}\n' for words in inserts]
            entry['changed'] = True
        return entry

    def _replace(self, path, text):
        return cfg.replace(self.module, path, text, self.params['validate'], backup=self.params['backup'],
                           prefix='.haproxy_sections.')


def main():
    HaproxySections()()


if __name__ == '__main__':
    main()

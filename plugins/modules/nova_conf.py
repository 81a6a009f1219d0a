#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: nova_conf
short_description: Set options in nova.conf, keeping its comments, and say which nova services must restart
version_added: 0.1.0
description:
  - Checks every setting in O(settings) before anything is changed, then writes them to O(path) the way
    oslo.config reads the file. A name that is not an option, or a value of the wrong type, fails the task naming
    each problem, and nothing is changed.
  - The options the seeds tune are known with their type and the nova services that read them
    (C(block_device_allocate_retries) and C(_interval) - nova-compute; C([database]) and C([api_database]) pool
    options - the services with a database; C([filter_scheduler] host_subset_size) and
    C(shuffle_best_same_weighed_hosts) - nova-scheduler; C(rpc_response_timeout) - every service). Any other option
    is taken as read by every nova service unless its C(services) say otherwise.
  - With O(nova_python), the installed nova itself is asked (its C(oslo.config.opts) entry points, as
    C(oslo-config-generator) reads them). An option nova does not have fails with the nearest names it has, and each
    value is parsed by the option's own type.
  - Only the lines of the options set are rewritten, every occurrence of each (a key set twice in a section keeps
    its last value in oslo.config; an earlier copy would mislead a reader); a missing option is added at the end of
    its section, a missing section at the end of the file. Comments, blank lines and every other line stay in place.
    An indented line continues the value above it, as oslo.config reads it, and is replaced with it.
  - The previous file is backed up next to it and the new one replaces it atomically, keeping its mode and owner.
  - Never restarts anything. RV(services) names the services that read a changed option; the nova_conf_tuning role
    restarts those found on the host, one at a time.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  path:
    description:
      - The configuration file, such as C(/etc/nova/nova.conf).
      - One of O(path) and O(kolla_config_dir) is required.
    type: path
  kolla_config_dir:
    description:
      - A kolla-ansible deploy host's C(node_custom_config) directory (C(/etc/kolla/config)), whose override files
        kolla-ansible merges into each service's nova.conf. A setting every nova service reads goes to C(nova.conf)
        there; any other to C(nova/<service>.conf) of each service that reads it (a conductor's to both
        C(nova-conductor.conf) and C(nova-super-conductor.conf)), so that C(kolla-ansible reconfigure -t nova)
        restarts only the containers whose configuration changed. Files are created as needed (mode 0640).
      - Every file is read and checked before any is written. Nothing is restarted or deployed; RV(services) names
        what the reconfigure will restart.
    type: path
  settings:
    description:
      - The options to set.
      - A setting that shortens a wait nova takes as retries x interval (C(block_device_allocate_retries) x
        C(block_device_allocate_retries_interval)) below the one in force - the file's values, or nova's defaults
        where the file sets none (60 x 3 s = 180 s; the installed nova's with O(nova_python)) - fails naming both
        totals and nothing is changed, unless O(allow_shorter_waits=true). Seed 002's boots failed because this
        wait was too short.
    type: list
    elements: dict
    default: []
    suboptions:
      section:
        description:
          - The section (oslo.config group); names other than C(DEFAULT) are compared without case.
        type: str
        default: DEFAULT
      option:
        description:
          - The option's name as the file spells it (underscores).
        type: str
        required: true
      value:
        description:
          - The value. Integer options take a number, boolean ones V(true) or V(false) (or a YAML boolean); a list
            option its comma-separated string. One line.
        type: raw
        required: true
      services:
        description:
          - For an option the module does not know, the nova services that read it (C(nova-api), C(nova-metadata),
            C(nova-conductor), C(nova-scheduler), C(nova-compute), C(nova-novncproxy), C(nova-serialproxy),
            C(nova-spicehtml5proxy)); every service when left out. For a known option it must be left out or be
            the known list.
        type: list
        elements: str
  ensure_waits:
    description:
      - Waits that must last at least this many seconds, by name; C(block_device_allocate) is nova-compute's wait
        for Cinder to create a boot volume (seed 002).
      - A wait already as long (from the file or nova's defaults) is left alone; a shorter one is lengthened by
        raising its retries and keeping its interval (nova polls every interval and goes on as soon as the volume
        is ready, so a longer wait costs nothing when Cinder is quick).
      - Its options cannot also be in O(settings).
    type: dict
    default: {}
  allow_shorter_waits:
    description:
      - Write a setting in O(settings) that makes a wait shorter than the one in force (see O(settings)).
    type: bool
    default: false
  services_here:
    description:
      - The nova services that run on this host. A setting none of them reads is left out of the file and reported
        with C(skipped=true) in RV(settings) (seed 002 - C(block_device_allocate_retries) belongs in the compute nodes'
        nova.conf, not the controllers').
      - Left out, every setting is written.
    type: list
    elements: str
  nova_python:
    description:
      - The Python interpreter nova runs with (C(/usr/bin/python3) for distribution packages, the virtualenv's
        C(bin/python) for openstack-ansible), to ask nova itself whether each option exists and takes its value.
      - Left out, only the known options' types are checked and other names are taken as given.
    type: str
  create:
    description:
      - Create O(path) (mode 0640) when it does not exist, as for a new kolla-ansible override file. Otherwise a
        missing file fails the task (a nova.conf that is not there is a wrong path).
    type: bool
    default: false
extends_documentation_fragment:
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.NO_ACTION_GROUP
  - openstack_ops.runbooks.files
attributes:
  check_mode:
    support: full
    details:
      - Checks every setting and reports what would change and the file's diff; nothing is written.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - The nova host whose configuration is edited, or the kolla-ansible deploy host for an override file.
seealso:
  - module: openstack_ops.runbooks.galera_timeouts
  - name: nova configuration options
    description: Every option of nova.conf, its type, default and meaning.
    link: https://docs.openstack.org/nova/latest/configuration/config.html
'''

EXAMPLES = r'''
- name: Seed 002 - give Cinder more time to create a boot volume (read by nova-compute only)
  openstack_ops.runbooks.nova_conf:
    path: /etc/nova/nova.conf
    settings:
      - {option: block_device_allocate_retries, value: 10}
      - {option: block_device_allocate_retries_interval, value: 10}
    nova_python: /usr/bin/python3
  register: compute_conf

- name: Seed 001 - spread concurrent migrations over the 3 best hosts (nova-scheduler)
  openstack_ops.runbooks.nova_conf:
    path: /etc/nova/nova.conf
    settings:
      - {section: filter_scheduler, option: host_subset_size, value: 3}
      - {section: filter_scheduler, option: shuffle_best_same_weighed_hosts, value: true}

- name: Seed 002 on a kolla-ansible cloud - the override only nova_compute reads; then run the reconfigure
  openstack_ops.runbooks.nova_conf:
    kolla_config_dir: /etc/kolla/config
    settings:
      - {option: block_device_allocate_retries, value: 10}
  delegate_to: localhost

- name: An option outside the known table, read by the conductors only
  openstack_ops.runbooks.nova_conf:
    path: /etc/nova/nova.conf
    settings:
      - {section: conductor, option: workers, value: 4, services: [nova-conductor]}
'''

RETURN = r'''
settings:
  description: Each setting, its value in the file before and after, and the services that read it.
  returned: always
  type: list
  elements: dict
  sample:
    - {section: database, option: max_pool_size, path: /etc/nova/nova.conf, before: '5', after: '10', changed: true,
       skipped: false, known: true,
       services: [nova-api, nova-metadata, nova-conductor, nova-scheduler, nova-novncproxy, nova-serialproxy,
                  nova-spicehtml5proxy]}
changed_settings:
  description: The settings written (or, in check mode, that would be), as C([section] option).
  returned: always
  type: list
  elements: str
  sample: ['[database] max_pool_size']
services:
  description: The nova services that read a changed setting and need a restart to use it.
  returned: always
  type: list
  elements: str
  sample: [nova-api, nova-conductor, nova-scheduler]
nova_version:
  description: The version of the nova that checked the settings.
  returned: when O(nova_python) is set
  type: str
  sample: 34.0.0
path:
  description: The file written.
  returned: with O(path)
  type: str
  sample: /etc/nova/nova.conf
backup_file:
  description: The copy of the previous file.
  returned: with O(path), when the file existed and was replaced, with O(backup=true)
  type: str
  sample: /etc/nova/nova.conf.4321.2026-11-22@12:00:00~
waits:
  description:
    - Each wait the settings or O(ensure_waits) touch, in each file, in force before and after (C(retries),
      C(interval), C(total) seconds, C(source) - V(file), V(default) or V(file and default)), whether it got
      shorter, and a C(summary) line.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: block_device_allocate, path: /etc/nova/nova.conf, shorter: false,
       before: {retries: 60, interval: 3, total: 180, source: default},
       after: {retries: 200, interval: 3, total: 600, source: file and default},
       summary: "block_device_allocate wait in /etc/nova/nova.conf: 180 s (60 x 3 s, nova's defaults) -> 600 s
         (200 x 3 s, partly nova's default)"}
files:
  description: Each file planned, the settings changed in it, and its backup when it was replaced.
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /etc/kolla/config/nova/nova-compute.conf, changed_settings: ['[DEFAULT] block_device_allocate_retries']}
'''

import os

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_options
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_waits
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import oslo_ini
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import textfile
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import file_diff


class NovaConf(OpsModule):
    argument_spec = dict(
        path=dict(type='path'),
        kolla_config_dir=dict(type='path'),
        settings=dict(type='list', elements='dict', default=[], options=dict(
            section=dict(type='str', default='DEFAULT'),
            option=dict(type='str', required=True),
            value=dict(type='raw', required=True),
            services=dict(type='list', elements='str'),
        )),
        ensure_waits=dict(type='dict', default={}),
        allow_shorter_waits=dict(type='bool', default=False),
        services_here=dict(type='list', elements='str'),
        nova_python=dict(type='str'),
        create=dict(type='bool', default=False),
        backup=dict(type='bool', default=True),
    )
    module_kwargs = dict(supports_check_mode=True, required_one_of=[('path', 'kolla_config_dir')],
                         mutually_exclusive=[('path', 'kolla_config_dir')])

    def run(self):
        if not self.params['settings'] and not self.params['ensure_waits']:
            raise OpsError('settings and ensure_waits are empty: nothing to set')
        waits = [nova_waits.wait_named(name) for name in self.params['ensure_waits']]
        wait_keys = [key for wait in nova_waits.WAITS.values() for key in wait.keys]
        changes, version, self.nova_defaults = nova_options.plan(self.params['settings'], self.params['nova_python'],
                                                                 defaults_of=wait_keys)
        here = self.params['services_here']
        if here is not None:
            unknown = sorted(set(here) - set(nova_options.SERVICES))
            if unknown:
                raise OpsError(f'services_here: {", ".join(unknown)} are not nova services '
                               f'(known: {", ".join(nova_options.SERVICES)}); nothing was changed')
        config_dir = self.params['kolla_config_dir']
        if config_dir and not os.path.isdir(config_dir):
            raise OpsError(f'kolla_config_dir {config_dir} is not a directory (kolla-ansible\'s node_custom_config, '
                           '/etc/kolla/config by default); nothing was changed', path=config_dir)
        changes += self._ensured(waits, changes, here)
        skipped = [change for change in changes if here is not None and not set(change.services) & set(here)]
        targets = nova_options.kolla_files(config_dir, changes) if config_dir else {self.params['path']: changes}
        files = [self._plan_file(path, file_changes, skipped) for path, file_changes in targets.items()]
        settings = []
        for planned in files:   # every file is read and planned before any is written
            if planned['after'] != planned['before'] and not self.check_mode:
                os.makedirs(os.path.dirname(planned['result']['path']), mode=0o755, exist_ok=True)
                planned['result'].update(textfile.replace(self.module, planned['result']['path'], planned['after'],
                                                          backup=self.params['backup'], mode=0o640, prefix='.nova_conf.'))
            settings.extend(planned['settings'])
        pending = [change for planned in files for change in planned['pending']]
        result = dict(
            changed=any(planned['after'] != planned['before'] for planned in files),
            settings=settings,
            changed_settings=list(dict.fromkeys(change.name for change in pending)),   # once each, in order
            services=nova_options.services_of(pending),
            waits=[report for planned in files for report in planned['waits']],
            files=[planned['result'] for planned in files])
        if version:
            result['nova_version'] = version
        if not config_dir:   # one file: its path and backup at the top, as other file modules return them
            result.update({key: value for key, value in files[0]['result'].items() if key in ('path', 'backup_file')})
        if self.diff_mode:
            # secrets masked on both sides: a change of a password alone shows no changed line, yet changed is true
            diffs = [file_diff(planned['before'], planned['after'], planned['result']['path']) for planned in files]
            result['diff'] = diffs[0] if len(diffs) == 1 else diffs
        return result

    def _ensured(self, waits, changes, here):
        """The settings that make each wait of ``ensure_waits`` last long enough, in the file that would hold them."""
        added = []
        for wait in waits:
            given = [change.name for change in changes if (change.group, change.key) in wait.keys]
            if given:
                raise OpsError(f'ensure_waits sets {wait.name}, whose {" and ".join(given)} settings also sets; give one')
            readers = nova_options.KNOWN[wait.retries].services
            if here is not None and not set(readers) & set(here):
                continue   # no service of this host takes the wait
            if self.params['kolla_config_dir']:
                path = next(iter(nova_options.kolla_files(self.params['kolla_config_dir'], [
                    nova_options.Change(*wait.retries, '0', readers, known=True)])))
            else:
                path = self.params['path']
            values = oslo_ini.read(textfile.read(path, 'the nova configuration'), source=path) \
                if os.path.exists(path) else {}
            settings = nova_waits.ensure(wait, values, self.params['ensure_waits'][wait.name], self.nova_defaults)
            added += nova_options.plan([dict(section=group, option=key, value=value)
                                        for (group, key), value in settings.items()])[0]
        return added

    def _plan_file(self, path, changes, skipped):
        exists = os.path.exists(path)
        if not exists and not (self.params['create'] or self.params['kolla_config_dir']):
            raise OpsError(f'{path} does not exist; nothing was changed (create: true makes a new override file)',
                           path=path)
        before = textfile.read(path, 'the nova configuration') if exists else ''
        current = oslo_ini.read(before, source=path)
        pending = [change for change in changes if change not in skipped
                   and not nova_options.same(change, current.get((change.group, change.key)))]
        after = oslo_ini.render(before, {(change.group, change.key): change.value for change in pending}, source=path)
        settings = [dict(section=change.group, option=change.key, path=path,
                         before=current.get((change.group, change.key)),
                         after=change.value if change in pending else current.get((change.group, change.key)),
                         changed=change in pending, skipped=change in skipped, known=change.known,
                         services=list(change.services))
                    for change in changes]
        result = dict(path=path, changed_settings=[change.name for change in pending])
        waits = nova_waits.check({(change.group, change.key): change.value for change in pending}, current,
                                 self.params['allow_shorter_waits'], path, self.nova_defaults)
        waits += self._unchanged_waits(path, current, waits)
        return dict(before=before, after=after, pending=pending, settings=settings, result=result, waits=waits)

    def _unchanged_waits(self, path, current, reported):
        """The waits of ensure_waits this file already holds long enough, reported as they are."""
        names = {report['name'] for report in reported}
        kept = []
        for name in self.params['ensure_waits']:
            wait = nova_waits.WAITS[name]
            here = self.params['services_here']
            if name in names or (here is not None and not set(nova_options.KNOWN[wait.retries].services) & set(here)):
                continue
            if self.params['kolla_config_dir'] and not any(key in current for key in wait.keys):
                continue   # kolla: reported where the override sets it
            state = nova_waits.in_force(wait, current, self.nova_defaults)
            kept.append(nova_waits.report(wait, path, state, state))
        return kept


def main():
    NovaConf()()


if __name__ == '__main__':
    main()

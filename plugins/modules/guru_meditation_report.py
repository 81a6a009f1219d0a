#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: guru_meditation_report
short_description: Make an OpenStack (oslo) service write its Guru Meditation Report and return its sections
version_added: 0.1.0
description:
  - Finds the service's processes (a PID, a systemd unit's main process, or a kolla container's processes through
    C(podman)/C(docker inspect)), makes each write its Guru Meditation Report, reads the report from where it lands
    and returns its sections (package, threads, green threads, processes, configuration) as data and as text.
  - "The signal is the one the process really catches, read from C(SigCgt) in C(/proc/<pid>/status): SIGUSR2
    (oslo.reports since 2015) or SIGUSR1 (older releases, seed 004's C(kill -USR1)). A process that catches neither
    is never signalled, because the signal's default action would end it. When C([oslo_reports] file_event_handler)
    is set in the service's configuration, the service catches no signal and the module touches that file instead."
  - "The report lands in C([oslo_reports] log_dir) (a C(<service>_gurumeditation_<time>) file) when the service
    sets it, otherwise on its stderr: a file (read from its size before the signal), the journal of its systemd
    unit (C(journalctl -u)), or the container's log (C(podman logs)/C(docker logs)). Paths are read through
    C(/proc/<pid>/root), so a container's own C(/etc) and C(/var/log) are read without entering it."
  - Parent and worker processes (O(scope=all)) are asked one after the other; each report is attributed to its
    process by the report's own Processes section.
  - oslo.reports masks options declared secret (C([database] connection), C(transport_url), passwords) as C(***);
    the module also masks passwords inside URLs and options whose names say password, secret or token.
  - "A process that is stopped (state T, for example by SIGSTOP) cannot run a signal handler until it is continued,
    so it is not signalled; its entry says C(no report: process stopped (state T)). A process that does not answer
    within O(timeout) gets the same kind of entry with its state; the module never waits longer."
  - Nothing else changes on the host; the result is never C(changed). In check mode the processes, the signal and
    where the reports would land are returned, and nothing is sent.
  - Run it with privileges to signal the service and read its C(/proc) entries (C(become)).
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  pid:
    description:
      - The PID of the service's process (its parent, for a service with workers).
      - One of O(pid), O(systemd_unit) or O(container) is required.
    type: int
  systemd_unit:
    description:
      - A systemd service, such as V(nova-conductor.service) or V(devstack@n-cond.service); its main process.
    type: str
  container:
    description:
      - A container running the service, such as kolla's V(nova_conductor).
    type: str
  container_engine:
    description:
      - The engine of O(container); V(auto) takes C(podman), then C(docker).
    type: str
    choices: [auto, podman, docker]
    default: auto
  signal:
    description:
      - The report's signal. V(auto) takes SIGUSR2 when the process catches it, else SIGUSR1. A signal the process
        does not catch is never sent.
    type: str
    choices: [auto, SIGUSR2, SIGUSR1]
    default: auto
  scope:
    description:
      - V(main) asks the service's first Python process (the parent); V(all) also its workers (up to
        O(max_processes)), where the threads serving requests are.
    type: str
    choices: [main, all]
    default: all
  max_processes:
    description:
      - The most processes asked, with O(scope=all).
    type: int
    default: 8
  config_files:
    description:
      - The service's configuration files, where C([oslo_reports]) is read. By default those of its command line
        (C(--config-file), C(--config-dir)), else C(/etc/<project>/<project>.conf).
    type: list
    elements: str
  timeout:
    description:
      - Seconds to wait for each process's report.
    type: int
    default: 15
  max_bytes:
    description:
      - The most bytes of each report's text returned (RV(reports[].truncated) says when it was cut); the parsed
        sections come from the whole report.
    type: int
    default: 262144
  max_threads:
    description:
      - The most threads (and green threads) of each report returned as data; RV(reports[].threads_total) counts all.
    type: int
    default: 200
extends_documentation_fragment:
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.NO_ACTION_GROUP
  - openstack_ops.runbooks.attributes.INFO_MODULE
  - openstack_ops.runbooks.attributes.PLATFORM
notes:
  - Linux only (C(/proc)). The report is also left where the service wrote it (its log, journal or log_dir).
seealso:
  - name: oslo.reports
    description: Guru Meditation Reports, their signal and the [oslo_reports] options.
    link: https://docs.openstack.org/oslo.reports/latest/user/usage.html
'''

EXAMPLES = r'''
- name: The Guru Meditation Report of kolla's nova_conductor container, parent and workers
  openstack_ops.runbooks.guru_meditation_report:
    container: nova_conductor
  become: true
  register: gmr

- name: Threads of the conductor workers
  ansible.builtin.debug:
    msg: "{{ gmr.reports | selectattr('captured') | map(attribute='threads') | list }}"

- name: A package-installed nova-compute, its parent process only, waiting at most 30 seconds
  openstack_ops.runbooks.guru_meditation_report:
    systemd_unit: openstack-nova-compute.service
    scope: main
    timeout: 30
  become: true

- name: A process by PID
  openstack_ops.runbooks.guru_meditation_report:
    pid: 4320
  become: true
'''

RETURN = r'''
target:
  description: The service asked; C(engine) is the container engine's path, C(unit) the systemd unit it runs in.
  returned: always
  type: dict
  sample: {kind: container, name: nova_conductor, main_pid: 2310, engine: /usr/bin/podman, unit: null}
signal:
  description: The signal sent (C(SIGUSR2), C(SIGUSR1)) or C(file_event_handler) when the watched file was touched.
  returned: always
  type: str
  sample: SIGUSR2
captured:
  description: How many reports were captured.
  returned: always
  type: int
  sample: 2
msg:
  description: One line for the operator.
  returned: always
  type: str
  sample: "2 of 2 Guru Meditation Reports captured (SIGUSR2)"
reports:
  description: One entry per process asked, parent first.
  returned: always
  type: list
  elements: dict
  contains:
    pid:
      description: The process.
      type: int
    captured:
      description: Whether its report was read.
      type: bool
    reason:
      description: "Why there is no report (C(null) when there is), such as C(no report: process stopped (state T)...)."
      type: str
    state:
      description: The process's state letter before the signal (C(S), C(R), C(T), ...).
      type: str
    source:
      description: "Where the report was read, such as C(stderr file: /var/log/nova/nova-conductor.out), C(journal:
        nova-conductor.service), C(container log: nova_conductor) or C(report directory: /var/log/nova/gmr)."
      type: str
    text:
      description: The report, secrets masked, at most O(max_bytes) bytes.
      type: str
    truncated:
      description: Whether RV(reports[].text) was cut to O(max_bytes).
      type: bool
    bytes:
      description: The whole report's size.
      type: int
    package:
      description: The Package section.
      type: dict
      sample: {product: OpenStack Nova, vendor: OpenStack Foundation, version: 34.0.0}
    threads:
      description: Native threads, each with its stack, innermost frame last.
      type: list
      elements: dict
      sample: [{name: "Thread #140671493774208", frames: [{file: /usr/lib/python3/dist-packages/nova/cmd/conductor.py,
               line: 53, function: main, code: service.wait()}]}]
    threads_total:
      description: How many threads the report lists.
      type: int
    green_threads:
      description: Green threads (eventlet), as RV(reports[].threads).
      type: list
      elements: dict
    green_threads_total:
      description: How many green threads the report lists.
      type: int
    processes:
      description: The Processes section.
      type: list
      elements: dict
      sample: [{pid: 2310, parent: 2301, user: nova, uid: 42436, state: sleeping, depth: 0}]
    configuration:
      description: "The configuration as the process runs it, C({group: {option: value}}), secrets as C(***)."
      type: dict
      sample: {database: {connection: "***", max_pool_size: "5"}}
    other:
      description: Sections the service registered itself, by title.
      type: dict
'''

import os
import time

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import oslo_gmr
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


class GuruMeditationReport(OpsModule):
    argument_spec = dict(
        pid=dict(type='int'),
        systemd_unit=dict(type='str'),
        container=dict(type='str'),
        container_engine=dict(type='str', choices=['auto', 'podman', 'docker'], default='auto'),
        signal=dict(type='str', choices=['auto', 'SIGUSR2', 'SIGUSR1'], default='auto'),
        scope=dict(type='str', choices=['main', 'all'], default='all'),
        max_processes=dict(type='int', default=8),
        config_files=dict(type='list', elements='str'),
        timeout=dict(type='int', default=15),
        max_bytes=dict(type='int', default=262144),
        max_threads=dict(type='int', default=200),
    )
    module_kwargs = dict(supports_check_mode=True, required_one_of=[('pid', 'systemd_unit', 'container')],
                         mutually_exclusive=[('pid', 'systemd_unit', 'container')])
    option_minimums = dict(max_processes=1, timeout=1, max_bytes=1024, max_threads=0)
    proc = '/proc'

    def _run_command(self, argv):
        return self.module.run_command(argv)

    def _which(self, name):
        return self.module.get_bin_path(name)

    def run(self):
        params = self.params
        target = oslo_gmr.resolve(params, self._run_command, self._which, self.proc)
        signal_name, pids = oslo_gmr.choose_processes(target, params['signal'], params['scope'],
                                                      params['max_processes'], self.proc)
        trigger = None
        if not pids:
            pythons = [pid for pid in oslo_gmr.tree(target.main_pid, self.proc)
                       if oslo_gmr.is_python(oslo_gmr.Proc(pid, self.proc))]
            trigger = pythons and self._options(oslo_gmr.Proc(pythons[0], self.proc))['file_event_handler']
            if not trigger:
                raise OpsError(
                    f"{target.kind} {target.name}: no Python process of it catches {signal_name} (/proc/<pid>/status "
                    "SigCgt) and no [oslo_reports] file_event_handler is set: it is not an oslo service with Guru "
                    "Meditation Reports, or its configuration is elsewhere (config_files). Nothing was sent: the "
                    "signal would have ended it.", target=target.describe(), processes=pythons)
            signal_name, pids = 'file_event_handler', pythons[:1]
        reports = []
        for pid in pids:
            reports.append(self._report(target, oslo_gmr.Proc(pid, self.proc), signal_name, trigger))
        captured = sum(1 for report in reports if report['captured'])
        verb = 'would be asked' if self.check_mode else 'captured'
        msg = (f'{len(reports)} process(es) {verb} ({signal_name})' if self.check_mode
               else f'{captured} of {len(reports)} Guru Meditation Reports captured ({signal_name})')
        return dict(changed=False, target=target.describe(), signal=signal_name, captured=captured, msg=msg,
                    reports=reports)

    def _options(self, process):
        files = self.params['config_files'] or oslo_gmr.config_files(process, oslo_gmr.project_of(process))
        return oslo_gmr.oslo_reports_options(process, files)

    def _report(self, target, process, signal_name, trigger):
        state = process.state()
        entry = dict(pid=process.pid, captured=False, reason=None, state=state, source=None, text=None,
                     truncated=False, bytes=0, **oslo_gmr.parse(''))
        landing = oslo_gmr.Landing(process, target, self._options(process), self._run_command, self._which)
        entry['source'] = landing.source()
        if self.check_mode:
            entry['reason'] = 'check mode: nothing sent'
            return entry
        if state in ('T', 't'):
            entry['reason'] = (f'no report: process stopped (state {state}); it runs no signal handler until it is '
                               'continued (SIGCONT), so no signal was sent')
            return entry
        if landing.kind == 'report directory':
            time.sleep(max(0.0, 1.0 - time.time() % 1))   # report files are named by the second: one per second
        landing.mark()
        if trigger:
            os.utime(process.root_path(trigger))
        else:
            os.kill(process.pid, oslo_gmr.SIGNALS[signal_name])
        text = oslo_gmr.wait_for_report(process, landing, self.params['timeout'])
        if text is None:
            entry['reason'] = oslo_gmr.no_report(process, self.params['timeout'])
            return entry
        text = oslo_gmr.mask(text)
        entry.update(oslo_gmr.parse(text, self.params['max_threads']))
        entry['text'], entry['truncated'] = oslo_gmr.bounded(text, self.params['max_bytes'])
        entry.update(captured=True, bytes=len(text.encode('utf-8')))
        return entry


def main():
    GuruMeditationReport()()


if __name__ == '__main__':
    main()

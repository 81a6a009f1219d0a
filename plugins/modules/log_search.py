#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: log_search
short_description: Search the OpenStack logs of this host for request ids, instance UUIDs or patterns
version_added: 0.1.0
description:
  - Finds the log files of the host it runs on, C(<root>/<project>/*.log) for every root in O(roots) and project in
    O(projects) (kolla's C(/var/log/kolla/nova/), a package's C(/var/log/nova/)) and C(<root>/<project>.log) (the
    C(/var/log/haproxy.log) rsyslog writes for a package's haproxy), rotated and gzipped ones too (C(.log.1),
    C(.log.2.gz)), plus O(paths), and, with O(journal_units), the systemd journal of those units; it returns the
    records that contain one of O(terms) or match one of O(patterns).
  - "Lines are parsed from oslo.log's formats (the current one with the global request id, and the older
    C([req-<id> <user> <project> - - -])), haproxy's HTTP and TCP log formats (with a syslog prefix such as
    C(Dec  4 15:00:00 ctl1 haproxy[123]:) or an RFC 3339 one, or none; the time is the accept date in brackets, the
    level the status: 5xx ERROR, 4xx WARNING, else INFO), Apache httpd's access log (common or combined, the level
    from the status) and error log (C([Fri Dec 04 15:00:00.123456 2026] [wsgi:error] [pid 1:tid 2] [remote
    10.0.0.1:5555] message), where mod_wsgi writes keystone's and horizon's output), and syslog or journal lines
    (C(<time> <host> <program>[<pid>]: message)) whose message is an oslo line, devstack's oslo line without date
    and pid (C(DEBUG nova.compute.manager [None req-...] ...)), a haproxy line or plain text (level INFO). A line
    that matches none of them continues the record before it (a traceback, a message with newlines)."
  - "Each record: time (ISO 8601 with the zone of O(timezone); a time written with its zone, as the journal's, an RFC
    3339 syslog prefix's and Apache's access log's are, is converted to it, and so is the time of an oslo or haproxy
    line inside a journal or RFC 3339 syslog line, read in that line's zone), host, service (the program of a syslog or
    journal line, such as C(haproxy), C(nova-conductor) or devstack's C(devstack@n-api), else the file name), pid,
    level, logger, request id (of an access log line: the first request id in it), global request id, user, project,
    instance UUIDs (from C([instance: <uuid>]) and the message, C(/servers/<uuid>) of a URL too), other UUIDs and
    request ids in the message, and the message with C(\\uXXXX) sequences decoded, secrets masked and the lines of its
    traceback. A haproxy record's message keeps the client, frontend, backend/server, timers, status, bytes and request;
    an access log record's the client, request, status and bytes."
  - With terms only, C(LC_ALL=C grep -F) (C(gzip -dc | grep) for C(.gz)) picks the lines first and only those
    are parsed; with O(patterns), or without grep, Python reads the files line by line. Files are streamed.
  - With O(since), files last written before it are skipped, and with O(until) files whose first record is after
    it; records outside the window are dropped.
  - The journal is read with C(journalctl --no-pager --all -o short-iso-precise -u <unit>... --since=@<epoch>
    --until=@<epoch>) (the window of O(since) and O(until) in whole seconds; systemd 234 or later for the output
    format), streamed, its lines filtered in Python like a file's and its entry in RV(files) has the path
    C(journal).
  - A directory or file it cannot read (permission denied) is reported in RV(problems) and skipped, never fatal;
    so are a missing C(journalctl), its failure and a journal this user may only partly read.
  - Reads only. The playbook C(openstack_ops.runbooks.trace_request) runs it on every host and follows the chain.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  terms:
    description:
      - Fixed strings (request ids, global request ids, instance UUIDs, any text) a record must contain, one of them.
    type: list
    elements: str
    default: []
  patterns:
    description:
      - Python regular expressions a record may match instead. They turn the grep pre-filter off.
    type: list
    elements: str
    default: []
  roots:
    description:
      - Directories holding one log directory per project.
    type: list
    elements: path
    default: [/var/log/kolla, /var/log]
  projects:
    description:
      - The project directories looked for under each root.
    type: list
    elements: str
    default: [nova, neutron, keystone, placement, cinder, glance, horizon, haproxy, httpd, apache2]
  paths:
    description:
      - Further files or globs to search.
    type: list
    elements: path
    default: []
  journal_units:
    description:
      - systemd units whose journal is searched as well, names or globs as C(journalctl -u) takes them
        (V(nova-*), V(devstack@n-*), V(haproxy.service)), where the services log to the journal (devstack, a
        package installed service logging to stderr). Kolla's services run in containers and log to files.
      - The default, none, reads no journal, so a host without journald costs nothing.
    type: list
    elements: str
    default: []
  since:
    description:
      - The window's start, ISO 8601 (V(2026-12-03 13:20:00), V(2026-12-03T13:20:00+08:00)). A time without a zone is
        in O(timezone).
    type: str
  until:
    description:
      - The window's end, as O(since).
    type: str
  timezone:
    description:
      - The zone the logs' times are written in, V(local) (this host's), V(UTC) or an offset such as V(+08:00).
        A line that writes its zone (the journal, an RFC 3339 syslog prefix, Apache's access log) is read in its own.
    type: str
    default: local
  host:
    description:
      - The host name put in every record. Defaults to this host's name.
    type: str
  max_records:
    description:
      - The most records returned; RV(truncated) says when more matched (they are counted in RV(matched)).
    type: int
    default: 2000
  after_lines:
    description:
      - Lines read after each matching line, where a traceback or a multi-line message continues.
    type: int
    default: 100
  use_grep:
    description:
      - Let C(grep) pre-filter the files when it is installed. V(false) reads every line in Python.
    type: bool
    default: true
extends_documentation_fragment:
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.NO_ACTION_GROUP
  - openstack_ops.runbooks.attributes.INFO_MODULE
  - openstack_ops.runbooks.attributes.PLATFORM
seealso:
  - name: oslo.log's format options
    description: logging_context_format_string, logging_default_format_string, instance_format.
    link: https://docs.openstack.org/oslo.log/latest/configuration/index.html
'''

EXAMPLES = r'''
- name: Every line of a request on this host
  openstack_ops.runbooks.log_search:
    terms: [req-a35bfb7b-6330-4c88-9d65-1f507921044c]

- name: An instance's records in a window, in UTC logs, from a copy of the logs
  openstack_ops.runbooks.log_search:
    terms: [c2963f0d-370c-43aa-8cee-0131760d6ef2]
    roots: [/srv/collected/ctl1/var/log/kolla]
    since: "2026-12-03 13:00:00"
    until: "2026-12-03 14:00:00"
    timezone: UTC

- name: A request in devstack's journal and in the haproxy log
  openstack_ops.runbooks.log_search:
    terms: [req-a35bfb7b-6330-4c88-9d65-1f507921044c, c2963f0d-370c-43aa-8cee-0131760d6ef2]
    journal_units: ['devstack@n-*', 'devstack@placement-api']
    paths: [/var/log/haproxy.log]
    since: "2026-12-03 13:00:00"

- name: Every NoValidHost of the last day
  openstack_ops.runbooks.log_search:
    patterns: ['NoValidHost']
    since: "{{ '%Y-%m-%d %H:%M:%S' | strftime(now(utc=true).timestamp() - 86400) }}"
    timezone: UTC
'''

RETURN = r'''
records:
  description:
    - The matching records, in the order of the files and their lines, then the journal's. C(pid) is null where the
      line has none (an access log), C(file) is C(journal) for the journal's records.
  returned: always
  type: list
  elements: dict
  sample:
    - time: "2026-12-03T13:22:07.309+00:00"
      host: ctl1
      service: nova-api
      file: /var/log/kolla/nova/nova-api.log
      pid: 15368
      level: INFO
      logger: nova.api.openstack.requestlog
      request_id: req-a35bfb7b-6330-4c88-9d65-1f507921044c
      global_request_id: null
      user_id: 72b83991e28f4ad7899edb062a5f58df
      project_id: e4c1e5be90884260a4a374b8cc650e13
      instances: []
      uuids: []
      request_ids: []
      message: '127.0.0.1 "POST /v2.1/servers" status: 202 len: 372 microversion: 2.95 time: 0.31'
matched:
  description: How many records matched, including those left out by O(max_records).
  returned: always
  type: int
  sample: 12
truncated:
  description: Whether more records matched than O(max_records).
  returned: always
  type: bool
  sample: false
files:
  description: Each file considered, with why it was skipped (C(null) when searched), how (C(grep) or C(python)),
    its size, mtime, records found and seconds spent.
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /var/log/kolla/nova/nova-api.log.2.gz, service: nova-api, records: 3, method: grep, skipped: null,
       size: 20480, mtime: 1796303000.0, seconds: 0.004}
    - {path: journal, units: ['devstack@n-*'], service: null, records: 5, method: journalctl, skipped: null,
       seconds: 0.2}
problems:
  description:
    - What could not be searched, one sentence each (also given as warnings) - a root or project directory this
      user may not read, no root existing, no log file found (unless a journal is read), a file that could not be
      read, journalctl missing or failing, a journal this user may only partly read. Never fatal, the rest is
      searched.
  returned: always
  type: list
  elements: str
  sample: ["/var/log/kolla/nova: not readable by this user (uid 1000): Permission denied; run the search with
           become, or as a user of the group owning the logs"]
host:
  description: The host name put in the records.
  returned: always
  type: str
  sample: ctl1
'''

import platform
import re

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import log_records
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import log_search
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


class LogSearch(OpsModule):
    argument_spec = dict(
        terms=dict(type='list', elements='str', default=[]),
        patterns=dict(type='list', elements='str', default=[]),
        roots=dict(type='list', elements='path', default=list(log_search.ROOTS)),
        projects=dict(type='list', elements='str', default=list(log_search.PROJECTS)),
        paths=dict(type='list', elements='path', default=[]),
        journal_units=dict(type='list', elements='str', default=[]),
        since=dict(type='str'),
        until=dict(type='str'),
        timezone=dict(type='str', default='local'),
        host=dict(type='str'),
        max_records=dict(type='int', default=2000),
        after_lines=dict(type='int', default=100),
        use_grep=dict(type='bool', default=True),
    )
    module_kwargs = dict(supports_check_mode=True)
    option_minimums = dict(max_records=0, after_lines=0)

    def run(self):
        params = self.params
        terms = [term for term in params['terms'] if term.strip()]
        if not terms and not params['patterns']:
            raise OpsError('give terms or patterns to search for')
        try:
            tz = log_records.log_timezone(params['timezone'])
            since, until = log_records.parse_time(params['since'], tz), log_records.parse_time(params['until'], tz)
        except ValueError as error:
            raise OpsError(f'timezone, since or until: {error}') from error
        for pattern in params['patterns']:
            try:
                re.compile(pattern)
            except re.error as error:
                raise OpsError(f'patterns: {pattern!r} is not a regular expression: {error}') from error
        problems = []
        units = [unit for unit in params['journal_units'] if unit.strip()]
        files = log_search.find_files(params['roots'], params['projects'], params['paths'], problems, bool(units))
        search = log_search.Search(params['host'] or platform.node(), terms, params['patterns'], since, until, tz,
                                   params['max_records'], params['after_lines'], params['use_grep']).run(files, units)
        problems += search.problems
        for problem in problems:
            self.module.warn(problem)
        return dict(changed=False, host=search.host, records=search.records, matched=search.matched,
                    truncated=search.matched > len(search.records), files=search.files, problems=problems)


def main():
    LogSearch()()


if __name__ == '__main__':
    main()

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
name: log_trace_report
short_description: Merge the log records of every host into one timeline and summarise the request it traces
version_added: 0.1.0
description:
  - Takes lists of records C(openstack_ops.runbooks.log_search) returned (one list per host and round), drops
    duplicates and sorts them by time across hosts (times carry their zone).
  - "Returns the trace report: C(start), C(searched), C(rounds), C(complete) (no id found is left unsearched) and
    C(not_searched), C(summary) (C(api): requestlog lines with method, path, status, microversion, seconds;
    C(actions): the API controller actions; C(scheduling): per scheduler request the hosts it started with, each
    filter's count, the filter that removed the last host (C(emptied_by); C(Placement (no allocation candidates))
    with C(no_candidates) when Placement offered none), the weighed hosts and the selected host; C(selected_hosts),
    C(computes), C(faults) with their decoded messages, C(services) reached, C(not_reached) among nova-api,
    nova-conductor, nova-scheduler, nova-compute and placement-api, the request ids, global request ids, instances
    and hosts), C(timeline) and C(text) (a line per record)."
options:
  _input:
    description: Lists of records.
    type: list
    elements: list
    required: true
  start_terms:
    description: What the trace started from.
    type: list
    elements: str
    required: true
  searched:
    description: Every id searched for.
    type: list
    elements: str
    required: true
  rounds:
    description: How many rounds ran.
    type: int
    required: true
  follow:
    description: What was followed (see C(openstack_ops.runbooks.log_trace_terms)).
    type: list
    elements: str
    default: [request_id, global_request_id, instance]
  files:
    description: The files searched per host, put in the report as they are.
    type: dict
  truncated_hosts:
    description: The hosts whose search hit its record limit.
    type: list
    elements: str
'''

EXAMPLES = r'''
- name: One timeline and its summary
  ansible.builtin.set_fact:
    trace: "{{ [records_ctl1, records_cmp1] | openstack_ops.runbooks.log_trace_report(['req-...'], searched, 3) }}"
'''

RETURN = r'''
_value:
  description: The trace report.
  type: dict
'''

from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import log_trace


def log_trace_report(batches, start_terms, searched, rounds, follow=log_trace.FOLLOW, files=None,
                     truncated_hosts=None):
    return log_trace.report(batches, start_terms, searched, int(rounds), tuple(follow), files, truncated_hosts)


class FilterModule:
    def filters(self):
        return dict(log_trace_report=log_trace_report)

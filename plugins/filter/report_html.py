# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
name: report_html
short_description: Render a runbook's JSON report as one self-contained HTML page
version_added: 0.1.0
description:
  - Turns the report a runbook writes as JSON into one HTML page a person can open from disk or from an AWX artifact
    link, with inline CSS and SVG only (no script, font or anything else from the network).
  - V(placement_audit) shows, per resource provider, a bar per resource class with the used amount, the capacity
    ((total - reserved) * allocation_ratio) and what is over capacity, and the consumers grouped by classification
    (the ones C(clean_placement) removes highlighted); large audits are grouped and cut (sums stay exact) so that a
    page of 20,000 consumers stays small.
  - V(placement_clean) shows the planned or made changes, the backups and what was restored.
  - V(placement_fit) (why NoValidHost) shows the request, the hosts that can take it and, for each host that cannot,
    the blocking resource class with the request drawn on top of what is used, and the shortfall.
  - V(cells) shows the cells and the findings of C(cell_mapping_check) grouped by kind, with the instances they
    concern, and the repairs.
  - V(conductor_recovery) shows the steps of C(recover_conductor) on a time axis with their durations and results,
    each conductor's state, each conductor's Guru Meditation Report taken before step 3 (captured or why not, its
    threads and green threads, the version, the first lines folded), the database connections read before recovery
    (grouped by user/host/database/command, the groups idle past their service's C(connection_recycle_time) or
    inside a transaction in red), the queue depths before and after, the purge and the entrance.
  - V(trace) (C(trace_request.yml)) shows what was searched, the API calls with their status, each scheduler run as a
    funnel (hosts in, then what each filter left, the host selected or the filter that left none), the error and
    fault lines, the records as swimlanes per host and service on a time axis, and the first 500 records.
  - V(tuning) (C(tune_nova.yml), C(tune_galera.yml), C(fix_haproxy_balance.yml)) shows what the run read, per host
    every setting (a MariaDB variable, a haproxy section's balance, timeout or Galera writer) with its value before
    and after, each wait's total before and after (a wait that got shorter is red), what was or would be restarted
    or reloaded, and the backups.
  - V(triage) (C(triage_instance.yml)) shows each instance's verdict, states, cell, host service, the boot step it
    stands in with the services and logs to read, its faults, actions with their request ids, its allocations, and the
    C(trace_request.yml) command for those request ids.
  - V(db_connections) shows each database node of C(inventory_db_connections) - its totals against
    C(max_connections), the findings, the connections per user/host/database/command, open transactions and lock waits.
  - V(checkup) (C(checkup.yml), schema C(openstack_ops.checkup/v1)) shows the counts per severity and the verdict
    against C(checkup_fail_on), the findings by severity then group with their numbers, evidence (drawn from whatever
    fields it has, so a new check needs no change here) and remedy command, the checks not run with why, and what is
    new, worse and fixed since the previous run.
  - Every page starts with a header naming the cloud, the time, what was run (check mode or not) and the verdict.
  - Passwords in URLs are masked as in the JSON, and values under keys that look like secrets are hidden.
options:
  _input:
    description: The report, as the runbook writes it as JSON.
    type: dict
    required: true
  kind:
    description: Which runbook's report it is.
    type: str
    required: true
    choices: [placement_audit, placement_clean, placement_fit, cells, conductor_recovery, trace, tuning, triage,
              db_connections, checkup]
  cloud:
    description: What the header calls the cloud (a C(clouds.yaml) name, a VIP, a database host). A dict of cloud
      settings is never shown, only said to be given inline.
    type: raw
  title:
    description: The page title; each kind has its own by default.
    type: str
  generated:
    description: The time the header shows (ISO 8601); by default the report's end time, else now.
    type: str
  check_mode:
    description: Whether the run was in check mode; by default the report's own C(check_mode).
    type: bool
'''

EXAMPLES = r'''
- name: Write the audit as a page beside its JSON report
  ansible.builtin.copy:
    dest: /var/tmp/placement-audit.html
    mode: "0600"
    content: "{{ audit.audit | openstack_ops.runbooks.report_html('placement_audit', cloud='prod') }}"
  delegate_to: localhost
'''

RETURN = r'''
_value:
  description: The HTML page.
  type: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import report_html as renderer


def report_html(report, kind, cloud=None, title=None, generated=None, check_mode=None):
    try:
        return renderer.render(report, kind, cloud=cloud, title=title, generated=generated, check_mode=check_mode)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f'report_html: {exc}') from exc


class FilterModule:
    def filters(self):
        return {'report_html': report_html}

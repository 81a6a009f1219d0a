# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
name: checkup_report
short_description: Turn the results of the check-up's read-only modules into findings, a report and a gate
version_added: 0.1.0
description:
  - Reads each check's module result and returns the check-up report (schema C(openstack_ops.checkup/v1)).
  - "Checks: V(placement_allocations) (C(placement_allocation) audit: per provider the leaked allocations - orphan,
    deleted instance, stale migration source - with what they hold against what is free, critical when the provider
    is over capacity; providers over capacity without a leak; allocations that cannot be verified because a cell
    is unreadable), V(cells_mappings) (C(cell_mapping_check): each kind of finding with the instances or hosts it
    concerns; a deleted instance still mapped is info, since nova keeps its mapping until C(nova-manage db
    archive_deleted_rows)), V(messaging_queues) (C(rabbitmq_queue_info): queues with messages and no consumer,
    high for RPC topics), V(conductors_ping) (C(nova_conductor_ping) per controller: a conductor that does not answer is
    critical), V(instances_stuck) (C(nova_instance_triage) of every instance in ERROR or stuck: one finding per
    verdict and step, high for instances stuck in a task_state (medium for a snapshot, disk copy, live migration or
    shelve younger than three times the threshold), medium for instances in ERROR; an unreadable cell is a medium
    C(unverifiable) finding, a selection cut at its limit an info C(limit) one)."
  - "Checks run on each host of a group, whose result is a dict of module results by host: V(galera_state)
    (C(galera_status): critical out of the Primary component, high not Synced), V(timeout_order) (C(galera_timeouts)
    with C(fail=false): high when connection_recycle_time < wait_timeout < haproxy timeout does not hold),
    V(db_connections) (C(mariadb_connection_info): each kind of its findings), V(haproxy_galera_writers)
    (C(haproxy_active_server) with C(state=present): high for a Galera section with several active servers),
    V(haproxy_balance_source) (C(haproxy_sections), read only: API backends balancing by source, own or inherited),
    V(block_device_wait) and V(scheduler_spread) (C(nova_conf) in check mode under C(conf), with C(nova_services)
    under C(services): the block-device wait total against O(options.block_device_wait), high under nova's 180 s;
    C(host_subset_size) 1 and no shuffle on scheduler hosts), V(stale_config) (C(nova_services) with C(config):
    services started before nova.conf last changed). A host not reached or whose module failed is in the check's
    C(not_run_hosts) with why; a check no host ran is V(not_run)."
  - "Each finding has C(id), C(check), C(group), C(seeds), C(subject), C(severity) (info, low, medium, high,
    critical), C(title) with the numbers, C(value) (the number a trend compares), C(evidence) and C(fix) (the
    runbook and command, C(--check --diff) first)."
  - A check whose module failed or was skipped is V(not_run) with C(why), never V(passed).
  - "The report: C(schema), C(started), C(ended), C(check_mode), C(fail_on), C(summary) (C(findings),
    C(by_severity), C(highest), C(checks_run), C(not_run), C(partly_run) (checks that ran on some hosts only),
    C(gate_failed): a finding at or above O(fail_on)), C(checks), C(findings) (most severe first), C(trend) (with
    O(previous): C(new), C(worse), C(fixed), C(same),
    keyed by finding id and subject) and C(text) (the lines printed at the end of the run)."
options:
  _input:
    description: Each selected check's module result, by check id; V(conductors_ping) is a dict of results by
      controller.
    type: dict
    required: true
  selected:
    description: The check ids that were selected; the others are V(not_selected). All when omitted.
    type: list
    elements: str
  previous:
    description: A previous run's report, to compare with.
    type: dict
  fail_on:
    description: The lowest severity that fails the gate.
    type: str
    default: high
    choices: [info, low, medium, high, critical]
  started:
    description: When the run started (ISO 8601).
    type: str
  ended:
    description: When the run ended (ISO 8601).
    type: str
  check_mode:
    description: Whether the run was in check mode (the report is the same; it says so).
    type: bool
    default: false
  options:
    description:
      - "The thresholds the checks judge by: C(block_device_wait) (seconds the block-device wait must last, 600),
        C(host_subset_size) (what tune_nova sets, 3), C(keep_source) (section name prefixes that keep balance
        source, such as V(keystone) with federation)."
    type: dict
'''

EXAMPLES = r'''
- name: The check-up report
  ansible.builtin.set_fact:
    checkup: "{{ {'placement_allocations': audit, 'messaging_queues': queues} | openstack_ops.runbooks.checkup_report }}"
'''

RETURN = r'''
_value:
  description: The check-up report.
  type: dict
'''

from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import checkup


def checkup_report(results, selected=None, previous=None, fail_on='high', started=None, ended=None, check_mode=False,
                   options=None):
    # ValueError, not AnsibleFilterError: see dev_guide (importing ansible.errors changes module unit tests)
    built = checkup.report(results, selected=selected, previous=previous or None, fail_on=fail_on, started=started,
                           ended=ended, check_mode=check_mode, options=options)
    built['text'] = checkup.text_lines(built)
    return built


class FilterModule:
    def filters(self):
        return dict(checkup_report=checkup_report)

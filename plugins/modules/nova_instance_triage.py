#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: nova_instance_triage
short_description: Where a Nova instance stands and where to look next - its step, service, actions, faults, host
version_added: 0.1.0
description:
  - For each instance in O(instances), or, when none is given, for every instance in C(ERROR) or in a task_state for
    longer than O(stuck_after), says where it stands and where to look, read from nova's own databases.
  - Its cell and instance mapping (and a build request, for a boot not yet in a cell); its C(vm_state) and
    C(task_state) mapped to the step of the boot and the services that move it on (seed 004's table - scheduling,
    networking, block_device_mapping, spawning - and nova's other task states); for an instance in C(ERROR), the
    step its fault or failed event names (C(NoValidHost) is scheduling; an instance in cell0 never had a host).
  - Its instance actions with their request ids and events (result, host, traceback), its faults (message and
    details with C(\uXXXX) escapes decoded), its migrations, its Placement allocations, and its host's
    nova-compute service (up or down by nova's own rule, disabled, forced down, last heartbeat).
  - RV(trace_request_terms) are the request ids (and instance UUIDs) to hand to C(playbooks/trace_request.yml) as
    C(trace_request_terms).
  - Read-only; it never changes anything.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  cell_timeout:
    description:
      - Seconds allowed to connect to a cell database and for each read from it. A cell that does not answer is
        listed in RV(cells) with its error, and an instance only it could hold is reported as not found there.
    type: int
    default: 10
  instances:
    description:
      - The UUIDs of the instances to triage. A UUID that matches nothing gives a RV(instances[].verdict) of
        V(not_found).
      - Empty, the module triages every instance in C(ERROR) or in a task_state for longer than O(stuck_after)
        seconds, in every readable cell, at most O(max_instances), the stuck ones first (longest first), then those in
        C(ERROR) (oldest first), so old C(ERROR) instances never crowd a stuck one out.
    type: list
    elements: str
    default: []
  max_actions:
    description:
      - The most recent instance actions reported per instance (each with all its events).
    type: int
    default: 10
  max_instances:
    description:
      - The most instances triaged when O(instances) is empty.
    type: int
    default: 20
  read_allocations:
    description:
      - Read each instance's allocations from the Placement API (the OpenStack options say which cloud).
      - A failure to read them is reported in the instance's RV(instances[].allocations) (its C(error)), not as
        the module's failure.
    type: bool
    default: true
  service_down_time:
    description:
      - nova's C([DEFAULT] service_down_time), in seconds. nova counts a service down when it is forced down, or when
        its last heartbeat (C(services.last_seen_up), else C(created_at)) is older than this.
    type: int
    default: 60
  stuck_after:
    description:
      - Seconds after which an instance in a task_state (counted from C(instances.updated_at)), or a build request,
        is stuck rather than in progress.
    type: int
    default: 600
extends_documentation_fragment:
  - openstack_ops.runbooks.mariadb.CELL_CONNECTIONS
  - openstack_ops.runbooks.openstack
  - openstack_ops.runbooks.mariadb.NOVA_DB_NESTED
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.INFO_MODULE
  - openstack_ops.runbooks.attributes.PLATFORM
attributes:
  action_group:
    support: full
    membership:
      - openstack_ops.runbooks.openstack
notes:
  - The O(nova_db) login needs C(SELECT) on nova_api and on every cell database (through the cell mappings'
    URLs, or O(cell_connections)).
  - Times are the databases' (UTC); ages are counted against the nova_api server's clock.
seealso:
  - name: openstack server show / server event list
    description: The compute API's view of the same instance, actions and events (one call per item).
    link: https://docs.openstack.org/api-ref/compute/
  - name: nova-manage cell_v2 verify_instance
    description: Whether one instance is mapped.
    link: https://docs.openstack.org/nova/latest/cli/nova-manage.html#cells-v2-commands
'''

EXAMPLES = r'''
- name: Triage one instance
  openstack_ops.runbooks.nova_instance_triage:
    cloud: prod
    nova_db:
      login_host: db.example.com
      login_user: nova_audit
      login_password: "{{ nova_audit_password }}"
    instances:
      - 2f565c93-6eec-4a74-b8e8-f55638b56da3
  register: triage

- name: Say where it stands
  ansible.builtin.debug:
    msg: "{{ triage.instances | map(attribute='summary') | list }}"

- name: Every instance in ERROR or stuck for more than 30 minutes, without asking Placement
  openstack_ops.runbooks.nova_instance_triage:
    nova_db:
      login_host: db.example.com
      login_user: nova_audit
      login_password: "{{ nova_audit_password }}"
    stuck_after: 1800
    read_allocations: false
  register: triage
'''

RETURN = r'''
cells:
  description: Every cell in C(cell_mappings), and whether its database could be read.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "cell1", "uuid": "5d2b...", "cell0": false, "reachable": true, "error": null}]
checked_at:
  description: The nova_api database's clock (UTC) when the triage started; ages are counted from it.
  returned: always
  type: str
  sample: "2026-12-03T16:40:00"
instances:
  description: One report per instance triaged, in the order given (or stuck ones first, longest first, then C(ERROR)).
  returned: always
  type: list
  elements: dict
  contains:
    instance_uuid:
      description: The instance.
      type: str
    found:
      description: Whether a cell holds the instance's row.
      type: bool
    verdict:
      description:
        - V(not_found) (no row in any readable cell, no build request), V(building) (only a build request),
          V(deleted), V(error) (vm_state C(error)), V(stuck) (in a task_state for longer than O(stuck_after)),
          V(in_progress), V(host_down) (its host's nova-compute is down), V(attention) (settled, with problems) or
          V(healthy).
      type: str
      sample: error
    summary:
      description: One line for the operator.
      type: str
      sample: "error: vm_state error, task_state none in cell cell0; step scheduling (seed 004 steps 3-12);
        read nova-api, nova-conductor, nova-scheduler, placement-api; fault: No valid host was found."
    problems:
      description: What is wrong besides the state (mapping, host service, allocations, open actions).
      type: list
      elements: str
    step:
      description: The step the task_state stands for (for C(ERROR), the step it failed in; null when settled).
      type: dict
      contains:
        name:
          description: The step (V(scheduling), V(networking), V(block_device_mapping), V(spawning), V(reboot), ...).
          type: str
        task_state:
          description: The task_state it was read from (null for a failed instance).
          type: str
        seed_steps:
          description: The steps of seed 004's boot this covers (for the four boot steps).
          type: str
        services:
          description: The services that move the step on, the first to read first.
          type: list
          elements: str
        what:
          description: What happens in that step.
          type: str
    where_to_look:
      description: Per service of the step, the host (for nova-compute and the hypervisor) and its log's paths in
        kolla and package installs.
      type: list
      elements: dict
    mapping:
      description: The instance mapping (C(exists), C(cell), C(cell_id), C(queued_for_delete)) and whether a build
        request exists (C(build_request)).
      type: dict
    cell:
      description: The cell that holds the instance.
      type: str
    cell0:
      description: Whether that is cell0 (a build that failed before it had a host).
      type: bool
    name:
      description: The display name.
      type: str
    vm_state:
      description: C(instances.vm_state).
      type: str
    task_state:
      description: C(instances.task_state).
      type: str
    host:
      description: The compute host.
      type: str
    state_age_seconds:
      description: Seconds since the instance row last changed (C(updated_at), else C(created_at)).
      type: int
    actions:
      description: The latest O(max_actions) instance actions, newest first, each with C(action), C(request_id),
        C(start_time), C(finish_time), C(message) and its C(events) (C(event), C(result), C(host), times, C(details),
        C(traceback)).
      type: list
      elements: dict
    faults:
      description: The latest five faults, newest first (C(code), C(message), C(details), C(host), C(created_at));
        C(\uXXXX) escapes decoded, details cut to their last 4000 characters.
      type: list
      elements: dict
    migrations:
      description: Its migrations, newest first, with C(in_progress).
      type: list
      elements: dict
    allocations:
      description: Its Placement allocations (C(providers) by provider uuid with C(name), C(root_provider_uuid),
        C(resources); C(error) when they could not be read); null with O(read_allocations=false).
      type: dict
    host_service:
      description: The host's nova-compute service - C(up) by nova's rule (C(rule) states it), C(disabled),
        C(disabled_reason), C(forced_down), C(last_seen_up), C(last_report_age_seconds), C(report_count).
      type: dict
    request_ids:
      description: The request ids of its actions, newest first.
      type: list
      elements: str
selection:
  description: How the instances were chosen - C(mode) V(given) or V(error_or_stuck), C(stuck_after), C(limit).
  returned: always
  type: dict
service_rule:
  description: nova's up/down rule as applied here.
  returned: always
  type: str
summary:
  description: C(triaged), and how many of each verdict (C(verdicts)).
  returned: always
  type: dict
  sample: {"triaged": 2, "verdicts": {"error": 1, "healthy": 1}}
trace_request_terms:
  description: The request ids of every instance's actions, then the instances' UUIDs - the value for
    C(trace_request_terms) of C(playbooks/trace_request.yml).
  returned: always
  type: list
  elements: str
'''

import collections

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_cells, nova_triage
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule, handled_errors
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement import RESOURCE_PROVIDERS, consumer_path
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import mask_url


class NovaInstanceTriage(OpsModule):
    argument_spec = dict(
        cell_connections=dict(type='list', elements='dict', default=[], options=nova_cells.CELL_CONNECTION_SPEC),
        cell_timeout=dict(type='int', default=10),
        instances=dict(type='list', elements='str', default=[]),
        max_actions=dict(type='int', default=10),
        max_instances=dict(type='int', default=20),
        read_allocations=dict(type='bool', default=True),
        service_down_time=dict(type='int', default=nova_triage.SERVICE_DOWN_TIME),
        stuck_after=dict(type='int', default=600),
    )
    module_kwargs = dict(supports_check_mode=True)
    option_families = ('openstack',)
    nested_families = ('nova_db',)
    option_minimums = dict(cell_timeout=1, max_actions=1, max_instances=1, service_down_time=1, stuck_after=0)

    def run(self):
        given = list(dict.fromkeys(value.strip() for value in self.params['instances']))
        bad = [value for value in given if not nova_triage.is_uuid(value)]
        if bad:
            raise OpsError(f"Not an instance UUID: {', '.join(bad)}; nothing was read", invalid=bad)
        self._providers = {}
        triage = nova_triage.Triage(
            self.nova_db, overrides=nova_cells.cell_overrides(self.params['cell_connections']),
            cell_timeout=self.params['cell_timeout'], stuck_after=self.params['stuck_after'],
            service_down_time=self.params['service_down_time'], max_actions=self.params['max_actions'],
            allocations=self._allocations if self.params['read_allocations'] else None).open()
        uuids = [value.lower() for value in given] or triage.select(self.params['max_instances'])
        reports = [triage.instance(uuid) for uuid in uuids]
        terms = [request_id for report in reports for request_id in report['request_ids']]
        terms += [report['instance_uuid'] for report in reports if report['found']]
        return dict(
            changed=False, instances=reports, cells=triage.cells_report(), checked_at=triage.now.isoformat(),
            selection=dict(mode='given' if given else 'error_or_stuck', stuck_after=self.params['stuck_after'],
                           limit=None if given else self.params['max_instances']),
            service_rule=nova_triage.SERVICE_RULE.format(seconds=self.params['service_down_time']),
            summary=dict(triaged=len(reports),
                         verdicts=dict(collections.Counter(report['verdict'] for report in reports))),
            trace_request_terms=list(dict.fromkeys(terms)))

    def _allocations(self, instance_uuid):
        """The consumer's allocations, each provider named; an error is reported, not raised."""
        try:
            client = self.placement
            body = client.get(consumer_path(instance_uuid), client.microversion) or {}
            providers = {}
            for uuid, allocation in sorted((body.get('allocations') or {}).items()):
                providers[uuid] = dict(self._provider(client, uuid), resources=allocation.get('resources', {}))
            return dict(providers=providers, error=None)
        except handled_errors() as error:
            return dict(providers={}, error=mask_url(getattr(error, 'msg', None) or str(error)))

    def _provider(self, client, uuid):
        if uuid not in self._providers:
            provider = client.get(f'{RESOURCE_PROVIDERS}/{uuid}', client.microversion) or {}
            self._providers[uuid] = dict(name=provider.get('name'),
                                         root_provider_uuid=provider.get('root_provider_uuid'))
        return self._providers[uuid]


def main():
    NovaInstanceTriage()()


if __name__ == '__main__':
    main()

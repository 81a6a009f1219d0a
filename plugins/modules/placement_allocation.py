#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: placement_allocation
short_description: Audit Placement allocations against Nova, explain NoValidHost, and clean dead allocations safely
version_added: 0.1.0
description:
  - O(action=audit) reads every resource provider (nested and sharing ones included) with its inventory of every
    resource class, custom ones included, and works out used, capacity (total minus reserved, times allocation_ratio, as Placement
    computes it) and free. It then classifies every consumer's allocation on every provider by cross-checking Nova's databases
    (nova_api's cell mappings, build requests and instance mappings, and each cell's instances, migrations and
    compute nodes), read-only.
  - The classifications are V(active) (an instance living on this provider's compute node, or on a compute node
    that shares this sharing provider), V(migration_in_progress) (a migration that is not over covers it),
    V(stale_source) (the instance lives elsewhere and no migration in progress explains this part),
    V(deleted_instance) (the instance row is deleted), V(orphan) (no instance, migration or build request anywhere,
    or only a migration that ended), V(building) (the instance or build request is younger than
    O(grace_period)), V(unverifiable) (its cell could not be read) and V(mismatched) (below).
  - Every settled instance (vm_state C(active), C(stopped), C(paused), C(suspended) or C(rescued), no task under
    way, no migration in progress) is also judged against its flavor, as Nova asks Placement for it
    (C(nova.scheduler.utils.resources_from_flavor)) - the flavor kept with the instance (C(instance_extra.flavor)),
    its C(resources[N]:CLASS) extra specs, C(hw:cpu_policy=dedicated) (flavor or image) as PCPU (one more with
    C(hw:emulator_threads_policy=isolate)), VCPU, MEMORY_MB and DISK_GB from the flavor where the extra specs do
    not name them, DISK_GB as root (none when the instance boots from a volume) + ephemeral + swap rounded up to
    GiB. When what its node (the compute node's provider tree and the sharing providers serving it) holds of
    those classes differs - a class missing, another amount, a class the flavor does not ask for, or the
    allocation on another node - every allocation of the consumer is V(mismatched), and RV(audit.consumers)
    says what differs and the allocation a repair writes. Classes Nova adds from elsewhere (ports' bandwidth,
    accelerators, PCI, vTPM, memory encryption, persistent memory) are not judged and are kept. A
    C(hw:cpu_policy=mixed) flavor is not judged. The check needs each consumer's whole allocation, so it is not
    made with O(resource_providers).
  - O(action=fit) asks Placement's C(/allocation_candidates) which hosts can take a resource request, counts how
    many copies of it each can take, and for every host that cannot, says what blocks it (the resource class and by
    how much, a trait, an aggregate, a granular group or the group policy). This gives the NoValidHost that Nova
    reports with an empty reason a reason.
  - A host is a provider tree (a compute node with its nested children); a sharing provider (trait
    C(MISC_SHARES_VIA_AGGREGATE), such as shared storage) serves every host with a provider in one of its aggregates
    and is never a host of its own. The counts follow Placement's rules for a candidate - each resource class of the
    unnumbered group from one provider of the tree or a sharing provider serving it, required traits held by those
    providers together, forbidden traits on none of them, O(member_of) on the provider or its root, each numbered
    group of a flavor from one provider with its traits, C(group_policy=isolate) on different providers - and
    agree with what Placement itself places.
  - O(action=clean) removes the allocations of the classes in O(clean_classes), and only those; for V(stale_source)
    only the stale provider's part goes and the rest of the consumer's allocation is kept. V(mismatched), only
    when named, is repaired instead - the instance's whole allocation is rewritten to what its flavor asks for,
    each class where its node already holds it (else on the compute node, else on the one provider of the node
    that has it), other classes kept, nothing left on other nodes; an instance whose right place cannot be told
    is left alone and listed in RV(unrepairable). The same backup, O(max_changes) and consumer generation apply. Each consumer's full
    allocation is saved to a JSON backup file with a checksum before anything is written. Writes carry the consumer
    generation; on a conflict the consumer is re-read and re-classified, up to O(retries) times.
  - O(action=restore) puts the consumers of a backup file back to the allocations it holds.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  action:
    description:
      - What to do. Only V(clean) and V(restore) change anything.
    type: str
    choices: [audit, clean, fit, restore]
    default: audit
  backup_dir:
    description:
      - The directory the allocation backup is written to before O(action=clean) or O(action=restore) changes
        anything. Created with mode C(0700) when missing.
      - Required for O(action=clean). For O(action=restore), unset means the directory of O(backup_file).
    type: path
  backup_file:
    description:
      - The backup file O(action=restore) reads. Its checksum is verified before anything is written.
    type: path
  clean_classes:
    description:
      - The classifications O(action=clean) removes.
      - V(mismatched) is never in the default; naming it repairs instances whose allocation differs from their
        flavor (above), and it cannot be combined with O(resource_providers) (narrow it with O(consumers)).
    type: list
    elements: str
    choices: [deleted_instance, mismatched, orphan, stale_source]
    default: [orphan, deleted_instance, stale_source]
  concurrency:
    description:
      - How many Placement requests run at the same time while reading providers.
    type: int
    default: 8
  consumers:
    description:
      - Limits O(action=clean) and O(action=restore) to these consumer UUIDs.
    type: list
    elements: str
  flavor:
    description:
      - For O(action=fit), the name of a Nova flavor whose resources and extra specs make the request, read from the
        nova_api database, as Nova makes it of Placement - C(resources:*), C(trait:*=required|forbidden),
        the granular C(resourcesN:*) and C(traitN:*) groups (also with string suffixes such as C(resources_GPU:*)),
        C(group_policy) and C(hw:cpu_policy=dedicated).
      - Mutually exclusive with O(resources).
    type: str
  forbidden_traits:
    description:
      - For O(action=fit), traits no provider of the request's unnumbered group may have, added to those of
        O(flavor). Needs Placement microversion 1.22 (Rocky) or later.
    type: list
    elements: str
    default: []
  grace_period:
    description:
      - Seconds during which a new instance without a host, or a build request, counts as V(building) and is never
        cleaned. Measured against the database server's clock.
    type: int
    default: 3600
  max_changes:
    description:
      - The most consumers O(action=clean) may change in one run. A plan that is larger fails before anything is
        written.
    type: int
    default: 100
  member_of:
    description:
      - For O(action=fit), aggregates the providers of the request's unnumbered group must be in (a provider counts
        as in an aggregate when its root is), as Nova's aggregate prefilters ask Placement. Each item is an
        aggregate UUID or C(in:UUID1,UUID2) (any of them); every item must be met.
      - Needs Placement microversion 1.21 (Rocky) or later, 1.24 for more than one item.
    type: list
    elements: str
    default: []
  nova_cell_host:
    description:
      - Connect to every cell database at this host instead of the host in its cell mapping, for when the
        address nova uses is not reachable from where the module runs.
    type: str
  required_traits:
    description:
      - For O(action=fit), traits the providers of the request's unnumbered group must have between them, added to
        those of O(flavor). Needs Placement microversion 1.17 (Queens) or later.
    type: list
    elements: str
    default: []
  placement_database:
    description:
      - Read providers, inventories and allocations straight from this database (the one C([placement_database]
        connection) in C(placement.conf) names, usually C(placement)) with the O(nova_db) login, in one consistent
        snapshot of six SELECTs, instead of two Placement API requests per provider. For large clouds, where
        those requests are what an audit waits on; the login needs SELECT on that database.
      - The fit check, O(action=clean) and O(action=restore) still ask and write through the Placement API, and a
        clean re-reads every consumer there before it writes.
      - Unset, everything is read through the API.
    type: str
  resource_providers:
    description:
      - Limits the audit, the fit check and the clean to these providers (UUIDs or names) and the trees they are
        part of. An unknown provider is an error.
      - A child provider brings its whole tree, so a clean of a child also changes its root's consumers; RV(scope)
        names the providers included without being named, and a clean warns about them (check mode too).
    type: list
    elements: str
  report:
    description:
      - How much of the audit RV(audit) returns; every allocation is read and classified whatever the choice, and
        O(action=clean) plans from the full classification.
      - V(problems) returns the consumers that hold an allocation that is not V(active) (with all their allocations,
        so the part a V(stale_source) clean keeps is visible), and the providers that hold such an allocation or
        have a resource class over capacity (with only those consumers, and counts over all of them).
      - V(full) returns every provider and every consumer. On a large cloud this is a large result (tens of MB at
        20,000 consumers) that Ansible has to scrub, serialise and template, which costs more time than the audit.
      - V(summary) returns only RV(audit.summary), RV(audit.cells) and RV(audit.complete); RV(audit.providers) and
        RV(audit.consumers) are left out.
    type: str
    choices: [full, problems, summary]
    default: problems
  resources:
    description:
      - For O(action=fit), the request as C(CLASS:AMOUNT) pairs, such as C(VCPU:1,MEMORY_MB:1024,DISK_GB:10), or as a
        dictionary of class to amount.
    type: raw
  retries:
    description:
      - How many times a write that hit a consumer generation conflict is re-planned and retried.
    type: int
    default: 3
extends_documentation_fragment:
  - openstack_ops.runbooks.openstack
  - openstack_ops.runbooks.mariadb.NOVA_DB_NESTED
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.PLATFORM
attributes:
  action_group:
    support: full
    membership:
      - openstack_ops.runbooks.openstack
  check_mode:
    support: full
    details:
      - O(action=clean) and O(action=restore) return the plan, write no backup and change nothing.
  diff_mode:
    support: full
    details:
      - The allocations of every consumer that changes (or would change), before and after.
notes:
  - The Placement microversion is negotiated with the server - its version document (C(GET /)) says the highest it
    serves, and every request is made at the highest both know, 1.38 (Xena) at most; RV(microversion) says which.
    O(action=audit) and O(action=fit) work from Pike (1.10) on; a fit request with required traits needs Queens
    (1.17), with forbidden traits, O(member_of) or granular groups Rocky (1.21 to 1.25), with string group suffixes
    Train (1.33). O(action=clean) and O(action=restore) need consumer generations (1.28, Rocky) and are refused
    below, before anything is read or written; from Xena (1.38) they also keep each consumer's type. The maximum of
    each release is Pike 1.10, Queens 1.17, Rocky 1.30, Stein 1.31, Train to Wallaby 1.36, Xena 1.38, Yoga and later
    1.39 (Placement's REST API version history).
  - An audit makes two GET requests per provider (its inventories and its allocations) run O(concurrency) at a time,
    plus one listing and a few requests for sharing providers (below 1.18, one more per provider for its traits);
    with O(placement_database), none of these, six SELECTs instead.
    Nova is read with a few queries per cell per 2,000 consumers, never one query per consumer.
  - Nova is only read. The module needs the nova_api database and, through C(cell_mappings), every cell database.
  - A cell that cannot be read makes the consumers that may live in it V(unverifiable); they are never cleaned,
    and RV(audit.complete) is V(false).
  - Placement refuses allocations beyond capacity, so a restore of allocations that were over capacity fails for
    the consumers that no longer fit; RV(failed_consumers) names them.
  - Compared with C(nova-manage placement heal_allocations) on the same data (tests/integration/test_placement_mismatch.py),
    heal_allocations starts from Nova's instances and creates the allocation of an instance that has none (this
    module starts from Placement's consumers and does not list such an instance); it leaves an existing
    allocation as it is however wrong (a missing class, another amount, another node), except for its project and
    user, unless C(--force) names one instance, whose whole allocation it then replaces with the flavor on its
    node, dropping nested and sharing parts. This module repairs all three kinds, keeps other classes, judges
    DISK_GB on a sharing provider as part of the node, and backs up and caps the change.
seealso:
  - name: nova-manage placement heal_allocations
    description: Nova's own repair, which creates missing allocations; see the notes for how this module differs.
    link: https://docs.openstack.org/nova/latest/cli/nova-manage.html#placement-heal-allocations
  - name: nova-manage placement audit
    description: Nova's own orphan finder, which this module's audit covers and extends.
    link: https://docs.openstack.org/nova/latest/cli/nova-manage.html#placement-audit
  - name: Placement API reference
    description: Resource providers, allocations and allocation candidates.
    link: https://docs.openstack.org/api-ref/placement/
'''

EXAMPLES = r'''
- name: Audit every provider and consumer
  openstack_ops.runbooks.placement_allocation:
    cloud: prod
    nova_db:
      login_host: db.example.com
      login_user: nova_audit
      login_password: "{{ nova_audit_password }}"
  register: placement_audit

- name: Fail when a provider is over capacity
  ansible.builtin.assert:
    that:
      - placement_audit.audit.summary.over_capacity | length == 0
    fail_msg: "Over capacity: {{ placement_audit.audit.summary.over_capacity | join(', ') }}"

- name: Why does a 1 vCPU / 1 GB / 10 GB server get NoValidHost?
  openstack_ops.runbooks.placement_allocation:
    cloud: prod
    nova_db:
      login_host: db.example.com
      login_user: nova_audit
      login_password: "{{ nova_audit_password }}"
    action: fit
    resources: VCPU:1,MEMORY_MB:1024,DISK_GB:10
  register: fit

- name: Show what blocks each host
  ansible.builtin.debug:
    msg: "{{ fit.fit.blocked | map(attribute='reasons') | flatten | map(attribute='reason') | list }}"

- name: Remove orphaned and doubled allocations, backing them up first
  openstack_ops.runbooks.placement_allocation:
    cloud: prod
    nova_db:
      login_host: db.example.com
      login_user: nova_audit
      login_password: "{{ nova_audit_password }}"
    action: clean
    clean_classes: [orphan, stale_source]
    backup_dir: /var/backups/placement
    max_changes: 50
  register: cleaned

- name: Rewrite the allocations of instances that differ from their flavor (audit first, check mode to review)
  openstack_ops.runbooks.placement_allocation:
    cloud: prod
    nova_db:
      login_host: db.example.com
      login_user: nova_audit
      login_password: "{{ nova_audit_password }}"
    action: clean
    clean_classes: [mismatched]
    backup_dir: /var/backups/placement
    max_changes: 20

- name: Put the allocations back from that backup
  openstack_ops.runbooks.placement_allocation:
    cloud: prod
    action: restore
    backup_file: "{{ cleaned.backups[0].path }}"
'''

RETURN = r'''
microversion:
  description: The Placement microversion every request was made at, and what the server's version document says
    it serves (with the release that serves it).
  returned: when the Placement API was called (not for an audit read from O(placement_database))
  type: dict
  sample: {"microversion": "1.36", "max_version": "1.36", "min_version": "1.0", "release": "Train to Wallaby"}
scope:
  description: With O(resource_providers), what it selected - the names given, the trees read, and the providers
    included without being named (the rest of each tree).
  returned: when O(resource_providers) is set and O(action) is not V(restore)
  type: dict
  sample: {requested: [compute1_fpga0], trees: [compute1], also_included: [compute1]}
audit:
  description: Providers, consumers and cells as the audit saw them, cut to O(report). For O(action=clean), the
    audit the plan was made from.
  returned: when O(action) is V(audit), V(fit) or V(clean)
  type: dict
  contains:
    cells:
      description: Each cell of C(cell_mappings) and whether it could be read.
      type: list
      elements: dict
      sample: [{"uuid": "1c5f...", "name": "cell1", "reachable": true, "error": null}]
    complete:
      description: Whether every cell could be read. When V(false), consumers that may live in an unread cell are
        V(unverifiable).
      type: bool
      sample: true
    consumers:
      description: Every consumer (O(report=full)) or every consumer with an allocation that is not V(active)
        (O(report=problems)), with its allocation on each provider, classified.
      returned: unless O(report=summary)
      type: list
      elements: dict
      sample: [{"uuid": "01b6377f-5b0c-4273-a24a-921f793b3004", "classifications": ["orphan"],
                "allocations": [{"provider_uuid": "b266...", "provider_name": "compute1", "classification": "orphan",
                                 "reason": "no instance, migration or build request in any cell",
                                 "resources": {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 10}}]}]
      contains:
        mismatch:
          description: For a V(mismatched) consumer, what differs from its flavor - C(flavor), C(host), C(node),
            C(compute_node), C(boot_from_volume), C(expected) (what the flavor asks for), C(held_on_node),
            C(missing), C(wrong_amount) (C(held) and C(expected) per class), C(unexpected) (classes the flavor
            does not ask for), C(wrong_provider) (what it holds on other nodes), C(target) (the allocation a repair
            writes, or null) and C(unrepairable) (why there is no target, or null).
          returned: for V(mismatched) consumers
          type: dict
          sample: {"flavor": "m1.small", "host": "compute2", "node": "compute2", "compute_node": "9a1e...",
                   "boot_from_volume": false, "expected": {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 10},
                   "held_on_node": {"VCPU": 1, "MEMORY_MB": 1024}, "missing": {"DISK_GB": 10}, "wrong_amount": {},
                   "unexpected": {}, "wrong_provider": {}, "target": {"9a1e...": {"VCPU": 1, "MEMORY_MB": 1024,
                   "DISK_GB": 10}}, "unrepairable": null}
    providers:
      description: Every provider (O(report=full)), or every provider that holds an allocation that is not V(active)
        or is over capacity in some resource class (O(report=problems)), with its inventories (C(total), C(reserved), C(allocation_ratio), C(min_unit),
        C(max_unit), C(step_size), C(used), C(capacity), C(free)), its consumers (with O(report=problems), only those
        that are not V(active)) with their classification and reason, the compute node it belongs to, and a count
        per classification of all its allocations.
      returned: unless O(report=summary)
      type: list
      elements: dict
      sample: [{"uuid": "b266...", "name": "compute1", "sharing": false, "generation": 12,
                "parent_provider_uuid": null, "root_provider_uuid": "b266...",
                "compute_node": {"host": "compute1", "node": "compute1", "cell": "cell1"},
                "inventories": {"MEMORY_MB": {"total": 7841, "reserved": 512, "allocation_ratio": 1.5,
                                              "min_unit": 1, "max_unit": 7841, "step_size": 1,
                                              "used": 11426, "capacity": 10993, "free": -433}},
                "consumers": [], "summary": {"active": 0, "orphan": 79}}]
    report:
      description: The O(report) level this audit was cut to.
      type: str
      sample: problems
    summary:
      description: How many providers and consumers, how many consumers hold an allocation that is not V(active),
        how many allocations of each classification, the names of providers with a resource class over
        capacity, and C(flavor_check) - whether instances were judged against their flavor (C(checked), V(false)
        with O(resource_providers)), how many were (C(judged)), how many differ (C(mismatched)), and how many
        settled instances could not be judged, by reason (C(not_judged)). Always over everything that was read,
        whatever O(report) is.
      type: dict
      sample: {"providers": 3, "consumers": 81, "problem_consumers": 80, "over_capacity": ["compute1"],
               "allocations": {"active": 1, "orphan": 79, "stale_source": 0, "mismatched": 0},
               "flavor_check": {"checked": true, "judged": 1, "mismatched": 0, "not_judged": {}}}
backups:
  description: The backup files written before any change, with their checksum and consumer count.
  returned: when O(action) is V(clean) or V(restore) and something changed
  type: list
  elements: dict
  sample: [{"path": "/var/backups/placement/placement-allocations-20240101T000000.000000Z.json",
            "checksum": "sha256:4f1c...", "consumers": 80}]
changes:
  description: For O(action=clean), each consumer changed (or, in check mode, to be changed), what was removed
    from which provider and why, and what was kept. A repaired V(mismatched) consumer has C(action=repaired),
    C(removed) the previous allocation of each provider that changes, C(kept) the whole allocation written,
    C(before) the whole allocation before, and C(mismatch) what differed.
  returned: when O(action=clean)
  type: list
  elements: dict
  sample: [{"consumer_uuid": "01b6...", "action": "trimmed", "attempts": 1,
            "removed": {"b266...": {"classification": "stale_source", "resources": {"MEMORY_MB": 1024}}},
            "kept": {"9a1e...": {"MEMORY_MB": 1024}}}]
unrepairable:
  description: For O(action=clean) with V(mismatched) in O(clean_classes), the mismatched instances left alone
    because where a class belongs cannot be told (it is split over several providers of the node, or several
    could take it), with the reason.
  returned: when O(action=clean)
  type: list
  elements: dict
  sample: [{"consumer_uuid": "01b6...", "reason": "DISK_GB is split over 2 providers of its node (...)"}]
failed_consumers:
  description: For O(action=restore), the consumers Placement refused to restore, with its reason.
  returned: when O(action=restore); on failure, under C(details)
  type: list
  elements: dict
  sample: []
fit:
  description: The fit check of the request.
  returned: when O(action=fit)
  type: dict
  contains:
    blocked:
      description: Each host Placement offers no candidate on, with the reasons; a reason about free capacity
        gives C(requested), C(capacity), C(used), C(free), C(shortfall), C(max_unit), C(min_unit) and
        C(step_size) of the provider that came closest (a sharing provider is named as such). Never a host
        Placement offers.
      type: list
      elements: dict
      sample: [{"uuid": "b266...", "name": "compute1", "fits": 0, "reasons": [{
                "resource_class": "MEMORY_MB", "requested": 1024, "capacity": 10993, "used": 11426, "free": -433,
                "shortfall": 1457, "reason": "MEMORY_MB: asks 1024, only 0 free: ..."}]}]
    candidates:
      description: Each host Placement offers, with how many copies of the request it could take on its own (its
        sharing providers' free capacity included) and the sharing providers Placement offers with it.
      type: list
      elements: dict
      sample: [{"uuid": "b266...", "name": "compute1", "fits": 9, "sharing_providers": ["nfs"]}]
    fits:
      description: Whether any provider can take the request.
      type: bool
      sample: false
    request:
      description: The unnumbered group (C(resources), C(required_traits), C(forbidden_traits), C(member_of)),
        the numbered C(groups) by suffix, and C(group_policy).
      type: dict
      sample: {"resources": {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 10}, "required_traits": [],
               "forbidden_traits": [], "member_of": [], "groups": {}, "group_policy": null}
    total_fits:
      description: How many copies of the request fit over all candidates at once, placed host after host (in name
        order) so that a sharing provider's capacity is counted once, not once per host it serves.
      type: int
      sample: 9
restored:
  description: For O(action=restore), the consumers put back (or, in check mode, to be put back).
  returned: when O(action=restore)
  type: list
  elements: dict
  sample: [{"consumer_uuid": "01b6...", "attempts": 1}]
'''

import os.path
import uuid

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import (
    placement_backup,
    placement_audit,
    placement_classify,
    placement_clean,
    placement_db,
    placement_fit,
    placement_nova_state,
    placement_state,
)
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


class PlacementAllocation(OpsModule):
    argument_spec = dict(
        action=dict(type='str', choices=['audit', 'clean', 'fit', 'restore'], default='audit'),
        backup_dir=dict(type='path'),
        backup_file=dict(type='path'),
        clean_classes=dict(type='list', elements='str',
                           choices=list(placement_classify.CLEANABLE + placement_classify.REPAIRABLE),
                           default=list(placement_classify.CLEANABLE)),
        concurrency=dict(type='int', default=8),
        consumers=dict(type='list', elements='str'),
        flavor=dict(type='str'),
        forbidden_traits=dict(type='list', elements='str', default=[]),
        grace_period=dict(type='int', default=3600),
        max_changes=dict(type='int', default=100),
        member_of=dict(type='list', elements='str', default=[]),
        nova_cell_host=dict(type='str'),
        placement_database=dict(type='str'),
        report=dict(type='str', choices=list(placement_audit.REPORTS), default=placement_audit.PROBLEMS),
        required_traits=dict(type='list', elements='str', default=[]),
        resource_providers=dict(type='list', elements='str'),
        resources=dict(type='raw'),
        retries=dict(type='int', default=3),
    )
    module_kwargs = dict(
        supports_check_mode=True,
        mutually_exclusive=[('flavor', 'resources')],
        required_if=[('action', 'fit', ('flavor', 'resources'), True),
                     ('action', 'restore', ('backup_file',))],
    )
    option_families = ('openstack',)
    nested_families = ('nova_db',)
    option_minimums = dict(concurrency=1, grace_period=0, max_changes=0, retries=0)

    def run(self):
        self._validate()
        action = self.params['action']
        if action in ('clean', 'restore'):
            placement_clean.require_safe_writes(self.placement, action)
        if action == 'restore':
            return dict(self._restore(), microversion=self.placement.negotiate())
        request = self._fit_request() if action == 'fit' else None
        state, nova = self._read(self.params['resource_providers'])
        report = self.params['report']
        # The flavor check needs each consumer's whole allocation, so every provider read.
        check_flavors = not self.params['resource_providers']
        if action == 'clean':
            # The plan needs every consumer that is not active, with all of its allocations.
            result = self._clean(state, placement_audit.audit(
                state, nova, self.params['grace_period'],
                placement_audit.PROBLEMS if report == placement_audit.SUMMARY else report, check_flavors))
        else:
            result = dict(changed=False, audit=placement_audit.audit(
                state, nova, self.params['grace_period'], report, check_flavors))
            if action == 'fit':
                result['fit'] = placement_fit.fit(self.placement, state, request)
        if action != 'audit' or not self.params['placement_database']:
            result['microversion'] = self.placement.negotiate()
        if self.params['resource_providers']:
            result['scope'] = placement_state.scope(state.providers, self.params['resource_providers'])
            if action == 'clean' and result['scope']['also_included']:
                self.warn(f"resource_providers covers whole trees: the clean also covers "
                          f"{', '.join(result['scope']['also_included'])}, which were not named")
        return result

    def _validate(self):
        bad = [value for value in self.params['consumers'] or () if not _is_uuid(value)]
        if bad:
            raise OpsError(f"Invalid consumer UUID(s): {', '.join(bad)}", invalid=bad)
        if self.params['action'] == 'clean' and not self.check_mode and not self.params['backup_dir']:
            raise OpsError('action=clean needs backup_dir: every allocation is backed up before it is changed')
        if (self.params['action'] == 'clean' and placement_classify.MISMATCHED in self.params['clean_classes']
                and self.params['resource_providers']):
            raise OpsError('clean_classes mismatched cannot be combined with resource_providers: an instance is judged '
                           'against its flavor on its whole allocation, which only a read of every provider shows. '
                           'Narrow the repair with consumers instead.')

    def _read(self, providers):
        """Placement, and at the same time (in a thread of its own) what Nova knows about its consumers."""
        if self.params['placement_database']:
            state = placement_db.read(self.nova_db.sibling(self.params['placement_database']), providers)
            return state, self._nova_source().read(state.consumers())
        feed = placement_nova_state.NovaFeed(self._nova_source())
        try:
            state = placement_state.PlacementState.read(
                self.placement, providers, self.params['concurrency'], on_allocations=feed.put)
        except BaseException:
            feed.stop()
            raise
        return state, feed.result()

    def _nova_source(self):
        """Where Nova is read: the nova_api connection, and the host that replaces the cells' when set."""
        override = {'host': self.params['nova_cell_host']} if self.params['nova_cell_host'] else None
        return placement_nova_state.NovaSource(self.nova_db, override)

    def _fit_request(self):
        """The fit check's request (placement_fit.make_request), checked before anything is read."""
        if self.params['flavor']:
            request = placement_fit.flavor_request(self.nova_db, self.params['flavor'])
        else:
            request = placement_fit.make_request(placement_fit.parse_resources(self.params['resources']))
        unnumbered = request['groups'][placement_fit.UNNUMBERED]
        unnumbered['required'] = placement_fit.check_traits(
            list(dict.fromkeys(unnumbered['required'] + self.params['required_traits'])))
        unnumbered['forbidden'] = placement_fit.check_traits(
            list(dict.fromkeys(unnumbered['forbidden'] + self.params['forbidden_traits'])))
        unnumbered['member_of'] += placement_fit.parse_member_of(self.params['member_of'])
        return request

    def _clean(self, state, audit):
        classes = self.params['clean_classes']
        only = set(self.params['consumers']) if self.params['consumers'] is not None else None
        plan = placement_clean.plan_clean(audit, classes, only)
        skipped = placement_clean.unrepairable(audit, classes, only)
        placement_clean.enforce_cap(plan, self.params['max_changes'])
        # Check mode returns these change records; a real run executes them.
        changes = placement_clean.plan_changes(audit, plan)
        backups = []
        if not self.check_mode:
            cleaner = placement_clean.Cleaner(
                self.placement, classes,
                placement_clean.reclassifier(state, self._nova_source(), self.params['grace_period'], classes),
                self.params['backup_dir'], self.params['retries'],
                rejudge=placement_clean.rejudger(state, self._nova_source(), self.params['grace_period']))
            changes = cleaner.apply(changes) if changes else []
            backups = cleaner.backups
        result = dict(changed=bool(changes), audit=audit, changes=changes, backups=backups, unrepairable=skipped)
        if self.params['report'] == placement_audit.SUMMARY:
            result['audit'] = placement_audit.summarize(audit)
        if self.diff_mode:
            held = placement_clean.held_allocations(audit)
            result['diff'] = dict(
                before={change['consumer_uuid']: held[change['consumer_uuid']] for change in changes},
                after={change['consumer_uuid']: change['kept'] for change in changes})
        return result

    def _restore(self):
        document = placement_backup.read(self.params['backup_file'])
        saved = document['consumers']
        if self.params['consumers'] is not None:
            missing = sorted(set(self.params['consumers']) - set(saved))
            if missing:
                raise OpsError(f"Consumer(s) not in the backup {self.params['backup_file']}: {', '.join(missing)}")
            saved = {consumer: saved[consumer] for consumer in self.params['consumers']}
        restorer = placement_clean.Restorer(self.placement, self.params['retries'])
        plan = restorer.plan(saved)
        backups, failed = [], []
        if self.check_mode:
            restored = [dict(consumer_uuid=consumer, attempts=0) for consumer in sorted(plan)]
        elif plan:
            backup_dir = self.params['backup_dir'] or _directory_of(self.params['backup_file'])
            path, digest = placement_backup.write(
                backup_dir, {consumer: placement_backup.snapshot(current) for consumer, (current, _saved) in plan.items()})
            backups.append(dict(path=path, checksum=digest, consumers=len(plan)))
            restored, failed = restorer.apply(plan)
        else:
            restored = []
        result = dict(changed=bool(restored), restored=restored, failed_consumers=failed, backups=backups)
        if self.diff_mode:
            done = {entry['consumer_uuid'] for entry in restored}
            result['diff'] = dict(
                before={c: _resources(current) for c, (current, _saved) in plan.items() if c in done},
                after={c: _resources(snapshot) for c, (_current, snapshot) in plan.items() if c in done})
        if failed:
            raise OpsError(f'{len(failed)} consumer(s) could not be restored, {len(restored)} were: '
                           + '; '.join(f"{entry['consumer_uuid']}: {entry['error']}" for entry in failed),
                           restored=restored, failed_consumers=failed, backups=backups)
        return result


def _resources(allocation):
    return {provider: body['resources'] for provider, body in (allocation.get('allocations') or {}).items()}


def _directory_of(path):
    return os.path.dirname(os.path.abspath(path))


def _is_uuid(value):
    try:
        return str(uuid.UUID(value)) == value.lower()
    except (ValueError, AttributeError, TypeError):
        return False


def main():
    PlacementAllocation()()


if __name__ == '__main__':
    main()

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit report: every allocation classified, providers with inventory figures, cut to a report level.

What it is made from lives beside it: Placement's state in placement_state (or
placement_db), Nova's in placement_nova_state, the judgement of each allocation
in placement_classify. The report only puts them together and counts.
"""

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement_classify import (
    ACTIVE,
    CLASSIFICATIONS,
    Classifier,
)

# How much of the audit is returned: everything, what needs attention, or counts only.
FULL = 'full'
PROBLEMS = 'problems'
SUMMARY = 'summary'
REPORTS = (FULL, PROBLEMS, SUMMARY)


def audit(placement, nova, grace_period, report=FULL, check_flavors=True):
    """The audit result: providers with inventory figures and classified consumers.

    ``report`` chooses how much of it is returned (every allocation is classified whatever it is):
    V(full) every provider and consumer; V(problems) only the consumers with an allocation that is not
    active (with all their allocations) and the providers that hold one or are short of a resource class
    (with only those consumers); V(summary) only the counts, the cells and the over-capacity names.
    """
    if report not in REPORTS:
        raise OpsError(f"report must be one of {', '.join(REPORTS)}, not {report!r}")
    classifier = Classifier(placement, nova, grace_period, check_flavors)
    consumers = {}
    providers = []
    over_capacity = []
    for uuid in sorted(placement.providers, key=lambda uuid: (placement.providers[uuid]['name'], uuid)):
        entries = _classify_provider(classifier, uuid, consumers)
        inventories = placement.inventory_report(uuid)
        short = any(inv['free'] < 0 for inv in inventories.values())
        if short:
            over_capacity.append(placement.providers[uuid]['name'])
        counts = _count(entry['classification'] for entry in entries)
        if report == PROBLEMS:
            entries = [entry for entry in entries if entry['classification'] != ACTIVE]
            if not (short or entries):
                continue
        elif report == SUMMARY:
            continue
        providers.append(_provider_entry(classifier, uuid, inventories, entries, counts))
    allocations = _count(a['classification'] for held in consumers.values() for a in held)
    problem_consumers = sorted(consumer for consumer, held in consumers.items()
                               if any(a['classification'] != ACTIVE for a in held))
    result = dict(
        report=report,
        cells=_cells(nova),
        complete=not nova.unreachable_cells,
        summary=dict(
            providers=len(placement.providers),
            consumers=len(consumers),
            problem_consumers=len(problem_consumers),
            allocations=allocations,
            over_capacity=sorted(over_capacity),
            flavor_check=_flavor_summary(classifier, check_flavors),
        ),
    )
    if report != SUMMARY:
        listed = sorted(consumers) if report == FULL else problem_consumers
        result.update(providers=providers, consumers=[
            _consumer_entry(classifier, consumer, consumers[consumer]) for consumer in listed])
    return result


def _consumer_entry(classifier, consumer, allocations):
    entry = dict(uuid=consumer, allocations=allocations,
                 classifications=sorted({a['classification'] for a in allocations}))
    mismatch = classifier.mismatch(consumer)
    if mismatch is not None:
        entry['mismatch'] = mismatch
    return entry


def _flavor_summary(classifier, checked):
    """How many settled instances were judged against their flavor, how many differ, and why others were not."""
    judged = mismatched = 0
    not_judged = {}
    for was_judged, mismatch, why_not in classifier.flavor_checks.values():
        if why_not:
            not_judged[why_not] = not_judged.get(why_not, 0) + 1
        judged += was_judged
        mismatched += mismatch is not None
    return dict(checked=checked, judged=judged, mismatched=mismatched, not_judged=not_judged)


def _classify_provider(classifier, uuid, consumers):
    """The provider's entry for each of its consumers; each allocation is also added to ``consumers``."""
    provider = classifier.placement.providers[uuid]
    entries = []
    for consumer, resources in sorted(provider['allocations'].items()):
        classification, reason = classifier.classify(consumer, uuid)
        entries.append(dict(consumer_uuid=consumer, classification=classification, reason=reason,
                            resources=resources))
        consumers.setdefault(consumer, []).append(dict(
            provider_uuid=uuid, provider_name=provider['name'], classification=classification,
            reason=reason, resources=resources))
    return entries


def _provider_entry(classifier, uuid, inventories, entries, counts):
    """A provider as the report lists it: where it sits, its inventory figures and its consumers."""
    provider = classifier.placement.providers[uuid]
    compute_uuid = classifier.compute_of(uuid)
    node = classifier.nova.compute_nodes.get(compute_uuid) if compute_uuid else None
    return dict(
        uuid=uuid, name=provider['name'], generation=provider['generation'],
        parent_provider_uuid=provider['parent_provider_uuid'],
        root_provider_uuid=provider['root_provider_uuid'],
        sharing=uuid in classifier.placement.sharing,
        compute_node=dict(host=node['host'], node=node['node'],
                          cell=classifier.cell_name(node['cell'])) if node else None,
        inventories=inventories,
        consumers=entries,
        summary=counts)


def _cells(nova):
    """Every cell and whether it could be read, by name: an unread one is why an audit is not complete."""
    return [dict(uuid=uuid, name=cell['name'], reachable=cell['reachable'], error=cell['error'])
            for uuid, cell in sorted(nova.cells.items(), key=lambda item: (item[1]['name'] or '', item[0]))]


def summarize(audit_result):
    """The same audit cut down to report=summary."""
    result = {key: value for key, value in audit_result.items() if key not in ('providers', 'consumers')}
    result['report'] = SUMMARY
    return result


def _count(classifications):
    counts = dict.fromkeys(CLASSIFICATIONS, 0)
    for classification in classifications:
        counts[classification] += 1
    return counts

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cloud check-up: the results of the collection's read-only modules turned into findings (an id, the seed it
comes from, a severity with the numbers, the evidence and the runbook that fixes it), one report, a comparison with
a previous run, and the gate a change window uses.

Each check reads one module's result. A check whose module failed is "not run", with why, never "passed".
"""

SCHEMA = 'openstack_ops.checkup/v1'
SEVERITIES = ('info', 'low', 'medium', 'high', 'critical')
LEAKED = ('orphan', 'deleted_instance', 'stale_source')
# id -> (group, seeds, what it looks for)
CHECKS = {
    'placement_allocations': ('placement', ['000'], 'Placement allocations nobody uses, and providers over capacity'),
    'cells_mappings': ('cells', ['000'], 'cells v2 mappings that make instances vanish from the API'),
    'messaging_queues': ('messaging', ['003'], 'RabbitMQ queues that pile up with no consumer'),
    'conductors_ping': ('messaging', ['003'], 'nova-conductors that do not answer an RPC ping'),
}
CLEAN = ('ansible-playbook openstack_ops.runbooks.clean_placement -e @placement.yml --check --diff  '
         '# then without --check')
CHECK_CELLS = ('ansible-playbook openstack_ops.runbooks.check_cells -e @cells.yml -e \'{{"check_cells_repair": '
               '["{kind}"]}}\' --check --diff  # then without --check')
RECOVER = ('ansible-playbook openstack_ops.runbooks.recover_conductor -i inventory --check --diff  '
           '# then without --check')
# cell_mapping_check's kinds: how close each is to seed 000's vanished VM
CELL_SEVERITY = dict(instance_without_mapping='high', mapping_to_missing_cell='high', mapping_to_wrong_cell='high',
                     cell_unreachable='high', mapping_without_cell='medium', compute_host_without_mapping='medium',
                     host_mapping_to_missing_cell='medium', host_mapping_to_missing_host='low',
                     mapping_to_deleted_instance='low', mapping_to_archived_instance='low')
UNITS = dict(MEMORY_MB='MB', DISK_GB='GB', VCPU='VCPU')


def rank(severity):
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def _finding(check, subject, severity, title, value, evidence, fix, kind=None):
    group, seeds, _what = CHECKS[check]
    return dict(id=f'{check}.{kind}' if kind else check, check=check, group=group, seeds=list(seeds),
                subject=subject, severity=severity, title=title, value=value, evidence=evidence, fix=fix)


def _amount(resource_class, amount):
    unit = UNITS.get(resource_class)
    return f'{amount} {unit} of {resource_class}' if unit and unit != resource_class else f'{amount} {resource_class}'


# ---------------------------------------------------------------- the checks


def placement_allocations(result):
    """Per provider: the leaked allocations (orphan, deleted instance, stale migration source) and what they hold
    against what is free; over capacity is critical (seed 000's boots fail with NoValidHost)."""
    audit = result.get('audit') or {}
    findings = []
    over = set((audit.get('summary') or {}).get('over_capacity') or [])
    for provider in audit.get('providers') or []:
        name = provider.get('name') or provider.get('uuid')
        leaked, consumers = {}, set()
        for consumer in provider.get('consumers') or []:
            if consumer.get('classification') in LEAKED:
                consumers.add(consumer.get('consumer_uuid'))
                for rc, amount in (consumer.get('resources') or {}).items():
                    leaked[rc] = leaked.get(rc, 0) + amount
        inventories = provider.get('inventories') or {}
        if leaked:
            worst = max(leaked, key=lambda rc: leaked[rc] / max((inventories.get(rc) or {}).get('capacity') or 1, 1))
            inventory = inventories.get(worst) or {}
            share = leaked[worst] / max(inventory.get('capacity') or 1, 1)
            severity = 'critical' if name in over else 'high' if share >= 0.25 else 'medium'
            title = (f'{len(consumers)} leaked consumer(s) hold {_amount(worst, leaked[worst])} on {name}; '
                     f'{_amount(worst, inventory.get("free"))} free')
            findings.append(_finding('placement_allocations', name, severity, title, leaked[worst], dict(
                provider=provider.get('uuid'), leaked=leaked, consumers=sorted(consumers),
                classes=provider.get('summary') or {},
                capacity={rc: inv.get('capacity') for rc, inv in inventories.items()},
                free={rc: inv.get('free') for rc, inv in inventories.items()}), CLEAN, kind='leaked'))
        elif name in over:
            classes = sorted(rc for rc, inv in inventories.items() if (inv.get('free') or 0) < 0)
            findings.append(_finding('placement_allocations', name, 'high',
                                     f'{name} is over capacity in {", ".join(classes)} with no leaked allocation '
                                     '(allocation ratios or reserved changed under running instances)',
                                     len(classes), dict(provider=provider.get('uuid'), free={
                                         rc: inventories[rc].get('free') for rc in classes}),
                                     'Compare the allocation ratios and reserved amounts with what the instances use; '
                                     'nothing to clean', kind='over_capacity'))
    mismatched = sorted({c.get('consumer_uuid') for p in audit.get('providers') or [] for c in p.get('consumers') or []
                         if c.get('classification') == 'mismatched'})
    if mismatched:
        findings.append(_finding('placement_allocations', 'instances', 'medium',
                                 f'{len(mismatched)} instance(s) hold allocations that differ from their flavor or sit '
                                 'on another node than theirs', len(mismatched), dict(consumers=mismatched[:200]),
                                 CLEAN.replace('--check', '-e \'{"clean_placement_classes": ["mismatched"]}\' --check', 1),
                                 kind='mismatched'))
    unverifiable = ((audit.get('summary') or {}).get('allocations') or {}).get('unverifiable') or 0
    if unverifiable:
        unread = [c.get('name') for c in audit.get('cells') or [] if not c.get('reachable')]
        findings.append(_finding('placement_allocations', 'cells', 'medium',
                                 f'{unverifiable} allocation(s) cannot be verified: cell(s) {", ".join(unread)} '
                                 'could not be read, so no orphan can be cleaned', unverifiable,
                                 dict(unread_cells=unread), 'Make every cell database readable, then run again',
                                 kind='unverifiable'))
    return findings


def cells_mappings(result):
    """Each kind of cell_mapping_check finding, with the instances or hosts it concerns."""
    kinds = {}
    for finding in result.get('findings') or []:
        kinds.setdefault(finding.get('type'), []).append(finding)
    findings = []
    for kind, found in sorted(kinds.items()):
        subjects = [f.get('instance_uuid') or f.get('host') or f.get('cell') for f in found]
        repair = next((f.get('repair') for f in found if f.get('repair')), None)
        findings.append(_finding(
            'cells_mappings', kind, CELL_SEVERITY.get(kind, 'medium'),
            f'{len(found)} {kind.replace("_", " ")}: {found[0].get("message")}' if len(found) == 1 else
            f'{len(found)} {kind.replace("_", " ")} (first: {found[0].get("message")})', len(found),
            dict(subjects=subjects[:200], more=max(len(subjects) - 200, 0)),
            CHECK_CELLS.format(kind=repair) if repair else 'Not repaired by the collection: see the message',
            kind=kind))
    return findings


def messaging_queues(result, stale_after=1):
    """Queues with messages and no consumer: RPC topics nobody serves (seed 003's piled-up conductor queues)."""
    findings = []
    for queue in result.get('queues') or []:
        ready = queue.get('messages_ready') or 0
        if queue.get('consumers') == 0 and ready >= stale_after:
            name = queue.get('name') or ''
            rpc = name.split('.', 1)[0] in ('conductor', 'scheduler', 'compute')
            severity = 'high' if rpc else 'low' if name.startswith('reply_') else 'medium'
            findings.append(_finding(
                'messaging_queues', f'{queue.get("vhost")} {name}', severity,
                f'{ready} message(s) wait in {name} (vhost {queue.get("vhost")}) with no consumer', ready,
                dict(queue=name, vhost=queue.get('vhost'), messages_ready=ready,
                     messages_unacknowledged=queue.get('messages_unacknowledged')),
                RECOVER if name.startswith('conductor') else
                'Find the service that should consume it; purge it with rabbitmq_purge (archive first) if nobody will',
                kind='no_consumer'))
    return findings


def conductors_ping(results):
    """results: {controller: nova_conductor_ping result}."""
    findings = []
    for host, ping in sorted((results or {}).items()):
        if not ping.get('answered'):
            findings.append(_finding(
                'conductors_ping', host, 'critical',
                f'nova-conductor on {host} did not answer an RPC ping ({ping.get("error") or "no answer"})',
                1, dict(consumers=ping.get('consumers'), attempts=ping.get('attempts'), error=ping.get('error'),
                        elapsed=ping.get('elapsed')), RECOVER, kind='unanswered'))
    return findings


READERS = dict(placement_allocations=placement_allocations, cells_mappings=cells_mappings,
               messaging_queues=messaging_queues, conductors_ping=conductors_ping)


# ---------------------------------------------------------------- the report


def _failed(result):
    """Why a module's result (or a dict of per-host results) is no result, or None."""
    if not isinstance(result, dict):
        return 'no result'
    if result.get('skipped'):
        return result.get('skip_reason') or 'skipped'
    if result.get('failed'):
        return str(result.get('msg') or 'the module failed')
    return None


def _key(finding):
    return f'{finding["id"]} {finding["subject"]}'


def compare(findings, previous, ran):
    """What is new, what got worse (severity up or its number grew), and what was fixed (gone, from a check that
    ran this time: a check that did not run fixed nothing) since the previous report."""
    before = {_key(f): f for f in (previous or {}).get('findings') or []}
    now = {_key(f): f for f in findings}
    worse = [k for k in now if k in before and (rank(now[k]['severity']) > rank(before[k]['severity']) or (
        isinstance(now[k].get('value'), (int, float)) and isinstance(before[k].get('value'), (int, float))
        and now[k]['value'] > before[k]['value']))]
    return dict(previous=(previous or {}).get('ended'), new=sorted(set(now) - set(before)), worse=sorted(worse),
                fixed=sorted(k for k in set(before) - set(now) if before[k]['check'] in ran),
                same=len(set(now) & set(before)) - len(worse))


def report(results, selected=None, previous=None, fail_on='high', started=None, ended=None, check_mode=False):
    """results: {check id: module result, or for conductors_ping {host: result}}; a check not in results was not
    selected. Returns the check-up report (SCHEMA)."""
    if fail_on not in SEVERITIES:
        raise ValueError(f"fail_on must be one of {', '.join(SEVERITIES)}, not {fail_on!r}")
    checks, findings = [], []
    for check, (group, seeds, what) in CHECKS.items():
        entry = dict(id=check, group=group, seeds=seeds, what=what)
        if selected is not None and check not in selected:
            checks.append(dict(entry, status='not_selected', findings=0))
            continue
        result = (results or {}).get(check)
        if check == 'conductors_ping' and isinstance(result, dict) and result and all(
                isinstance(r, dict) for r in result.values()):
            why = '; '.join(f'{host}: {reason}' for host, reason in (
                (host, _failed(r) if 'answered' not in r else None) for host, r in sorted(result.items())) if reason)
        else:
            why = _failed(result) if result is not None else 'no result (the check did not run)'
        if why:
            checks.append(dict(entry, status='not_run', why=why, findings=0))
            continue
        found = READERS[check](result)
        findings.extend(found)
        checks.append(dict(entry, status='found' if found else 'passed', findings=len(found),
                           highest=max((f['severity'] for f in found), key=rank, default=None)))
    findings.sort(key=lambda f: (-rank(f['severity']), f['id'], str(f['subject'])))
    by_severity = {severity: sum(1 for f in findings if f['severity'] == severity) for severity in SEVERITIES}
    highest = max((f['severity'] for f in findings), key=rank, default=None)
    return dict(
        schema=SCHEMA, started=started, ended=ended, check_mode=bool(check_mode), fail_on=fail_on,
        summary=dict(findings=len(findings), by_severity=by_severity, highest=highest,
                     checks_run=sum(1 for c in checks if c['status'] in ('passed', 'found')),
                     not_run=[c['id'] for c in checks if c['status'] == 'not_run'],
                     gate_failed=highest is not None and rank(highest) >= rank(fail_on)),
        checks=checks, findings=findings,
        trend=compare(findings, previous, {c['id'] for c in checks if c['status'] in ('passed', 'found')})
        if previous else None)


def text_lines(checkup):
    """The report as an operator reads it at the end of the run."""
    summary = checkup['summary']
    lines = [f"Check-up: {summary['findings']} finding(s), highest {summary['highest'] or 'none'}; "
             f"{summary['checks_run']} check(s) run, not run: {', '.join(summary['not_run']) or 'none'}"]
    for check in checkup['checks']:
        if check['status'] == 'not_run':
            lines.append(f"NOT RUN {check['id']}: {check['why']}")
    for finding in checkup['findings']:
        lines.append(f"{finding['severity'].upper()} {finding['id']} (seed {', '.join(finding['seeds'])}): "
                     f"{finding['title']} -> {finding['fix']}")
    trend = checkup.get('trend')
    if trend:
        lines.append(f"Since {trend['previous']}: new {len(trend['new'])}, worse {len(trend['worse'])}, "
                     f"fixed {len(trend['fixed'])}, unchanged {trend['same']}")
        lines.extend(f'  worse: {key}' for key in trend['worse'])
        lines.extend(f'  new: {key}' for key in trend['new'])
        lines.extend(f'  fixed: {key}' for key in trend['fixed'])
    return lines

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cloud check-up: the results of the collection's read-only modules turned into findings (an id, the seed it
comes from, a severity with the numbers, the evidence and the runbook that fixes it), one report, a comparison with
a previous run, and the gate a change window uses.

Each check reads one module's result. A check whose module failed is "not run", with why, never "passed".
"""

import json

SCHEMA = 'openstack_ops.checkup/v1'
SEVERITIES = ('info', 'low', 'medium', 'high', 'critical')
LEAKED = ('orphan', 'deleted_instance', 'stale_source')
# id -> (group, seeds, what it looks for)
CHECKS = {
    'placement_allocations': ('placement', ['000'], 'Placement allocations nobody uses, and providers over capacity'),
    'cells_mappings': ('cells', ['000'], 'cells v2 mappings that make instances vanish from the API'),
    'messaging_queues': ('messaging', ['003'], 'RabbitMQ queues that pile up with no consumer'),
    'conductors_ping': ('messaging', ['003'], 'nova-conductors that do not answer an RPC ping'),
    'galera_state': ('database', ['003'], 'Galera nodes out of the Primary component, not Synced, or missing'),
    'timeout_order': ('database', ['003'], 'connection_recycle_time < MariaDB wait_timeout < haproxy timeouts'),
    'db_connections': ('database', ['003'], 'database connections idle past their limits, long-held or stuck'),
    'haproxy_galera_writers': ('haproxy', ['002'], 'Galera sections of haproxy that send writes to several nodes'),
    'haproxy_balance_source': ('haproxy', ['002'], 'OpenStack API backends balancing by source address'),
    'block_device_wait': ('nova', ['002'], "nova-compute's wait for a boot volume (retries x interval)"),
    'scheduler_spread': ('nova', ['001'], 'scheduler settings that spread concurrent boots and migrations'),
    'stale_config': ('nova', ['004'], 'nova services running an older nova.conf than the file'),
    'instances_stuck': ('nova', ['004', '000'], 'instances in ERROR, stuck in a task_state, or on a host that is down'),
}
# The checks run on each host of a group (database, haproxy or nova hosts): their result is {host: module result}
# and a host that was not reached or whose module failed is not run, with why, while the others are read.
HOST_CHECKS = ('galera_state', 'timeout_order', 'db_connections', 'haproxy_galera_writers', 'haproxy_balance_source',
               'block_device_wait', 'scheduler_spread', 'stale_config')
CLEAN = ('ansible-playbook openstack_ops.runbooks.clean_placement -e @placement.yml --check --diff  '
         '# then without --check')
CHECK_CELLS = ('ansible-playbook openstack_ops.runbooks.check_cells -e @cells.yml -e \'{{"check_cells_repair": '
               '["{kind}"]}}\' --check --diff  # then without --check')
RECOVER = ('ansible-playbook openstack_ops.runbooks.recover_conductor -i inventory --check --diff  '
           '# then without --check')
# cell_mapping_check's kinds: how close each is to seed 000's vanished VM. nova keeps a deleted server's mapping (and
# its soft-deleted row) until `nova-manage db archive_deleted_rows` removes both, so a mapping to a deleted instance
# is info: otherwise every healthy cloud that ever deleted a server would have a finding.
CELL_SEVERITY = dict(instance_without_mapping='high', mapping_to_missing_cell='high', mapping_to_wrong_cell='high',
                     cell_unreachable='high', mapping_without_cell='medium', compute_host_without_mapping='medium',
                     host_mapping_to_missing_cell='medium', host_mapping_to_missing_host='low',
                     mapping_to_deleted_instance='info', mapping_to_archived_instance='low')
UNITS = dict(MEMORY_MB='MB', DISK_GB='GB', VCPU='VCPU')
TUNE_GALERA = ('ansible-playbook openstack_ops.runbooks.tune_galera -i inventory{extra} --check --diff  '
               '# then without --check')
TUNE_NOVA = 'ansible-playbook openstack_ops.runbooks.tune_nova -i inventory -l {host}{extra} --check --diff  # then without --check'
FIX_HAPROXY = ('ansible-playbook openstack_ops.runbooks.fix_haproxy_balance -i inventory -l {host} --check --diff  '
               '# then without --check')
INVENTORY_DB = ('ansible-playbook openstack_ops.runbooks.inventory_db_connections -e inventory_db_connections_hosts={host}'
                '  # names each client; nothing kills a connection')
# mariadb_connection_info's kinds: how close each is to seed 003's conductors stuck on dead connections
DB_SEVERITY = dict(wait_timeout_below_recycle='high', wait_timeout_above_haproxy='high', idle_beyond_haproxy='high',
                   connections_near_max='high', idle_in_transaction='high', long_held='medium',
                   long_transaction='medium', lock_wait='medium')
# nova's defaults for what tune_nova sets (seed 001: host_subset_size 1 sends every request to the one best host)
NOVA_WAIT_DEFAULT = 180   # block_device_allocate_retries 60 x block_device_allocate_retries_interval 3 s


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


# ---------------------------------------------------------------- the checks run on each host of a group


def galera_state(host, result):
    """galera_status on one node (it fails naming what is wrong; its values come with the failure, in details)."""
    if not result.get('failed'):
        return []
    msg = result.get('msg')
    result = result.get('details') or {}
    status, state = result.get('cluster_status'), result.get('local_state')
    if status == 'Disconnected' or not result.get('connected'):
        # Galera stopped on the node, or a server in the Galera group that is not a Galera node (wsrep_provider unset)
        severity, kind = 'critical', 'disconnected'
    elif status != 'Primary':
        severity, kind = 'critical', 'not_primary'
    elif state != 'Synced' or not result.get('ready'):
        severity, kind = 'high', 'not_synced'
    else:
        severity, kind = 'medium', 'size'
    title = (f'Galera node {host}: {status}, {state}, cluster size {result.get("cluster_size")}'
             f'{"" if result.get("ready") else ", not ready"}{"" if result.get("connected") else ", not connected"} '
             f'({msg})')
    return [_finding('galera_state', host, severity, title, result.get('cluster_size'), dict(
        cluster_status=status, local_state=state, cluster_size=result.get('cluster_size'), ready=result.get('ready'),
        connected=result.get('connected')),
        'Find why the node left the Primary component or is not Synced (mariadb logs, wsrep_* status) before any '
        'change: ' + TUNE_GALERA.format(extra='') + ' refuses to run until every node is Synced', kind=kind)]


def timeout_order(host, result):
    """galera_timeouts (fail=false): connection_recycle_time < wait_timeout < the haproxy timeouts, with the numbers."""
    if result.get('holds', True):
        return []
    recycle, wait = result.get('connection_recycle_time'), result.get('wait_timeout')
    haproxy = result.get('haproxy_timeout')
    fix = _timeout_order_fix(host, recycle, haproxy)
    # the value: by how many seconds the first broken link of the order is out
    if recycle is not None and wait is not None and recycle >= wait:
        kind, value = 'recycle_after_wait_timeout', recycle - wait
    else:
        kind, value = 'wait_timeout_after_haproxy', (wait or 0) - (haproxy or 0)
    evidence = dict(connection_recycle_time=recycle, wait_timeout=wait, haproxy_timeout=haproxy,
                    recycle_times=result.get('recycle_times'), haproxy_timeouts=result.get('haproxy_timeouts'))
    return [_finding('timeout_order', host, 'high', f'{host}: {result.get("msg")}', round(value), evidence, fix,
                     kind=kind)]


def _timeout_order_fix(host, recycle, haproxy):
    """The commands that restore recycle < wait_timeout < haproxy, from the numbers (each step leaves room)."""
    if recycle is None:
        return TUNE_GALERA.format(extra='')
    if haproxy is None:   # only wait_timeout is out of order: put it above the recycle time
        return TUNE_GALERA.format(extra=f' -e galera_tuning_wait_timeout={int(recycle * 1.5) + 60}')
    if haproxy - recycle > 2:
        return TUNE_GALERA.format(extra=f' -e galera_tuning_wait_timeout={int(recycle + (haproxy - recycle) // 2)}')
    # the recycle time is at or above haproxy's cut: lower it to a third of haproxy's timeout, wait_timeout between
    target = max(1, int(haproxy // 3))
    lower = TUNE_NOVA.format(
        host=host, extra=f' -e \'{{"nova_conf_tuning_database_pool": {{"connection_recycle_time": {target}}}}}\'')
    return (f'First lower connection_recycle_time below the haproxy timeout ({lower}), then '
            + TUNE_GALERA.format(extra=f' -e galera_tuning_wait_timeout={int(target + (haproxy - target) // 2)}'))


def db_connections(host, result):
    """mariadb_connection_info's findings on one node, one finding per kind and service."""
    findings = []
    totals = result.get('totals') or {}
    for found in result.get('findings') or []:
        kind = found.get('kind')
        subject = f'{host} {found["service"]}' if found.get('service') else host
        if kind in ('wait_timeout_below_recycle', 'wait_timeout_above_haproxy'):
            fix = TUNE_GALERA.format(extra='')
        elif kind == 'connections_near_max':
            fix = TUNE_GALERA.format(extra=' -e galera_tuning_max_connections=<more>') + '; ' + INVENTORY_DB.format(host=host)
        else:
            fix = INVENTORY_DB.format(host=host)
        value = totals.get('threads_connected') if kind == 'connections_near_max' else found.get('count')
        findings.append(_finding('db_connections', subject, DB_SEVERITY.get(kind, 'medium'),
                                 f'{host}: {found.get("message")}', value, dict(
                                     service=found.get('service'), count=found.get('count'),
                                     threads=found.get('threads'), server=(result.get('server') or {}).get('where'),
                                     wait_timeout=(result.get('variables') or {}).get('wait_timeout'),
                                     connections=totals.get('connections'),
                                     max_connections=totals.get('max_connections')), fix, kind=kind))
    return findings


def haproxy_galera_writers(host, result):
    """haproxy_active_server (state=present): Galera sections with several active servers (seed 002)."""
    findings = []
    for section in result.get('sections') or []:
        active = section.get('active_before') or section.get('active') or []
        if len(active) > 1:
            findings.append(_finding(
                'haproxy_galera_writers', f'{host} {section.get("name")}', 'high',
                f'haproxy on {host} sends Galera writes to {len(active)} nodes in {section.get("name")} '
                f'({", ".join(active)}): a read on one node may not yet see a write committed through another',
                len(active), dict(section=section.get('name'), servers=section.get('servers'), active=active),
                FIX_HAPROXY.format(host=host), kind='multi_writer'))
        elif section.get('allbackups'):
            findings.append(_finding(
                'haproxy_galera_writers', f'{host} {section.get("name")}', 'medium',
                f'{section.get("name")} on {host} has option allbackups: every backup takes writes at once when '
                f'{", ".join(active) or "the active server"} is down', len(section.get('servers') or []),
                dict(section=section.get('name'), servers=section.get('servers'), active=active),
                FIX_HAPROXY.format(host=host), kind='allbackups'))
    return findings


def haproxy_balance_source(host, result, keep=()):
    """haproxy_sections (read only): API backends balancing by source, their own line or the inherited one."""
    source = []
    for section in result.get('sections') or []:
        words = str(section.get('balance_before') or section.get('balance') or '').split()
        if words[:1] == ['source'] and not any(str(section.get('name')).startswith(k) for k in keep):
            source.append(section)
    if not source:
        return []
    names = [s.get('name') for s in source]
    inherited = [s.get('name') for s in source if s.get('inherited')]
    return [_finding('haproxy_balance_source', host, 'medium',
                     f'{len(source)} API backend(s) on {host} balance by source: {", ".join(names)}'
                     f'{" (inherited from defaults: " + ", ".join(inherited) + ")" if inherited else ""}; '
                     'every request of a client goes to one backend, and a request lost with it is lost '
                     '(seed 002), while the load piles on one API server', len(source),
                     dict(sections=names, inherited=inherited), FIX_HAPROXY.format(host=host), kind='source')]


def _services(result):
    """The nova services nova_services found on the host, or None when it could not tell (not systemd)."""
    services = result.get('services') if isinstance(result, dict) and not _failed(result) else None
    return sorted(services) if services else None


def block_device_wait(host, result, wanted=600):
    """nova_conf (check mode, ensure_waits): the block_device_allocate wait in force against the wanted one.

    result: {conf: nova_conf result, services: nova_services result}; judged where nova-compute runs (or on every
    host when the services cannot be told)."""
    services = _services(result.get('services'))
    if services is not None and 'nova-compute' not in services:
        return []
    findings = []
    for wait in (result.get('conf') or {}).get('waits') or []:
        if wait.get('name') != 'block_device_allocate':
            continue
        before = wait.get('before') or {}
        total = before.get('total')
        if total is None or total >= wanted:
            continue
        severity = 'high' if total < NOVA_WAIT_DEFAULT else 'medium'
        sources = {'default': "nova's defaults", 'file': 'set in the file'}
        source = sources.get(before.get('source'), "partly nova's default")
        findings.append(_finding(
            'block_device_wait', host, severity,
            f'nova-compute on {host} waits {total} s for a boot volume ({before.get("retries")} x '
            f'{before.get("interval")} s, {source}; nova default 60 x 3 s = {NOVA_WAIT_DEFAULT} s), under the '
            f'{wanted} s a bulk boot from volume needs: boots fail when Cinder is slower (seed 002)',
            wanted - total, dict(path=wait.get('path'), retries=before.get('retries'), interval=before.get('interval'),
                                 total=total, wanted=wanted, source=before.get('source'), services=services),
            TUNE_NOVA.format(host=host, extra=f' -e nova_conf_tuning_block_device_wait={wanted}'), kind='short'))
    return findings


def _setting(conf, option):
    return next((s for s in (conf or {}).get('settings') or [] if s.get('option') == option), None)


def scheduler_spread(host, result, subset=3):
    """nova_conf (check mode): [filter_scheduler] host_subset_size and shuffle_best_same_weighed_hosts in force
    (nova's defaults 1 and false send every concurrent request to the one best host, seed 001); judged where
    nova-scheduler runs (or on every host when the services cannot be told)."""
    services = _services(result.get('services'))
    if services is not None and 'nova-scheduler' not in services:
        return []
    conf = result.get('conf') or {}
    findings = []
    size = _setting(conf, 'host_subset_size')
    if size is not None:
        text = size.get('before')
        try:
            current = int(text) if text not in (None, '') else 1
        except ValueError:
            current = None
        if current is not None and current <= 1:
            findings.append(_finding(
                'scheduler_spread', host, 'medium',
                f'nova-scheduler on {host}: host_subset_size {current}{" (nova default)" if text in (None, "") else ""}: '
                'every request goes to the one best-weighed host, so concurrent migrations all land on it (seed 001)',
                current, dict(path=size.get('path'), host_subset_size=text, wanted=subset, services=services),
                TUNE_NOVA.format(host=host, extra=f' -e nova_conf_tuning_host_subset_size={subset}'), kind='subset'))
    shuffle = _setting(conf, 'shuffle_best_same_weighed_hosts')
    if shuffle is not None and str(shuffle.get('before') or 'false').strip().lower() not in ('true', '1', 'yes', 'on'):
        findings.append(_finding(
            'scheduler_spread', host, 'low',
            f'nova-scheduler on {host}: shuffle_best_same_weighed_hosts {shuffle.get("before") or "false (nova default)"}: '
            'hosts of equal weight are always tried in the same order', 0,
            dict(path=shuffle.get('path'), shuffle_best_same_weighed_hosts=shuffle.get('before'), services=services),
            TUNE_NOVA.format(host=host, extra=''), kind='no_shuffle'))
    return findings


def stale_config(host, result):
    """nova_services (with config): the services whose process started before nova.conf last changed (seed 004)."""
    stale = {name: info for name, info in sorted((result.get('services') or {}).items()) if info.get('stale')}
    if not stale:
        return []
    changed = result.get('config_changed')
    older = {name: round(changed - info['started']) for name, info in stale.items()
             if changed is not None and info.get('started') is not None}
    return [_finding(
        'stale_config', host, 'medium',
        f'{len(stale)} nova service(s) on {host} run an older nova.conf than the file: '
        + ', '.join(f'{name} (started {older[name]} s before the file changed)' if name in older else name
                    for name in stale), len(stale),
        dict(services={name: dict(unit=info.get('unit'), main_pid=info.get('main_pid'), started=info.get('started'))
                       for name, info in stale.items()}, config_changed=changed),
        TUNE_NOVA.format(host=host, extra='') + ' restarts, one at a time, those that read a setting it manages; '
        'any other: systemctl restart ' + ' '.join(info.get('unit') or name for name, info in stale.items()),
        kind='older_than_file')]


# nova_instance_triage's verdicts that are findings: how close each is to seed 004's hung boots (a service that
# no longer moves an instance on) or seed 000's failed ones. Steps that often outlast checkup_stuck_after on a
# healthy cloud (a big disk copied or uploaded) are medium until three times that.
TRIAGE_SEVERITY = dict(stuck='high', error='medium')
LONG_STEPS = ('snapshot', 'resize: moving the disk', 'live migration', 'shelve')
TRIAGE = ('ansible-playbook openstack_ops.runbooks.triage_instance -e @nova_db.yml -e \'{{"triage_instance_instances": '
          '{uuids}}}\'  # then trace_request.yml with the trace_request_terms it prints')


def _stuck_severity(verdict, step, oldest, stuck_after):
    if verdict == 'stuck' and step in LONG_STEPS and (oldest or 0) < 3 * (stuck_after or 0):
        return 'medium'
    return TRIAGE_SEVERITY[verdict]


def instances_stuck(result):
    """nova_instance_triage of every instance in ERROR or stuck: one finding per verdict and step, with its instances
    (the longest in that state first), the services to read and the triage that says more; a cell it could not read
    (its instances unseen) and a selection cut at its limit are said too."""
    selection = result.get('selection') or {}
    groups = {}
    for instance in result.get('instances') or []:
        verdict = instance.get('verdict')
        if verdict in TRIAGE_SEVERITY:
            step = (instance.get('step') or {}).get('name') or 'unknown step'
            groups.setdefault((verdict, step), []).append(instance)
    findings = []
    for (verdict, step), found in sorted(groups.items()):
        found.sort(key=lambda i: -(i.get('state_age_seconds') or 0))
        uuids = [i.get('instance_uuid') for i in found]
        services = (found[0].get('step') or {}).get('services') or []
        oldest = found[0].get('state_age_seconds')
        what = dict(stuck=f'stuck in {step}', error=f'in ERROR (failed in {step})')[verdict]
        findings.append(_finding(
            'instances_stuck', f'{verdict} {step}', _stuck_severity(verdict, step, oldest, selection.get('stuck_after')),
            f'{len(found)} instance(s) {what}'
            + (f', the oldest for {round(oldest)} s' if oldest is not None else '')
            + (f'; read {", ".join(services)}' if services else ''), len(found),
            dict(instances=uuids[:50], more=max(len(uuids) - 50, 0), services=services,
                 hosts=sorted({i.get('host') for i in found if i.get('host')}),
                 first=found[0].get('summary')),
            TRIAGE.format(uuids=json.dumps(uuids[:20])) + (f' (the first 20 of {len(uuids)})' if len(uuids) > 20 else ''),
            kind=verdict))
    unread = [cell for cell in result.get('cells') or [] if not cell.get('reachable')]
    if unread:
        findings.append(_finding(
            'instances_stuck', 'cells', 'medium',
            f'{len(unread)} cell database(s) could not be read, so their instances were not triaged: '
            + ', '.join(f'{cell.get("name")} ({cell.get("error")})' for cell in unread), len(unread),
            dict(cells=[dict(name=cell.get('name'), uuid=cell.get('uuid'), error=cell.get('error')) for cell in unread]),
            'Check the cell_mappings database_connection of each (nova-manage cell_v2 list_cells --verbose) and that '
            'this controller reaches it', kind='unverifiable'))
    limit = selection.get('limit')
    if limit and len(result.get('instances') or []) >= limit:
        findings.append(_finding(
            'instances_stuck', 'limit', 'info',
            f'checkup_max_triaged ({limit}) instances triaged: there may be more in ERROR (stuck ones come first)',
            limit, dict(limit=limit), 'Raise checkup_max_triaged, or run triage_instance.yml', kind='limit'))
    return findings


READERS = dict(placement_allocations=placement_allocations, cells_mappings=cells_mappings,
               messaging_queues=messaging_queues, conductors_ping=conductors_ping, galera_state=galera_state,
               timeout_order=timeout_order, db_connections=db_connections,
               haproxy_galera_writers=haproxy_galera_writers, haproxy_balance_source=haproxy_balance_source,
               block_device_wait=block_device_wait, scheduler_spread=scheduler_spread, stale_config=stale_config,
               instances_stuck=instances_stuck)


# ---------------------------------------------------------------- the controller's background jobs


def _stopped_by(job):
    return 'checkup_ping_timeout + 60' if job.get('check') == 'conductors_ping' else 'checkup_check_timeout'


def _job_result(job, collected, wait_msg):
    """One job's result as the report reads it (see job_results)."""
    launch = job.get('job')
    jid = launch.get('ansible_job_id') if isinstance(launch, dict) else None
    if jid is None:
        return launch   # skipped (not selected), or its launch failed: that result is the check's
    result = collected.get(job.get('key'))
    if result is None:
        return dict(failed=True, msg=f'no result: job {jid} was started but not collected ({wait_msg})')
    msg = result.get('msg')
    if not result.get('finished'):
        return dict(result, failed=True, msg=f'no result after waiting {int(job.get("bound")) + 10} s: job {jid} was '
                                             f'still running' + (f' ({msg})' if msg else ''))
    if msg == 'Timeout exceeded' and 'child_pid' in result:
        # async_wrapper stopped the job at its bound (async: <bound>) and wrote this in its place
        return dict(result, msg=f'no result within {job.get("bound")} s ({_stopped_by(job)}): the check was stopped')
    stderr = str(result.get('stderr') or '').strip()
    if result.get('failed') and isinstance(msg, str) and 'No start of json char found' in msg and stderr:
        # the module died before it could answer (an import error, a crash): its last line of stderr says why
        return dict(result, msg='MODULE FAILURE: ' + stderr.splitlines()[-1])
    return result


def job_results(jobs, collected=None, conductors=(), pings=None):
    """The controller's checks as report() reads them, from their background jobs (async with poll 0).

    jobs: [{key, check, job (the launch's registered result), bound (seconds given to async), server (a ping's
    controller)}]; collected: the async_status wait's registered loop result (its items are the jobs); conductors:
    checkup_conductors; pings: the ping launch task's registered result. Returns {check: module result}, with
    conductors_ping {controller: result}. A launch with no job id (skipped, or failed) is the check's result; a job
    not collected, not finished, stopped at its bound or whose module crashed is a failed result with why, never a
    launch result read as the module's.
    """
    collected = collected or {}
    by_key = {result['item'].get('key'): result for result in collected.get('results') or []
              if isinstance(result.get('item'), dict)}
    out = dict(conductors_ping={})
    for job in jobs or []:
        result = _job_result(job, by_key, collected.get('msg', 'the wait was skipped'))
        if job.get('check') == 'conductors_ping':
            out['conductors_ping'][job.get('server')] = result
        else:
            out[job.get('check')] = result
    if not conductors:
        out['conductors_ping'] = dict(skipped=True, skip_reason='no controller named in checkup_conductors')
    elif not out['conductors_ping']:
        out['conductors_ping'] = dict(failed=True, msg=f'no ping was started ({(pings or {}).get("msg", "no result")})')
    return out


# ---------------------------------------------------------------- the report


def _failed(result):
    """Why a module's result (or a dict of per-host results) is no result, or None."""
    if not isinstance(result, dict):
        return 'no result'
    if result.get('unreachable'):
        return 'unreachable: ' + str(result.get('msg') or 'the host could not be reached')
    if result.get('skipped'):
        return result.get('skip_reason') or 'skipped'
    if result.get('failed'):
        return str(result.get('msg') or 'the module failed')
    return None


def _host_failed(check, result):
    """Why one host's result of a check run on each host is no result, or None."""
    if check in ('block_device_wait', 'scheduler_spread') and isinstance(result, dict) and 'conf' in result:
        result = result['conf']
    why = _failed(result)
    if not why and check == 'stale_config' and not result.get('services'):
        # nova_services leaves out what has no unit: nothing was compared, so the check did not run (never passed)
        return ('nova_services found no nova systemd unit on this host (nova in containers, as kolla runs it?): '
                'no service start time to compare with nova.conf')
    if why and check == 'galera_state' and not result.get('unreachable') and (
            result.get('details') or {}).get('cluster_status') is not None:
        return None   # galera_status fails naming what is wrong with the node: a finding, not a check that did not run
    return why


def _read_hosts(check, results, options):
    """(findings, {host: why not run}) of a check run on each host; results: {host: result}."""
    findings, not_run = [], {}
    kwargs = dict(block_device_wait=dict(wanted=options.get('block_device_wait', 600)),
                  scheduler_spread=dict(subset=options.get('host_subset_size', 3)),
                  haproxy_balance_source=dict(keep=tuple(options.get('keep_source') or ()))).get(check, {})
    for host, result in sorted(results.items()):
        why = _host_failed(check, result)
        if why:
            not_run[host] = why
        else:
            findings.extend(READERS[check](host, result, **kwargs))
    return findings, not_run


def _key(finding):
    return f'{finding["id"]} {finding["subject"]}'


def compare(findings, previous, ran):
    """What is new, what got worse (severity up or its number grew), and what was fixed (gone, from a check that
    ran this time: a check or a host that did not run fixed nothing) since the previous report.
    ran: {check id: the hosts it did not run on} of the checks that ran (on at least one host)."""
    before = {_key(f): f for f in (previous or {}).get('findings') or []}
    now = {_key(f): f for f in findings}
    worse = [k for k in now if k in before and (rank(now[k]['severity']) > rank(before[k]['severity']) or (
        isinstance(now[k].get('value'), (int, float)) and isinstance(before[k].get('value'), (int, float))
        and now[k]['value'] > before[k]['value']))]
    return dict(previous=(previous or {}).get('ended'), new=sorted(set(now) - set(before)), worse=sorted(worse),
                fixed=sorted(k for k in set(before) - set(now) if before[k]['check'] in ran
                             and str(before[k]['subject']).split(' ', 1)[0] not in ran[before[k]['check']]),
                same=len(set(now) & set(before)) - len(worse))


def report(results, selected=None, previous=None, fail_on='high', started=None, ended=None, check_mode=False,
           options=None):
    """results: {check id: module result, or for conductors_ping and HOST_CHECKS {host: result}, or a skipped result
    saying why no host ran it}; a check not in results was not selected. options: block_device_wait (seconds wanted,
    600), host_subset_size (3), keep_source (section name prefixes that keep balance source). Returns the check-up
    report (SCHEMA)."""
    if fail_on not in SEVERITIES:
        raise ValueError(f"fail_on must be one of {', '.join(SEVERITIES)}, not {fail_on!r}")
    checks, findings = [], []
    for check, (group, seeds, what) in CHECKS.items():
        entry = dict(id=check, group=group, seeds=seeds, what=what)
        if selected is not None and check not in selected:
            checks.append(dict(entry, status='not_selected', findings=0))
            continue
        result = (results or {}).get(check)
        if check in HOST_CHECKS and isinstance(result, dict) and result and not _failed(result) and all(
                isinstance(r, dict) for r in result.values()):
            found, not_run = _read_hosts(check, result, options or {})
            findings.extend(found)
            hosts = dict(hosts_run=sorted(set(result) - set(not_run)), not_run_hosts=not_run)
            if not_run:
                hosts['why'] = '; '.join(f'{host}: {why}' for host, why in not_run.items())
            status = 'found' if found else 'not_run' if not_run else 'passed'
            checks.append(dict(entry, status=status, findings=len(found), **hosts,
                               highest=max((f['severity'] for f in found), key=rank, default=None)))
            continue
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
                     partly_run=[c['id'] for c in checks if c.get('hosts_run') and c.get('not_run_hosts')],
                     gate_failed=highest is not None and rank(highest) >= rank(fail_on)),
        checks=checks, findings=findings,
        trend=compare(findings, previous, {c['id']: set(c.get('not_run_hosts') or ()) for c in checks
                                           if c['status'] in ('passed', 'found') or c.get('hosts_run')})
        if previous else None)


def text_lines(checkup):
    """The report as an operator reads it at the end of the run."""
    summary = checkup['summary']
    lines = [f"Check-up: {summary['findings']} finding(s), highest {summary['highest'] or 'none'}; "
             f"{summary['checks_run']} check(s) run, not run: {', '.join(summary['not_run']) or 'none'}"]
    for check in checkup['checks']:
        if check['status'] == 'not_run':
            lines.append(f"NOT RUN {check['id']}: {check['why']}")
        elif check.get('not_run_hosts'):
            lines.append(f"NOT RUN {check['id']} on part of its hosts: {check['why']}")
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

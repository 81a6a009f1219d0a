# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""On the controller: the records every host's log_search returned, as one timeline, the ids to follow next
and the summary an operator reads (seed 001's hunt for a request id across API and scheduler nodes)."""

import re
from datetime import datetime

FOLLOW = ('request_id', 'global_request_id', 'instance')
REQUESTLOG = re.compile(r'"(?P<method>[A-Z]+) (?P<path>[^"\s]+)[^"]*" status: (?P<status>\d+) len: (?P<length>\d+)'
                        r'(?: microversion: (?P<microversion>\S+))?(?: time: (?P<seconds>[\d.]+))?')
ACTION = re.compile(r"Action: '(?P<action>[^']+)'(?:, body: (?P<body>.*?))?(?: _process_stack .*)?$|"
                    r"Action: '(?P<action2>[^']+)', calling method")
WSGI_REQUEST = re.compile(r'^(?:\S+ )?"?(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD) (?P<url>\S+)')
# nova logs "Filter X returned N host(s)" (DEBUG) while hosts remain and "Filter X returned 0 hosts" (INFO)
FILTER = re.compile(r'Filter (?P<name>\w+) returned (?P<hosts>\d+) host(?:\(s\)|s\b)')
STARTING = re.compile(r'Starting with (?P<hosts>\d+) host\(s\)')
REMOVED_ALL = re.compile(r'Filtering removed all hosts.*?Filter results: (?P<results>.*)')
# the "Filter results" of nova's INFO line ('ComputeFilter: (start: 4, end: 0)'), of its DEBUG line
# (('ComputeFilter', None): no host left) and of older releases (('RamFilter', 0))
EMPTIED = re.compile(r"(?P<a>\w+): \(start: \d+, end: 0\)|\('(?P<b>\w+)', (?:None|0)\)")
NO_CANDIDATES = re.compile(r'Got no allocation candidates from the Placement API')
PLACEMENT = 'Placement (no allocation candidates)'
# the scheduler's choice, a HostState "(host, node) ram: ..." (older releases: "WeighedHost [host: (host, node) ...");
# the super conductor's "Selected host: h; Selected node: n; Alternates: [...]" repeats it and is left to the timeline
SELECTED = re.compile(r'Selected host: (?:WeighedHost \[host: )?\((?P<host>[^,\s)]+)')
WEIGHED = re.compile(r'^Weighed (?P<hosts>.*)')
CAST = re.compile(r'(?:cast|call) on compute\.(?P<host>[\w.-]+)')
# besides ERROR/CRITICAL records; not a bare "fault", which nova's DEBUG lines ("Lazy-loading 'fault'") and every
# "default" contain
FAULT = re.compile(r'NoValidHost|No valid host|Exceeded maximum number of retries|Insufficient compute resources'
                   r'|Setting instance to ERROR state|Build of instance \S+ aborted|Instance failed to spawn')
EXPECTED = ('nova-api', 'nova-conductor', 'nova-scheduler', 'nova-compute', 'placement-api')


def epoch(record):
    try:
        return datetime.fromisoformat(record['time']).timestamp()
    except (KeyError, TypeError, ValueError):
        return 0.0


def record_key(record):
    return (record.get('host'), record.get('file'), record.get('time'), record.get('pid'), record.get('logger'),
            record.get('message'))


def merge(*batches):
    """One timeline from lists of records (per host, per round): duplicates dropped, sorted by time across hosts."""
    seen, timeline = set(), []
    for batch in batches:
        for record in batch or []:
            key = record_key(record)
            if key not in seen:
                seen.add(key)
                timeline.append(record)
    timeline.sort(key=lambda record: (epoch(record), record.get('host') or '', record.get('service') or ''))
    return timeline


def ids_of(record, follow=FOLLOW):
    """The ids of a record that the next round searches for."""
    found = []
    if 'request_id' in follow and record.get('request_id'):
        found.append(record['request_id'])
    if 'global_request_id' in follow and record.get('global_request_id'):
        found.append(record['global_request_id'])
    if 'instance' in follow:
        found.extend(record.get('instances') or [])
    if 'uuid' in follow:
        found.extend(record.get('uuids') or [])
    if 'message_request_id' in follow:
        found.extend(record.get('request_ids') or [])
    return found


def next_terms(records, searched, follow=FOLLOW, limit=50):
    """Ids found in the records that no round has searched yet, in the order they appear in time (at most limit)."""
    searched = set(searched or [])
    fresh = []
    for record in merge(records):
        for term in ids_of(record, follow):
            if term not in searched and term not in fresh:
                fresh.append(term)
    return fresh[:limit]


def _brief(record, **extra):
    return dict(time=record.get('time'), host=record.get('host'), service=record.get('service'),
                request_id=record.get('request_id'), **extra)


def _scheduling(timeline):
    """Per scheduler request: hosts in, each filter's count, the filter that removed the last host, weighed, chosen."""
    runs = {}
    for record in timeline:
        message = record.get('message') or ''
        head = message.split('\n', 1)[0]
        key = (record.get('host'), record.get('request_id'))
        match = STARTING.search(head) or FILTER.search(head) or REMOVED_ALL.search(head) or \
            SELECTED.search(head) or NO_CANDIDATES.search(head) or (
                WEIGHED.search(head) if (record.get('logger') or '').startswith('nova.scheduler') else None)
        if not match:
            continue
        run = runs.setdefault(key, dict(host=record.get('host'), service=record.get('service'),
                                        request_id=record.get('request_id'),
                                        global_request_id=record.get('global_request_id'), started=record.get('time'),
                                        hosts_in=None, filters=[], emptied_by=None, removed_all=None, weighed=None,
                                        selected=[], no_candidates=False))
        if match.re is STARTING:
            run['hosts_in'] = int(match.group('hosts'))
        elif match.re is FILTER:
            run['filters'].append(dict(name=match.group('name'), hosts=int(match.group('hosts'))))
            if int(match.group('hosts')) == 0 and run['emptied_by'] is None:
                run['emptied_by'] = match.group('name')
        elif match.re is REMOVED_ALL:
            run['removed_all'] = match.group('results')
        elif match.re is SELECTED:
            if match.group('host') not in run['selected']:
                run['selected'].append(match.group('host'))
        elif match.re is NO_CANDIDATES:
            run['no_candidates'] = True
            run['emptied_by'] = run['emptied_by'] or PLACEMENT
        else:
            run['weighed'] = match.group('hosts')[:2000]
    for run in runs.values():
        if run['emptied_by'] is None and run['removed_all']:
            emptied = EMPTIED.search(run['removed_all'])
            run['emptied_by'] = (emptied.group('a') or emptied.group('b')) if emptied else None
    return list(runs.values())


def summary(timeline):
    """What the operator looks for in the timeline."""
    api, actions, faults, casts = [], [], [], []
    for record in timeline:
        message = record.get('message') or ''
        head = message.split('\n', 1)[0]
        match = REQUESTLOG.search(head)
        if match and 'requestlog' in (record.get('logger') or ''):
            api.append(_brief(record, method=match.group('method'), path=match.group('path'),
                              status=int(match.group('status')), microversion=match.group('microversion'),
                              seconds=float(match.group('seconds')) if match.group('seconds') else None))
            continue
        match = ACTION.search(head)
        if match and 'wsgi' in (record.get('logger') or ''):
            actions.append(_brief(record, action=match.group('action') or match.group('action2'),
                                  body=match.group('body')))
            continue
        match = CAST.search(head)
        if match:
            casts.append(_brief(record, compute=match.group('host')))
        if record.get('level') in ('ERROR', 'CRITICAL') or FAULT.search(head):
            faults.append(_brief(record, level=record.get('level'), logger=record.get('logger'),
                                 instances=record.get('instances') or [], message=head[:1000]))
    scheduling = _scheduling(timeline)
    selected = [host for run in scheduling for host in run['selected']]
    computes = sorted({record.get('host') for record in timeline if record.get('service') == 'nova-compute'}
                      | {cast['compute'] for cast in casts})
    services = sorted({f"{record.get('host')}/{record.get('service')}" for record in timeline})
    reached = {record.get('service') for record in timeline}
    return dict(
        records=len(timeline), first=timeline[0]['time'] if timeline else None,
        last=timeline[-1]['time'] if timeline else None,
        api=api, actions=actions, scheduling=scheduling, selected_hosts=list(dict.fromkeys(selected)),
        casts=casts, computes=computes, faults=faults, services=services,
        not_reached=[service for service in EXPECTED if service not in reached],
        request_ids=sorted({record['request_id'] for record in timeline if record.get('request_id')}),
        global_request_ids=sorted({record['global_request_id'] for record in timeline
                                   if record.get('global_request_id')}),
        instances=sorted({uuid for record in timeline for uuid in record.get('instances') or []}),
        hosts=sorted({record.get('host') for record in timeline}))


def text_lines(timeline, width=240):
    """The timeline as lines a person reads: time host service level [request] message's first line."""
    lines = []
    for record in timeline:
        head = (record.get('message') or '').split('\n', 1)[0]
        request = record.get('request_id') or '-'
        lines.append(f"{record.get('time')} {record.get('host')} {record.get('service')} {record.get('level')} "
                     f"[{request}] {head}"[:width])
    return lines


def report(batches, start_terms, searched, rounds, follow=FOLLOW, files=None, truncated_hosts=None):
    """The trace report: what was asked, how far it went (complete: no id left unsearched), summary, timeline."""
    timeline = merge(*batches)
    left = next_terms(timeline, searched, follow, limit=1000)
    return dict(start=list(start_terms or []), searched=list(searched or []), rounds=rounds, follow=list(follow),
                complete=not left, not_searched=left,
                truncated_hosts=sorted(truncated_hosts or []), files=files or {}, summary=summary(timeline),
                timeline=timeline, text=text_lines(timeline))

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
name: conductor_evidence
short_description: Decide from what was read whether the nova-conductors are broken (seed 003)
version_added: 0.1.0
description:
  - Used by the C(conductor_recovery) role before it changes anything. The cloud is broken when at least one of
    these holds; each one found is named in RV(_value.reasons).
  - A conductor does not answer an RPC ping (C(nova_conductor_ping) results).
  - A conductor queue (name matching O(conductor_queues)) has ready messages and no consumer, or has unacknowledged
    messages while a conductor that consumes it does not answer (a hung conductor holds them).
  - A conductor's log has a line matching O(patterns) written in the last O(window_minutes) minutes and after the
    conductor's current process started (errors from before the last restart were already dealt with).
  - Also provides C(conductor_purge_plan) (input - the queues of C(rabbitmq_queue_info), or those C(rabbitmq_purge)
    returns in check mode), what the recovery's purge will remove - the ready messages of every selected queue, plus
    the unacknowledged messages of the conductor queues, which stopping the conductors requeues before the purge.
options:
  _input:
    description: The RPC ping results, one dict per controller with C(host), C(answered) and C(error), or the
      C(async_status) results of C(nova_conductor_ping) looped over the controllers (host in C(item.item));
      V(null) when the role does not ping.
    type: list
    elements: dict
    required: true
  queues:
    description: The selected queues as C(rabbitmq_queue_info) returns them (with live consumer counts).
    type: list
    elements: dict
    required: true
  logs:
    description: Per controller, C(host), C(now) (the controller's local time, V(YYYY-MM-DD HH:MM:SS)), C(since)
      (when its conductor started, same format, or empty) and C(lines) (the log's last lines); or the results of a
      command looped over the controllers whose output is those two times, then the lines.
    type: list
    elements: dict
    required: true
  patterns:
    description: Regular expressions of error lines.
    type: list
    elements: str
    required: true
  window_minutes:
    description: How old an error line may be to count.
    type: int
    default: 15
  conductor_queues:
    description: Regular expression of the conductor queues' names.
    type: str
    default: '^conductor($|\.)'
'''

EXAMPLES = r'''
- name: Decide
  ansible.builtin.set_fact:
    evidence: "{{ pings | openstack_ops.runbooks.conductor_evidence(queues=q.queues, logs=logs, patterns=patterns) }}"
'''

RETURN = r'''
_value:
  description: C(broken) (bool), C(reasons) (list of sentences), C(unanswered) (hosts), C(stale_queues) (queues with
    why they count), C(log_errors) (host to at most 20 lines), C(pinged) (whether pings were made).
  type: dict
'''

import datetime
import re

TIMESTAMP = re.compile(r'^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})')
LOG_LINES_KEPT = 20


def _time(text):
    match = TIMESTAMP.match(text or '')
    if not match:
        return None
    return datetime.datetime.strptime(match.group(1).replace('T', ' '), '%Y-%m-%d %H:%M:%S')


def _count(queue, key):
    return int(queue.get(key) or 0)


def _log_errors(logs, patterns, window_minutes):
    try:
        pattern = re.compile('|'.join(f'(?:{p})' for p in patterns)) if patterns else None
    except re.error as exc:
        # a plain error, which Ansible reports as the filter's failure: importing ansible.errors in the unit tests'
        # process changes how the modules tested after them report a failure's traceback
        raise ValueError(f'conductor_evidence: bad pattern: {exc}') from exc
    found = {}
    for log in logs or []:
        now = _time(log.get('now'))
        if pattern is None or now is None:
            continue
        oldest = now - datetime.timedelta(minutes=int(window_minutes))
        since = _time(log.get('since'))
        if since is not None and since > oldest:
            oldest = since
        lines = [line for line in log.get('lines') or []
                 if pattern.search(line) and (_time(line) or datetime.datetime.min) >= oldest]
        if lines:
            found[log['host']] = lines[-LOG_LINES_KEPT:]
    return found


def _ping(result):
    """A ping as nova_conductor_ping returns it, or its async_status result in a loop over the controllers."""
    host = result.get('host')
    if host is None:
        item = result.get('item')
        host = item.get('item') if isinstance(item, dict) else item
    return dict(host=host, answered=bool(result.get('answered')), error=result.get('error') or result.get('msg'))


def _log(result):
    """A log as given, or the result of the role's read (lines: the controller's time, its conductor's start, the log)."""
    if 'lines' in result:
        return result
    lines = list(result.get('stdout_lines') or [])
    return dict(host=result.get('item'), now=lines[0] if lines else '', since=lines[1] if len(lines) > 1 else '',
                lines=lines[2:])


def conductor_evidence(pings, queues, logs, patterns, window_minutes=15, conductor_queues=r'^conductor($|\.)'):
    pinged = pings is not None
    pings = [_ping(result) for result in pings or []]
    logs = [_log(result) for result in logs or []]
    unanswered = sorted(ping['host'] for ping in pings or [] if not ping.get('answered'))
    reasons = [f"nova-conductor on {host} does not answer an RPC ping ({ping.get('error') or 'no answer'})"
               for host in unanswered for ping in pings if ping['host'] == host]
    is_conductor = re.compile(conductor_queues)
    stale = []
    for queue in queues or []:
        if not is_conductor.search(queue['name']):
            continue
        ready, unacked, consumers = (_count(queue, key) for key in ('messages_ready', 'messages_unacknowledged', 'consumers'))
        # conductor.<host> is consumed by that host only; conductor by every conductor
        server = queue['name'].split('.', 1)[1] if '.' in queue['name'] else None
        holders = [host for host in unanswered if server in (None, host)]
        why = []
        if ready and not consumers:
            why.append(f'{ready} ready message(s) and no consumer')
        if unacked and holders:
            why.append(f"{unacked} unacknowledged message(s) held while {', '.join(holders)} do(es) not answer")
        if why:
            stale.append(dict(vhost=queue.get('vhost'), name=queue['name'], messages_ready=ready,
                              messages_unacknowledged=unacked, consumers=consumers, why='; '.join(why)))
            reasons.append(f"queue {queue['name']}: {'; '.join(why)}")
    log_errors = _log_errors(logs, patterns, window_minutes)
    reasons.extend(f'{len(lines)} recent error line(s) in the log of nova-conductor on {host}'
                   for host, lines in sorted(log_errors.items()))
    return dict(broken=bool(reasons), reasons=reasons, unanswered=unanswered, pinged=pinged,
                stale_queues=stale, log_errors=log_errors)


def _ready_and_unacked(queue):
    """From rabbitmq_queue_info's queues, or from rabbitmq_purge's check-mode queues (purged = the ready count)."""
    if 'messages_ready' in queue:
        return _count(queue, 'messages_ready'), _count(queue, 'messages_unacknowledged')
    ready = _count(queue, 'purged')
    return ready, max(0, _count(queue, 'messages') - ready)


def conductor_purge_plan(queues, conductor_queues=r'^conductor($|\.)'):
    """What the real run purges: every ready message, plus the conductor queues' unacknowledged ones (requeued when
    the conductors are stopped, before the purge)."""
    is_conductor = re.compile(conductor_queues)
    counts = [(queue['name'], *_ready_and_unacked(queue)) for queue in queues or []]
    ready = sum(count[1] for count in counts)
    held = sum(count[2] for count in counts if is_conductor.search(count[0]))
    return dict(queues=len(counts), messages=ready + held, ready=ready, held_by_conductors=held)


class FilterModule:
    def filters(self):
        return {'conductor_evidence': conductor_evidence, 'conductor_purge_plan': conductor_purge_plan}

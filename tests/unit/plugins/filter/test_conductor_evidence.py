# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""conductor_recovery's decision (issue 20 item 9): a healthy cloud is not recovered, the seed-003 incident is."""

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.filter.conductor_evidence import (
    conductor_evidence, conductor_purge_plan)

PATTERNS = ['Transaction error, need to rollback', 'DBConnectionError', 'ERROR oslo_messaging']
HOSTS = ('ctl1', 'ctl2', 'ctl3')
NOW = '2026-12-03 14:00:00'


def _pings(answered=HOSTS):
    return [dict(host=host, answered=host in answered, consumers=1,
                 error=None if host in answered else 'MessagingTimeout: Timed out') for host in HOSTS]


def _queue(name, ready=0, unacked=0, consumers=1):
    return dict(vhost='/', name=name, messages_ready=ready, messages_unacknowledged=unacked,
                messages=ready + unacked, consumers=consumers)


def _healthy_queues():
    return [_queue('conductor', consumers=3)] + [_queue(f'conductor.{host}') for host in HOSTS] + [
        _queue('compute.cmp1'), _queue('reply_abc')]


def _logs(lines=(), since='2026-12-03 13:00:00'):
    return [dict(host=host, now=NOW, since=since, lines=list(lines)) for host in HOSTS]


def test_healthy_cloud_is_not_broken():
    evidence = conductor_evidence(_pings(), _healthy_queues(), _logs(['2026-12-03 13:59:00.1 7 INFO nova ok']),
                                  PATTERNS)
    assert evidence == dict(broken=False, reasons=[], unanswered=[], pinged=True, stale_queues=[], log_errors={})


def test_messages_in_flight_to_answering_conductors_are_not_stale():
    queues = [_queue('conductor', ready=4, unacked=2, consumers=3)]
    assert not conductor_evidence(_pings(), queues, _logs(), PATTERNS)['broken']


def test_the_seed_003_incident_is_broken_with_every_piece_of_evidence():
    queues = [_queue('conductor', ready=40, unacked=6, consumers=3), _queue('conductor.ctl2', unacked=1),
              _queue('compute.cmp1', ready=10, consumers=0)]
    lines = ['2026-12-03 13:58:10.985 22 ERROR oslo_messaging.rpc.server InternalError: (pymysql.err.InternalError) '
             '(1003, u"Transaction error, need to rollback.closed connection")']
    evidence = conductor_evidence(_pings(answered=()), queues, _logs(lines), PATTERNS)
    assert evidence['broken']
    assert evidence['unanswered'] == list(HOSTS)
    assert [queue['name'] for queue in evidence['stale_queues']] == ['conductor', 'conductor.ctl2']
    assert 'held while ctl1, ctl2, ctl3' in evidence['stale_queues'][0]['why']
    assert evidence['stale_queues'][1]['why'] == '1 unacknowledged message(s) held while ctl2 do(es) not answer'
    assert evidence['log_errors'] == dict.fromkeys(HOSTS, lines)
    assert len(evidence['reasons']) == 3 + 2 + 3


def test_one_hung_conductor_is_enough():
    evidence = conductor_evidence(_pings(answered=('ctl1', 'ctl3')), _healthy_queues(), _logs(), PATTERNS)
    assert evidence['broken']
    assert evidence['unanswered'] == ['ctl2']
    assert evidence['reasons'] == ['nova-conductor on ctl2 does not answer an RPC ping (MessagingTimeout: Timed out)']


def test_ready_messages_without_consumer_are_stale_even_without_ping():
    evidence = conductor_evidence(None, [_queue('conductor', ready=3, consumers=0)], _logs(), PATTERNS)
    assert evidence['broken'] and not evidence['pinged']
    assert evidence['stale_queues'][0]['why'] == '3 ready message(s) and no consumer'


def test_unacknowledged_messages_need_a_silent_conductor_to_count():
    # without pings nobody is known to be hung: held messages are a conductor at work
    assert not conductor_evidence(None, [_queue('conductor', unacked=5, consumers=3)], _logs(), PATTERNS)['broken']


def test_only_conductor_queues_are_evidence():
    queues = [_queue('compute.cmp1', ready=10, consumers=0), _queue('reply_x', ready=5, consumers=0),
              _queue('conductorish', ready=1, consumers=0)]
    assert not conductor_evidence(_pings(), queues, _logs(), PATTERNS)['broken']


@pytest.mark.parametrize('stamp, counts', [
    ('2026-12-03 13:56:00.000', True),     # in the window, after the start
    ('2026-12-03 13:40:00.000', False),    # older than the 15 minutes window
    ('2026-12-03 13:54:59.000', False),    # before the conductor's current process started
    ('', False),                           # no timestamp: cannot be placed in time
])
def test_error_lines_count_when_recent_and_after_the_start(stamp, counts):
    line = f'{stamp} 22 ERROR oslo_messaging.rpc.server DBConnectionError'.strip()
    evidence = conductor_evidence(_pings(), _healthy_queues(), _logs([line], since='2026-12-03 13:55:00'), PATTERNS)
    assert evidence['broken'] is counts
    assert bool(evidence['log_errors']) is counts


def test_no_start_time_uses_the_window():
    line = '2026-12-03 13:46:00.000 22 ERROR sqlalchemy DBConnectionError'
    assert conductor_evidence(_pings(), [], _logs([line], since=''), PATTERNS)['broken']


def test_log_errors_kept_are_the_last_twenty():
    lines = [f'2026-12-03 13:59:{n:02d}.000 22 ERROR oslo_messaging x{n}' for n in range(30)]
    kept = conductor_evidence(_pings(), [], _logs(lines), PATTERNS)['log_errors']['ctl1']
    assert kept == lines[10:]


def test_a_bad_pattern_is_an_error():
    with pytest.raises(ValueError, match='bad pattern'):
        conductor_evidence(_pings(), [], _logs(['2026-12-03 13:59:00 x']), ['('])


def test_purge_plan_counts_what_the_hung_conductors_hold():
    queues = [_queue('conductor', ready=40, unacked=6), _queue('conductor.ctl1', unacked=1),
              _queue('compute.cmp1', ready=10, unacked=2), _queue('reply_x', ready=5)]
    # compute.cmp1's unacknowledged messages belong to a nova-compute, which the recovery does not stop
    assert conductor_purge_plan(queues) == dict(queues=4, messages=62, ready=55, held_by_conductors=7)


def test_purge_plan_of_nothing():
    assert conductor_purge_plan([]) == dict(queues=0, messages=0, ready=0, held_by_conductors=0)


def test_purge_plan_from_the_purge_modules_check_mode_queues():
    # rabbitmq_purge in check mode: purged = ready, messages = ready + unacknowledged
    queues = [dict(vhost='/', name='conductor', messages=46, purged=40, consumers=3),
              dict(vhost='/', name='compute.cmp1', messages=12, purged=10, consumers=1)]
    assert conductor_purge_plan(queues) == dict(queues=2, messages=56, ready=50, held_by_conductors=6)


def test_a_nothing_to_recover_report_renders_as_a_good_verdict():
    from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import report_html
    from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.plugin_utils import report_samples
    report = report_samples.conductor_recovery()
    report.update(result='nothing to recover', steps=report['steps'][:1], conductors={}, purge={},
                  evidence=conductor_evidence(_pings(), _healthy_queues(), _logs(), PATTERNS))
    page = report_html.render(report, 'conductor_recovery')
    assert 'nothing to recover' in page
    assert 'data-level="ok"' in page

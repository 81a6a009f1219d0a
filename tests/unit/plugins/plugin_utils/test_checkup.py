# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The check-up's findings from module results (fake results shaped as the modules' RETURN docs), its gate and
its trend."""

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import checkup


def provider(name, consumers, capacity=10993, free=None, over=False):
    used = sum(c['resources'].get('MEMORY_MB', 0) for c in consumers)
    return dict(uuid=f'uuid-{name}', name=name, consumers=consumers, summary={},
                inventories=dict(MEMORY_MB=dict(capacity=capacity, used=used,
                                                free=capacity - used if free is None else free)))


def consumer(uuid, classification, memory):
    return dict(consumer_uuid=uuid, classification=classification, reason='', resources=dict(MEMORY_MB=memory))


def audit(*providers, over=(), unverifiable=0, unread=()):
    return dict(audit=dict(providers=list(providers), cells=[dict(name=c, reachable=False) for c in unread],
                           summary=dict(over_capacity=list(over), allocations=dict(unverifiable=unverifiable))))


def healthy_results():
    return dict(placement_allocations=audit(provider('cmp1', [consumer('a', 'active', 512)])),
                cells_mappings=dict(findings=[]),
                messaging_queues=dict(queues=[dict(name='conductor', vhost='/', consumers=3, messages_ready=0)]),
                conductors_ping=dict(ctl1=dict(answered=True), ctl2=dict(answered=True)))


def test_a_healthy_cloud_passes_every_check_with_no_finding():
    report = checkup.report(healthy_results())
    assert report['findings'] == [] and report['summary']['highest'] is None
    assert [c['status'] for c in report['checks']] == ['passed'] * 4
    assert report['summary']['gate_failed'] is False and report['trend'] is None


def test_leaks_are_graded_by_how_much_they_hold_and_over_capacity_is_critical():
    results = healthy_results()
    results['placement_allocations'] = audit(
        provider('cmp1', [consumer('a', 'orphan', 512)]),
        provider('cmp2', [consumer(f'o{n}', 'orphan', 2048) for n in range(12)], free=-13583),
        provider('cmp3', [consumer('d', 'deleted_instance', 4096), consumer('s', 'stale_source', 1024)]),
        over=['cmp2'])
    found = {f['subject']: f for f in checkup.report(results)['findings']}
    assert (found['cmp1']['severity'], found['cmp2']['severity'], found['cmp3']['severity']) == (
        'medium', 'critical', 'high')
    assert found['cmp2']['title'] == '12 leaked consumer(s) hold 24576 MB of MEMORY_MB on cmp2; -13583 MB of MEMORY_MB free'
    assert found['cmp3']['value'] == 5120 and found['cmp3']['evidence']['consumers'] == ['d', 's']


def test_cells_queues_and_conductors_give_their_findings():
    results = healthy_results()
    results['cells_mappings'] = dict(findings=[
        dict(type='instance_without_mapping', instance_uuid=f'i{n}', message=f'Instance i{n} has no mapping',
             repair='instance_without_mapping') for n in range(2)])
    results['messaging_queues'] = dict(queues=[
        dict(name='conductor', vhost='/', consumers=0, messages_ready=40),
        dict(name='reply_abc', vhost='/', consumers=0, messages_ready=5),
        dict(name='notifications.info', vhost='/', consumers=0, messages_ready=0)])
    results['conductors_ping'] = dict(ctl1=dict(answered=True), ctl2=dict(answered=False, error='MessagingTimeout'))
    report = checkup.report(results, fail_on='critical')
    found = {(f['id'], f['subject']): f for f in report['findings']}
    assert set(found) == {('cells_mappings.instance_without_mapping', 'instance_without_mapping'),
                          ('messaging_queues.no_consumer', '/ conductor'), ('messaging_queues.no_consumer', '/ reply_abc'),
                          ('conductors_ping.unanswered', 'ctl2')}
    cells = found['cells_mappings.instance_without_mapping', 'instance_without_mapping']
    assert cells['value'] == 2 and cells['severity'] == 'high' and '"instance_without_mapping"' in cells['fix']
    assert found['messaging_queues.no_consumer', '/ conductor']['severity'] == 'high'
    assert found['messaging_queues.no_consumer', '/ reply_abc']['severity'] == 'low'
    assert report['findings'][0]['id'] == 'conductors_ping.unanswered'
    assert report['summary']['gate_failed'] is True
    assert report['summary']['by_severity'] == dict(info=0, low=1, medium=0, high=2, critical=1)


def test_a_check_whose_module_failed_is_not_run_and_an_unselected_one_is_said():
    results = healthy_results()
    results['messaging_queues'] = dict(failed=True, msg='Cannot reach the RabbitMQ management API at 127.0.0.1:1')
    results['conductors_ping'] = dict(ctl1=dict(answered=True), ctl2=dict(failed=True, msg='bad transport_url'))
    del results['cells_mappings']
    report = checkup.report(results, selected=['placement_allocations', 'messaging_queues', 'conductors_ping'])
    status = {c['id']: c for c in report['checks']}
    assert status['messaging_queues']['status'] == 'not_run' and 'Cannot reach' in status['messaging_queues']['why']
    assert status['conductors_ping']['why'] == 'ctl2: bad transport_url'
    assert status['cells_mappings']['status'] == 'not_selected'
    assert report['summary']['not_run'] == ['messaging_queues', 'conductors_ping']
    assert checkup.text_lines(report)[1].startswith('NOT RUN messaging_queues: Cannot reach')


def test_the_trend_names_what_is_new_worse_and_fixed_but_not_what_did_not_run():
    results = healthy_results()
    results['placement_allocations'] = audit(provider('cmp1', [consumer('a', 'orphan', 512)]))
    results['conductors_ping'] = dict(ctl2=dict(answered=False))
    first = checkup.report(results, ended='2026-12-03T03:00:00+00:00')
    results['placement_allocations'] = audit(provider('cmp1', [consumer('a', 'orphan', 512), consumer('b', 'orphan', 512)]))
    results['conductors_ping'] = dict(ctl2=dict(answered=True))
    results['messaging_queues'] = dict(queues=[dict(name='compute.cmp1', vhost='/', consumers=0, messages_ready=3)])
    trend = checkup.report(results, previous=first)['trend']
    assert trend == dict(previous='2026-12-03T03:00:00+00:00', new=['messaging_queues.no_consumer / compute.cmp1'],
                         worse=['placement_allocations.leaked cmp1'], fixed=['conductors_ping.unanswered ctl2'],
                         same=0)
    results['conductors_ping'] = dict(failed=True, msg='unreachable')
    assert checkup.report(results, previous=first)['trend']['fixed'] == []   # not run is not fixed


def test_an_unknown_gate_is_refused():
    with pytest.raises(ValueError, match='fail_on must be one of info, low, medium, high, critical'):
        checkup.report(healthy_results(), fail_on='severe')


def test_allocations_that_differ_from_the_flavor_are_one_finding_with_the_clean_that_names_them():
    results = healthy_results()
    results['placement_allocations'] = audit(provider('cmp1', [consumer('m1', 'mismatched', 512),
                                                               consumer('m2', 'mismatched', 256)]))
    [finding] = checkup.report(results)['findings']
    assert (finding['id'], finding['severity'], finding['value']) == ('placement_allocations.mismatched', 'medium', 2)
    assert '"clean_placement_classes": ["mismatched"]' in finding['fix'] and finding['evidence']['consumers'] == ['m1', 'm2']

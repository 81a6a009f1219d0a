# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The check-up's findings from module results (fake results shaped as the modules' RETURN docs), its gate and
its trend."""

import os
from pathlib import Path

import pytest
import yaml

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
                conductors_ping=dict(ctl1=dict(answered=True), ctl2=dict(answered=True)),
                instances_stuck=dict(instances=[]), **healthy_hosts())


def galera(status='Primary', state='Synced', size=3, msg=None, connected=True):
    """galera_status's result; failing, its values are in details (OpsError)."""
    healthy = status == 'Primary' and state == 'Synced' and size == 3
    values = dict(healthy=healthy, cluster_status=status, local_state=state, cluster_size=size,
                  ready=state == 'Synced', connected=connected, waited=0.0)
    if healthy:
        return dict(values, changed=False)
    return dict(failed=True, msg=msg or 'the Galera node is not healthy: ...', details=values)


def timeouts(recycle=3600, wait=5000, haproxy=5400.0):
    holds = recycle < wait < haproxy
    return dict(changed=False, holds=holds, connection_recycle_time=recycle, wait_timeout=wait, haproxy_timeout=haproxy,
                recycle_times=[], haproxy_timeouts=[],
                msg=f"{'holds' if holds else 'does not hold'} - connection_recycle_time {recycle} < MariaDB wait_timeout "
                    f"{wait} < haproxy timeout {haproxy:g}")


def conf(retries=None, interval=None, subset=None, shuffle=None):
    total = (retries or 60) * (interval or 3)
    source = 'default' if retries is None and interval is None else 'file' if retries and interval else 'file and default'
    return dict(changed=False, waits=[dict(name='block_device_allocate', path='/etc/nova/nova.conf',
                                           before=dict(retries=retries or 60, interval=interval or 3, total=total,
                                                       source=source))],
                settings=[dict(section='filter_scheduler', option='host_subset_size', before=subset,
                               path='/etc/nova/nova.conf'),
                          dict(section='filter_scheduler', option='shuffle_best_same_weighed_hosts', before=shuffle,
                               path='/etc/nova/nova.conf')])


def units(*names, stale=(), config_changed=1795000100.0):
    return dict(changed=False, config_changed=config_changed, services={
        name: dict(unit=name, active='active', main_pid=100 + n, started=1795000000.0 if name in stale else 1795000200.0,
                   stale=name in stale) for n, name in enumerate(names)})


def healthy_hosts():
    nova = dict(conf=conf(200, 3, '3', 'true'), services=units('nova-compute', 'nova-scheduler'))
    return dict(galera_state=dict(db1=galera()), timeout_order=dict(db1=timeouts()),
                db_connections=dict(db1=dict(findings=[], totals=dict(connections=4))),
                haproxy_galera_writers=dict(lb1=dict(sections=[dict(name='mariadb', servers=['a', 'b'], active_before=['a'],
                                                                    allbackups=False)])),
                haproxy_balance_source=dict(lb1=dict(sections=[dict(name='nova_api', balance_before='roundrobin')])),
                block_device_wait=dict(cmp1=nova), scheduler_spread=dict(cmp1=nova),
                stale_config=dict(cmp1=units('nova-compute')))


def test_a_healthy_cloud_passes_every_check_with_no_finding():
    report = checkup.report(healthy_results())
    assert report['findings'] == [] and report['summary']['highest'] is None
    assert [c['status'] for c in report['checks']] == ['passed'] * 13
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


def test_a_deleted_server_still_mapped_is_info_as_nova_keeps_its_mapping_until_archive():
    # nova deletes a server's row softly and keeps its instance mapping until `nova-manage db archive_deleted_rows`:
    # every healthy cloud that deleted a server has this kind, so it must not count as low (a gate on low would fail)
    results = healthy_results()
    results['cells_mappings'] = dict(findings=[
        dict(type='mapping_to_deleted_instance', instance_uuid=f'd{n}', instance_deleted=True, repair=None,
             message=f'Instance d{n} in cell cell1 is deleted but still mapped; `nova-manage db archive_deleted_rows` '
                     'removes both') for n in range(3)])
    report = checkup.report(results, fail_on='low')
    [finding] = report['findings']
    assert finding['id'] == 'cells_mappings.mapping_to_deleted_instance' and finding['severity'] == 'info'
    assert finding['value'] == 3 and finding['evidence']['subjects'] == ['d0', 'd1', 'd2']
    assert report['summary']['by_severity'] == dict(info=1, low=0, medium=0, high=0, critical=0)
    assert report['summary']['highest'] == 'info' and report['summary']['gate_failed'] is False


def triaged(uuid, verdict, step, age, services=('nova-compute',), host='cmp1'):
    return dict(instance_uuid=uuid, verdict=verdict, state_age_seconds=age, host=host, summary=f'{verdict}: {uuid}',
                step=dict(name=step, services=list(services)))


def test_instances_in_error_or_stuck_are_one_finding_per_verdict_and_step_the_oldest_first():
    result = dict(instances=[triaged('e1', 'error', 'scheduling', 30, ('nova-scheduler', 'placement-api'), None),
                             triaged('s1', 'stuck', 'spawning', 900), triaged('s2', 'stuck', 'spawning', 4000),
                             triaged('h1', 'healthy', 'spawning', 0), triaged('b1', 'in_progress', 'networking', 5)])
    report = checkup.report(dict(healthy_results(), instances_stuck=result))
    found = [f for f in report['findings'] if f['check'] == 'instances_stuck']
    assert [(f['id'], f['subject'], f['severity'], f['value']) for f in found] == [
        ('instances_stuck.stuck', 'stuck spawning', 'high', 2),
        ('instances_stuck.error', 'error scheduling', 'medium', 1)]
    stuck, error = found
    assert stuck['title'] == '2 instance(s) stuck in spawning, the oldest for 4000 s; read nova-compute'
    assert stuck['evidence']['instances'] == ['s2', 's1'] and stuck['evidence']['hosts'] == ['cmp1']
    assert stuck['fix'].startswith('ansible-playbook openstack_ops.runbooks.triage_instance')
    assert '{"triage_instance_instances": ["s2", "s1"]}' in stuck['fix']
    assert error['title'] == '1 instance(s) in ERROR (failed in scheduling), the oldest for 30 s; read nova-scheduler, placement-api'
    assert stuck['seeds'] == ['004', '000']


def test_instances_stuck_says_what_it_could_not_see_and_judges_long_disk_steps_by_three_times_the_threshold():
    result = dict(selection=dict(mode='error_or_stuck', stuck_after=600, limit=3),
                  cells=[dict(name='cell0', reachable=True), dict(name='cell2', uuid='c2', reachable=False,
                                                                  error='Cannot connect to db2:3306')],
                  instances=[triaged('u1', 'stuck', 'snapshot', 1200), triaged('u2', 'stuck', 'live migration', 2000),
                             triaged('u3', 'stuck', 'spawning', 700)])
    found = {f['subject']: f for f in checkup.report(dict(healthy_results(), instances_stuck=result))['findings']}
    assert {subject: f['severity'] for subject, f in found.items()} == {
        'stuck snapshot': 'medium',             # 1200 s: a big disk may take that long, under 3 x 600 s
        'stuck live migration': 'high',         # 2000 s: over 3 x 600 s
        'stuck spawning': 'high', 'cells': 'medium', 'limit': 'info'}
    assert found['cells']['id'] == 'instances_stuck.unverifiable' and 'cell2 (Cannot connect' in found['cells']['title']
    assert found['limit']['title'].startswith('checkup_max_triaged (3) instances triaged')
    many = dict(instances=[triaged(f'e{n:02d}', 'error', 'spawning', n) for n in range(25)])
    [error] = checkup.instances_stuck(many)
    assert error['fix'].endswith('(the first 20 of 25)') and len(error['evidence']['instances']) == 25


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


def found_of(results, **kwargs):
    return {(f['id'], f['subject']): f for f in checkup.report(results, **kwargs)['findings']}


def test_a_galera_node_out_of_primary_is_critical_not_synced_high_and_a_node_not_answering_not_run():
    results = healthy_results()
    results['galera_state'] = dict(db1=galera('non-Primary', 'Initialized', 1), db2=galera(state='Donor/Desynced'),
                                   db3=galera(size=2), db4=dict(failed=True, msg='Cannot connect to database'),
                                   db5=galera('Disconnected', None, 0, connected=False))
    report = checkup.report(results)
    found = {(f['id'], f['subject']): f for f in report['findings']}
    assert {k: f['severity'] for k, f in found.items()} == {
        ('galera_state.not_primary', 'db1'): 'critical', ('galera_state.not_synced', 'db2'): 'high',
        ('galera_state.size', 'db3'): 'medium', ('galera_state.disconnected', 'db5'): 'critical'}
    assert found['galera_state.disconnected', 'db5']['title'] == (
        'Galera node db5: Disconnected, None, cluster size 0, not ready, not connected (the Galera node is not healthy: ...)')
    assert found['galera_state.size', 'db3']['value'] == 2
    state = {c['id']: c for c in report['checks']}['galera_state']
    assert state['status'] == 'found' and state['not_run_hosts'] == {'db4': 'Cannot connect to database'}
    assert report['summary']['partly_run'] == ['galera_state'] and report['summary']['not_run'] == []
    assert 'NOT RUN galera_state on part of its hosts: db4: Cannot connect to database' in checkup.text_lines(report)


def test_the_timeout_order_names_its_numbers_and_a_wait_timeout_in_between():
    results = healthy_results()
    results['timeout_order'] = dict(db1=timeouts(3600, 600, 5400.0), db2=timeouts(3600, 28800, 5400.0),
                                    db3=timeouts(7200, 28800, 5400.0))
    found = found_of(results)
    below = found['timeout_order.recycle_after_wait_timeout', 'db1']
    assert below['severity'] == 'high' and below['value'] == 3000
    assert 'connection_recycle_time 3600 < MariaDB wait_timeout 600 < haproxy timeout 5400' in below['title']
    assert '-e galera_tuning_wait_timeout=4500 --check --diff' in below['fix']
    above = found['timeout_order.wait_timeout_after_haproxy', 'db2']
    assert above['value'] == 23400 and above['evidence']['wait_timeout'] == 28800
    assert 'galera_tuning_wait_timeout=4500' in above['fix']
    # recycle above haproxy: no wait_timeout fits before connection_recycle_time comes down
    assert found['timeout_order.wait_timeout_after_haproxy', 'db3']['fix'].startswith(
        'First lower connection_recycle_time below the haproxy timeout (ansible-playbook openstack_ops.runbooks.tune_nova')


@pytest.mark.parametrize('recycle,wait,haproxy,wanted_recycle,wanted_wait', [
    (3600, 28800, 600.0, 200, 400),     # haproxy cuts at 10 min: 3000 s (or any value above 600) would still break it
    (7200, 28800, 5400.0, 1800, 3600),
    (3600, 600, None, None, 5460),      # no haproxy timeout: only wait_timeout is out of order
])
def test_the_timeout_order_fix_restores_the_order_from_the_numbers(recycle, wait, haproxy, wanted_recycle, wanted_wait):
    result = timeouts(recycle, wait, haproxy or 0.0)
    result.update(haproxy_timeout=haproxy, holds=False)
    [finding] = checkup.timeout_order('db1', result)
    fix = finding['fix']
    assert f'-e galera_tuning_wait_timeout={wanted_wait} --check --diff' in fix
    if wanted_recycle is None:
        assert 'connection_recycle_time' not in fix and recycle < wanted_wait
    else:
        assert f'"connection_recycle_time": {wanted_recycle}}}' in fix
        assert wanted_recycle < wanted_wait < haproxy      # following the fix restores the order


def test_database_connections_give_one_finding_per_kind_and_service():
    results = healthy_results()
    results['db_connections'] = dict(db1=dict(server=dict(where='127.0.0.1:3306'), variables=dict(wait_timeout=600),
                                              totals=dict(connections=95, threads_connected=96, max_connections=100),
                                              findings=[
        dict(kind='wait_timeout_below_recycle', service='nova [database]', count=12, threads=[1, 2],
             message='nova [database]: connection_recycle_time 3600 >= wait_timeout 600 of 12 connection(s): ...'),
        dict(kind='long_held', service='nova [database]', count=4, threads=[3],
             message='nova [database]: 4 connection(s) idle longer than connection_recycle_time 3600 (longest 5123 s)'),
        dict(kind='connections_near_max', service=None, count=0, threads=[], message='96 connections of 100')]))
    found = found_of(results)
    assert {k: (f['severity'], f['value']) for k, f in found.items()} == {
        ('db_connections.wait_timeout_below_recycle', 'db1 nova [database]'): ('high', 12),
        ('db_connections.long_held', 'db1 nova [database]'): ('medium', 4),
        ('db_connections.connections_near_max', 'db1'): ('high', 96)}
    assert 'tune_galera' in found['db_connections.wait_timeout_below_recycle', 'db1 nova [database]']['fix']
    assert 'inventory_db_connections_hosts=db1' in found['db_connections.long_held', 'db1 nova [database]']['fix']
    assert found['db_connections.long_held', 'db1 nova [database]']['evidence']['wait_timeout'] == 600


def test_haproxy_several_galera_writers_and_api_backends_on_source():
    results = healthy_results()
    results['haproxy_galera_writers'] = dict(lb1=dict(sections=[
        dict(name='mariadb', servers=['c1', 'c2', 'c3'], active_before=['c1', 'c2', 'c3'], allbackups=False),
        dict(name='galera_ro', servers=['c1', 'c2'], active_before=['c1'], allbackups=True)]),
        lb2=dict(sections=[]))
    results['haproxy_balance_source'] = dict(lb1=dict(sections=[
        dict(name='nova_api', balance_before='source', inherited=True),
        dict(name='keystone_external', balance_before='source', inherited=False),
        dict(name='cinder_api', balance_before='roundrobin', inherited=False)]))
    found = found_of(results, options=dict(keep_source=['keystone']))
    writers = found['haproxy_galera_writers.multi_writer', 'lb1 mariadb']
    assert writers['severity'] == 'high' and writers['value'] == 3 and '3 nodes in mariadb (c1, c2, c3)' in writers['title']
    assert writers['fix'].startswith('ansible-playbook openstack_ops.runbooks.fix_haproxy_balance -i inventory -l lb1 '
                                     '--check --diff')
    assert found['haproxy_galera_writers.allbackups', 'lb1 galera_ro']['severity'] == 'medium'
    source = found['haproxy_balance_source.source', 'lb1']
    assert source['value'] == 1 and source['evidence'] == dict(sections=['nova_api'], inherited=['nova_api'])
    assert len(found) == 3
    # without federation keystone is switched too
    assert found_of(results)['haproxy_balance_source.source', 'lb1']['value'] == 2


def test_the_block_device_wait_is_judged_as_its_total_on_compute_hosts():
    results = healthy_results()
    compute = units('nova-compute')
    results['block_device_wait'] = dict(cmp1=dict(conf=conf(), services=compute),
                                        cmp2=dict(conf=conf(30, None), services=compute),
                                        cmp3=dict(conf=conf(100, 6), services=compute),
                                        ctl1=dict(conf=conf(), services=units('nova-api')),
                                        # not systemd: the services cannot be told, the file is judged
                                        cmp4=dict(conf=conf(), services=dict(failed=True, msg='systemctl show failed')))
    found = found_of(results)
    assert {k[1]: (f['severity'], f['value']) for k, f in found.items()} == {
        'cmp1': ('medium', 420), 'cmp2': ('high', 510), 'cmp4': ('medium', 420)}
    assert found['block_device_wait.short', 'cmp1']['title'].startswith(
        "nova-compute on cmp1 waits 180 s for a boot volume (60 x 3 s, nova's defaults; nova default 60 x 3 s = 180 s)")
    assert '-l cmp2 -e nova_conf_tuning_block_device_wait=600 --check --diff' in found['block_device_wait.short', 'cmp2']['fix']
    # a wanted wait of 180 s accepts nova's default
    assert set(found_of(results, options=dict(block_device_wait=180))) == {('block_device_wait.short', 'cmp2')}


def test_scheduler_spread_on_scheduler_hosts_only():
    results = healthy_results()
    results['scheduler_spread'] = dict(ctl1=dict(conf=conf(), services=units('nova-scheduler')),
                                       ctl2=dict(conf=conf(subset='5', shuffle='False'), services=units('nova-scheduler')),
                                       cmp1=dict(conf=conf(), services=units('nova-compute')))
    found = found_of(results)
    assert {k: f['severity'] for k, f in found.items()} == {
        ('scheduler_spread.subset', 'ctl1'): 'medium', ('scheduler_spread.no_shuffle', 'ctl1'): 'low',
        ('scheduler_spread.no_shuffle', 'ctl2'): 'low'}
    subset = found['scheduler_spread.subset', 'ctl1']
    assert 'host_subset_size 1 (nova default)' in subset['title'] and subset['value'] == 1
    assert '-e nova_conf_tuning_host_subset_size=3' in subset['fix']


def test_services_started_before_nova_conf_changed_are_stale():
    results = healthy_results()
    results['stale_config'] = dict(ctl1=units('nova-api', 'nova-conductor', 'nova-scheduler',
                                              stale=('nova-conductor', 'nova-scheduler')),
                                   ctl2=dict(failed=True, msg='systemctl show failed (rc=1)'))
    report = checkup.report(results)
    [stale] = report['findings']
    assert (stale['id'], stale['subject'], stale['severity'], stale['value'], stale['seeds']) == (
        'stale_config.older_than_file', 'ctl1', 'medium', 2, ['004'])
    assert stale['title'] == ('2 nova service(s) on ctl1 run an older nova.conf than the file: nova-conductor (started '
                              '100 s before the file changed), nova-scheduler (started 100 s before the file changed)')
    assert stale['fix'].endswith('systemctl restart nova-conductor nova-scheduler')
    assert {c['id']: c for c in report['checks']}['stale_config']['not_run_hosts'] == {
        'ctl2': 'systemctl show failed (rc=1)'}


def test_a_host_group_with_no_host_or_unreachable_hosts_is_not_run_never_passed():
    results = healthy_results()
    results['haproxy_galera_writers'] = dict(skipped=True, skip_reason='no host in haproxy (the inventory has none)')
    results['stale_config'] = dict(ctl1=dict(unreachable=True, msg='Failed to connect to the host via ssh'))
    report = checkup.report(results)
    status = {c['id']: c for c in report['checks']}
    assert status['haproxy_galera_writers']['status'] == 'not_run'
    assert status['haproxy_galera_writers']['why'] == 'no host in haproxy (the inventory has none)'
    assert status['stale_config']['status'] == 'not_run'
    assert status['stale_config']['why'] == 'ctl1: unreachable: Failed to connect to the host via ssh'
    assert report['summary']['not_run'] == ['haproxy_galera_writers', 'stale_config']


def test_stale_config_on_a_host_with_no_nova_unit_is_not_run_never_passed():
    results = healthy_results()
    results['stale_config'] = dict(cmp1=units())     # systemd, but nova runs in containers (kolla)
    status = {c['id']: c for c in checkup.report(results)['checks']}['stale_config']
    assert status['status'] == 'not_run' and 'no nova systemd unit' in status['not_run_hosts']['cmp1']


def test_a_host_that_did_not_run_fixed_nothing_in_the_trend():
    results = healthy_results()
    results['stale_config'] = dict(ctl1=units('nova-api', stale=('nova-api',)), ctl2=units('nova-api', stale=('nova-api',)))
    first = checkup.report(results, ended='2026-12-03T03:00:00+00:00')
    results['stale_config'] = dict(ctl1=dict(unreachable=True, msg='down'), ctl2=units('nova-api'))
    trend = checkup.report(results, previous=first)['trend']
    assert trend['fixed'] == ['stale_config.older_than_file ctl2'] and trend['new'] == []


REPO = Path(os.environ.get('OPS_REPO_ROOT', Path(__file__).resolve().parents[4]))


def test_the_playbook_selects_from_the_same_checks_the_report_knows():
    """checkup.yml's catalog (what checkup_groups/checkup_seeds select) is checkup.CHECKS, group and seeds alike."""
    plays = yaml.safe_load((REPO / 'playbooks' / 'checkup.yml').read_text())
    catalog = plays[0]['vars']['checkup__catalog']
    assert {check: (about['group'], about['seeds']) for check, about in catalog.items()} == {
        check: (group, seeds) for check, (group, seeds, _what) in checkup.CHECKS.items()}
    assert set(checkup.HOST_CHECKS) <= set(catalog)


def test_the_playbook_copies_of_the_roles_lists_agree_with_the_roles():
    """checkup.yml cannot read the defaults of roles it must not run: its copies are the roles' lists."""
    plays = {play['name']: play for play in yaml.safe_load((REPO / 'playbooks' / 'checkup.yml').read_text())}

    def default(role, name):
        return yaml.safe_load((REPO / 'roles' / role / 'defaults' / 'main.yml').read_text())[name]

    assert plays['Check-up | nova hosts (read-only)']['vars']['checkup_nova_units'] == default(
        'nova_conf_tuning', 'nova_conf_tuning_units')
    assert plays['Check-up | load balancers (read-only)']['vars']['checkup_api_services'] == default(
        'haproxy_balance', 'haproxy_balance_services')


# ---------------------------------------------------------------- the controller's background jobs (job_results)


def job(key, jid=None, bound=900, server=None, launch=None):
    """A job as checkup.yml lists them (checkup__jobs): its launch started job jid, or launch (skipped, failed)."""
    check = 'conductors_ping' if server else key
    started = dict(started=1, finished=0, ansible_job_id=jid, results_file=f'/root/.ansible_async/{jid}', changed=False)
    return dict(dict(key=f'{key} {server}' if server else key, check=check, job=launch or started, bound=bound),
                **(dict(server=server) if server else {}))


def waited(*results, **task):
    """The async_status wait's registered loop result: each result with its job as item."""
    return dict(task, results=[dict(result, item=item, ansible_loop_var='item') for item, result in results])


def finished(**result):
    return dict(dict(finished=1, started=1, changed=False), **result)


def test_finished_jobs_are_their_modules_results_and_pings_are_by_controller():
    jobs = [job('placement_allocations', '1.1'), job('messaging_queues', '1.2'),
            job('conductors_ping', '1.3', bound=70, server='ctl1'), job('conductors_ping', '1.4', bound=70, server='ctl2')]
    audit_result = finished(audit=dict(providers=[]))
    broken = finished(failed=True, msg='Cannot reach the RabbitMQ management API at 127.0.0.1:1')
    collected = waited((jobs[0], audit_result), (jobs[1], broken), (jobs[2], finished(answered=True)),
                       (jobs[3], finished(answered=False, error='MessagingTimeout')), ('not a job', finished()))
    out = checkup.job_results(jobs, collected, conductors=['ctl1', 'ctl2'], pings=dict(results=[]))
    assert out['placement_allocations'] == dict(audit_result, item=jobs[0], ansible_loop_var='item')
    assert out['messaging_queues']['msg'] == broken['msg'] and out['messaging_queues']['failed'] is True
    assert sorted(out) == ['conductors_ping', 'messaging_queues', 'placement_allocations']
    assert out['conductors_ping']['ctl1']['answered'] is True and out['conductors_ping']['ctl2']['answered'] is False
    report = {c['id']: c for c in checkup.report(out, selected=['placement_allocations', 'messaging_queues',
                                                                'conductors_ping'])['checks']}
    assert report['messaging_queues']['status'] == 'not_run' and report['placement_allocations']['status'] == 'passed'
    assert report['conductors_ping']['status'] == 'found'


def test_a_launch_that_was_skipped_or_failed_is_the_checks_result():
    skipped = dict(changed=False, skipped=True, skip_reason='Conditional result was False')
    failed = dict(failed=True, msg='async_wrapper could not start the module')
    not_started = dict(failed=True, msg='the check was not started')
    jobs = [job('cells_mappings', launch=skipped), job('messaging_queues', launch=failed),
            job('instances_stuck', launch=not_started)]
    out = checkup.job_results(jobs, waited(), conductors=['ctl1'], pings=dict(results=[]))
    assert (out['cells_mappings'], out['messaging_queues'], out['instances_stuck']) == (skipped, failed, not_started)


def test_a_job_started_but_never_collected_says_why_the_wait_did_not_have_it():
    jobs = [job('cells_mappings', '2.1')]
    assert checkup.job_results(jobs, dict(skipped=True), conductors=['ctl1'])['cells_mappings'] == dict(
        failed=True, msg='no result: job 2.1 was started but not collected (the wait was skipped)')
    assert checkup.job_results(jobs, dict(failed=True, msg='retries must be a number'), conductors=['ctl1'])[
        'cells_mappings']['msg'] == 'no result: job 2.1 was started but not collected (retries must be a number)'
    assert checkup.job_results(jobs, None, conductors=['ctl1'])['cells_mappings']['msg'].endswith(
        '(the wait was skipped)')


def test_a_job_still_running_when_the_wait_ended_is_failed_with_its_bound_plus_the_margin():
    jobs = [job('placement_allocations', '3.1', bound=20), job('conductors_ping', '3.2', bound=65, server='ctl1')]
    running = dict(started=1, finished=0, ansible_job_id='3.1', failed=True, attempts=31)
    out = checkup.job_results(jobs, waited((jobs[0], running), (jobs[1], dict(running, msg='retries exhausted'))),
                              conductors=['ctl1'])
    assert out['placement_allocations'] == dict(running, item=jobs[0], ansible_loop_var='item', failed=True,
                                                msg='no result after waiting 30 s: job 3.1 was still running')
    assert out['conductors_ping']['ctl1']['msg'] == (
        'no result after waiting 75 s: job 3.2 was still running (retries exhausted)')
    assert checkup.report(out, selected=['placement_allocations'])['summary']['not_run'] == ['placement_allocations']


def test_a_job_stopped_at_its_bound_names_the_variable_that_set_it():
    jobs = [job('messaging_queues', '4.1', bound=3), job('conductors_ping', '4.2', bound=65, server='ctl2')]
    stopped = finished(failed=1, msg='Timeout exceeded', child_pid=4242)
    out = checkup.job_results(jobs, waited((jobs[0], stopped), (jobs[1], stopped)), conductors=['ctl2'])
    assert out['messaging_queues']['msg'] == 'no result within 3 s (checkup_check_timeout): the check was stopped'
    assert out['messaging_queues']['child_pid'] == 4242 and out['messaging_queues']['failed'] == 1
    assert out['conductors_ping']['ctl2']['msg'] == (
        'no result within 65 s (checkup_ping_timeout + 60): the check was stopped')
    # the same message from anything but async_wrapper's stop (no child_pid) is the module's own
    plain = finished(failed=True, msg='Timeout exceeded')
    assert checkup.job_results(jobs[:1], waited((jobs[0], plain)), conductors=['ctl2'])['messaging_queues'][
        'msg'] == 'Timeout exceeded'
    why = {c['id']: c.get('why') for c in checkup.report(out, selected=['messaging_queues'])['checks']}
    assert why['messaging_queues'] == 'no result within 3 s (checkup_check_timeout): the check was stopped'


def test_a_module_that_crashed_is_its_last_line_of_stderr():
    jobs = [job('cells_mappings', '5.1')]
    crash = finished(failed=1, msg='Traceback (most recent call last)... No start of json char found', data='',
                     stderr='Traceback (most recent call last):\n  File "x", line 1\nImportError: no module named pymysql\n')
    out = checkup.job_results(jobs, waited((jobs[0], crash)), conductors=['ctl1'])
    assert out['cells_mappings']['msg'] == 'MODULE FAILURE: ImportError: no module named pymysql'
    assert out['cells_mappings']['stderr'] == crash['stderr']
    # without stderr there is no better line: the message stays
    silent = dict(crash, stderr='  \n')
    assert checkup.job_results(jobs, waited((jobs[0], silent)), conductors=['ctl1'])['cells_mappings'][
        'msg'] == crash['msg']


def test_conductors_ping_with_no_controller_is_skipped_and_with_no_ping_started_failed():
    assert checkup.job_results([], waited(), conductors=[])['conductors_ping'] == dict(
        skipped=True, skip_reason='no controller named in checkup_conductors')
    assert checkup.job_results([], waited(), conductors=['ctl1'], pings=dict(failed=True, msg='bad transport_url'))[
        'conductors_ping'] == dict(failed=True, msg='no ping was started (bad transport_url)')
    assert checkup.job_results([], waited(), conductors=['ctl1'])['conductors_ping'] == dict(
        failed=True, msg='no ping was started (no result)')
    # not selected: each controller's launch item was skipped, and is its result
    skipped = dict(changed=False, skipped=True, skip_reason='Conditional result was False', item='ctl1')
    assert checkup.job_results([job('conductors_ping', server='ctl1', launch=skipped)], waited(),
                               conductors=['ctl1'])['conductors_ping'] == dict(ctl1=skipped)


def test_the_playbook_reads_its_jobs_through_job_results_and_removes_their_files_at_once():
    """checkup.yml builds checkup__api_results with the filter, not with Jinja of its own, and removes every job's
    file with one task that is not a loop (a loop is a module start per job)."""
    play = yaml.safe_load((REPO / 'playbooks' / 'checkup.yml').read_text())[-1]
    tasks = {task['name']: task for task in play['tasks']}
    expression = tasks['Report | findings, severities and the comparison with the previous run']['vars'][
        'checkup__api_results']
    assert 'openstack_ops.runbooks.checkup_job_results' in expression and '{%' not in expression
    removal = tasks["Checks | remove the jobs' result files"]
    assert 'loop' not in removal and removal['check_mode'] is False and removal['failed_when'] is False
    assert "['rm', '-f', '--']" in removal['ansible.builtin.command']['argv']

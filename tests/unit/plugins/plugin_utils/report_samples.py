# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reports as the runbooks write them, for the HTML renderer's tests (unit and browser).

The shapes follow the modules' RETURN docs and what the integration and molecule tests assert about the JSON
files: placement_allocation's ``audit`` (audit_placement.yml), clean_placement.yml's report, check_cells.yml's
report and conductor_recovery's report (molecule ``default`` scenario, verify/test_recovered.py).
"""

import copy
import uuid
import zlib

from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import checkup as checkup_utils

CELL1 = '1c5f4a60-4d8b-4a55-9e2f-1a2b3c4d5e6f'
COMPUTE1 = 'b2660a4c-0d2e-4e0f-8d7a-6f0e6b4c1a11'
COMPUTE2 = '9a1e0f3c-2b4d-4c6e-8f10-223344556677'


def _uuid(n, prefix='c'):
    return str(uuid.UUID(int=(zlib.crc32(prefix.encode()) & 0xFFFF) << 100 | n))


def _inv(total, reserved, ratio, used):
    capacity = int((total - reserved) * ratio)
    return dict(total=total, reserved=reserved, allocation_ratio=ratio, min_unit=1, max_unit=total, step_size=1,
                used=used, capacity=capacity, free=capacity - used)


def placement_audit():
    """Seed 000: compute1 with 79 orphans and a consumer doubled after a failed migration, over capacity in RAM."""
    orphans = [dict(consumer_uuid=_uuid(i, 'orphan'), classification='orphan',
                    reason='no instance, migration or build request in any cell',
                    resources={'VCPU': 1, 'MEMORY_MB': 128, 'DISK_GB': 1}) for i in range(79)]
    doubled = '01b6377f-5b0c-4273-a24a-921f793b3004'
    active = dict(consumer_uuid='2f565c93-6eec-4a74-b8e8-f55638b56da3', classification='active', reason='instance on this host',
                  resources={'VCPU': 2, 'MEMORY_MB': 1314, 'DISK_GB': 20})
    stale = dict(consumer_uuid=doubled, classification='stale_source',
                 reason='instance lives on compute2; the migration failed',
                 resources={'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 10})
    used1 = dict(VCPU=79 + 2 + 1, MEMORY_MB=79 * 128 + 1314 + 1024, DISK_GB=79 + 20 + 10)
    compute1 = dict(
        uuid=COMPUTE1, name='compute1', sharing=False, generation=12, parent_provider_uuid=None,
        root_provider_uuid=COMPUTE1, compute_node=dict(host='compute1', node='compute1', cell='cell1'),
        inventories=dict(VCPU=_inv(16, 0, 16.0, used1['VCPU']), MEMORY_MB=_inv(7841, 512, 1.5, used1['MEMORY_MB']),
                         DISK_GB=_inv(100, 0, 1.0, used1['DISK_GB'])),
        consumers=[active, stale] + orphans,
        summary=dict(active=1, migration_in_progress=0, stale_source=1, deleted_instance=0, orphan=79, building=0,
                     unverifiable=0))
    compute2 = dict(
        uuid=COMPUTE2, name='compute2', sharing=False, generation=3, parent_provider_uuid=None,
        root_provider_uuid=COMPUTE2, compute_node=dict(host='compute2', node='compute2', cell='cell1'),
        inventories=dict(VCPU=_inv(16, 0, 16.0, 1), MEMORY_MB=_inv(7841, 512, 1.5, 1024),
                         DISK_GB=_inv(100, 0, 1.0, 10)),
        consumers=[dict(consumer_uuid=doubled, classification='active', reason='instance on this host',
                        resources={'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 10})],
        summary=dict(active=1, migration_in_progress=0, stale_source=0, deleted_instance=0, orphan=0, building=0,
                     unverifiable=0))
    consumers = [dict(uuid=o['consumer_uuid'], classifications=['orphan'], allocations=[dict(
        provider_uuid=COMPUTE1, provider_name='compute1', classification='orphan', reason=o['reason'],
        resources=o['resources'])]) for o in orphans]
    consumers.append(dict(uuid=doubled, classifications=['active', 'stale_source'], allocations=[
        dict(provider_uuid=COMPUTE1, provider_name='compute1', classification='stale_source', reason=stale['reason'],
             resources=stale['resources']),
        dict(provider_uuid=COMPUTE2, provider_name='compute2', classification='active', reason='instance on this host',
             resources=stale['resources'])]))
    return dict(
        report='full', complete=True,
        cells=[dict(uuid='00000000-0000-0000-0000-000000000000', name='cell0', reachable=True, error=None),
               dict(uuid=CELL1, name='cell1', reachable=True, error=None)],
        summary=dict(providers=2, consumers=82, problem_consumers=80, over_capacity=['compute1'],
                     allocations=dict(active=2, migration_in_progress=0, stale_source=1, deleted_instance=0,
                                      orphan=79, building=0, unverifiable=0)),
        providers=[compute1, compute2], consumers=consumers)


def large_placement_audit(providers=1000, per_provider=20):
    """benchmarks' placement_audit_1000: 1,000 providers, 20,000 consumers, report: full."""
    result = dict(report='full', complete=True, cells=[dict(uuid=CELL1, name='cell1', reachable=True, error=None)],
                  providers=[], consumers=[])
    counts = dict(active=0, orphan=0)
    for p in range(providers):
        name = f'compute{p:04d}'
        puuid = _uuid(p, 'provider')
        entries = []
        for c in range(per_provider):
            classification = 'orphan' if c == 0 and p % 10 == 0 else 'active'
            counts[classification] += 1
            cuuid = _uuid(p * per_provider + c, 'consumer')
            resources = {'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 20}
            entries.append(dict(consumer_uuid=cuuid, classification=classification,
                                reason='instance on this host' if classification == 'active' else 'no instance',
                                resources=resources))
            result['consumers'].append(dict(uuid=cuuid, classifications=[classification], allocations=[dict(
                provider_uuid=puuid, provider_name=name, classification=classification, reason='',
                resources=resources)]))
        result['providers'].append(dict(
            uuid=puuid, name=name, sharing=False, generation=1, parent_provider_uuid=None, root_provider_uuid=puuid,
            compute_node=dict(host=name, node=name, cell='cell1'),
            inventories=dict(VCPU=_inv(64, 0, 4.0, 2 * per_provider),
                             MEMORY_MB=_inv(65536, 512, 1.0, 2048 * per_provider + (70000 if p == 7 else 0)),
                             DISK_GB=_inv(1000, 0, 1.0, 20 * per_provider)),
            consumers=entries, summary=dict(active=sum(e['classification'] == 'active' for e in entries),
                                            orphan=sum(e['classification'] == 'orphan' for e in entries))))
    result['summary'] = dict(providers=providers, consumers=providers * per_provider,
                             problem_consumers=counts['orphan'], over_capacity=['compute0007'],
                             allocations=dict(counts, stale_source=0, deleted_instance=0, migration_in_progress=0,
                                              building=0, unverifiable=0))
    return result


def placement_clean(check_mode=False):
    audit = placement_audit()
    changes = [dict(consumer_uuid=o['consumer_uuid'], action='deleted', attempts=1,
                    removed={COMPUTE1: dict(classification='orphan', resources=o['resources'])}, kept={})
               for o in audit['providers'][0]['consumers'] if o['classification'] == 'orphan']
    changes.append(dict(consumer_uuid='01b6377f-5b0c-4273-a24a-921f793b3004', action='trimmed', attempts=2,
                        removed={COMPUTE1: dict(classification='stale_source',
                                                resources={'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 10})},
                        kept={COMPUTE2: {'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 10}}))
    backups = [] if check_mode else [dict(
        path='/var/backups/openstack_ops/placement/placement-allocations-20261203T031500.000000Z.json',
        checksum='sha256:4f1c0d2e9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1', consumers=80)]
    return dict(check_mode=check_mode, changes=changes, backups=backups, restored=[],
                audit_summary=audit['summary'])


def cells_report(repaired=True):
    findings = [
        dict(type='instance_without_mapping', repair='missing_instance_mappings',
             message='Instance 2f565c93-6eec-4a74-b8e8-f55638b56da3 is in cell cell1 but has no instance mapping: '
                     'the API answers 404 for it',
             instance_uuid='2f565c93-6eec-4a74-b8e8-f55638b56da3', instance_name='web-1', project_id='f30a92c4',
             user_id='8668aa33', host='compute1', node='compute1', vm_state='active', task_state=None,
             instance_deleted=False, cell='cell1', cell_uuid=CELL1, created_at='2018-12-20T10:00:00',
             age_seconds=600000),
        dict(type='instance_without_mapping', repair='missing_instance_mappings',
             message='Instance 7d1b... is in cell cell1 but has no instance mapping: the API answers 404 for it',
             instance_uuid='7d1b8c2e-1111-4222-8333-944455566677', instance_name='db-2', host='compute2',
             vm_state='stopped', task_state=None, cell='cell1', cell_uuid=CELL1),
        dict(type='compute_host_without_mapping', repair='missing_host_mappings',
             message='Compute host compute3 of cell cell1 has no host mapping: nothing is scheduled to it',
             host='compute3', cell='cell1', cell_uuid=CELL1, cells=['cell1'], service=True,
             compute_nodes=['compute3']),
        dict(type='cell_unreachable', repair=None, message='Cell cell2 cannot be read: (2003, "Can\'t connect")',
             cell='cell2', error='(2003, "Can\'t connect to MySQL server on \'db2\'")',
             database_connection='mysql+pymysql://nova:s3cret-Pa55@db2:3306/nova_cell2'),
    ]
    cells = [
        dict(id=1, uuid='00000000-0000-0000-0000-000000000000', name='cell0', cell0=True, disabled=False,
             reachable=True, error=None, instances=0, deleted_instances=0, instance_mappings=0, host_mappings=0,
             compute_hosts=None, database_connection='mysql+pymysql://nova:s3cret-Pa55@db1:3306/nova_cell0',
             transport_url='none:///'),
        dict(id=2, uuid=CELL1, name='cell1', cell0=False, disabled=False, reachable=True, error=None, instances=3,
             deleted_instances=1, instance_mappings=1, host_mappings=2, compute_hosts=3,
             database_connection='mysql+pymysql://nova:s3cret-Pa55@db1:3306/nova',
             transport_url='rabbit://nova:s3cret-Pa55@ctl1:5672,nova:s3cret-Pa55@ctl2:5672/'),
        dict(id=3, uuid='3c3c3c3c-0000-4000-8000-000000000003', name='cell2', cell0=False, disabled=False,
             reachable=False, error='(2003, "Can\'t connect to MySQL server on \'db2\'")', instances=None,
             deleted_instances=None, instance_mappings=0, host_mappings=0, compute_hosts=None,
             database_connection='mysql+pymysql://nova:s3cret-Pa55@db2:3306/nova_cell2', transport_url=None),
    ]
    summary = dict(findings=4, instances=3, instance_mappings=1, repairable=3, unreachable_cells=1,
                   instance_without_mapping=2, compute_host_without_mapping=1, cell_unreachable=1,
                   mapping_without_cell=0, mapping_to_missing_cell=0, mapping_to_wrong_cell=0,
                   mapping_to_deleted_instance=0, mapping_to_archived_instance=0, host_mapping_to_missing_cell=0,
                   host_mapping_to_missing_host=0)
    before = dict(cells=cells, findings=findings, summary=summary)
    if not repaired:
        return dict(before=before, repairs=[], backup=None, check_mode=False, after={})
    repairs = [dict(repair='missing_instance_mappings', table='instance_mappings', instance_uuid=f['instance_uuid'],
                    project_id='f30a92c4', user_id='8668aa33', cell='cell1', cell_uuid=CELL1, cell_id=2,
                    from_cell=None, from_cell_id=None, applied=True, verified=True)
               for f in findings[:2]]
    after = copy.deepcopy(before)
    after['findings'] = findings[2:]
    after['summary'] = dict(summary, findings=2, instance_without_mapping=0, instance_mappings=3, repairable=1)
    return dict(before=before, repairs=repairs, backup=dict(id='20261203T031500Z-db1', databases=['nova_api'],
                                                            age_seconds=0),
                check_mode=False, after=after)


def _step(number, name, start, seconds, details):
    return dict(number=number, name=name, details=details, check_mode=False,
                started=f'2026-12-03T03:{start // 60:02d}:{start % 60:02d}.000000+00:00',
                ended=f'2026-12-03T03:{(start + seconds) // 60:02d}:{(start + seconds) % 60:02d}.500000+00:00')


def conductor_recovery(failed=False):
    """The molecule default scenario's report: steps 0-9 (5 and 6 are one), three controllers, seed 003."""
    healthy = dict(service='active', consumers=1, ping=True, ping_seconds=0.05, log_errors=[], healthy=True)
    steps = [
        _step(0, 'preflight', 0, 3, {'vip_holder': 'ctl1'}),
        _step(1, 'close the entrance', 3, 2, {'url': 'http://10.0.0.10:8774/', 'status': -1}),
        _step(2, 'find the VIP holder', 5, 1, {'vip': '10.0.0.10', 'holder': 'ctl1'}),
        _step(3, 'stop the conductors', 6, 11, {'stopped': {'ctl1': 'killed', 'ctl2': 'stopped', 'ctl3': 'killed'}}),
        _step(4, 'purge the RPC queues', 17, 1, dict(
            purged={'queues': 3, 'messages': 75}, queues=['compute.cmp1', 'conductor', 'reply_abc'], skipped=[],
            archive=dict(path='/var/tmp/openstack_ops/rabbitmq-purge-20261203T031517Z.jsonl', messages=75,
                         bytes=52011, sha256='3f7a0c9e6d1b8c1e0e5b2d5a8f5e6e2a9d0c4b7a1f2e3d4c5b6a7980a1b2c3d4',
                         checksum_path='/var/tmp/openstack_ops/rabbitmq-purge-20261203T031517Z.jsonl.sha256'))),
        _step(5, 'start and watch nova-conductor on ctl1', 18, 12, healthy),
        _step(7, 'restart nova-api on the VIP holder', 30, 4, {'status': 200}),
        _step(8, 'wait', 34, 15, {'seconds': 15}),
        _step(9, 'start and watch nova-conductor on ctl2', 49, 6,
              dict(healthy, healthy=False, service='failed', consumers=0, ping=False, ping_seconds=None,
                   log_errors=['ERROR oslo.messaging ... transport_url=rabbit://nova:********@ctl9:5672/']) if failed
              else healthy),
    ]
    if not failed:
        steps.append(_step(9, 'start and watch nova-conductor on ctl3', 55, 5, healthy))
    conductors = dict(ctl1=healthy, ctl2=steps[8]['details'])
    if not failed:
        conductors['ctl3'] = healthy
    before = [dict(vhost='/', name='conductor', type='classic', state='running', messages=40, messages_ready=40,
                   messages_unacknowledged=0, consumers=0),
              dict(vhost='/', name='compute.cmp1', type='classic', state='running', messages=20, messages_ready=20,
                   messages_unacknowledged=0, consumers=0),
              dict(vhost='/', name='reply_abc', type='classic', state='running', messages=15, messages_ready=15,
                   messages_unacknowledged=0, consumers=0)]
    after = [dict(q, messages=0, messages_ready=0, consumers=3 if q['name'] == 'conductor' else 0) for q in before]
    ended = steps[-1]['ended']
    return dict(
        runbook='openstack_ops.runbooks.conductor_recovery', check_mode=False,
        result='failed' if failed else 'recovered',
        failure=dict(task='Step 9 - nova-conductor on ctl2 is healthy', msg='nova-conductor on ctl2 is not healthy',
                     at='2026-12-03T03:00:55.600000+00:00') if failed else None,
        started=steps[0]['started'], ended=ended, duration_s=60.5, configured_waits_s=45,
        vip='10.0.0.10', vip_holder='ctl1', backend='systemd', steps=steps,
        queues=dict(before=before, after=after, totals_before=dict(queues=3, messages=75, consumers=0),
                    totals_after=dict(queues=3, messages=0, consumers=3)),
        purge=steps[4]['details'], conductors=conductors, gmr=gmr(failed), db_connections=recovery_db(),
        final_services=dict(ctl1='active', ctl2='failed' if failed else 'active',
                            ctl3='inactive' if failed else 'active'),
        entrance=dict(closed=True, closed_verified=True, reopened=True, answers=200),
        next=('Fix the failed conductor (see failure and its log_errors), start it, then rerun the play; the entrance '
              'is open.') if failed else 'Nothing: every conductor answers and the entrance is open.')


GMR_TEXT = """========================================================================
====                     Guru Meditation                            ====
========================================================================
||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||

========================================================================
====                           Package                              ====
========================================================================
product = OpenStack Nova
vendor = OpenStack Foundation
version = 27.1.0
========================================================================
====                            Threads                             ====
========================================================================
------                  Thread #140227023820608                   ------
/usr/lib/python3/dist-packages/oslo_db/sqlalchemy/engines.py:205 in _connect_ping_listener
    `connection.scalar(select(1))`
[database]
connection = ***
transport_url = rabbit://nova:s3cret-rabbit@ctl1:5672/
"""


def gmr(failed=False):
    """conductor_recovery's step-3 Guru Meditation Reports (tasks/gmr.yml keeps these fields): ctl1 and ctl2 answered
    (ctl1 with two processes), ctl3 was stopped in state T (or, failed, gave no report at all)."""
    def captured(pid, threads, green):
        return dict(pid=pid, captured=True, reason=None, state='S', source='journal: nova-conductor.service',
                    bytes=len(GMR_TEXT), truncated=False, threads_total=threads, green_threads_total=green,
                    package=dict(product='OpenStack Nova', vendor='OpenStack Foundation', version='27.1.0'),
                    text=GMR_TEXT)
    stopped = dict(pid=4242, captured=False, state='T', source='journal: nova-conductor.service', bytes=0,
                   truncated=False, threads_total=0, green_threads_total=0, package={}, text=None,
                   reason='no report: process stopped (state T); it runs no signal handler until it is continued '
                          '(SIGCONT), so no signal was sent')
    result = dict(ctl1=dict(msg='2 of 2 Guru Meditation Reports captured (SIGUSR2)', failed=False, signal='SIGUSR2',
                            reports=[captured(2310, 3, 41), captured(2311, 2, 17)]),
                  ctl2=dict(msg='1 of 1 Guru Meditation Reports captured (SIGUSR2)', failed=False, signal='SIGUSR2',
                            reports=[captured(3310, 3, 12)]),
                  ctl3=dict(msg='0 of 1 Guru Meditation Reports captured (SIGUSR2)', failed=False, signal='SIGUSR2',
                            reports=[stopped]))
    if failed:
        result['ctl3'] = dict(msg='systemd unit nova-conductor has no main process: not running', failed=True,
                              signal=None, reports=[])
    return result


def recovery_db():
    """conductor_recovery's preflight db_connections.yml: gal1's inventory of db_connections() below, with the
    services' recycle times; 6 nova connections idle 5000 s past their 3600 s and one in a transaction."""
    node = copy.deepcopy(db_connections()['nodes']['gal1'])
    node['services'] = [dict(name='nova', user='nova', databases=['nova', 'nova_api', 'nova_cell0'],
                             connection_recycle_time=3600, source='conductor_recovery_db_services', connections=6,
                             idle=6, idle_max=5000, wait_timeout=28800),
                        dict(name='(other users)', user=None, databases=[], connection_recycle_time=3600,
                             default=True, source='default_recycle_time', connections=3, idle=2, idle_max=40,
                             wait_timeout=28800)]
    node['groups'].append(dict(user='nova', host='10.0.0.22', db='nova_api', command='Sleep', service='nova',
                               count=2, time_max=40, idle_max=40, in_transaction=0))
    return node


def checkup(previous=False):
    """playbooks/checkup.yml's report (openstack_ops.checkup/v1), made by plugin_utils/checkup.py itself from module
    results shaped as the other samples: seed 000's audit, the cells findings, seed 003's piled-up queues, one
    conductor that does not answer, and a check that could not run (its error holds a password in a URL). With
    ``previous``, compared with an earlier run whose leak was smaller (worse now) and with a queue since fixed."""
    audit = placement_audit()
    before_queues = conductor_recovery()['queues']['before']
    results = dict(
        placement_allocations=dict(audit=audit),
        cells_mappings=dict(failed=True, msg="cannot read nova_api at mysql+pymysql://nova:s3cret-Pa55@db1:3306/"
                                             "nova_api: (2003, \"Can't connect\")"),
        messaging_queues=dict(queues=before_queues),
        conductors_ping=dict(ctl1=dict(answered=True, consumers=1, attempts=1, elapsed=0.05),
                             ctl2=dict(answered=False, consumers=0, attempts=3, error='MessagingTimeout after 10 s',
                                       elapsed=30.1)))
    selected = ['placement_allocations', 'cells_mappings', 'messaging_queues', 'conductors_ping']
    earlier = None
    if previous:
        old_queues = [dict(before_queues[1], name='scheduler', messages_ready=3)]
        earlier = checkup_utils.report(dict(results, messaging_queues=dict(queues=old_queues), conductors_ping={}),
                                       selected=selected, started='2026-12-02T03:00:00+00:00',
                                       ended='2026-12-02T03:00:30+00:00')
        for finding in earlier['findings']:   # the leak has grown since: worse
            finding['value'] -= 1024 if finding['id'] == 'placement_allocations.leaked' else 0
    return checkup_utils.report(results, selected=selected, previous=earlier, fail_on='high',
                                started='2026-12-03T03:00:00+00:00', ended='2026-12-03T03:00:40+00:00')


def placement_fit(fits=False):
    """diagnose_novalidhost.yml's report: the fit check of seed 000's 1 VCPU / 1024 MB / 10 GB request."""
    blocked = [dict(uuid=COMPUTE1, name='compute1', fits=0, reasons=[dict(
        resource_class='MEMORY_MB', provider_uuid=COMPUTE1, provider_name='compute1', requested=1024, capacity=10993,
        used=12450, free=-1457, reserved=512, allocation_ratio=1.5, max_unit=7841, min_unit=1, step_size=1,
        shortfall=2481, reason='MEMORY_MB: asks 1024, only 0 free: capacity 10993 = (7841 - reserved 512) * '
                               'allocation_ratio 1.5, used 12450')])]
    candidates = [dict(uuid=COMPUTE2, name='compute2', fits=9)] if fits else []
    if not fits:
        blocked.append(dict(uuid=COMPUTE2, name='compute2', fits=0, reasons=[
            dict(resource_class=None, reason='no provider in the tree has the trait(s) CUSTOM_GPU'),
            dict(resource_class='DISK_GB', provider_uuid=COMPUTE2, provider_name='compute2', requested=10,
                 capacity=100, used=95, free=5, reserved=0, allocation_ratio=1.0, max_unit=100, min_unit=1,
                 step_size=1, shortfall=5, reason='DISK_GB: asks 10, only 5 free: capacity 100 = (100 - reserved 0) '
                                                  '* allocation_ratio 1.0, used 95')]))
    return dict(request=dict(resources={'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 10},
                             required_traits=[] if fits else ['CUSTOM_GPU']),
                fits=fits, candidates=candidates, blocked=blocked, total_fits=9 if fits else 0)


def tuning(check_mode=False, shorter=False):
    """tune_nova.yml's report (plain mode, two hosts): one host changed and restarted, one already in force."""
    wait_after = dict(retries=20 if shorter else 200, interval=3, total=60 if shorter else 600, source='file and default')
    changed = dict(host='ctl1', result='ok', backup_file='/etc/nova/nova.conf.4321.2026-12-03@03:00:00~',
                   changed_settings=['[filter_scheduler] host_subset_size', '[DEFAULT] block_device_allocate_retries'],
                   settings=[
                       dict(section='filter_scheduler', option='host_subset_size', path='/etc/nova/nova.conf',
                            before=None, after='3', changed=True, skipped=False, services=['nova-scheduler']),
                       dict(section='DEFAULT', option='block_device_allocate_retries', path='/etc/nova/nova.conf',
                            before=None, after=str(wait_after['retries']), changed=True, skipped=False,
                            services=['nova-compute']),
                       dict(section='database', option='connection_recycle_time', path='/etc/nova/nova.conf',
                            before='280', after='280', changed=False, skipped=False, services=['nova-conductor'])],
                   waits=[dict(name='block_device_allocate', path='/etc/nova/nova.conf', shorter=shorter,
                               before=dict(retries=60, interval=3, total=180, source='default'), after=wait_after,
                               summary=f'block_device_allocate wait in /etc/nova/nova.conf: 180 s -> '
                                       f'{wait_after["total"]} s')],
                   files=[], restarted=['nova-scheduler'], not_running=['nova-compute'])
    same = dict(host='ctl2', result='ok', backup_file=None, changed_settings=[], waits=[], files=[], restarted=[],
                not_running=[], settings=[dict(changed['settings'][0], before='3', changed=False)])
    return dict(runbook='tune_nova', check_mode=check_mode, mode='plain', ended='2026-12-03T03:02:00+00:00',
                hosts=[changed, same], next=None)


def tune_galera(check_mode=False):
    """tune_galera.yml's report (plain mode, three nodes): wait_timeout set at runtime and in the option file, a
    restart-only variable that restarted MariaDB, and wsrep_sst_auth (a secret: masked by the playbook already)."""
    option_file = '/etc/mysql/mariadb.conf.d/99-openstack-ops.cnf'
    status = dict(cluster_status='Primary', local_state='Synced', cluster_size=3)

    def node(host):
        settings = [
            dict(section='mysqld', option='wait_timeout', path=option_file, before='28800', after='5000', wanted=5000,
                 file_before=None, changed=True, skipped=False, services=['mariadb (at runtime)']),
            dict(section='mysqld', option='max_connections', path=option_file, before='4096', after='4096',
                 wanted=4096, file_before='4096', changed=False, skipped=False, services=['mariadb (at runtime)']),
            dict(section='mysqld', option='innodb_log_buffer_size', path=option_file, before='16777216',
                 after='16777216' if check_mode else '33554432', wanted=33554432, file_before=None, changed=True,
                 skipped=False, services=['mariadb (restart)']),
            dict(section='mysqld', option='wsrep_sst_auth', path=option_file, before='********', after='********',
                 wanted='********', file_before='********', changed=True, skipped=False,
                 services=['mariadb (at runtime)'])]
        return dict(host=host, result='ok', read=dict(before=status, after=status),
                    changed_settings=['wait_timeout', 'innodb_log_buffer_size', 'wsrep_sst_auth'], settings=settings,
                    waits=[], files=[], backup_file=None if check_mode else f'{option_file}.4321.2026-12-03@03:00:00~',
                    restarted=['mariadb'], not_running=[])
    return dict(runbook='tune_galera', check_mode=check_mode, mode='plain', ended='2026-12-03T03:04:00+00:00',
                result='planned' if check_mode else 'changed',
                read={'timeouts in order': True, 'timeouts': 'holds - connection_recycle_time 3600 < wait_timeout 5000 '
                                                             '< haproxy timeout 5400', 'connection_recycle_time': 3600,
                      'wait_timeout': 5000, 'haproxy timeout': 5400.0},
                hosts=[node('gal1'), node('gal2'), node('gal3')], next=None)


def fix_haproxy_balance(failed=False):
    """fix_haproxy_balance.yml's report (plain mode): lb1 switched from balance source, its Galera timeouts and
    single writer set, reloaded with every server UP; lb2 failed (or was already right)."""
    config = '/etc/haproxy/haproxy.cfg'

    def lb(host, changed):
        settings = [
            dict(section='nova_api_back', option='balance', path=config, before='source' if changed else 'roundrobin',
                 after='roundrobin', changed=changed, skipped=False, services=['haproxy (reload)']),
            dict(section='cinder_api_back', option='balance', path=config,
                 before='source (inherited)' if changed else 'roundrobin', after='roundrobin', changed=changed,
                 skipped=False, services=['haproxy (reload)']),
            dict(section='mariadb', option='timeout client', path=config, before='10s' if changed else '90m',
                 after='90m', changed=changed, skipped=False, services=['haproxy (reload)']),
            dict(section='mariadb', option='active (writer) servers', path=config,
                 before='gal1, gal2, gal3' if changed else 'gal1', after='gal1', changed=changed, skipped=False,
                 services=['haproxy (reload)'])]
        return dict(host=host, result='failed' if failed and host == 'lb2' else 'ok',
                    read={'Galera writers': 'mariadb: gal1 active, gal2 gal3 backup',
                          'servers of nova_api_back after the reload': 'ctl1 up, ctl2 up, ctl3 up'} if changed else {},
                    changed_settings=['nova_api_back', 'cinder_api_back', 'mariadb'] if changed else [],
                    settings=settings, waits=[], files=[],
                    backup_file=f'{config}.12345.2026-12-03@03:00:00~' if changed else None,
                    restarted=['haproxy (reload)'] if changed else [], not_running=[])
    return dict(runbook='fix_haproxy_balance', check_mode=False, mode='plain', ended='2026-12-03T03:05:00+00:00',
                result='failed' if failed else 'changed', hosts=[lb('lb1', True), lb('lb2', failed)], next=None)


def triage():
    """triage_instance.yml's report (nova_instance_triage's result): a NoValidHost in cell0 and a healthy server."""
    failed = dict(
        instance_uuid='2f565c93-6eec-4a74-b8e8-f55638b56da3', found=True, verdict='error', name='vm-fail',
        summary='error: vm_state error, task_state none in cell cell0; step scheduling',
        problems=[], vm_state='error', task_state=None, cell='cell0', cell0=True, host=None, state_age_seconds=42,
        step=dict(name='scheduling', task_state=None, seed_steps='3-12', what='the scheduler picks a host',
                  services=['nova-conductor', 'nova-scheduler', 'placement-api']),
        where_to_look=[dict(service='nova-scheduler', host=None,
                            logs=['/var/log/kolla/nova/nova-scheduler.log', '/var/log/nova/nova-scheduler.log'])],
        faults=[dict(code=500, message='找不到有效主机，原因是 。', details='Traceback ... NoValidHost',
                     host=None, created_at='2026-12-03T03:00:01')],
        actions=[dict(action='create', request_id='req-49530488-2149-4f15-85ea-5659267ffada',
                      start_time='2026-12-03T03:00:00', finish_time=None, message='Error',
                      events=[dict(event='conductor_schedule_and_build_instances', result='Error')])],
        migrations=[], allocations=dict(providers={}), host_service=None,
        request_ids=['req-49530488-2149-4f15-85ea-5659267ffada'])
    healthy = dict(
        instance_uuid='c2963f0d-370c-43aa-8cee-0131760d6ef2', found=True, verdict='healthy', name='vm-ok',
        summary='healthy: active on cmp1', problems=[], vm_state='active', task_state=None, cell='cell1', cell0=False,
        host='cmp1', state_age_seconds=600, step=None, where_to_look=[], faults=[], actions=[], migrations=[],
        allocations=dict(providers={COMPUTE1: dict(name='cmp1', resources=dict(VCPU=1, MEMORY_MB=512))}),
        host_service=dict(up=True, disabled=False, forced_down=False, last_report_age_seconds=4),
        request_ids=[])
    return dict(checked_at='2026-12-03T03:01:00', instances=[failed, healthy], cells=[],
                selection=dict(mode='given'), service_rule="up when its last report is within service_down_time (60 s)",
                summary=dict(triaged=2, verdicts=dict(error=1, healthy=1)),
                trace_request_terms=['req-49530488-2149-4f15-85ea-5659267ffada', failed['instance_uuid']])


def db_connections(failed=False):
    """inventory_db_connections.yml's report: two Galera nodes, one with seed 003's findings (or not read)."""
    finding = dict(kind='idle_in_transaction', service='nova', count=1, threads=[42],
                   message='1 connection(s) idle inside a transaction open for at least 60 s (longest 610 s, '
                           "3 row(s) locked): cut by a timeout, the client gets 'Transaction error, need to rollback'")
    held = dict(kind='long_held', service='nova', count=2, threads=[40, 41],
                message='nova: 2 connection(s) idle longer than connection_recycle_time 3600 (longest 5000 s)')
    gal1 = dict(
        msg='12 of max_connections 4096 connected',
        server=dict(where='10.0.0.11:3306', version='10.11.6-MariaDB', hostname='gal1'),
        variables=dict(wait_timeout=28800, interactive_timeout=28800, max_connections=4096, innodb_lock_wait_timeout=50),
        status=dict(threads_connected=12, aborted_clients=17), missing={},
        totals=dict(connections=9, system_threads=2, threads_connected=12, max_connections=4096, used_ratio=0.0029,
                    idle=8, idle_max=5000, transactions=2, lock_waits=1, findings=3),
        groups=[dict(user='nova', host='10.0.0.21', db='nova', command='Sleep', service='nova', count=6,
                     time_max=5000, idle_max=5000, in_transaction=1),
                dict(user='placement', host='10.0.0.21', db='placement', command='Query', service='(other users)',
                     count=1, time_max=30, idle_max=None, in_transaction=1)],
        transactions=[dict(trx_id='900', thread_id=42, state='RUNNING', age=610, waiting=None, rows_locked=3,
                           rows_modified=1, query=None, user='nova', host='10.0.0.21', db='nova', service='nova',
                           idle=True, idle_time=600),
                      dict(trx_id='901', thread_id=43, state='LOCK WAIT', age=30, waiting=30, rows_locked=1,
                           rows_modified=0, query='UPDATE instances SET task_state = <NULL>', user='nova',
                           host='10.0.0.22', db='nova', service='nova', idle=False, idle_time=0)],
        lock_waits=[dict(waiting_trx='901', waiting_thread=43, waiting_user='nova', waiting_seconds=30,
                         waiting_query='UPDATE instances SET task_state = <NULL>', blocking_trx='900',
                         blocking_thread=42, blocking_user='nova', blocking_idle=True, blocking_age=610,
                         lock_table='`nova`.`instances`', lock_index='PRIMARY', lock_mode='X')],
        findings=[held, finding, dict(kind='lock_wait', service=None, count=1, threads=[43],
                                      message='1 lock wait(s) (longest 30 s of innodb_lock_wait_timeout 50); blocked '
                                              'by thread(s) 42')])
    gal2 = (dict(msg="Cannot connect to database (default) at 10.0.0.12:3306: (2003, \"Can't connect\")", failed=True)
            if failed else dict(gal1, findings=[], groups=[], transactions=[], lock_waits=[],
                                server=dict(gal1['server'], where='10.0.0.12:3306', hostname='gal2'),
                                totals=dict(gal1['totals'], connections=0, idle=0, idle_max=0, transactions=0,
                                            lock_waits=0, findings=0)))
    return dict(runbook='inventory_db_connections', generated='2026-12-03T03:00:00.000000+00:00', check_mode=False,
                failed_nodes=['gal2'] if failed else [],
                finding_kinds=['idle_in_transaction', 'lock_wait', 'long_held'], nodes=dict(gal1=gal1, gal2=gal2))

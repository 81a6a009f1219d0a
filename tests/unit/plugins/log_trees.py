# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-host log trees laid out as on a kolla cloud, with the lines nova, placement and neutron write.

A boot of INSTANCE on ctl1's nova-api (request API_REQ), its conductor on ctl1, a scheduler on ctl2 that logs its
own request id (SCHED_REQ) with API_REQ as the global request id, and in the older format its filter lines with
SCHED_REQ only; cmp1 spawns it (COMPUTE_REQ, global API_REQ). A NoValidHost for FAILED in ctl2's rotated, gzipped
conductor log, message \\u-escaped as in seed 000, with its traceback. Noise everywhere.
"""

import gzip
import os

API_REQ = 'req-a35bfb7b-6330-4c88-9d65-1f507921044c'
SCHED_REQ = 'req-7a578ff5-2e78-410b-8168-5219efa84f9b'
COMPUTE_REQ = 'req-0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5'
NEUTRON_REQ = 'req-a0b216f9-577d-4f30-aca1-a862efec2a4e'
FAIL_REQ = 'req-49530488-2149-4f15-85ea-5659267ffada'
INSTANCE = 'c2963f0d-370c-43aa-8cee-0131760d6ef2'
FAILED = '2f565c93-6eec-4a74-b8e8-f55638b56da3'
USER, PROJECT = '72b83991e28f4ad7899edb062a5f58df', 'e4c1e5be90884260a4a374b8cc650e13'
CTX = f'{USER} {PROJECT} - - default default'
ESCAPED = '\\u627e\\u4e0d\\u5230\\u6709\\u6548\\u4e3b\\u673a\\uff0c\\u539f\\u56e0\\u662f \\u3002'
DECODED = '找不到有效主机，原因是 。'


def noise(day, count, pid, logger):
    return [f'{day} 12:{minute % 60:02d}:{minute % 59:02d}.{minute % 1000:03d} {pid} DEBUG {logger} '
            f'[None req-{minute:08d}-0000-4000-8000-000000000000 {CTX}] Noise line {minute}'
            for minute in range(count)]


def tree(base, noise_lines=50):
    """Write the logs of ctl1, ctl2, cmp1 and cmp2 under base/<host>/var/log/kolla; return {host: root}."""
    day = '2026-12-03'
    files = {
        'ctl1/nova/nova-api.log': noise(day, noise_lines, 15368, 'nova.api.openstack.wsgi') + [
            f"{day} 13:22:05.966 15368 DEBUG nova.api.openstack.wsgi [None {API_REQ} {CTX}] Action: 'create', "
            "calling method: <bound method ServersController.create of <nova.api.openstack.compute.servers."
            "ServersController object at 0x7f>>, body: {\"server\": {\"name\": \"vm1\"}} _process_stack",
            f"{day} 13:22:06.100 15368 DEBUG nova.compute.api [None {API_REQ} {CTX}] [instance: {INSTANCE}] "
            "block_device_mapping [] _bdm_validate_set_size_and_instance",
            f'{day} 13:22:07.309 15368 INFO nova.api.openstack.requestlog [None {API_REQ} {CTX}] 127.0.0.1 '
            '"POST /v2.1/servers" status: 202 len: 372 microversion: 2.95 time: 0.31',
        ],
        'ctl1/nova/nova-conductor.log': noise(day, noise_lines, 2001, 'nova.conductor.manager') + [
            f'{day} 13:22:07.400 2001 DEBUG nova.conductor.manager [None {API_REQ} {CTX}] [instance: {INSTANCE}] '
            'Scheduling instance build',
            f'{day} 13:22:08.900 2001 INFO nova.conductor.manager [None {API_REQ} {CTX}] [instance: {INSTANCE}] '
            'Casting build to compute cmp1',
        ],
        'ctl1/placement/placement-api.log': [
            f'{day} 13:22:07.700 900 INFO placement.requestlog [{API_REQ} {SCHED_REQ} {CTX}] 127.0.0.1 '
            '"GET /placement/allocation_candidates?resources=MEMORY_MB%3A512" status: 200 len: 900 '
            'microversion: 1.39',
        ],
        'ctl1/neutron/neutron-server.log': [
            f'{day} 13:22:09.295 1069 ERROR neutron.pecan_wsgi.hooks.translation [{API_REQ} {NEUTRON_REQ} '
            f'68953a86244a4b4690a9def868d7bf9d cd5ece7ea16d40dfa9d397932ce4220a - - default default] GET failed.: '
            'oslo_db.exception.DBError: (pymysql.err.OperationalError) lost connection',
            f'{day} 13:22:09.295 1069 ERROR neutron.pecan_wsgi.hooks.translation Traceback (most recent call last):',
            f'{day} 13:22:09.295 1069 ERROR neutron.pecan_wsgi.hooks.translation   File "/x.py", line 1, in f',
            f'{day} 13:22:09.295 1069 ERROR neutron.pecan_wsgi.hooks.translation oslo_db.exception.DBError: x',
        ],
        'ctl2/nova/nova-scheduler.log': noise(day, noise_lines, 3003, 'nova.scheduler.manager') + [
            f'{day} 13:22:07.500 3003 DEBUG nova.scheduler.manager [{API_REQ} {SCHED_REQ} {CTX}] Starting to '
            f'schedule for instances: [\'{INSTANCE}\'] select_destinations',
            # the older format: the scheduler's own request id only (seed 001)
            f'{day} 13:22:07.510 3003 DEBUG nova.filters [{SCHED_REQ} {USER} {PROJECT} - - -] Starting with 3 '
            'host(s) get_filtered_objects',
            f'{day} 13:22:07.520 3003 DEBUG nova.filters [{SCHED_REQ} {USER} {PROJECT} - - -] Filter '
            'ComputeFilter returned 3 host(s) get_filtered_objects',
            f'{day} 13:22:07.530 3003 DEBUG nova.filters [{SCHED_REQ} {USER} {PROJECT} - - -] Filter '
            'AggregateCoreFilter returned 1 host(s) get_filtered_objects',
            f'{day} 13:22:07.600 3003 DEBUG nova.scheduler.manager [{SCHED_REQ} {USER} {PROJECT} - - -] '
            'Weighed [WeighedHost [host: (cmp1, cmp1) ram: 3500MB disk: 20480MB io_ops: 0 instances: 1, '
            'weight: 1.0]] _get_sorted_hosts',
            f'{day} 13:22:07.610 3003 DEBUG nova.scheduler.manager [{SCHED_REQ} {USER} {PROJECT} - - -] '
            'Selected host: (cmp1, cmp1) ram: 3500MB disk: 20480MB io_ops: 0 instances: 1 _consume_selected_host',
        ],
        'ctl2/nova/nova-conductor.log.1': [
            f'{day} 11:05:44.860 31027 ERROR nova.conductor.manager [{FAIL_REQ} {USER} {PROJECT} - default default] '
            f'Failed to schedule instances: NoValidHost_Remote: {ESCAPED}',
        ],
        'ctl2/nova/nova-conductor.log.2.gz': noise(day, noise_lines, 31027, 'nova.conductor.manager') + [
            f'{day} 11:05:45.403 31027 WARNING nova.scheduler.utils [{FAIL_REQ} {CTX}] [instance: {FAILED}] '
            f'Setting instance to ERROR state.: NoValidHost_Remote: {ESCAPED}',
            f'{day} 11:05:45.403 31027 WARNING nova.scheduler.utils Traceback (most recent call last):',
            f'{day} 11:05:45.403 31027 WARNING nova.scheduler.utils   File "/usr/lib/nova/scheduler/manager.py", '
            'line 138, in select_destinations',
            f'{day} 11:05:45.403 31027 WARNING nova.scheduler.utils     raise exception.NoValidHost(reason="")',
            f'{day} 11:05:45.403 31027 WARNING nova.scheduler.utils NoValidHost: {ESCAPED}',
        ],
        'cmp1/nova/nova-compute.log': noise(day, noise_lines, 4004, 'nova.compute.manager') + [
            f'{day} 13:22:09.000 4004 INFO nova.compute.claims [{API_REQ} {COMPUTE_REQ} {CTX}] [instance: '
            f'{INSTANCE}] Claim successful on node cmp1',
            f'{day} 13:22:10.500 4004 INFO nova.compute.manager [{API_REQ} {COMPUTE_REQ} {CTX}] [instance: '
            f'{INSTANCE}] Took 1.20 seconds to spawn the instance on the hypervisor.',
            f'{day} 13:22:10.600 4004 DEBUG nova.compute.manager [None {COMPUTE_REQ} {CTX}] [instance: '
            f'{INSTANCE}] Checking state _get_power_state',
        ],
        'cmp2/nova/nova-compute.log': noise(day, noise_lines, 5005, 'nova.compute.manager'),
    }
    roots = {}
    for relative, lines in files.items():
        host, project, name = relative.split('/')
        path = os.path.join(base, host, 'var', 'log', 'kolla', project, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = ('\n'.join(lines) + '\n').encode()
        if name.endswith('.gz'):
            with gzip.open(path, 'wb') as stream:
                stream.write(data)
        else:
            with open(path, 'wb') as stream:
                stream.write(data)
        roots[host] = os.path.join(base, host, 'var', 'log', 'kolla')
    return roots

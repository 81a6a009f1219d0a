# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oslo.log lines as the cloud lab's nova 34 / neutron 29 and the seeds' older releases wrote them."""

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import log_records

UTC = log_records.log_timezone('UTC')
NOVA = ("2026-12-03 13:22:05.966 15368 DEBUG nova.api.openstack.wsgi [None req-a35bfb7b-6330-4c88-9d65-1f507921044c "
        "72b83991e28f4ad7899edb062a5f58df e4c1e5be90884260a4a374b8cc650e13 - - default default] Action: 'create', "
        "calling method: <bound method ServersController.create")
NEUTRON = ("2026-12-03 13:39:17.295 1069 ERROR neutron.pecan_wsgi.hooks.translation [req-b2812170-f81b-46a7-8199-"
           "246d65eb693a req-a0b216f9-577d-4f30-aca1-a862efec2a4e 68953a86244a4b4690a9def868d7bf9d "
           "cd5ece7ea16d40dfa9d397932ce4220a - - default default] GET failed.: boom")
OLD = ("2016-10-28 15:16:00.465 195267 DEBUG nova.filters [req-7a578ff5-2e78-410b-8168-5219efa84f9b "
       "2eafeb9a3d184115bfc0ba6a61c1f4b9 1c32d3e9bbe9419f85b37b4a6c0e2f3e - - -] Filter AggregateCoreFilter returned "
       "8 host(s) get_filtered_objects")
SEED_000 = ("2018-12-27 15:05:45.403 31027 WARNING nova.scheduler.utils [req-49530488-2149-4f15-85ea-5659267ffada "
            "8668aa3368c0427c98b1d1824a36f720 f30a92c42d264a79ba5744b084346a2d - default default] [instance: "
            "c2963f0d-370c-43aa-8cee-0131760d6ef2] Setting instance to ERROR state.: NoValidHost_Remote: "
            "\\u627e\\u4e0d\\u5230\\u6709\\u6548\\u4e3b\\u673a\\uff0c\\u539f\\u56e0\\u662f \\u3002")


def parse(lines, path='/var/log/kolla/nova/nova-api.log', tz=UTC):
    return [record.as_dict('ctl1', path, tz) for record in log_records.records(lines)]


def test_novas_context_has_the_global_request_id_first_none_when_none_was_passed():
    [record] = parse([NOVA])
    assert record['time'] == '2026-12-03T13:22:05.966+00:00' and record['pid'] == 15368
    assert (record['level'], record['logger'], record['service']) == ('DEBUG', 'nova.api.openstack.wsgi', 'nova-api')
    assert record['request_id'] == 'req-a35bfb7b-6330-4c88-9d65-1f507921044c'
    assert record['global_request_id'] is None
    assert record['user_id'] == '72b83991e28f4ad7899edb062a5f58df'
    assert record['project_id'] == 'e4c1e5be90884260a4a374b8cc650e13'
    assert record['message'].startswith("Action: 'create', calling method")


def test_neutrons_global_request_id_then_its_own_and_the_traceback_joined():
    lines = [NEUTRON] + [NEUTRON[:NEUTRON.index('[')] + text for text in
                         ('Traceback (most recent call last):', '  File "x.py", line 1', 'DBError: gone')]
    [record] = parse(lines, '/var/log/kolla/neutron/neutron-server.log.1')
    assert record['global_request_id'] == 'req-b2812170-f81b-46a7-8199-246d65eb693a'
    assert record['request_id'] == 'req-a0b216f9-577d-4f30-aca1-a862efec2a4e'
    assert record['service'] == 'neutron-server'
    assert record['message'].splitlines() == ['GET failed.: boom', 'Traceback (most recent call last):',
                                              '  File "x.py", line 1', 'DBError: gone']


def test_the_older_context_without_a_global_id_and_a_line_without_context():
    old, bare = parse([OLD, '2026-12-03 13:22:05.966 15368 INFO nova.service [-] Starting conductor node'])
    assert old['request_id'] == 'req-7a578ff5-2e78-410b-8168-5219efa84f9b' and old['global_request_id'] is None
    assert old['user_id'] == '2eafeb9a3d184115bfc0ba6a61c1f4b9'
    assert (bare['request_id'], bare['user_id'], bare['message']) == (None, None, 'Starting conductor node')


def test_seed_000s_escaped_fault_is_decoded_and_its_instance_found():
    [record] = parse([SEED_000])
    assert record['instances'] == ['c2963f0d-370c-43aa-8cee-0131760d6ef2']
    assert record['message'] == 'Setting instance to ERROR state.: NoValidHost_Remote: 找不到有效主机，原因是 。'


def test_a_new_record_with_the_same_prefix_and_a_context_is_not_a_continuation():
    assert len(parse([NOVA, NOVA.replace("'create'", "'delete'")])) == 2


def test_uuids_and_request_ids_in_the_message_and_secrets_masked():
    line = NOVA.replace("Action: 'create', calling method: <bound method ServersController.create",
                        'GET /v2.1/servers/2f565c93-6eec-4a74-b8e8-f55638b56da3 image 11111111-2222-4333-8444-'
                        '555555555555 (Request-ID: req-999c856a-e2b6-4360-9fba-3bf8db6e283f) '
                        'rabbit://nova:s3cret@ctl1:5672/ X-Auth-Token: gAAAAB123')
    [record] = parse([line])
    assert record['instances'] == ['2f565c93-6eec-4a74-b8e8-f55638b56da3']
    assert record['uuids'] == ['11111111-2222-4333-8444-555555555555']
    assert record['request_ids'] == ['req-999c856a-e2b6-4360-9fba-3bf8db6e283f']
    assert 's3cret' not in record['message'] and 'gAAAAB123' not in record['message']


@pytest.mark.parametrize('name, offset', [('UTC', '+00:00'), ('+08:00', '+08:00'), ('-0530', '-05:30')])
def test_times_carry_the_logs_zone(name, offset):
    [record] = parse([NOVA], tz=log_records.log_timezone(name))
    assert record['time'] == f'2026-12-03T13:22:05.966{offset}'


def test_a_bad_zone_is_refused():
    with pytest.raises(ValueError, match='not local, UTC or an offset'):
        log_records.log_timezone('Mars/Olympus')


@pytest.mark.parametrize('path, service', [('/var/log/kolla/nova/nova-api.log', 'nova-api'),
                                           ('/var/log/nova/nova-compute.log.1', 'nova-compute'),
                                           ('/var/log/kolla/nova/nova-conductor.log.2.gz', 'nova-conductor')])
def test_the_service_is_the_file_name_without_rotation(path, service):
    assert log_records.service_of(path) == service

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oslo.log lines as the cloud lab's nova 34 / neutron 29 and the seeds' older releases wrote them."""

from datetime import datetime

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


# The lines around oslo's that an operator meets: haproxy through rsyslog (package, /var/log/haproxy.log) and kolla's
# (/var/log/kolla/haproxy/haproxy.log), Apache's access and error logs (keystone, horizon under mod_wsgi), the journal.
HAPROXY_HTTP = ('Dec  4 15:00:00 ctl1 haproxy[123]: 10.0.0.1:51890 [04/Dec/2026:15:00:00.123] nova_api '
                'nova_api_back/ctl2 0/0/1/120/121 503 372 - - sH-- 1/1/0/0/0 0/0 '
                '"GET /v2.1/servers/2f565c93-6eec-4a74-b8e8-f55638b56da3 HTTP/1.1"')
HAPROXY_ISO = ('2026-12-04T15:00:01.500000+00:00 ctl1 haproxy[123]: 10.0.0.2:40000 [04/Dec/2026:15:00:01.001] '
               'keystone_external~ keystone_external_back/ctl1 0/0/0/12/12 404 211 - - ---- 2/2/0/0/0 0/0 '
               '{req-999c856a-e2b6-4360-9fba-3bf8db6e283f} "GET /v3/users/x?password=s3cret HTTP/1.1"')
HAPROXY_TCP = ('Dec  4 15:00:02 ctl1 haproxy[123]: 10.0.0.3:33313 [04/Dec/2026:15:00:02.443] mariadb '
               'mariadb_back/ctl1 1/0/5007 212 -- 0/0/0/0/3 0/0')
HAPROXY_DOWN = 'Dec  4 15:00:03 ctl1 haproxy[123]: Server nova_api_back/ctl2 is DOWN, reason: Layer4 timeout'
ACCESS = ('10.0.0.1 - - [04/Dec/2026:16:00:00 +0100] "GET /identity/v3/auth/tokens HTTP/1.1" 200 123 "-" '
          '"python-keystoneclient"')
ACCESS_5XX = ('ctl1:5000 10.0.0.9 - admin [04/Dec/2026:15:00:05.250 +0000] "POST /v3/auth/tokens HTTP/1.1" 500 '
              '531 "-" "openstacksdk/4.1.0" 20345')
ERROR_PREFIX = '[Fri Dec 04 15:00:06.123456 2026] [wsgi:error] [pid 123:tid 456] [remote 10.0.0.1:5555] '
JOURNAL_OSLO = ('2026-12-04T15:00:07.123456+0000 ctl1 nova-conductor[1234]: 2026-12-04 15:00:07.120 1234 ERROR '
                'nova.conductor.manager [None req-a35bfb7b-6330-4c88-9d65-1f507921044c 72b83991e28f4ad7899edb062a5f58df '
                'e4c1e5be90884260a4a374b8cc650e13 - default default] [instance: c2963f0d-370c-43aa-8cee-0131760d6ef2] '
                'Failed to schedule instances: NoValidHost_Remote: \\u627e\\u4e0d')
JOURNAL_DEVSTACK = ('2026-12-04T16:00:08.000001+01:00 ctl1 devstack@n-api.service[2001]: \x1b[00;36mDEBUG '
                    'nova.api.openstack.wsgi [None req-a35bfb7b-6330-4c88-9d65-1f507921044c admin admin] Action: '
                    '\'create\'')
JOURNAL_PLAIN = '2026-12-04T15:00:09.654321+0000 ctl1 nova-compute[99]: Starting nova-compute, pid 99'


def test_haproxys_http_line_through_rsyslog_takes_the_accept_date_and_the_status_as_level():
    [record] = parse([HAPROXY_HTTP], '/var/log/haproxy.log')
    assert record['time'] == '2026-12-04T15:00:00.123+00:00'
    assert (record['service'], record['pid'], record['level'], record['logger']) == \
        ('haproxy', 123, 'ERROR', 'haproxy.http')
    assert record['message'].startswith('10.0.0.1:51890 nova_api nova_api_back/ctl2 0/0/1/120/121 503 372 ')
    assert record['instances'] == ['2f565c93-6eec-4a74-b8e8-f55638b56da3']


def test_haproxy_with_an_rfc3339_prefix_a_tcp_line_and_a_server_event_are_records_of_their_own():
    iso, tcp, down = parse([HAPROXY_ISO, HAPROXY_TCP, HAPROXY_DOWN], '/var/log/kolla/haproxy/haproxy.log')
    assert (iso['time'], iso['level']) == ('2026-12-04T15:00:01.001+00:00', 'WARNING')
    assert iso['request_id'] == 'req-999c856a-e2b6-4360-9fba-3bf8db6e283f'
    assert 'keystone_external~ keystone_external_back/ctl1' in iso['message'] and 's3cret' not in iso['message']
    assert (tcp['time'], tcp['level'], tcp['logger']) == ('2026-12-04T15:00:02.443+00:00', 'INFO', 'haproxy.tcp')
    assert tcp['message'] == '10.0.0.3:33313 mariadb mariadb_back/ctl1 1/0/5007 212 -- 0/0/0/0/3 0/0'
    assert (down['time'], down['level'], down['message']) == \
        ('2026-12-04T15:00:03.000+00:00', 'INFO', 'Server nova_api_back/ctl2 is DOWN, reason: Layer4 timeout')


def test_a_syslog_time_without_a_year_is_in_the_year_before_its_reference_when_later_than_it():
    [record] = [r.as_dict('ctl1', '/var/log/haproxy.log', UTC) for r in log_records.records(
        [HAPROXY_DOWN], reference=datetime(2027, 1, 2, 8, 0))]
    assert record['time'] == '2026-12-04T15:00:03.000+00:00'


def test_apaches_access_lines_are_converted_to_the_logs_zone_and_leveled_by_status():
    ok, failed = parse([ACCESS, ACCESS_5XX], '/var/log/kolla/keystone/keystone-apache-public-access.log')
    assert (ok['time'], ok['level'], ok['pid']) == ('2026-12-04T15:00:00.000+00:00', 'INFO', None)
    assert ok['message'] == '10.0.0.1 "GET /identity/v3/auth/tokens HTTP/1.1" 200 123 "-" "python-keystoneclient"'
    assert ok['service'] == 'keystone-apache-public-access'
    assert (failed['level'], failed['time']) == ('ERROR', '2026-12-04T15:00:05.000+00:00')
    assert failed['message'].startswith('10.0.0.9 "POST /v3/auth/tokens HTTP/1.1" 500 531')


def test_apaches_error_log_joins_a_traceback_written_line_by_line_and_parses_an_oslo_line_in_it():
    lines = [ERROR_PREFIX + 'Internal Server Error: /dashboard/project/instances/',
             ERROR_PREFIX + 'Traceback (most recent call last):',
             ERROR_PREFIX + '  File "/usr/lib/python3/dist-packages/django/core/handlers/exception.py", line 55',
             ERROR_PREFIX + 'keystoneauth1.exceptions.http.Unauthorized: The request you have made requires '
                            'authentication. (HTTP 401) (Request-ID: req-999c856a-e2b6-4360-9fba-3bf8db6e283f)',
             ERROR_PREFIX + 'Login successful for user "admin".',
             ERROR_PREFIX + '2026-12-04 15:00:06.120 123 WARNING keystone.server.flask.application '
                            '[req-a0b216f9-577d-4f30-aca1-a862efec2a4e - - - - - -] Authorization failed.']
    horizon, login, keystone = parse(lines, '/var/log/apache2/horizon_error.log')
    assert (horizon['time'], horizon['level'], horizon['pid'], horizon['logger']) == \
        ('2026-12-04T15:00:06.123+00:00', 'ERROR', 123, 'wsgi')
    assert horizon['message'].splitlines()[0] == 'Internal Server Error: /dashboard/project/instances/'
    assert horizon['message'].splitlines()[-1].startswith('keystoneauth1.exceptions.http.Unauthorized')
    assert horizon['request_ids'] == ['req-999c856a-e2b6-4360-9fba-3bf8db6e283f']
    assert login['message'] == 'Login successful for user "admin".'
    assert (keystone['level'], keystone['logger'], keystone['request_id']) == \
        ('WARNING', 'keystone.server.flask.application', 'req-a0b216f9-577d-4f30-aca1-a862efec2a4e')
    assert keystone['time'] == '2026-12-04T15:00:06.120+00:00' and keystone['message'] == 'Authorization failed.'


def test_journal_lines_an_oslo_line_devstacks_bare_one_and_plain_text():
    oslo, devstack, plain = parse([JOURNAL_OSLO, JOURNAL_DEVSTACK, JOURNAL_PLAIN], 'journal')
    assert (oslo['service'], oslo['pid'], oslo['level'], oslo['time']) == \
        ('nova-conductor', 1234, 'ERROR', '2026-12-04T15:00:07.120+00:00')
    assert oslo['request_id'] == 'req-a35bfb7b-6330-4c88-9d65-1f507921044c'
    assert oslo['instances'] == ['c2963f0d-370c-43aa-8cee-0131760d6ef2']
    assert oslo['message'] == 'Failed to schedule instances: NoValidHost_Remote: 找不'
    assert (devstack['service'], devstack['level'], devstack['logger']) == \
        ('devstack@n-api', 'DEBUG', 'nova.api.openstack.wsgi')
    assert devstack['time'] == '2026-12-04T15:00:08.000+00:00' and devstack['message'] == "Action: 'create'"
    assert devstack['request_id'] == 'req-a35bfb7b-6330-4c88-9d65-1f507921044c' and devstack['user_id'] == 'admin'
    assert (plain['service'], plain['level'], plain['logger'], plain['pid']) == \
        ('nova-compute', 'INFO', 'nova-compute', 99)
    assert plain['message'] == 'Starting nova-compute, pid 99' and plain['time'] == '2026-12-04T15:00:09.654+00:00'


def test_devstacks_traceback_in_the_journal_joins_its_record_and_a_line_without_header_still_continues():
    error = JOURNAL_DEVSTACK.replace('DEBUG', 'ERROR').replace("Action: 'create'", 'Build failed')
    prefix = '2026-12-04T16:00:08.000002+01:00 ctl1 devstack@n-api.service[2001]: ERROR nova.api.openstack.wsgi '
    [record] = parse([error, prefix + 'Traceback (most recent call last):', prefix + '  File "x.py", line 1',
                      '    continued without a header'], 'journal')
    assert record['message'].splitlines() == ['Build failed', 'Traceback (most recent call last):',
                                              '  File "x.py", line 1', '    continued without a header']


def test_an_oslo_or_haproxy_message_in_a_journal_line_takes_the_prefixs_zone():
    prefix = '2026-12-04T14:22:07.{} ctl1 {}: '
    lines = [prefix.format('001000+01:00', 'nova-conductor[1234]') +
             '2026-12-04 14:22:07.001 1234 INFO nova.conductor.manager [-] oslo',
             prefix.format('002000+01:00', 'haproxy[123]') + HAPROXY_HTTP.split(': ', 1)[1].replace(
                 '04/Dec/2026:15:00:00.123', '04/Dec/2026:14:22:07.002'),
             prefix.format('003000+01:00', 'nova-compute[99]') + 'plain',
             prefix.format('004000+0100', 'nova-compute[99]') + '2026-12-04 14:22:07.004 99 WARNING nova.x [-] four']
    times = [record['time'] for record in parse(lines, 'journal')]
    assert times == ['2026-12-04T13:22:07.001+00:00', '2026-12-04T13:22:07.002+00:00',
                     '2026-12-04T13:22:07.003+00:00', '2026-12-04T13:22:07.004+00:00']
    # a prefix without zone (rsyslog's traditional one) leaves the inner time in the logs' zone
    [record] = parse([HAPROXY_HTTP], '/var/log/haproxy.log', log_records.log_timezone('+01:00'))
    assert record['time'] == '2026-12-04T15:00:00.123+01:00'


@pytest.mark.parametrize('line', [
    '2026-12-04T14:22:07.000001+9999 ctl1 nova-compute[99]: an offset of 99 hours',
    '0001-01-01T00:00:00+01:00 ctl1 nova-compute[99]: before year 1 in UTC',
    ACCESS.replace('+0100', '+2500'),
])
def test_a_time_with_an_impossible_offset_is_no_time_and_its_line_continues_the_record_before(line):
    assert log_records.parse_header(line) is None
    [record] = parse([JOURNAL_PLAIN, line], 'journal')
    assert record['message'].splitlines() == ['Starting nova-compute, pid 99', line]


@pytest.mark.parametrize('client', ['::ffff:10.0.0.1:5555', '::1:5555'])
def test_a_haproxy_line_of_an_ipv6_client_starting_with_a_colon_is_a_record_of_its_own(client):
    bare = HAPROXY_HTTP.split(': ', 1)[1]
    line = bare.replace('10.0.0.1:51890', client).replace('15:00:00.123', '15:00:04.500')
    first, second = parse([bare, line], '/var/log/kolla/haproxy/haproxy.log')
    assert (second['time'], second['level'], second['logger']) == ('2026-12-04T15:00:04.500+00:00', 'ERROR',
                                                                   'haproxy.http')
    assert second['message'].startswith(f'{client} nova_api nova_api_back/ctl2 ') and first['time'] != second['time']

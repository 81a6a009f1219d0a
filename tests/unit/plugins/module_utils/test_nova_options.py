# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import json
import subprocess

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_options as no
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


def plan(*settings, **kwargs):
    return no.plan(list(settings), **kwargs)[0]


def test_known_options_are_typed_and_carry_the_services_that_read_them():
    changes = plan({'option': 'block_device_allocate_retries', 'value': '10'},
                   {'section': 'filter_scheduler', 'option': 'shuffle_best_same_weighed_hosts', 'value': 'Yes'},
                   {'section': 'Database', 'option': 'max_pool_size', 'value': 10})
    assert [(c.group, c.key, c.value, c.known) for c in changes] == [
        ('DEFAULT', 'block_device_allocate_retries', '10', True),
        ('filter_scheduler', 'shuffle_best_same_weighed_hosts', 'true', True),
        ('database', 'max_pool_size', '10', True)]
    assert changes[0].services == ('nova-compute',) and changes[1].services == ('nova-scheduler',)
    assert 'nova-compute' not in changes[2].services and 'nova-novncproxy' in changes[2].services
    assert no.services_of(changes) == list(no.SERVICES)
    assert no.services_of(changes[1:]) == [service for service in no.SERVICES if service != 'nova-compute']


def test_an_unknown_option_is_read_by_every_service_unless_told():
    everyone, conductors = plan({'section': 'conductor', 'option': 'workers', 'value': 4},
                                {'section': 'api', 'option': 'max_limit', 'value': True, 'services': ['nova-api']})
    assert everyone.services == no.SERVICES and not everyone.known
    assert conductors.services == ('nova-api',) and conductors.value == 'true'


def test_every_problem_is_named_at_once():
    with pytest.raises(OpsError) as error:
        plan({'option': 'block_device_allocate_retries', 'value': 'ten'},
             {'option': 'block_device_allocate_retries', 'value': -1},
             {'section': 'filter_scheduler', 'option': 'host_subset_size', 'value': 0},
             {'section': 'filter_scheduler', 'option': 'shuffle_best_same_weighed_hosts', 'value': 'maybe'},
             {'section': 'api', 'option': 'max_limit', 'value': 5, 'services': ['nova-apii']},
             {'section': 'database', 'option': 'max_pool_size', 'value': 5, 'services': ['nova-api']},
             {'option': 'bad name', 'value': 1},
             {'option': 'debug', 'value': None},
             {'option': 'debug', 'value': 'a\nb'})
    assert error.value.details['problems'] == [
        "[DEFAULT] block_device_allocate_retries: 'ten' is not a number",
        '[DEFAULT] block_device_allocate_retries: -1 is below its minimum 0',
        '[filter_scheduler] host_subset_size: 0 is below its minimum 1',
        "[filter_scheduler] shuffle_best_same_weighed_hosts: 'maybe' is not a boolean (true or false)",
        '[api] max_limit: services nova-apii are not nova services (known: ' + ', '.join(no.SERVICES) + ')',
        '[database] max_pool_size is read by ' + ', '.join(no.CELL_DB_SERVICES) + '; its services cannot be changed',
        "setting 7: 'bad name' is not a option name (letters, digits, _ . -)",
        '[DEFAULT] debug: None is not a value (a string, number or boolean is expected)',
        "'a\\nb': a value of one line is expected",
    ]
    assert error.value.msg.startswith('invalid settings, nothing was changed: ')


def test_the_same_option_twice_is_refused():
    with pytest.raises(OpsError, match=r'\[database\] max_overflow is given twice'):
        plan({'section': 'database', 'option': 'max_overflow', 'value': 1},
             {'section': 'DATABASE', 'option': 'max_overflow', 'value': 2})


def test_a_file_value_with_the_same_meaning_is_the_same():
    retries, shuffle, other = plan({'option': 'block_device_allocate_retries', 'value': 10},
                                   {'section': 'filter_scheduler', 'option': 'shuffle_best_same_weighed_hosts', 'value': True},
                                   {'section': 'api', 'option': 'max_limit', 'value': 5})
    assert no.same(retries, ' 10') and not no.same(retries, '11') and not no.same(retries, None)
    assert not no.same(retries, '10 # retries')   # oslo.config would not read that as 10 either
    assert no.same(shuffle, 'True') and no.same(shuffle, 'on') and not no.same(shuffle, 'false')
    assert no.same(other, '5') and not no.same(other, '05')


def test_kolla_overrides_go_to_the_files_of_the_services_that_read_them():
    changes = plan({'option': 'rpc_response_timeout', 'value': 90},
                   {'option': 'block_device_allocate_retries', 'value': 10},
                   {'section': 'conductor', 'option': 'workers', 'value': 2, 'services': ['nova-conductor']})
    files = no.kolla_files('/etc/kolla/config/', changes)
    assert {path: [c.key for c in found] for path, found in files.items()} == {
        '/etc/kolla/config/nova.conf': ['rpc_response_timeout'],
        '/etc/kolla/config/nova/nova-compute.conf': ['block_device_allocate_retries'],
        '/etc/kolla/config/nova/nova-conductor.conf': ['workers'],
        '/etc/kolla/config/nova/nova-super-conductor.conf': ['workers'],
    }


def fake_nova(answer):
    calls = []

    def run(argv, **kwargs):
        calls.append((argv, json.loads(kwargs['input'])))
        return subprocess.CompletedProcess(argv, 0, stdout=json.dumps(answer) + '\n', stderr='')
    return run, calls


def test_nova_itself_names_unknown_options_with_the_nearest_ones_and_refused_values():
    run, calls = fake_nova({'version': '34.0.0', 'answers': [
        {'known': False, 'group_known': True, 'close': ['host_subset_size', 'weight_classes']},
        {'known': False, 'group_known': False, 'close': []},
        {'known': True, 'group_known': True, 'close': [], 'error': 'invalid literal'},
        {'known': True, 'group_known': True, 'close': []}]})
    with pytest.raises(OpsError) as error:
        plan({'section': 'filter_scheduler', 'option': 'host_subset_sise', 'value': 3},
             {'section': 'nosuch', 'option': 'x', 'value': 1},
             {'section': 'api', 'option': 'max_limit', 'value': 'plenty'},
             {'option': 'debug', 'value': 'true'},
             nova_python='/opt/nova/bin/python', run=run)
    assert calls[0][0][:2] == ['/opt/nova/bin/python', '-c']
    assert calls[0][1]['settings'][0] == ['filter_scheduler', 'host_subset_sise', '3'] and calls[0][1]['defaults'] == []
    assert error.value.details['problems'] == [
        '[filter_scheduler] host_subset_sise is not an option of nova 34.0.0; did you mean host_subset_size?',
        '[nosuch] x is not an option of nova 34.0.0 (nova has no [nosuch] section)',
        "[api] max_limit: nova 34.0.0 refuses 'plenty': invalid literal"]


def test_nova_is_not_asked_when_the_table_already_refused_everything():
    run, calls = fake_nova({})
    with pytest.raises(OpsError, match='is not a number'):
        plan({'option': 'block_device_allocate_retries', 'value': 'x'}, nova_python='python3', run=run)
    assert calls == []


def test_an_interpreter_without_nova_says_which_variable_to_set():
    run = fake_nova({'error': 'nova is not installed for this interpreter'})[0]
    with pytest.raises(OpsError, match='python3: nova is not installed for this interpreter; set nova_python'):
        plan({'option': 'debug', 'value': 'true'}, nova_python='python3', run=run)
    broken = subprocess.CompletedProcess([], 1, stdout='', stderr='Traceback ... ImportError: oslo_config')
    with pytest.raises(OpsError, match="could not list nova's options \\(rc=1\\): Traceback"):
        plan({'option': 'debug', 'value': 'true'}, nova_python='python3', run=lambda *a, **k: broken)


def test_nova_says_the_defaults_asked_for():
    run, calls = fake_nova({'version': '34.0.0', 'answers': [], 'defaults': [60, None]})
    asked = [('DEFAULT', 'block_device_allocate_retries'), ('DEFAULT', 'no_such_option')]

    changes, version, defaults = no.plan([], nova_python='python3', run=run, defaults_of=asked)

    assert changes == [] and version == '34.0.0' and calls[0][1] == dict(settings=[], defaults=[list(name) for name in asked])
    assert defaults == {asked[0]: 60, asked[1]: None}

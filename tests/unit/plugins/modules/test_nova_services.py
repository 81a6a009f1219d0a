# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nova_services: which candidate unit is a service's, its state and start, and whether it runs an older config.

``systemctl show`` is answered from a table of units and the clocks are fixed; the configuration file is a real
file under tmp_path whose mtime the tests set.
"""

import os

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openstack_ops.runbooks.plugins.modules import nova_services

BOOT = 1795000000.0   # wall time when the monotonic clock was 0
PROPERTY_OPTION = '--property=Id,LoadState,ActiveState,MainPID,ExecMainStartTimestampMonotonic'


def unit(name, load='loaded', active='active', pid=0, started_us=0):
    return dict(Id=f'{name}.service', LoadState=load, ActiveState=active, MainPID=str(pid),
                ExecMainStartTimestampMonotonic=str(started_us))


HOST = {
    'nova-api-os-compute': unit('nova-api-os-compute', pid=4242, started_us=250_000),
    'nova-conductor': unit('nova-conductor', pid=4343, started_us=123_456_789),
    'nova-scheduler': unit('nova-scheduler', active='failed'),
    # stopped: systemd keeps the start of its last process
    'nova-metadata': unit('nova-metadata', active='inactive', started_us=1_000_000),
    'nova-compute': unit('nova-compute', load='masked', active='inactive'),
}


class FakeSystemctl:
    """``systemctl show`` of a host holding ``units``: one block per unit asked, in order, as systemd prints them."""

    def __init__(self, units, rc=0, err=''):
        self.units = units
        self.rc = rc
        self.err = err
        self.commands = []

    def __call__(self, args, **kwargs):   # set on the class, but an instance: called without the module
        self.commands.append(list(args))
        if self.rc:
            return self.rc, '', self.err
        blocks = []
        for name in args[args.index('--') + 1:]:
            # systemd answers for a unit it does not know too, with LoadState=not-found
            props = self.units.get(name[:-len('.service')], dict(unit(name[:-len('.service')], load='not-found',
                                                                      active='inactive')))
            blocks.append(''.join(f'{key}={value}\n' for key, value in props.items()))
        return 0, '\n'.join(blocks), ''


@pytest.fixture
def systemctl(monkeypatch):
    """The host's systemd, as HOST; the fake records the commands. Replace its units or rc in the test as needed."""
    fake = FakeSystemctl(dict(HOST))
    monkeypatch.setattr(AnsibleModule, 'run_command', fake)
    monkeypatch.setattr(nova_services.NovaServices, '_wall_minus_monotonic', staticmethod(lambda: BOOT))
    return fake


def config_file(tmp_path, mtime):
    path = tmp_path / 'nova.conf'
    path.write_text('[DEFAULT]\n')
    os.utime(path, (mtime, mtime))
    return str(path)


def test_the_first_loaded_candidate_is_the_unit_and_a_service_without_one_is_left_out(run_module, systemctl):
    rc, result = run_module(nova_services.main, dict(units={
        'nova-api': ['nova-api', 'nova-api-os-compute'],
        'nova-conductor': ['nova-conductor', 'nova-api-os-compute'],
        'nova-novncproxy': ['nova-novncproxy', 'nova-spicehtml5proxy'],
        'nova-compute': ['nova-compute'],   # masked: not loaded, so not the service's unit
    }))

    assert rc == 0 and result['changed'] is False
    assert result['services'] == {
        'nova-api': dict(unit='nova-api-os-compute', active='active', main_pid=4242, started=BOOT + 0.25),
        'nova-conductor': dict(unit='nova-conductor', active='active', main_pid=4343, started=1795000123.457),
    }
    assert 'config_changed' not in result


def test_every_candidate_is_asked_in_one_systemctl_call_as_a_service(run_module, systemctl):
    run_module(nova_services.main, dict(units={'nova-api': ['nova-api', 'nova-api-os-compute'],
                                               'nova-conductor': ['nova-conductor']}))

    assert systemctl.commands == [['systemctl', 'show', PROPERTY_OPTION, '--',
                                   'nova-api.service', 'nova-api-os-compute.service', 'nova-conductor.service']]


def test_a_single_unit_name_may_be_given_as_a_string(run_module, systemctl):
    _rc, result = run_module(nova_services.main, dict(units={'nova-conductor': 'nova-conductor'}))

    assert list(result['services']) == ['nova-conductor']
    assert systemctl.commands[0][-1] == 'nova-conductor.service'


def test_a_unit_that_never_started_has_no_start_and_no_main_process(run_module, systemctl):
    _rc, result = run_module(nova_services.main, dict(units={'nova-scheduler': ['nova-scheduler']}))

    assert result['services'] == {'nova-scheduler': dict(unit='nova-scheduler', active='failed', main_pid=0, started=None)}


def test_no_candidates_ask_systemd_nothing(run_module, systemctl):
    rc, result = run_module(nova_services.main, dict(units={'nova-api': []}))

    assert rc == 0 and result['services'] == {}
    assert systemctl.commands == []


@pytest.mark.parametrize('mtime, stale', [
    (BOOT + 0.5, {'nova-api': True, 'nova-conductor': False}),   # changed between the starts
    (BOOT + 200, {'nova-api': True, 'nova-conductor': True}),    # changed after both
    (BOOT - 60, {'nova-api': False, 'nova-conductor': False}),   # changed before both
])
def test_a_service_is_stale_when_its_process_started_before_the_config_changed(run_module, systemctl, tmp_path, mtime, stale):
    config = config_file(tmp_path, mtime)

    rc, result = run_module(nova_services.main, dict(config=config, units={
        'nova-api': ['nova-api-os-compute'], 'nova-conductor': ['nova-conductor'], 'nova-scheduler': ['nova-scheduler'],
        'nova-metadata': ['nova-metadata']}))

    assert rc == 0
    assert result['config_changed'] == os.stat(config).st_mtime
    # nova-scheduler (failed) and nova-metadata (stopped) run no process, so no older settings either
    assert {name: info['stale'] for name, info in result['services'].items()} == dict(
        stale, **{'nova-scheduler': False, 'nova-metadata': False})


def test_a_running_process_without_a_start_time_is_not_called_stale(run_module, systemctl, tmp_path):
    systemctl.units['nova-conductor'] = unit('nova-conductor', pid=4343, started_us=0)

    _rc, result = run_module(nova_services.main, dict(config=config_file(tmp_path, BOOT + 10),
                                                      units={'nova-conductor': ['nova-conductor']}))

    assert result['services']['nova-conductor']['started'] is None
    assert result['services']['nova-conductor']['stale'] is False


def test_check_mode_reports_the_same(run_module, systemctl, tmp_path):
    args = dict(config=config_file(tmp_path, BOOT + 1), units={'nova-api': ['nova-api', 'nova-api-os-compute']})

    _rc, normal = run_module(nova_services.main, args)
    _rc, checked = run_module(nova_services.main, dict(args, _ansible_check_mode=True))

    assert checked == normal and checked['changed'] is False


def test_a_missing_config_fails_with_its_path(run_module, systemctl, tmp_path):
    missing = str(tmp_path / 'nova.conf')

    rc, result = run_module(nova_services.main, dict(config=missing, units={'nova-conductor': ['nova-conductor']}))

    assert rc == 1
    assert result['msg'] == f'cannot read {missing}: No such file or directory'
    assert result['details'] == {'path': missing}


def test_a_failing_systemctl_fails_the_module_with_its_error(run_module, systemctl):
    systemctl.rc, systemctl.err = 1, 'Failed to connect to bus: No such file or directory\n'

    rc, result = run_module(nova_services.main, dict(units={'nova-conductor': ['nova-conductor']}))

    assert rc == 1
    assert result['msg'] == 'systemctl show failed (rc=1): Failed to connect to bus: No such file or directory'


def test_units_is_required(run_module, systemctl):
    rc, result = run_module(nova_services.main, {})

    assert rc == 1 and result['msg'] == 'missing required arguments: units'
    assert systemctl.commands == []


def test_the_start_is_placed_on_the_wall_clock_by_the_boot_time_of_the_monotonic_clock(monkeypatch):
    monkeypatch.setattr(nova_services.time, 'time', lambda: BOOT + 1000.5)
    monkeypatch.setattr(nova_services.time, 'monotonic', lambda: 1000.5)

    assert nova_services.NovaServices._wall_minus_monotonic() == BOOT


def test_a_candidate_that_is_an_alias_of_a_loaded_unit_is_found(run_module, systemctl):
    # systemctl show answers for an alias with the unit it names (`systemctl show -p Id display-manager` -> gdm.service)
    systemctl.units['nova-api'] = systemctl.units['nova-api-os-compute']

    _rc, result = run_module(nova_services.main, dict(units={'nova-api': ['nova-api']}))

    assert result['services']['nova-api']['main_pid'] == 4242


@pytest.mark.parametrize('names', [None, 3, ['nova-api', ''], {'nova-api': 1}])
def test_units_that_are_not_unit_names_are_named(run_module, systemctl, names):
    rc, result = run_module(nova_services.main, dict(units={'nova-api': names}))

    assert rc == 1 and result['msg'].startswith('units: nova-api must be a unit name or a list of unit names, not')

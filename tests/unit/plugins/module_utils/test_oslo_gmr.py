# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oslo_gmr: a real Guru Meditation Report (from a tiny oslo service) parsed into sections; targets and landings."""

import os
import signal
import sys
import time

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import oslo_gmr
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import gmr_service  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope='module')
def real_report(tmp_path_factory):
    """The text oslo.reports really wrote to the service's stderr after SIGUSR2, with log lines around it."""
    directory = str(tmp_path_factory.mktemp('gmr'))
    proc, err = gmr_service.start(directory)
    try:
        os.kill(proc.pid, signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(err, encoding='utf-8') as handle:
                text = handle.read()
            if 'log_dir = None' in text:
                break
            time.sleep(0.1)
    finally:
        gmr_service.stop(proc)
    return proc.pid, text


def test_real_report_parses_into_its_sections(real_report):
    pid, text = real_report
    [report] = oslo_gmr.split_reports('2026-12-03 10:00:00.000 1 INFO x [-] before\n' + text
                                      + '2026-12-03 10:00:01.000 1 INFO x [-] after\n')
    assert oslo_gmr.complete(report) and oslo_gmr.reporter(report) == pid
    assert 'after' not in report
    titles = [title for title, _lines in oslo_gmr.sections(report)]
    assert titles == ['Guru Meditation', 'Package', 'Threads', 'Green Threads', 'Processes', 'Configuration']
    parsed = oslo_gmr.parse(oslo_gmr.mask(report))
    assert parsed['package'] == {'product': 'Tiny Service', 'vendor': 'Tiny Vendor', 'version': '1.2.3'}
    assert parsed['threads_total'] == len(parsed['threads']) >= 2
    functions = {frame['function'] for thread in parsed['threads'] for frame in thread['frames']}
    assert 'serve_requests' in functions
    rpc = next(thread for thread in parsed['threads'] if thread['frames'][-1]['function'] == 'serve_requests')
    assert rpc['name'].startswith('Thread #') and rpc['frames'][-1]['code'] == 'time.sleep(0.1)'
    assert parsed['processes'][0]['pid'] == pid and parsed['processes'][0]['depth'] == 0
    database = parsed['configuration']['database']
    assert database['connection'] == '***'                 # oslo.reports masks secret=True itself
    assert database['admin_password'] == '***'             # not secret to oslo.config: masked by name here
    assert database['max_pool_size'] == '5'
    assert parsed['configuration']['default']['config-file'][0].endswith('tiny.conf')   # a list value
    assert parsed['configuration']['oslo_reports']['log_dir'] == 'None'
    assert 's3cret-Pw' not in oslo_gmr.mask(report) and 'hunter2' not in oslo_gmr.mask(report)


def test_the_only_thread_section_limit_and_the_text_bound(real_report):
    _pid, text = real_report
    parsed = oslo_gmr.parse(text, max_threads=1)
    assert len(parsed['threads']) == 1 and parsed['threads_total'] >= 2
    cut, truncated = oslo_gmr.bounded(text, 300)
    assert truncated and len(cut.encode()) <= 300 and cut.endswith('\n') and text.startswith(cut)
    assert oslo_gmr.bounded(text, len(text.encode())) == (text, False)


def test_a_report_cut_before_its_configuration_is_not_complete(real_report):
    _pid, text = real_report
    assert not oslo_gmr.complete(text.split('Configuration')[0])


def test_seed_004_report_of_an_old_release_parses():
    text = '\n'.join([
        '=' * 72, '====                        Guru Meditation                         ====', '=' * 72, '|' * 72, '', '',
        '=' * 72, '====                            Package                             ====', '=' * 72,
        'product = OpenStack Nova', 'vendor = OpenStack Foundation', 'version = 13.0.0',
        '=' * 72, '====                         Green Threads                          ====', '=' * 72,
        '------                        Green Thread                        ------', '',
        '/usr/bin/nova-api:10 in <module>', '    `sys.exit(main())`', '',
        '------                        Green Thread                        ------', '', 'No Traceback!', '',
        '=' * 72, '====                           Processes                            ====', '=' * 72,
        'Process 4320 (under 3116) [ run by: kevin (1000), state: running ]',
        '    Process 4335 (under 4320) [ run by: kevin (1000), state: sleeping ]', '',
        '=' * 72, '====                         Configuration                          ====', '=' * 72, '',
        'api_database:', '  connection = ***', '  max_retries = 10', ''])
    parsed = oslo_gmr.parse(text)
    assert parsed['package']['version'] == '13.0.0'
    assert parsed['green_threads_total'] == 2 and parsed['green_threads'][1]['frames'] == []
    expected = {'file': '/usr/bin/nova-api', 'line': 10, 'function': '<module>', 'code': 'sys.exit(main())'}
    assert parsed['green_threads'][0]['frames'][0] == expected
    assert [(p['pid'], p['depth'], p['state']) for p in parsed['processes']] == [(4320, 0, 'running'),
                                                                                 (4335, 1, 'sleeping')]
    assert oslo_gmr.reporter(text) == 4320
    assert parsed['configuration'] == {'api_database': {'connection': '***', 'max_retries': '10'}}


def test_mask_leaves_none_and_masked_values_and_masks_urls_everywhere():
    text = ('=' * 72 + '\n====    Configuration    ====\n' + '=' * 72 + '\nkeystone:\n  password = None\n'
            '  auth_token = abc\n  url = rabbit://u:pw@h:5672/\n')
    masked = oslo_gmr.mask(text)
    assert '  password = None' in masked and '  auth_token = ***' in masked and 'pw@' not in masked


def test_proc_of_this_process():
    me = oslo_gmr.Proc(os.getpid())
    assert me.exists() and me.state() in 'RS' and oslo_gmr.is_python(me)
    assert os.getpid() in oslo_gmr.tree(os.getppid())
    assert not oslo_gmr.Proc(2 ** 22 + 1).exists()


def test_config_files_from_the_command_line(tmp_path, monkeypatch):
    (tmp_path / 'conf.d').mkdir()
    (tmp_path / 'conf.d' / 'b.conf').write_text('[oslo_reports]\nlog_dir = /var/log/nova/gmr\n')
    (tmp_path / 'conf.d' / 'a.txt').write_text('')
    process = oslo_gmr.Proc(os.getpid())
    monkeypatch.setattr(process, 'cmdline', lambda: ['/usr/bin/python3', '/usr/bin/nova-conductor',
                                                     '--config-file', '/etc/nova/nova.conf',
                                                     f'--config-dir={tmp_path}/conf.d'])
    files = oslo_gmr.config_files(process, oslo_gmr.project_of(process))
    assert files == ['/etc/nova/nova.conf', f'{tmp_path}/conf.d/b.conf']
    assert oslo_gmr.project_of(process) == 'nova'
    expected = {'log_dir': '/var/log/nova/gmr', 'file_event_handler': None}
    assert oslo_gmr.oslo_reports_options(process, files) == expected
    monkeypatch.setattr(process, 'cmdline', lambda: ['/usr/bin/python3', '/usr/bin/nova-compute'])
    assert oslo_gmr.config_files(process, 'nova') == ['/etc/nova/nova.conf']


class Commands:
    def __init__(self, answers, installed=('systemctl', 'podman', 'journalctl')):
        self.answers, self.installed, self.calls = answers, installed, []

    def run(self, argv):
        self.calls.append(argv)
        return self.answers[argv[1]]

    def which(self, name):
        return f'/usr/bin/{name}' if name in self.installed else None


@pytest.mark.parametrize('params, answers, installed, message', [
    (dict(pid=2 ** 22 + 1), {}, (), 'no process with PID 4194305 on this host'),
    (dict(systemd_unit='nova-nothing.service'), {'show': (0, 'LoadState=not-found\nActiveState=inactive\nMainPID=0\n',
                                                          '')},
     ('systemctl',), 'systemd unit nova-nothing.service not found on this host'),
    (dict(systemd_unit='nova-conductor.service'), {'show': (0, 'LoadState=loaded\nActiveState=failed\nMainPID=0\n',
                                                            '')},
     ('systemctl',), 'systemd unit nova-conductor.service has no running main process (ActiveState=failed)'),
    (dict(systemd_unit='nova-conductor.service'), {}, (), 'systemctl is not installed on this host'),
    (dict(container='nova_conductor'), {'inspect': (125, '', 'Error: no such container nova_conductor')},
     ('podman',), 'container nova_conductor not found by podman: Error: no such container nova_conductor'),
    (dict(container='nova_conductor'), {'inspect': (0, '0 exited\n', '')}, ('docker',),
     'container nova_conductor is not running (status exited)'),
    (dict(container='nova_conductor', container_engine='docker'), {}, ('podman',),
     'container nova_conductor: none of docker is installed on this host'),
])
def test_targets_that_cannot_be_asked_fail_clearly(params, answers, installed, message):
    commands = Commands(answers, installed)
    with pytest.raises(OpsError) as error:
        oslo_gmr.resolve(params, commands.run, commands.which)
    assert message in error.value.msg


def test_a_unit_and_a_container_resolve_to_their_main_process():
    commands = Commands({'show': (0, 'LoadState=loaded\nActiveState=active\nMainPID=812\n', ''),
                         'inspect': (0, '2310 running\n', '')})
    unit = oslo_gmr.resolve(dict(systemd_unit='nova-conductor.service'), commands.run, commands.which)
    assert (unit.kind, unit.main_pid, unit.unit) == ('systemd_unit', 812, 'nova-conductor.service')
    container = oslo_gmr.resolve(dict(container='nova_conductor', container_engine='auto'), commands.run,
                                 commands.which)
    assert (container.kind, container.main_pid, container.engine) == ('container', 2310, '/usr/bin/podman')
    assert commands.calls[-1] == ['/usr/bin/podman', 'inspect', '--format', '{{.State.Pid}} {{.State.Status}}',
                                  'nova_conductor']


class Piped:
    """A process whose stderr is a pipe, as under systemd (journal) or conmon (container log)."""
    pid = 4321
    dir = '/proc/4321'

    @staticmethod
    def fd_target(_number):
        return 'pipe:[123]'


@pytest.mark.parametrize('target, argv', [
    (oslo_gmr.Target('systemd_unit', 'nova-conductor.service', 4321, unit='nova-conductor.service'),
     ['/usr/bin/journalctl', '-u', 'nova-conductor.service', '--since', '@1799999999', '-o', 'cat', '--no-pager']),
    (oslo_gmr.Target('container', 'nova_conductor', 4321, engine='/usr/bin/docker'),
     ['/usr/bin/docker', 'logs', '--since', '1799999999', 'nova_conductor']),
])
def test_a_piped_stderr_is_read_from_the_journal_or_the_container_log(target, argv, real_report):
    _pid, text = real_report
    commands = Commands({'-u': (0, text, ''), 'logs': (0, '', text)})
    landing = oslo_gmr.Landing(Piped(), target, dict(log_dir=None, file_event_handler=None), commands.run,
                               commands.which)
    landing.since = 1800000000.5
    assert oslo_gmr.complete(oslo_gmr.split_reports(landing.read())[0])
    assert commands.calls == [argv]


def test_a_piped_stderr_of_a_bare_process_or_dev_null_is_refused():
    bare = oslo_gmr.Target('pid', '4321', 4321)
    with pytest.raises(OpsError, match='cannot read'):
        oslo_gmr.Landing(Piped(), bare, dict(log_dir=None, file_event_handler=None), None, None)
    null = Piped()
    null.fd_target = lambda _number: '/dev/null'
    with pytest.raises(OpsError, match='/dev/null, where the report would be lost'):
        oslo_gmr.Landing(null, bare, dict(log_dir=None, file_event_handler=None), None, None)


def test_no_report_says_why():
    class Stopped:
        pid = 1

        @staticmethod
        def state():
            return 'T'
    assert oslo_gmr.no_report(Stopped(), 5).startswith('no report: process stopped (state T)')


def test_a_containers_report_names_the_pid_of_its_namespace(tmp_path, real_report):
    """In a kolla container the report's Processes section has the container's PID (NSpid), not this host's."""
    pid, text = real_report
    (tmp_path / '4321').mkdir()
    (tmp_path / '4321' / 'status').write_text(f'Name:\tnova-conductor\nNSpid:\t4321\t{pid}\n')
    (tmp_path / '4321' / 'stat').write_text('4321 (nova-conductor) S 4300 0')
    process = oslo_gmr.Proc(4321, str(tmp_path))
    assert process.own_pids() == {4321, pid}

    class Landing:
        @staticmethod
        def read():
            return text
    assert oslo_gmr.wait_for_report(process, Landing(), 5, poll=0) == oslo_gmr.split_reports(text)[0]
    other = oslo_gmr.Proc(4321, str(tmp_path))
    other.own_pids = lambda: {4321}
    ticks = iter(range(100))
    assert oslo_gmr.wait_for_report(other, Landing(), 3, poll=0, clock=lambda: next(ticks)) is None

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""guru_meditation_report end to end on a tiny oslo service (oslo.reports' real handler), by PID."""

import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.modules import guru_meditation_report

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import gmr_service  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def service(tmp_path):
    started = []

    def start(**kwargs):
        proc, err = gmr_service.start(str(tmp_path), **kwargs)
        started.append(proc)
        return proc, err
    yield start
    for proc in started:
        gmr_service.stop(proc)


def test_parent_and_worker_write_their_reports_to_the_shared_stderr_file(run_module, service):
    proc, err = service(fork=True)
    [worker] = gmr_service.children(proc.pid)
    rc, result = run_module(guru_meditation_report.main, dict(pid=proc.pid, timeout=20))
    assert rc == 0, result
    assert result['changed'] is False and result['signal'] == 'SIGUSR2' and result['captured'] == 2
    assert [report['pid'] for report in result['reports']] == [proc.pid, worker]
    for report in result['reports']:
        assert report['captured'] and report['source'] == f'stderr file: {err}'
        assert report['processes'][0]['pid'] == report['pid']     # each report is its own process's
        assert report['configuration']['database']['connection'] == '***'
        assert report['package']['product'] == 'Tiny Service'
    worker_frames = [frame['function'] for thread in result['reports'][1]['threads'] for frame in thread['frames']]
    assert 'serve_requests' in worker_frames
    with open(err, encoding='utf-8') as handle:
        written = handle.read()
    assert written.count('====                        Guru Meditation') == 2
    assert gmr_service.CONNECTION.split('@', maxsplit=1)[0].split(':')[-1] not in str(result)
    assert proc.poll() is None and gmr_service.children(proc.pid) == [worker]


def test_scope_main_and_a_bounded_text(run_module, service):
    proc, _err = service(fork=True)
    rc, result = run_module(guru_meditation_report.main, dict(pid=proc.pid, scope='main', max_bytes=1024))
    assert rc == 0, result
    [report] = result['reports']
    assert report['pid'] == proc.pid and report['truncated'] and len(report['text'].encode()) <= 1024
    assert report['bytes'] > 1024 and report['configuration']['database']['max_pool_size'] == '5'


def test_report_directory_of_oslo_reports_log_dir(run_module, service, tmp_path):
    reports = tmp_path / 'gmr'
    reports.mkdir()
    proc, err = service(oslo_reports={'log_dir': str(reports)})
    rc, result = run_module(guru_meditation_report.main, dict(pid=proc.pid))
    assert rc == 0, result
    [report] = result['reports']
    assert report['captured'] and report['source'] == f'report directory: {reports}'
    [written] = os.listdir(reports)
    assert written.startswith('tiny-service_gurumeditation_')
    with open(err, encoding='utf-8') as handle:
        assert 'Guru Meditation' not in handle.read()


def test_file_event_handler_is_touched_instead_of_a_signal(run_module, service, tmp_path):
    trigger = tmp_path / 'gmr-trigger'
    trigger.write_text('')
    os.utime(trigger, (1, 1))
    proc, _err = service(oslo_reports={'file_event_handler': str(trigger), 'file_event_handler_interval': 1})
    # oslo.reports' watcher thread takes the time it starts at as its baseline, and a touch before that is never
    # seen: wait for the thread, then a second (a loaded machine starts it late; a real service has long been up)
    deadline = time.monotonic() + 30
    while len(os.listdir(f'/proc/{proc.pid}/task')) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)
    rc, result = run_module(guru_meditation_report.main, dict(pid=proc.pid))
    assert rc == 0, result
    assert result['signal'] == 'file_event_handler' and result['captured'] == 1
    assert result['reports'][0]['processes'][0]['pid'] == proc.pid


def test_a_stopped_process_is_not_signalled_and_says_so(run_module, service):
    proc, err = service()
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        rc, result = run_module(guru_meditation_report.main, dict(pid=proc.pid, timeout=2))
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    assert rc == 0, result
    [report] = result['reports']
    assert result['captured'] == 0 and not report['captured'] and report['state'] == 'T'
    assert report['reason'].startswith('no report: process stopped (state T)')
    assert result['msg'] == '0 of 1 Guru Meditation Reports captured (SIGUSR2)'
    with open(err, encoding='utf-8') as handle:
        assert 'Guru Meditation' not in handle.read()
    assert proc.poll() is None


def test_check_mode_sends_nothing(run_module, service):
    proc, err = service()
    rc, result = run_module(guru_meditation_report.main, dict(pid=proc.pid, _ansible_check_mode=True))
    assert rc == 0, result
    assert result['reports'][0]['reason'] == 'check mode: nothing sent' and result['captured'] == 0
    assert result['reports'][0]['source'] == f'stderr file: {err}'
    with open(err, encoding='utf-8') as handle:
        assert 'Guru Meditation' not in handle.read()


def test_a_process_without_the_handler_is_not_killed(run_module, tmp_path):
    with open(tmp_path / 'err', 'wb') as err:
        proc = subprocess.Popen([sys.executable, '-c', 'import time; print(1, flush=True); time.sleep(60)'],
                                stdout=subprocess.PIPE, stderr=err)
    try:
        proc.stdout.readline()
        rc, result = run_module(guru_meditation_report.main, dict(pid=proc.pid))
        assert rc == 1
        assert 'no Python process of it catches SIGUSR2' in result['msg'] and 'Nothing was sent' in result['msg']
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_a_pid_that_does_not_exist(run_module):
    rc, result = run_module(guru_meditation_report.main, dict(pid=4194305))
    assert rc == 1 and result['msg'] == 'no process with PID 4194305 on this host'

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""log_search end to end on per-host kolla log trees: rotated and gzipped files, both formats, grep or Python."""

import errno
import os
import sys

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import log_records
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import log_search as search_utils
from ansible_collections.openstack_ops.runbooks.plugins.modules import log_search

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import log_trees  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    return log_trees.tree(str(tmp_path_factory.mktemp('logs')))


def search(run_module, root, **args):
    rc, result = run_module(log_search.main, dict(roots=[root], timezone='UTC', **args))
    assert rc == 0, result
    assert result['changed'] is False
    return result


@pytest.mark.parametrize('use_grep', [True, False])
def test_gzipped_rotated_conductor_log_gives_the_decoded_fault_with_its_traceback(run_module, roots, use_grep):
    result = search(run_module, roots['ctl2'], terms=[log_trees.FAILED], use_grep=use_grep, host='ctl2')
    [record] = result['records']
    assert record['host'] == 'ctl2' and record['service'] == 'nova-conductor'
    assert record['file'].endswith('nova-conductor.log.2.gz')
    assert record['message'].splitlines()[0] == f'Setting instance to ERROR state.: NoValidHost_Remote: ' \
                                                f'{log_trees.DECODED}'
    assert record['message'].splitlines()[-1] == f'NoValidHost: {log_trees.DECODED}'
    assert record['instances'] == [log_trees.FAILED] and record['time'] == '2026-12-03T11:05:45.403+00:00'
    methods = {os.path.basename(stats['path']): stats['method'] for stats in result['files']}
    assert methods['nova-conductor.log.2.gz'] == ('grep' if use_grep else 'python')


@pytest.mark.parametrize('use_grep', [True, False])
def test_a_global_request_id_finds_the_scheduler_whose_own_request_id_differs(run_module, roots, use_grep):
    result = search(run_module, roots['ctl2'], terms=[log_trees.API_REQ], use_grep=use_grep)
    assert [(r['request_id'], r['global_request_id']) for r in result['records']] == \
        [(log_trees.SCHED_REQ, log_trees.API_REQ)]
    result = search(run_module, roots['ctl2'], terms=[log_trees.SCHED_REQ], use_grep=use_grep)
    assert len(result['records']) == 6   # the filter lines in the older format carry only the scheduler's id


def test_the_window_skips_old_files_and_drops_records_outside_it(run_module, roots, tmp_path):
    old = os.path.join(roots['ctl2'], 'nova', 'nova-conductor.log.2.gz')
    os.utime(old, (1_000_000_000, 1_000_000_000))
    result = search(run_module, roots['ctl2'], terms=[log_trees.FAILED, log_trees.FAIL_REQ, log_trees.SCHED_REQ],
                    since='2026-12-03 11:00:00', until='2026-12-03 13:22:07.515')
    skipped = {os.path.basename(stats['path']): stats['skipped'] for stats in result['files']}
    assert skipped['nova-conductor.log.2.gz'] == 'last written before the window'
    assert [record['message'][:20] for record in result['records']] == \
        ['Failed to schedule i', 'Starting to schedule', 'Starting with 3 host']
    later = search(run_module, roots['ctl2'], terms=[log_trees.FAIL_REQ], until='2026-12-03 10:00:00+00:00')
    assert {stats['skipped'] for stats in later['files']} == {'starts after the window'}
    assert later['records'] == []


def test_the_cap_says_it_was_hit(run_module, roots):
    result = search(run_module, roots['cmp1'], terms=[log_trees.INSTANCE], max_records=2)
    assert len(result['records']) == 2 and result['matched'] == 3 and result['truncated'] is True


def test_patterns_read_in_python(run_module, roots):
    result = search(run_module, roots['ctl1'], patterns=[r'status: 2\d\d'])
    assert sorted(record['service'] for record in result['records']) == ['nova-api', 'placement-api']
    assert {stats['method'] for stats in result['files']} == {'python'}


def test_bad_input_fails_naming_it_and_nothing_found_is_not_a_failure(run_module, roots, tmp_path):
    rc, result = run_module(log_search.main, dict(roots=[roots['ctl1']]))
    assert rc == 1 and result['msg'] == 'give terms or patterns to search for'
    rc, result = run_module(log_search.main, dict(roots=[roots['ctl1']], patterns=['(']))
    assert rc == 1 and 'is not a regular expression' in result['msg']
    rc, result = run_module(log_search.main, dict(roots=[roots['ctl1']], terms=['x'], timezone='Mars'))
    assert rc == 1 and 'timezone, since or until' in result['msg']
    result = search(run_module, str(tmp_path / 'nothing-here'), terms=['req-none'])
    assert result['records'] == [] and result['files'] == [] and result['truncated'] is False
    assert result['problems'] == [f"no log directory: none of {tmp_path / 'nothing-here'} exists on this host"]
    assert [str((warning.get('event') or {}).get('msg', warning) if isinstance(warning, dict) else warning)
            for warning in result['warnings']] == result['problems']


def test_an_unreadable_file_is_reported_not_fatal(run_module, roots, tmp_path):
    result = search(run_module, roots['cmp2'], terms=['x'], paths=[str(tmp_path / 'gone.log')])
    assert result['files'][-1]['skipped'].startswith('unreadable')
    assert result['problems'] == [f"{tmp_path / 'gone.log'}: unreadable: No such file or directory"]


HAPROXY_LINE = ('Dec  3 13:22:05 ctl1 haproxy[77]: 10.0.0.1:51890 [03/Dec/2026:13:22:05.901] nova_api '
                f'nova_api_back/ctl1 0/0/1/415/416 202 372 - - ---- 1/1/0/0/0 0/0 "POST /v2.1/servers/{log_trees.INSTANCE}'
                '/action HTTP/1.1"')
ACCESS_LINE = ('10.0.0.1 - - [03/Dec/2026:13:22:05 +0000] "GET /identity/v3/auth/tokens?nocatalog HTTP/1.1" 503 12 "-" '
               f'"python-keystoneclient" {log_trees.API_REQ}')
# journalctl -o short-iso-precise: a service logging oslo lines to stderr, devstack's bare oslo line, plain text
JOURNAL = [
    '2026-12-03T13:22:07.400123+0000 ctl1 nova-conductor[2001]: 2026-12-03 13:22:07.400 2001 INFO '
    f'nova.conductor.manager [None {log_trees.API_REQ} {log_trees.CTX}] [instance: {log_trees.INSTANCE}] Scheduling',
    f'2026-12-03T14:22:09.000001+01:00 ctl1 devstack@n-cpu.service[4004]: DEBUG nova.compute.manager '
    f'[None {log_trees.COMPUTE_REQ} {log_trees.CTX}] [instance: {log_trees.INSTANCE}] Checking state',
    f'2026-12-03T13:22:10.000000+0000 ctl1 nova-compute[4004]: libvirt says {log_trees.INSTANCE} started',
    '2026-12-03T13:22:11.000000+0000 ctl1 nova-compute[4004]: unrelated line',
]


@pytest.fixture
def fake_journalctl(tmp_path, monkeypatch):
    """A journalctl on PATH that prints JOURNAL (or what the test writes to its output file), writes the test's
    stderr and exit code, and records its arguments."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (tmp_path / 'journal.out').write_text('-- Journal begins at Thu 2026-12-03 00:00:00 UTC. --\n' +
                                          '\n'.join(JOURNAL) + '\n')
    (tmp_path / 'journal.err').write_text('')
    (tmp_path / 'journal.rc').write_text('0')
    script = bin_dir / 'journalctl'
    script.write_text(f'''#!/bin/sh
printf '%s\\n' "$@" > {tmp_path}/journal.args
cat {tmp_path}/journal.out
cat {tmp_path}/journal.err >&2
exit $(cat {tmp_path}/journal.rc)
''')
    script.chmod(0o755)
    monkeypatch.setenv('PATH', f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return tmp_path


def test_haproxy_and_apache_lines_are_records_not_continuations_of_the_line_before(run_module, tmp_path):
    root = tmp_path / 'log'
    (root / 'kolla' / 'haproxy').mkdir(parents=True)
    (root / 'kolla' / 'haproxy' / 'haproxy.log').write_text(
        HAPROXY_LINE.replace('nova_api_back/ctl1', 'nova_api_back/ctl2') + '\n' + HAPROXY_LINE + '\n')
    (root / 'haproxy.log').write_text(HAPROXY_LINE.replace(' 202 ', ' 504 ') + '\n')   # rsyslog's, package haproxy
    (root / 'apache2').mkdir()
    (root / 'apache2' / 'keystone_access.log').write_text(ACCESS_LINE + '\n')
    for use_grep in (True, False):
        rc, result = run_module(log_search.main, dict(
            roots=[str(root / 'kolla'), str(root)], timezone='UTC', terms=[log_trees.INSTANCE, log_trees.API_REQ],
            use_grep=use_grep))
        assert rc == 0, result
        brief = [(r['file'].replace(str(root), ''), r['service'], r['level'], r['time'], r['message'].rsplit(' "', 1)[0])
                 for r in result['records']]
        assert brief == [
            ('/kolla/haproxy/haproxy.log', 'haproxy', 'INFO', '2026-12-03T13:22:05.901+00:00',
             '10.0.0.1:51890 nova_api nova_api_back/ctl2 0/0/1/415/416 202 372 - - ---- 1/1/0/0/0 0/0'),
            ('/kolla/haproxy/haproxy.log', 'haproxy', 'INFO', '2026-12-03T13:22:05.901+00:00',
             '10.0.0.1:51890 nova_api nova_api_back/ctl1 0/0/1/415/416 202 372 - - ---- 1/1/0/0/0 0/0'),
            ('/haproxy.log', 'haproxy', 'ERROR', '2026-12-03T13:22:05.901+00:00',
             '10.0.0.1:51890 nova_api nova_api_back/ctl1 0/0/1/415/416 504 372 - - ---- 1/1/0/0/0 0/0'),
            ('/apache2/keystone_access.log', 'keystone_access', 'ERROR', '2026-12-03T13:22:05.000+00:00',
             '10.0.0.1 "GET /identity/v3/auth/tokens?nocatalog HTTP/1.1" 503 12 "-"'),
        ], use_grep
        assert [r['instances'] for r in result['records'][:3]] == [[log_trees.INSTANCE]] * 3
        assert result['records'][3]['request_id'] == log_trees.API_REQ


def test_the_journal_of_the_units_is_read_in_the_window_and_parsed(run_module, roots, fake_journalctl):
    result = search(run_module, roots['cmp2'], terms=[log_trees.INSTANCE], journal_units=['nova-*', 'devstack@n-*'],
                    since='2026-12-03 13:00:00.5', until='2026-12-03 13:22:10.5')
    arguments = (fake_journalctl / 'journal.args').read_text().splitlines()
    assert arguments == ['--no-pager', '--all', '-o', 'short-iso-precise', '-u', 'nova-*', '-u', 'devstack@n-*',
                         '--since=@1796302800', '--until=@1796304131']
    journal = [r for r in result['records'] if r['file'] == 'journal']
    assert [(r['service'], r['pid'], r['level'], r['time'], r['request_id']) for r in journal] == [
        ('nova-conductor', 2001, 'INFO', '2026-12-03T13:22:07.400+00:00', log_trees.API_REQ),
        ('devstack@n-cpu', 4004, 'DEBUG', '2026-12-03T13:22:09.000+00:00', log_trees.COMPUTE_REQ),
        ('nova-compute', 4004, 'INFO', '2026-12-03T13:22:10.000+00:00', None),
    ]
    assert [r['instances'] for r in journal] == [[log_trees.INSTANCE]] * 2 + [[]]
    assert journal[2]['uuids'] == [log_trees.INSTANCE] and journal[2]['message'] == \
        f'libvirt says {log_trees.INSTANCE} started'
    [stats] = [stats for stats in result['files'] if stats['path'] == 'journal']
    assert (stats['units'], stats['method'], stats['records'], stats['skipped']) == \
        (['nova-*', 'devstack@n-*'], 'journalctl', 3, None)
    assert result['problems'] == []


def test_the_journal_window_drops_what_journalctl_gave_outside_it_and_no_window_passes_none(
        run_module, tmp_path, fake_journalctl):
    result = search(run_module, str(tmp_path / 'none'), terms=[log_trees.INSTANCE], journal_units=['nova-*'],
                    until='2026-12-03 13:22:08')
    assert [r['service'] for r in result['records']] == ['nova-conductor']
    assert result['problems'] == []   # no log directory is no problem when the journal is read
    search(run_module, str(tmp_path / 'none'), terms=['x'], journal_units=['nova-*'])
    assert (fake_journalctl / 'journal.args').read_text().splitlines() == \
        ['--no-pager', '--all', '-o', 'short-iso-precise', '-u', 'nova-*']


def test_no_journal_units_runs_no_journalctl(run_module, roots, fake_journalctl):
    result = search(run_module, roots['cmp2'], terms=[log_trees.INSTANCE])
    assert not (fake_journalctl / 'journal.args').exists()
    assert 'journal' not in [stats['path'] for stats in result['files']]


def test_journalctl_missing_failing_or_partly_allowed_is_a_problem_not_a_crash(
        run_module, roots, tmp_path, monkeypatch, fake_journalctl):
    (fake_journalctl / 'journal.err').write_text('Failed to parse output format "short-iso-precise".\n')
    (fake_journalctl / 'journal.rc').write_text('1')
    (fake_journalctl / 'journal.out').write_text('')
    result = search(run_module, roots['cmp1'], terms=[log_trees.INSTANCE], journal_units=['nova-*'])
    assert len(result['records']) == 3   # the files are still searched
    assert result['problems'] == ['journal: unreadable: journalctl exited with code 1: Failed to parse output '
                                  'format "short-iso-precise".']
    (fake_journalctl / 'journal.err').write_text(
        'Hint: You are currently not seeing messages from other users and the system.\n'
        '      Users in groups \'adm\', \'systemd-journal\' can see all messages.\n')
    (fake_journalctl / 'journal.rc').write_text('0')
    (fake_journalctl / 'journal.out').write_text(JOURNAL[0] + '\n')
    result = search(run_module, roots['cmp2'], terms=[log_trees.INSTANCE], journal_units=['nova-*'])
    assert [r['service'] for r in result['records']] == ['nova-conductor']
    [problem] = result['problems']
    assert problem.startswith('journal: Hint: You are currently not seeing messages from other users')
    assert problem.endswith('run the search with become, or as a user of the systemd-journal group')
    (fake_journalctl / 'journal.err').write_text('No journal files were found.\n')
    (fake_journalctl / 'journal.out').write_text('-- No entries --\n')
    result = search(run_module, roots['cmp2'], terms=[log_trees.INSTANCE], journal_units=['nova-*'])
    assert result['records'] == []
    assert result['problems'] == ['journal: No journal files were found. (no systemd journal on this host)']
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    result = search(run_module, roots['cmp1'], terms=[log_trees.INSTANCE], journal_units=['nova-*'])
    assert len(result['records']) == 3
    assert result['problems'] == ['journal: unreadable: journalctl is not installed (no systemd journal on this '
                                  'host)']
    assert result['warnings']


def test_an_impossible_offset_in_a_file_or_the_journal_is_no_crash(run_module, tmp_path, fake_journalctl):
    log = tmp_path / 'keystone_access.log'
    log.write_text(ACCESS_LINE.replace('+0000', '+2500') + '\n' + ACCESS_LINE + '\n')
    (fake_journalctl / 'journal.out').write_text(JOURNAL[0].replace('+0000', '+9999') + '\n' + JOURNAL[0] + '\n')
    result = search(run_module, str(tmp_path / 'none'), terms=[log_trees.API_REQ], paths=[str(log)],
                    journal_units=['nova-*'], until='2026-12-03 14:00:00')
    assert [(r['file'], r['time']) for r in result['records']] == [
        (str(log), '2026-12-03T13:22:05.000+00:00'), ('journal', '2026-12-03T13:22:07.400+00:00')]
    assert result['problems'] == []


def test_a_value_error_while_reading_is_a_problem_not_a_crash(run_module, tmp_path, monkeypatch, fake_journalctl):
    log = tmp_path / 'keystone_access.log'
    log.write_text(ACCESS_LINE + '\n')

    def refuse(line, reference=None):
        raise ValueError('a line it could not take')
    monkeypatch.setattr(log_records, 'parse_header', refuse)
    result = search(run_module, str(tmp_path / 'none'), terms=[log_trees.API_REQ], paths=[str(log)],
                    journal_units=['nova-*'], until='2026-12-03 14:00:00')
    assert result['records'] == []
    assert result['problems'] == [f'{log}: unreadable: a line it could not take',
                                  'journal: unreadable: reading its output failed: a line it could not take']


def test_no_temporary_file_for_journalctls_errors_is_a_problem_not_a_crash(run_module, tmp_path, monkeypatch,
                                                                           fake_journalctl):
    def no_file():
        raise FileNotFoundError(errno.ENOENT, 'No usable temporary directory found in [\'/tmp\']')
    monkeypatch.setattr(search_utils.tempfile, 'TemporaryFile', no_file)
    result = search(run_module, str(tmp_path / 'none'), terms=[log_trees.API_REQ], journal_units=['nova-*'])
    assert result['problems'] == ['journal: unreadable: journalctl could not run: No usable temporary directory '
                                  'found in [\'/tmp\']']


def test_journalctl_exiting_a_little_after_the_end_of_its_output_is_waited_for(
        run_module, tmp_path, monkeypatch, fake_journalctl):
    script = fake_journalctl / 'bin' / 'journalctl'
    script.write_text(script.read_text().replace('exit $(', 'exec >&-\nsleep 0.5\nexit $('))
    result = search(run_module, str(tmp_path / 'none'), terms=[log_trees.INSTANCE], journal_units=['nova-*'])
    assert len(result['records']) == 3 and result['problems'] == []
    monkeypatch.setattr(search_utils, 'JOURNAL_EXIT_WAIT', 0.2)
    script.write_text(script.read_text().replace('sleep 0.5\nexit $(cat', 'exec sleep 5\nexit $(cat'))
    result = search(run_module, str(tmp_path / 'none'), terms=[log_trees.INSTANCE], journal_units=['nova-*'])
    assert len(result['records']) == 3
    assert result['problems'] == ['journal: unreadable: journalctl was killed: it had not exited 0.2 s after the end '
                                  'of its output']

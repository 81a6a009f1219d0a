# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""log_search end to end on per-host kolla log trees: rotated and gzipped files, both formats, grep or Python."""

import os
import sys

import pytest

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

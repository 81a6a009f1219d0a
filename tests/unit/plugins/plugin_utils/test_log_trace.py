# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The trace on the controller: rounds over several hosts' records, merged into one timeline, and its summary.
The last test runs playbooks/trace_request.yml itself against four per-host log trees."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import log_records, log_search
from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import log_trace, report_html
from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.plugin_utils.test_report_html import (
    Page, assert_self_contained)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import log_trees  # noqa: E402  pylint: disable=wrong-import-position

UTC = log_records.log_timezone('UTC')


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    return log_trees.tree(str(tmp_path_factory.mktemp('logs')))


def round_of(roots, terms):
    """What every host's log_search returns for terms: one list of records per host."""
    return [log_search.Search(host, terms, [], None, None, UTC, 1000, 100).run(
        log_search.find_files([root], log_search.PROJECTS, [])).records for host, root in roots.items()]


def trace(roots, start, max_rounds=5):
    batches, searched, terms, rounds = [], [], list(start), 0
    while terms and rounds < max_rounds:
        batches += round_of(roots, terms)
        searched += terms
        rounds += 1
        terms = log_trace.next_terms([record for batch in batches for record in batch], searched)
    return log_trace.report(batches, start, searched, rounds)


def test_from_an_instance_uuid_the_chain_reaches_the_scheduler_only_through_the_global_request_id(roots):
    report = trace(roots, [log_trees.INSTANCE])
    assert report['complete'] is True and report['rounds'] == 3
    assert report['searched'][:2] == [log_trees.INSTANCE, log_trees.API_REQ]
    assert set(report['searched']) >= {log_trees.SCHED_REQ, log_trees.COMPUTE_REQ, log_trees.NEUTRON_REQ}
    summary = report['summary']
    [run] = summary['scheduling']
    assert run['host'] == 'ctl2' and run['request_id'] == log_trees.SCHED_REQ
    assert run['hosts_in'] == 3 and run['filters'] == [dict(name='ComputeFilter', hosts=3),
                                                       dict(name='AggregateCoreFilter', hosts=1)]
    assert run['selected'] == ['cmp1'] and summary['selected_hosts'] == ['cmp1'] and summary['computes'] == ['cmp1']
    assert [(call['service'], call['method'], call['path'], call['status']) for call in summary['api']] == \
        [('nova-api', 'POST', '/v2.1/servers', 202),
         ('placement-api', 'GET', '/placement/allocation_candidates?resources=MEMORY_MB%3A512', 200)]
    assert [call['seconds'] for call in summary['api']] == [0.31, None]
    assert [action['action'] for action in summary['actions']] == ['create']
    assert summary['not_reached'] == [] and summary['hosts'] == ['cmp1', 'ctl1', 'ctl2']
    assert [fault['service'] for fault in summary['faults']] == ['neutron-server']
    times = [log_trace.epoch(record) for record in report['timeline']]
    assert times == sorted(times) and [r['host'] for r in report['timeline'][:5]] == ['ctl1'] * 4 + ['ctl2']
    assert report['text'][0].startswith('2026-12-03T13:22:05.966+00:00 ctl1 nova-api DEBUG [req-a35bfb7b')


def test_without_following_global_ids_the_older_scheduler_lines_stay_out(roots):
    batches = round_of(roots, [log_trees.INSTANCE])
    found = log_trace.next_terms([r for batch in batches for r in batch], [log_trees.INSTANCE], follow=('instance',))
    assert found == []
    report = log_trace.report(batches, [log_trees.INSTANCE], [log_trees.INSTANCE], 1, follow=('instance',))
    assert report['summary']['scheduling'] == [] and report['summary']['selected_hosts'] == []


def test_a_novalidhost_trace_names_the_decoded_fault_and_the_services_never_reached(roots):
    report = trace(roots, [log_trees.FAILED])
    faults = report['summary']['faults']
    assert [fault['service'] for fault in faults] == ['nova-conductor', 'nova-conductor']
    assert all(log_trees.DECODED in fault['message'] for fault in faults)
    assert report['summary']['not_reached'] == ['nova-api', 'nova-scheduler', 'nova-compute', 'placement-api']


def test_merge_drops_records_found_twice_and_the_filter_that_emptied_the_hosts():
    record = dict(host='ctl2', file='f', time='2026-12-03T13:00:00.000+08:00', pid=1, logger='nova.filters',
                  service='nova-scheduler', request_id='req-1', message='Filter RamFilter returned 0 host(s)')
    earlier = dict(record, host='ctl1', time='2026-12-03T06:00:00.000+00:00', message='Starting with 2 host(s)')
    timeline = log_trace.merge([record], [record, earlier])
    assert [r['host'] for r in timeline] == ['ctl2', 'ctl1']     # 05:00 UTC before 06:00 UTC
    runs = log_trace.summary(timeline)['scheduling']
    assert [run['emptied_by'] for run in runs] == ['RamFilter', None]


def test_the_playbook_traces_across_four_hosts_pointed_at_directories(roots, tmp_path):
    collections = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(log_trace.__file__))))
    collections = os.path.dirname(os.path.dirname(os.path.dirname(collections)))
    inventory = tmp_path / 'hosts.ini'
    inventory.write_text(''.join(
        f"{host} ansible_connection=local ansible_python_interpreter={sys.executable} "
        f"log_search_roots=\"['{root}']\"\n" for host, root in roots.items()))
    report_path = tmp_path / 'trace.json'
    playbook = os.path.join(collections, 'ansible_collections', 'openstack_ops', 'runbooks', 'playbooks',
                            'trace_request.yml')
    bin_dir = os.path.dirname(sys.executable)
    run = subprocess.run(
        [os.path.join(bin_dir, 'ansible-playbook'), '-i', str(inventory), playbook, '-e',
         json.dumps(dict(trace_request_terms=log_trees.INSTANCE, trace_request_timezone='UTC',
                         trace_request_report_path=str(report_path)))],
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'),
                 ANSIBLE_HOME=str(tmp_path / 'home')),
        capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(report_path.read_text())
    assert report['rounds'] == 3 and report['complete'] is True and report['hosts_not_searched'] == []
    assert report['summary']['selected_hosts'] == ['cmp1'] and report['summary']['computes'] == ['cmp1']
    assert sorted(report['files']) == ['cmp1', 'cmp2', 'ctl1', 'ctl2']
    assert (tmp_path / 'trace.txt').read_text().splitlines() == report['text']
    assert Page((tmp_path / 'trace.html').read_text()).one(id='verdict')['text'].startswith(
        f"{report['summary']['records']} record(s) on {len(report['summary']['hosts'])} host(s); scheduled to cmp1")
    assert 'Scheduler ctl2 [req-7a578ff5' in run.stdout and 'Selected hosts: cmp1' in run.stdout


def test_the_trace_page_shows_the_api_call_the_scheduler_funnel_and_every_record_in_its_lane(roots):
    report = json.loads(json.dumps(trace(roots, [log_trees.INSTANCE])))
    text = report_html.render(report, 'trace', cloud='prod')
    assert_self_contained(text)
    page = Page(text)
    summary = report['summary']
    # the fixture's neutron-server logs an ERROR (a lost DB connection) under the boot's global request id
    assert page.one('header')['attrs']['data-level'] == 'bad' and len(summary['faults']) == 1
    assert 'lost connection' in page.one('table', id='faults')['text']
    assert [call['path'] for call in summary['api']] and all(
        call['path'] in page.one('table', id='api')['text'] for call in summary['api'])
    assert [s['attrs']['data-request'] for s in page.find('section', data_request=True)] == [
        str(run['request_id']) for run in summary['scheduling']]
    funnel = [(g['attrs']['data-filter'], int(g['attrs']['data-hosts'])) for g in page.find('g', data_filter=True)]
    assert funnel == [(name, count) for run in summary['scheduling'] for name, count in (
        ([('hosts in', run['hosts_in'])] if run['hosts_in'] is not None else [])
        + [(f['name'], f['hosts']) for f in run['filters']])]
    lanes = {g['attrs']['data-lane']: int(g['attrs']['data-records']) for g in page.find('g', data_lane=True)}
    assert sum(lanes.values()) == summary['records'] and set(lanes) == set(summary['services'])
    assert len([rect for rect in page.find('rect') if 'mark' in page.classes(rect)]) == summary['records']
    assert page.one(id='computes')['text'] == ', '.join(summary['computes'])


def test_the_trace_page_of_a_novalidhost_is_red_with_the_decoded_fault(roots):
    report = trace(roots, [log_trees.FAILED])
    page = Page(report_html.render(json.loads(json.dumps(report)), 'trace'))
    assert page.one('header')['attrs']['data-level'] == 'bad'
    assert log_trees.DECODED in page.one('table', id='faults')['text']
    assert 'nothing found' in Page(report_html.render(log_trace.report([], ['req-none'], ['req-none'], 1),
                                                      'trace')).one(id='verdict')['text']


def nova_scheduler_record(message, request_id='req-n34', level='DEBUG'):
    return dict(host='ctl1', file='f', time='2026-12-03T13:00:00.000+00:00', pid=1, logger='nova.filters',
                service='nova-scheduler', request_id=request_id, level=level, message=message)


def test_nova_34s_empty_filter_line_and_filter_results_name_the_filter_that_left_no_host():
    # as nova 34's nova/filters.py writes them: "0 hosts" at INFO, then the results at DEBUG and at INFO
    timeline = [nova_scheduler_record(message) for message in (
        'Starting with 4 host(s) get_filtered_objects',
        'Filter ComputeFilter returned 4 host(s) get_filtered_objects',
        "Filtering removed all hosts for the request with instance ID 'f0a1'. Filter results: [('ComputeFilter', "
        "[('cmp1', 'cmp1'), ('cmp2', 'cmp2')]), ('ComputeCapabilitiesFilter', None)] get_filtered_objects",
        "Filtering removed all hosts for the request with instance ID 'f0a1'. Filter results: ['ComputeFilter: "
        "(start: 4, end: 4)', 'ComputeCapabilitiesFilter: (start: 4, end: 0)']")]
    zero = nova_scheduler_record('Filter ComputeCapabilitiesFilter returned 0 hosts', level='INFO')
    [run] = log_trace.summary(timeline[:2] + [zero] + timeline[2:])['scheduling']
    assert run['hosts_in'] == 4 and run['emptied_by'] == 'ComputeCapabilitiesFilter' and run['selected'] == []
    assert run['filters'] == [dict(name='ComputeFilter', hosts=4), dict(name='ComputeCapabilitiesFilter', hosts=0)]
    # without the "returned 0 hosts" line, either form of the results still names it
    for results in timeline[2:]:
        [run] = log_trace.summary([timeline[0], results])['scheduling']
        assert run['emptied_by'] == 'ComputeCapabilitiesFilter', results['message']
    # Placement offered no host at all: no filter ran
    [run] = log_trace.summary([nova_scheduler_record(
        'Got no allocation candidates from the Placement API. This could be due to insufficient resources or a '
        'temporary occurrence as compute nodes start up.', level='INFO')])['scheduling']
    assert run['emptied_by'] == log_trace.PLACEMENT and run['no_candidates'] is True and run['filters'] == []


def test_the_super_conductors_selected_line_and_debug_noise_do_not_count_as_a_choice_or_a_fault():
    # lines as nova 34 wrote them on the cloud lab: the scheduler's choice, the conductor repeating it, and two
    # DEBUG/INFO lines whose "default" and "'fault'" are no fault
    timeline = [nova_scheduler_record('Selected host: (cmp3, cmp3) ram: 8192MB disk: 0MB io_ops: 0 instances: 0, '
                                      'allocation_candidates: 1 _consume_selected_host'),
                dict(nova_scheduler_record("Selected host: cmp3; Selected node: cmp3; Alternates: [('cmp1', 'cmp1')] "
                                           'schedule_and_build_instances'), service='nova-super-conductor',
                     logger='nova.conductor.manager'),
                dict(nova_scheduler_record('The default thread pool MainProcess.default is initialized'),
                     service='nova-compute', host='cmp3', level='INFO'),
                dict(nova_scheduler_record("Lazy-loading 'fault' on Instance uuid 3f88 obj_load_attr"),
                     service='nova-api')]
    summary = log_trace.summary(timeline)
    assert [run['selected'] for run in summary['scheduling']] == [['cmp3']] and summary['selected_hosts'] == ['cmp3']
    assert summary['faults'] == []
    # an older release's WeighedHost form
    [run] = log_trace.summary([nova_scheduler_record(
        'Selected host: WeighedHost [host: (node-3, node-3) ram: 1024MB, weight: 1.0]')])['scheduling']
    assert run['selected'] == ['node-3']


# --- bad input: an id that matches nothing, a log directory that cannot be read, a host that is down ---------

def deny(path):
    """Make a directory unreadable for the search, as a kolla log directory is for a user not in its group.

    Root reads everything, so as root the directory goes to another owner (0700) and the search runs without
    CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (``setpriv``); returns the command prefix that runs it so."""
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
        os.chmod(path, 0o700)
        return ['/usr/bin/setpriv', '--bounding-set', '-dac_override,-dac_read_search']
    os.chmod(path, 0)
    return []


def base_of(roots):
    """The directory holding every host's tree (<base>/<host>/var/log/kolla)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(roots['ctl1']))))


def snapshot(base):
    """Every file under base with its size, mtime and content: the search must change none of it."""
    found = {}
    for directory, _dirs, names in os.walk(base):
        for name in names:
            path = os.path.join(directory, name)
            status = os.stat(path)
            with open(path, 'rb') as stream:
                found[path] = (status.st_size, status.st_mtime_ns, stream.read())
    return found


@pytest.fixture
def bad_roots(tmp_path):
    base = tmp_path / 'bad'
    roots = log_trees.tree(str(base))
    prefix = deny(os.path.join(roots['cmp1'], 'nova'))
    yield roots, prefix
    os.chmod(os.path.join(roots['cmp1'], 'nova'), 0o755)


def test_an_unreadable_log_directory_is_named_and_the_others_still_searched(bad_roots):
    roots, prefix = bad_roots
    code = (
        'import json, sys\n'
        'from ansible_collections.openstack_ops.runbooks.plugins.module_utils import log_search\n'
        'problems = []\n'
        'files = log_search.find_files(sys.argv[1:], ["nova", "placement"], [], problems)\n'
        'print(json.dumps(dict(files=files, problems=problems)))\n')
    collections = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(log_search.__file__)))))))
    run = subprocess.run(prefix + [sys.executable, '-c', code, roots['cmp1'], roots['ctl1'], '/nonexistent'],
                         env=dict(os.environ, PYTHONPATH=collections), capture_output=True, text=True, check=True)
    found = json.loads(run.stdout)
    denied = os.path.join(roots['cmp1'], 'nova')
    assert found['problems'] == [f'{denied}: not readable by this user (uid 0): Permission denied; run the search '
                                 'with become, or as a user of the group owning the logs'.replace(
                                     'uid 0', f'uid {os.geteuid()}')]
    assert sorted(os.path.basename(path) for path in found['files']) == [
        'nova-api.log', 'nova-conductor.log', 'placement-api.log']
    # nothing to search at all says so
    problems = []
    assert log_search.find_files(['/nonexistent/kolla', '/nonexistent/log'], ['nova'], [], problems) == []
    assert problems == ['no log directory: none of /nonexistent/kolla, /nonexistent/log exists on this host']
    problems = []
    assert log_search.find_files([roots['cmp2']], ['glance'], [], problems) == []
    assert problems == [f"no log file under {roots['cmp2']} (projects glance)"]


def trace_playbook(tmp_path, inventory_lines, terms):
    """ansible-playbook trace_request.yml on local hosts; returns (rc, report or None, stdout)."""
    collections = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(log_trace.__file__))))
    collections = os.path.dirname(os.path.dirname(os.path.dirname(collections)))
    inventory = tmp_path / 'hosts.ini'
    inventory.write_text(''.join(line + '\n' for line in inventory_lines))
    report_path = tmp_path / 'trace.json'
    playbook = os.path.join(collections, 'ansible_collections', 'openstack_ops', 'runbooks', 'playbooks',
                            'trace_request.yml')
    run = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inventory), playbook, '-e',
         json.dumps(dict(trace_request_terms=terms, trace_request_timezone='UTC',
                         trace_request_report_path=str(report_path)))],
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'),
                 ANSIBLE_HOME=str(tmp_path / 'home'), ANSIBLE_NOCOLOR='1'),
        capture_output=True, text=True, check=False)
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return run.returncode, report, run.stdout + run.stderr


def local_host(host, root, interpreter=sys.executable):
    return f"{host} ansible_connection=local ansible_python_interpreter={interpreter} log_search_roots=\"['{root}']\""


def interpreter_with(prefix, tmp_path):
    """A Python interpreter that runs the module under the prefix (setpriv), for ansible_python_interpreter."""
    if not prefix:
        return sys.executable
    wrapper = tmp_path / 'python-unprivileged'
    wrapper.write_text(f'#!/bin/sh\nexec {" ".join(prefix)} {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_a_down_host_and_an_unreadable_directory_are_reported_and_the_others_results_come_back(bad_roots, tmp_path):
    roots, prefix = bad_roots
    before = snapshot(base_of(roots))
    rc, report, out = trace_playbook(tmp_path, [
        local_host('ctl1', roots['ctl1']), local_host('ctl2', roots['ctl2']),
        local_host('cmp1', roots['cmp1'], interpreter=interpreter_with(prefix, tmp_path)),
        # nothing listens on port 1: ssh is refused at once
        'cmp9 ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1 ansible_user=nobody',
    ], log_trees.INSTANCE)
    assert rc == 0, out
    assert report['hosts_not_searched'] == ['cmp9'] and 'Connection refused' in report['hosts_unreachable']['cmp9']
    denied = os.path.join(roots['cmp1'], 'nova')
    assert [problem.split(':')[0] for problem in report['search_problems']['cmp1']] == [denied]
    assert set(report['search_problems']) == {'cmp1'}
    # the hosts that could be searched give the chain as before: api, scheduler (via the global id)
    summary = report['summary']
    assert summary['hosts'] == ['ctl1', 'ctl2'] and summary['selected_hosts'] == ['cmp1']
    # cmp1's own log could not be read: the scheduler chose it, but its compute lines are not in the timeline
    assert summary['computes'] == [] and report['complete'] is True
    assert 'Not searched: cmp9 (' in out and 'Connection refused' in out
    assert f'Not readable on cmp1: {denied}: not readable by this user' in out
    assert snapshot(base_of(roots)) == before


def test_an_id_that_matches_nothing_gives_an_empty_trace_that_says_so(roots, tmp_path):
    before = snapshot(base_of(roots))
    unknown = 'req-00000000-0000-4000-8000-00000000dead'
    rc, report, out = trace_playbook(tmp_path, [local_host(host, root) for host, root in roots.items()], unknown)
    assert rc == 0, out
    assert report['summary']['records'] == 0 and report['timeline'] == [] and report['rounds'] == 1
    assert report['complete'] is True and report['searched'] == [unknown] and report['hosts_not_searched'] == []
    assert report['search_problems'] == {} and report['summary']['scheduling'] == []
    assert f'Nothing found: no record of {unknown} in the logs of 4 host(s) searched' in out
    assert (tmp_path / 'trace.txt').read_text() == ''
    assert snapshot(base_of(roots)) == before

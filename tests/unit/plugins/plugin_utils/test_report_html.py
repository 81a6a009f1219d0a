# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML page of each runbook report: self-contained, masked, and showing the JSON's own figures."""

import json
import os
import re
import subprocess
import sys
import textwrap
from html.parser import HTMLParser

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import checkup, report_html
from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.plugin_utils import report_samples as samples


class Page(HTMLParser):
    """Every element with its attributes and the text inside it (for the few elements the tests read)."""

    def __init__(self, text):
        super().__init__()
        self.elements = []
        self._open = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag in ('td', 'th', 'br', 'tr'):   # cells read as words
            self.handle_data(' ')
        element = dict(tag=tag, attrs=dict(attrs), text='')
        self.elements.append(element)
        if tag not in ('meta', 'rect', 'line', 'br'):
            self._open.append(element)

    def handle_endtag(self, tag):
        if any(element['tag'] == tag for element in self._open):   # an end tag of a void element closes nothing
            while self._open.pop()['tag'] != tag:
                pass

    def handle_data(self, data):
        for element in self._open:
            element['text'] += data

    def find(self, tag=None, **attrs):
        return [el for el in self.elements if (tag is None or el['tag'] == tag) and all(
            (el['attrs'].get(key.replace('_', '-')) == value if value is not True
             else key.replace('_', '-') in el['attrs']) for key, value in attrs.items())]

    def classes(self, element):
        return set((element['attrs'].get('class') or '').split())

    def one(self, tag=None, **attrs):
        found = self.find(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


def render(report, kind, **kwargs):
    # The report goes through JSON as the runbook writes it.
    return report_html.render(json.loads(json.dumps(report)), kind, **kwargs)


def assert_self_contained(text):
    assert text.startswith('<!DOCTYPE html>')
    assert '<script' not in text.lower()
    assert not re.search(r'(src|href)\s*=', text, re.IGNORECASE), 'the page loads or links something'
    assert '@import' not in text and 'url(' not in text and '@font-face' not in text


def test_placement_audit_shows_every_resource_class_of_every_provider_as_the_json_has_it():
    report = samples.placement_audit()
    text = render(report, 'placement_audit', cloud='prod-east')
    assert_self_contained(text)
    page = Page(text)
    assert page.one(id='cloud')['text'] == 'prod-east'
    assert page.one(id='run')['text'].startswith('read-only')
    header = page.one('header')
    assert header['attrs']['data-level'] == 'bad'
    assert 'compute1' in page.one(id='verdict')['text'] and '80 consumer(s)' in page.one(id='verdict')['text']
    for provider in report['providers']:
        section = page.one('section', data_provider=provider['name'])
        bars = [el for el in page.find('div', data_rc=True)
                if page.elements.index(el) > page.elements.index(section)][:len(provider['inventories'])]
        for shown_bar in bars:
            inv = provider['inventories'][shown_bar['attrs']['data-rc']]
            assert int(shown_bar['attrs']['data-used']) == inv['used']
            assert int(shown_bar['attrs']['data-capacity']) == inv['capacity'] == int(
                (inv['total'] - inv['reserved']) * inv['allocation_ratio'])
            assert f"used {inv['used']} of {inv['capacity']}" in shown_bar['text']
    memory = report['providers'][0]['inventories']['MEMORY_MB']
    over = page.one('span', data_over=str(memory['used'] - memory['capacity']))
    assert over['text'] == f"over by {memory['used'] - memory['capacity']}"
    # The over-capacity provider comes first and is marked; its over part is drawn.
    assert page.find('section', data_provider=True)[0]['attrs']['data-provider'] == 'compute1'
    assert page.one('section', data_provider='compute1')['attrs']['data-over'] == 'true'
    assert len(page.find('rect')) and any('over' in page.classes(r) for r in page.find('rect'))


def test_placement_audit_groups_consumers_and_highlights_what_a_clean_removes():
    text = render(samples.placement_audit(), 'placement_audit')
    page = Page(text)
    groups = {(g['attrs']['data-classification'], g['attrs']['data-count']): g for g in page.find('details')
              if 'data-classification' in g['attrs']}
    assert set(groups) == {('active', '1'), ('stale_source', '1'), ('orphan', '79'), ('active', '1')}
    removing = [g for g in page.find('details', data_classification=True) if 'removes' in page.classes(g)]
    assert sorted(g['attrs']['data-classification'] for g in removing) == ['orphan', 'stale_source']
    assert all('removes' not in page.classes(g) for g in page.find('details', data_classification='active'))
    # 79 orphans of 128 MiB each are summed exactly; only the first LIST_PER_GROUP are listed.
    orphan = page.one('details', data_classification='orphan')
    assert 'MEMORY_MB 10112' in orphan['text'] and 'and 69 more' in orphan['text']
    rows = [r for r in page.find('tr') if 'consumer' in page.classes(r) and 'removes' in page.classes(r)]
    assert len(rows) == report_html.LIST_PER_GROUP + 1
    doubled = page.one('table', id='doubled')
    assert '01b6377f-5b0c-4273-a24a-921f793b3004' in doubled['text'] and 'compute2' in doubled['text']


def test_a_large_audit_stays_a_small_page_with_every_provider_and_exact_counts():
    report = samples.large_placement_audit()
    assert report['summary']['consumers'] == 20000
    text = render(report, 'placement_audit')
    size = len(text.encode())
    assert size < 3 * 1024 * 1024, size
    page = Page(text)
    assert len(page.find('section', data_provider=True)) == 1000
    assert page.find('section', data_provider=True)[0]['attrs']['data-provider'] == 'compute0007'
    counted = sum(int(g['attrs']['data-count']) for g in page.find('details', data_classification=True))
    assert counted == 20000
    listed = [r for r in page.find('tr') if 'consumer' in page.classes(r)]
    assert len(listed) == report_html.LIST_TOTAL
    assert '18000 further consumer(s)' in page.one(id='unlisted')['text']


def test_secrets_never_reach_the_page():
    report = samples.cells_report()
    report['before']['cells'][1]['login_password'] = 'hunter2'
    text = render(report, 'cells', cloud={'auth': {'password': 'hunter3', 'auth_url': 'https://k:5000'},
                                          'region_name': 'RegionOne'})
    assert 's3cret-Pa55' not in text and 'hunter2' not in text and 'hunter3' not in text
    assert 'nova:********@db1:3306/nova_cell0' in text
    page = Page(text)
    assert page.one(id='cloud')['text'] == 'cloud settings given inline (region RegionOne)'
    assert render(report, 'cells', cloud='rabbit://u:pw@h/').count('u:********@h') == 1


def test_text_from_the_report_is_escaped():
    report = samples.placement_audit()
    report['providers'][1]['name'] = '<script>alert(1)</script>'
    text = render(report, 'placement_audit')
    assert '<script' not in text and '&lt;script&gt;' in text


def test_cells_findings_by_kind_with_the_instances_and_the_repairs():
    report = samples.cells_report()
    page = Page(render(report, 'cells', cloud='nova_api at db1:3306'))
    before = report['before']
    # Before and after the repair: the kinds found first, with their counts.
    kinds = {s['attrs']['data-kind']: int(s['attrs']['data-count'])
             for s in page.find('section', data_kind=True, data_when='before')}
    assert kinds == {'instance_without_mapping': 2, 'compute_host_without_mapping': 1, 'cell_unreachable': 1}
    assert {s['attrs']['data-kind'] for s in page.find('section', data_kind=True, data_when='after')} == {
        'compute_host_without_mapping', 'cell_unreachable'}
    section = page.one('section', data_kind='instance_without_mapping')
    for finding in before['findings'][:2]:
        assert finding['instance_uuid'] in section['text'] and finding['host'] in section['text']
    assert page.one('td', data_key='findings')['text'] == str(before['summary']['findings'])
    assert len(page.one('table', id='repairs')['text'].split('missing_instance_mappings')) == 3
    verdict = page.one(id='verdict')['text']
    assert verdict.startswith('4 finding(s), 3 repairable; 1 cell(s) unreachable; 2 repair(s) made, findings left: 2')
    assert page.one('header')['attrs']['data-level'] == 'warn'
    assert page.one(id='run')['text'] == 'real run: mappings were repaired'


def test_cells_without_findings_is_green():
    report = samples.cells_report(repaired=False)
    report['before'].update(findings=[], summary=dict(report['before']['summary'], findings=0, repairable=0,
                                                      unreachable_cells=0))
    page = Page(render(report, 'cells'))
    assert page.one('header')['attrs']['data-level'] == 'ok'
    assert page.one(id='run')['text'] == 'audit only (changes nothing)'


def test_recovery_steps_on_a_time_axis_with_durations_queues_and_conductors():
    report = samples.conductor_recovery()
    text = render(report, 'conductor_recovery', cloud='VIP 10.0.0.10')
    assert_self_contained(text)
    page = Page(text)
    assert page.one('header')['attrs']['data-level'] == 'ok'
    assert page.one(id='verdict')['text'] == 'recovered in 60.5 s'
    assert page.one(id='time')['text'] == '2026-12-03 03:01:00 UTC'
    steps = page.find('g', data_number=True)
    assert [g['attrs']['data-number'] for g in steps] == [str(s['number']) for s in report['steps']]
    durations = [float(g['attrs']['data-duration']) for g in steps]
    assert durations == [3.5, 2.5, 1.5, 11.5, 1.5, 12.5, 4.5, 15.5, 6.5, 5.5]
    assert '11.5 s' in steps[3]['text'] and 'stop the conductors' in steps[3]['text']
    totals = {tr['attrs']['data-when']: tr for tr in page.find('tr', data_when=True)}
    assert totals['before']['text'].split()[1:] == ['3', '75', '0']
    assert totals['after']['text'].split()[1:] == ['3', '0', '3']
    conductors = page.one('table', id='conductors')['text']
    assert 'ctl1' in conductors and 'VIP holder' in conductors and 'killed' in conductors
    assert page.one('td', data_key='reopened')['text'] == 'yes'
    assert '75 message(s)' in page.one(id='purge')['text']


def test_a_failed_recovery_is_red_and_says_what_to_do_next():
    report = samples.conductor_recovery(failed=True)
    page = Page(render(report, 'conductor_recovery'))
    assert page.one('header')['attrs']['data-level'] == 'bad'
    assert 'nova-conductor on ctl2 is not healthy' in page.one(id='verdict')['text']
    assert any('bad' in page.classes(r) for r in page.find('rect'))
    assert page.find('line', **{'class': 'fail'})
    assert page.one(id='next')['text'].startswith('Fix the failed conductor')
    assert 'ctl9:5672' in page.one('table', id='conductors')['text']


def test_recovery_in_check_mode_is_a_plan():
    report = samples.conductor_recovery()
    report.update(check_mode=True, result='planned')
    page = Page(render(report, 'conductor_recovery'))
    assert page.one('header')['attrs']['data-level'] == 'info'
    assert page.one(id='run')['text'].startswith('check mode')


@pytest.mark.parametrize('check_mode', [True, False])
def test_placement_clean_highlights_what_is_removed(check_mode):
    report = samples.placement_clean(check_mode=check_mode)
    page = Page(render(report, 'placement_clean'))
    assert page.one('table', id='changes')
    removed = [tr for tr in page.find('tr') if 'removes' in page.classes(tr)]
    assert len(removed) == len(report['changes']) == 80
    verdict = page.one(id='verdict')['text']
    if check_mode:
        assert verdict == '80 consumer(s) would be changed (check mode: nothing was)'
        assert page.one(id='run')['text'] == 'check mode: nothing was changed'
        assert not page.find('table', id='backups')
    else:
        assert verdict.startswith('80 consumer(s) changed; backup: /var/backups/')
        assert 'sha256:4f1c' in page.one('table', id='backups')['text']


def test_the_filter_renders_and_refuses_an_unknown_kind():
    # In a process of its own: importing Ansible's controller side (the filter's AnsibleFilterError) changes how
    # AnsibleModule reports failures for every module test that would run after it in this process.
    script = textwrap.dedent("""
        from ansible.errors import AnsibleFilterError
        from ansible_collections.openstack_ops.runbooks.plugins.filter.report_html import FilterModule
        from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.plugin_utils import report_samples
        report_filter = FilterModule().filters()['report_html']
        assert report_filter(report_samples.placement_clean(), 'placement_clean').startswith('<!DOCTYPE html>')
        for report, kind, message in (({}, 'nonsense', 'kind must be one of'), ([], 'cells', 'must be a dict')):
            try:
                report_filter(report, kind)
            except AnsibleFilterError as exc:
                assert message in str(exc), exc
            else:
                raise AssertionError(kind)
        print('ok')
    """)
    done = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, check=False,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert done.returncode == 0 and done.stdout.strip() == 'ok', done.stderr


def test_an_empty_report_still_renders():
    for kind in report_html.KINDS:
        page = Page(render({}, kind))
        assert page.one(id='verdict')['text']


def test_a_report_of_an_unknown_shape_gives_a_page_that_says_so():
    page = Page(render(dict(providers='not a list', summary=[]), 'placement_audit'))
    assert page.one('header')['attrs']['data-level'] == 'bad'
    assert 'could not be drawn' in page.one(id='render-error')['text']
    assert not Page(render(samples.placement_audit(), 'placement_audit')).find(id='render-error')


@pytest.mark.parametrize('fits', [False, True])
def test_novalidhost_shows_the_request_on_top_of_what_each_blocked_host_uses(fits):
    report = samples.placement_fit(fits=fits)
    page = Page(render(report, 'placement_fit', cloud='opslab'))
    assert page.one('header')['attrs']['data-level'] == ('ok' if fits else 'bad')
    verdict = page.one(id='verdict')['text']
    assert verdict == ('fits 9 time(s) on 1 host(s): compute2' if fits
                       else 'no host can take DISK_GB 10, MEMORY_MB 1024, VCPU 1: NoValidHost')
    for host in report['blocked']:
        section = page.one('section', data_provider=host['name'])
        for reason in host['reasons']:
            assert reason['reason'] in section['text']
    shown = {el['attrs']['data-rc']: el for el in page.find('div', data_rc=True)}
    memory = shown['MEMORY_MB']
    assert (memory['attrs']['data-used'], memory['attrs']['data-capacity'], memory['attrs']['data-shortfall']) == (
        '12450', '10993', '2481')
    assert 'short by 2481' in memory['text']
    assert page.find('rect', **{'class': 'asked'})
    if fits:
        assert 'compute2' in page.one('table', id='candidates')['text']
    else:
        assert 'CUSTOM_GPU' in page.one('table', id='request')['text']


@pytest.mark.parametrize('check_mode', [False, True])
def test_tuning_shows_every_setting_before_and_after_and_what_restarts(check_mode):
    report = samples.tuning(check_mode=check_mode)
    text = render(report, 'tuning')
    assert_self_contained(text)
    page = Page(text)
    assert page.one('header')['attrs']['data-level'] == ('info' if check_mode else 'ok')
    assert page.one(id='verdict')['text'] == (
        f'2 setting(s) {"to change" if check_mode else "changed"} on 1 of 2 host(s), '
        f'1 service(s) {"to restart" if check_mode else "restarted"}')
    hosts = {s['attrs']['data-host']: s for s in page.find('section', data_host=True)}
    assert {h: int(s['attrs']['data-changed']) for h, s in hosts.items()} == {'ctl1': 2, 'ctl2': 0}
    assert '[filter_scheduler] host_subset_size /etc/nova/nova.conf unset 3' in ' '.join(hosts['ctl1']['text'].split())
    assert '180 600 no' in ' '.join(hosts['ctl1']['text'].split())
    assert 'already so' in hosts['ctl2']['text']
    restarted = [span['text'] for span in page.find('span', data_key='restarted')]
    assert restarted == ['nova-scheduler', 'nothing']


def test_tuning_that_shortened_a_wait_is_red():
    page = Page(render(samples.tuning(shorter=True), 'tuning'))
    assert page.one('header')['attrs']['data-level'] == 'bad'
    assert page.one(id='verdict')['text'].endswith('1 wait(s) got SHORTER')
    assert Page(render(dict(runbook='tune_nova', hosts=[]), 'tuning')).one(id='verdict')['text'] == 'no host was tuned'


def test_triage_shows_each_instance_with_its_step_fault_and_the_trace_command():
    report = samples.triage()
    text = render(report, 'triage')
    assert_self_contained(text)
    page = Page(text)
    assert page.one('header')['attrs']['data-level'] == 'bad'
    assert page.one(id='verdict')['text'] == '1 error, 1 healthy'
    sections = {s['attrs']['data-instance']: s for s in page.find('section', data_instance=True)}
    failed, healthy = report['instances']
    assert sections[failed['instance_uuid']]['attrs']['data-verdict'] == 'error'
    assert '找不到有效主机' in sections[failed['instance_uuid']]['text']
    assert 'scheduling' in [b['text'] for b in page.find('b', data_key='step')]
    assert 'cmp1' in sections[healthy['instance_uuid']]['text'] and 'MEMORY_MB 512' in sections[healthy['instance_uuid']]['text']
    assert page.one(id='trace')['text'].endswith(','.join(report['trace_request_terms']))


def test_db_connections_shows_each_node_its_findings_transactions_and_lock_waits():
    report = samples.db_connections()
    page = render(report, 'db_connections')
    assert_self_contained(page)
    parsed = Page(page)

    assert parsed.one('header')['attrs']['data-level'] == 'warn'
    assert '3 finding(s) on 2 node(s): idle_in_transaction, lock_wait, long_held' in parsed.one(id='verdict')['text']
    nodes = {s['attrs']['data-node']: s for s in parsed.find('section') if 'data-node' in s['attrs']}
    assert set(nodes) == {'gal1', 'gal2'}
    assert nodes['gal1']['attrs']['data-findings'] == '3' and nodes['gal2']['attrs']['data-findings'] == '0'
    assert [td['text'].strip() for td in parsed.find('td') if td['attrs'].get('data-key') == 'idle_max'] == ['5000', '0']
    assert 'Transaction error, need to rollback' in nodes['gal1']['text']
    assert 'UPDATE instances SET task_state = &lt;NULL&gt;' in page and '<NULL>' not in page


def test_db_connections_with_a_node_not_read_is_red_and_names_it():
    page = render(samples.db_connections(failed=True), 'db_connections')
    parsed = Page(page)

    assert parsed.one('header')['attrs']['data-level'] == 'bad'
    assert '1 of 2 node(s) could not be read: gal2' in parsed.one(id='verdict')['text']
    assert "Not read: Cannot connect to database (default) at 10.0.0.12:3306" in page.replace('&quot;', '"')


def test_recovery_draws_each_conductors_guru_meditation_report_and_the_database_connections():
    report = samples.conductor_recovery()
    text = render(report, 'conductor_recovery')
    assert_self_contained(text)
    page = Page(text)
    rows = page.find('tr', data_gmr_host=True)
    expected = [(host, r) for host, run in sorted(report['gmr'].items()) for r in run['reports']]
    assert [(tr['attrs']['data-gmr-host'], tr['attrs']['data-pid']) for tr in rows] == [
        (host, str(r['pid'])) for host, r in expected]
    for tr, (_host, r) in zip(rows, expected):
        assert tr['attrs']['data-captured'] == ('1' if r['captured'] else '0')
        assert tr['attrs']['data-threads'] == str(r['threads_total'])
        assert tr['attrs']['data-green-threads'] == str(r['green_threads_total'])
    assert 'process stopped (state T)' in rows[-1]['text'] and 'held' in page.classes(rows[-1])
    assert 'OpenStack Nova 27.1.0' in rows[0]['text'] and 'Guru Meditation' in rows[0]['text']
    # the report's text is masked as the JSON is
    assert 's3cret-rabbit' not in text and 'rabbit://nova:********@ctl1:5672/' in text

    db = report['db_connections']
    summary = page.one('p', id='db-connections')
    assert summary['attrs']['data-connections'] == str(db['totals']['connections'])
    groups = page.find('tr', data_group_count=True)
    assert [int(tr['attrs']['data-group-count']) for tr in groups] == [g['count'] for g in db['groups']]
    # nova's 6 idle 5000 s past its recycle time 3600 (and one in a transaction), placement's query in a transaction;
    # nova's 2 idle 40 s are within it
    assert [tr['attrs']['data-held'] for tr in groups] == ['true', 'true', 'false']
    assert ['held' in page.classes(tr) for tr in groups] == [True, True, False]
    assert summary['attrs']['data-held'] == '7' and 'idle 5000 s &gt; 3600 s' in text
    assert {p['attrs']['data-kind'] for p in page.find('p', data_kind=True)} == {f['kind'] for f in db['findings']}


def test_a_recovery_without_reports_or_connections_says_why():
    report = samples.conductor_recovery(failed=True)
    page = Page(render(report, 'conductor_recovery'))
    ctl3 = page.find('tr', data_gmr_host='ctl3')
    assert len(ctl3) == 1 and ctl3[0]['attrs']['data-captured'] == '0'
    assert 'no main process' in ctl3[0]['text']
    stopped = dict(samples.conductor_recovery(), gmr={}, db_connections=None)
    page = Page(render(stopped, 'conductor_recovery'))
    assert page.one(id='gmr')['text'].startswith('No report was asked for')
    assert page.one(id='db-connections')['text'].startswith('Not read')
    failed = dict(samples.conductor_recovery(), db_connections=dict(failed=True, msg='Access denied for user ops'))
    assert Page(render(failed, 'conductor_recovery')).one(id='db-connections')['text'] == (
        'Not read: Access denied for user ops')


@pytest.mark.parametrize('previous', [False, True])
def test_checkup_shows_findings_by_severity_then_group_with_the_json_numbers(previous):
    report = samples.checkup(previous=previous)
    text = render(report, 'checkup', cloud='opslab')
    assert_self_contained(text)
    page = Page(text)
    summary = report['summary']
    assert page.one('header')['attrs']['data-level'] == 'bad'
    assert page.one(id='verdict')['text'] == (
        '5 finding(s), the highest critical: at or above checkup_fail_on (high), the gate fails; '
        '1 check(s) not run: cells_mappings')
    assert page.one(id='run')['text'] == 'read-only check-up (changes nothing)'
    assert page.one(id='time')['text'] == '2026-12-03 03:00:40 UTC'
    assert {tr['attrs']['data-severity']: tr['text'].split()[-1] for tr in page.find('tr', data_severity=True)} == {
        sev: str(n) for sev, n in summary['by_severity'].items()}
    sections = page.find('section', data_severity=True)
    assert [(s['attrs']['data-severity'], int(s['attrs']['data-count'])) for s in sections] == [
        ('critical', 2), ('high', 2), ('low', 1)]
    groups = [(g['attrs']['data-group'], int(g['attrs']['data-count'])) for g in page.find('div', data_group=True)]
    assert groups == [('messaging', 1), ('placement', 1), ('messaging', 2), ('messaging', 1)]
    shown = {(d['attrs']['data-id'], d['attrs']['data-subject']): d for d in page.find('div', data_id=True)}
    assert set(shown) == {(f['id'], f['subject']) for f in report['findings']}
    for finding in report['findings']:
        div = shown[finding['id'], finding['subject']]
        assert div['attrs']['data-severity'] == finding['severity'] and div['attrs']['data-value'] == str(finding['value'])
        assert finding['title'] in div['text'] and finding['fix'] in div['text']
    leak = shown['placement_allocations.leaked', 'compute1']['text']
    assert 'MEMORY_MB 11136' in ' '.join(leak.split())   # the evidence's leaked amounts, drawn from its dict
    # the check that could not run, with why: the password in its URL masked
    assert page.one('li', data_check='cells_mappings')['text'].startswith('cells_mappings: cannot read nova_api')
    assert 's3cret-Pa55' not in text and 'nova:********@db1:3306' in text
    assert page.one('td', data_key='checks_run')['text'] == str(summary['checks_run'])
    trend = {tr['attrs']['data-trend']: tr['text'].split() for tr in page.find('tr', data_trend=True)}
    if previous:
        assert {m: int(trend[m][1]) for m in ('new', 'worse', 'fixed')} == {
            m: len(report['trend'][m]) for m in ('new', 'worse', 'fixed')}
        assert 'messaging_queues.no_consumer / scheduler' in ' '.join(trend['fixed'])
        chips = [s['text'] for s in page.find('span') if 'worse' in page.classes(s)]
        assert chips.count('worse') == 2   # the finding's mark and the trend row's
    else:
        assert not trend and not page.find(id='trend')


def test_checkup_levels_and_a_finding_of_a_check_the_renderer_does_not_know():
    clean = dict(samples.checkup(), findings=[], checks=[], summary=dict(
        findings=0, by_severity=dict(info=0, low=0, medium=0, high=0, critical=0), highest=None, checks_run=4,
        not_run=[], gate_failed=False))
    page = Page(render(clean, 'checkup'))
    assert page.one('header')['attrs']['data-level'] == 'ok'
    assert page.one(id='verdict')['text'] == 'no finding in 4 check(s)'
    # a check added later: its fields drawn as they are, whatever their evidence holds
    new = dict(id='galera_cluster.split', check='galera_cluster', group='database', seeds=['002'], subject='gal2',
               severity='medium', title='gal2 is not Synced', value=2,
               evidence=dict(nodes=[dict(name='gal2', state='Donor/Desynced', size=2)], token='abc123',
                             seen=list(range(30))), fix='ansible-playbook openstack_ops.runbooks.tune_galera --check')
    below = dict(clean, findings=[new], summary=dict(clean['summary'], findings=1, highest='medium',
                                                     by_severity=dict(clean['summary']['by_severity'], medium=1)))
    text = render(below, 'checkup')
    page = Page(text)
    assert page.one('header')['attrs']['data-level'] == 'warn'
    assert 'below checkup_fail_on (high), the gate passes' in page.one(id='verdict')['text']
    div = page.one('div', data_id='galera_cluster.split')
    assert 'Donor/Desynced' in div['text'] and 'and 10 more' in div['text'] and 'tune_galera --check' in div['text']
    assert 'abc123' not in text
    assert page.one('div', data_group='database')['attrs']['data-count'] == '1'


@pytest.mark.parametrize('check_mode', [False, True])
def test_tune_galera_shows_what_each_node_read_and_every_variable_before_and_after(check_mode):
    report = samples.tune_galera(check_mode=check_mode)
    text = render(report, 'tuning')
    assert_self_contained(text)
    page = Page(text)
    assert page.one('h1')['text'] == 'tune_galera: settings before and after'
    assert page.one(id='verdict')['text'] == (
        f'9 setting(s) {"to change" if check_mode else "changed"} on 3 of 3 host(s), '
        f'3 service(s) {"to restart" if check_mode else "restarted"}')
    assert page.one('td', data_key='timeouts in order')['text'] == 'yes'
    hosts = {s['attrs']['data-host']: ' '.join(s['text'].split()) for s in page.find('section', data_host=True)}
    assert list(hosts) == ['gal1', 'gal2', 'gal3']
    assert 'cluster_status Primary, local_state Synced, cluster_size 3' in hosts['gal1']
    assert '[mysqld] wait_timeout /etc/mysql/mariadb.conf.d/99-openstack-ops.cnf 28800 5000' in hosts['gal2']
    assert ('16777216 16777216' if check_mode else '16777216 33554432') in hosts['gal3']
    assert '[mysqld] wsrep_sst_auth' in hosts['gal1'] and '********' in hosts['gal1']


@pytest.mark.parametrize('failed', [False, True])
def test_fix_haproxy_balance_shows_each_section_before_and_after_and_the_servers(failed):
    report = samples.fix_haproxy_balance(failed=failed)
    page = Page(render(report, 'tuning'))
    assert page.one('header')['attrs']['data-level'] == ('bad' if failed else 'ok')
    assert page.one(id='verdict')['text'] == (
        'failed on lb2 after 6 change(s)' if failed else '3 setting(s) changed on 1 of 2 host(s), 1 service(s) restarted')
    lb1 = ' '.join(page.one('section', data_host='lb1')['text'].split())
    assert '[nova_api_back] balance /etc/haproxy/haproxy.cfg source roundrobin' in lb1
    assert '[mariadb] active (writer) servers /etc/haproxy/haproxy.cfg gal1, gal2, gal3 gal1' in lb1
    assert 'ctl1 up, ctl2 up, ctl3 up' in lb1


def test_checkup_names_the_hosts_a_check_did_not_reach_when_it_ran_on_others():
    results = dict(galera_state=dict(db1=dict(changed=False, healthy=True, cluster_status='Primary', local_state='Synced',
                                              cluster_size=3, ready=True, connected=True),
                                     db2=dict(unreachable=True, msg='Failed to connect to the host via ssh')))
    report = checkup.report(results, selected=['galera_state'])
    assert report['summary']['partly_run'] == ['galera_state'] and report['summary']['not_run'] == ['galera_state']
    page = Page(render(report, 'checkup'))
    [partly] = page.find('li', data_check='galera_state')[1:]     # after its line under "Checks not run"
    assert partly['text'] == 'galera_state ran on db1; not on: db2: unreachable: Failed to connect to the host via ssh'

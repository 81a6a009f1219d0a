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

from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import report_html
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

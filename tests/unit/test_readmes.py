# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The two READMEs stay true to the collection and to each other.

Every playbook and module README.md names exists, and README.zh-CN.md (the Chinese quick start) names it too;
neither README sends a reader to a path outside the repository.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / 'README.md'
README_ZH = ROOT / 'README.zh-CN.md'

MODULES = {path.stem for path in (ROOT / 'plugins' / 'modules').glob('*.py') if path.stem != '__init__'}
PLAYBOOKS = {path.stem for path in (ROOT / 'playbooks').glob('*.yml')}
ROLES = {path.name for path in (ROOT / 'roles').iterdir() if path.is_dir()}
FILTERS = {path.stem for path in (ROOT / 'plugins' / 'filter').glob('*.py') if path.stem != '__init__'}
DOC_FRAGMENTS = {path.stem for path in (ROOT / 'plugins' / 'doc_fragments').glob('*.py')}
ACTION_GROUPS = set(yaml.safe_load((ROOT / 'meta' / 'runtime.yml').read_text())['action_groups'])

PLAYBOOK_PATH = re.compile(r'playbooks/([A-Za-z0-9_]+)\.yml')
FQCN = re.compile(r'openstack_ops\.runbooks\.([A-Za-z0-9_]+)')
CODE = re.compile(r'`([A-Za-z0-9_]+)`')


def named(text):
    """The playbooks and modules a README names: by path, by FQCN, or a module's name in backquotes."""
    playbooks = set(PLAYBOOK_PATH.findall(text))
    fqcns = set(FQCN.findall(text))
    modules = {name for name in fqcns | set(CODE.findall(text)) if name in MODULES}
    playbooks |= {name for name in fqcns if name in PLAYBOOKS}
    return playbooks, modules, fqcns


def mentions(text, name):
    return re.search(rf'(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])', text) is not None


def test_every_playbook_and_module_the_readme_names_exists():
    playbooks, modules, fqcns = named(README.read_text(encoding='utf-8'))
    assert playbooks <= PLAYBOOKS, f'README.md names playbooks that do not exist: {sorted(playbooks - PLAYBOOKS)}'
    known = MODULES | PLAYBOOKS | ROLES | FILTERS | DOC_FRAGMENTS | ACTION_GROUPS
    assert fqcns <= known, f'README.md names openstack_ops.runbooks.* that do not exist: {sorted(fqcns - known)}'
    # The README's module table lists every module; the check below would be empty if it named none.
    assert modules == MODULES, f'modules missing from README.md: {sorted(MODULES - modules)}'
    assert playbooks == PLAYBOOKS, f'playbooks missing from README.md: {sorted(PLAYBOOKS - playbooks)}'


def test_the_chinese_quick_start_names_every_playbook_and_module_the_readme_names():
    playbooks, modules, fqcns_en = named(README.read_text(encoding='utf-8'))
    zh = README_ZH.read_text(encoding='utf-8')
    missing = sorted(name for name in playbooks | modules if not mentions(zh, name))
    assert not missing, f'README.zh-CN.md does not name: {missing}'
    zh_playbooks, zh_modules, zh_fqcns = named(zh)
    known = MODULES | PLAYBOOKS | ROLES | FILTERS | DOC_FRAGMENTS | ACTION_GROUPS
    assert zh_playbooks <= PLAYBOOKS and zh_fqcns <= known, 'README.zh-CN.md names something that does not exist'
    assert fqcns_en  # the README names the collection's content by FQCN


def test_the_readmes_link_each_other():
    assert '](README.zh-CN.md)' in README.read_text(encoding='utf-8')
    assert '](README.md)' in README_ZH.read_text(encoding='utf-8')


@pytest.mark.parametrize('readme', [README, README_ZH], ids=lambda path: path.name)
def test_a_readme_stands_on_its_own(readme):
    """Someone who installed the collection has no ../shared/seeds/: the incidents are told in the README."""
    text = readme.read_text(encoding='utf-8')
    assert '../shared' not in text and 'seeds/' not in text
    # Each of the five incidents is summarised in the README's own table.
    for words in (('NoValidHost',), ('instance_mappings',), ('Insufficient compute resources', 'host_subset_size'),
                  ('balance source', '"source"'), ('Transaction error, need to rollback',), ('USR1', 'task state')):
        assert any(word in text for word in words), f'{readme.name} does not tell the incident of {words[0]!r}'


def test_the_chinese_quick_start_has_its_sections():
    zh = README_ZH.read_text(encoding='utf-8')
    for heading in ('## 遇到这些现象,执行哪个 runbook', '## 两条命令', '## 对接真实的云', '## 安全模型'):
        assert heading in zh
    assert 'make demo' in zh and 'make test' in zh


def _defaults():
    """Every role default and every playbook's own variable, by name."""
    values = {}
    for path in sorted((ROOT / 'roles').glob('*/defaults/main.yml')):
        values.update(yaml.safe_load(path.read_text()) or {})
    for path in sorted((ROOT / 'playbooks').glob('*.yml')):
        for play in yaml.safe_load(path.read_text()) or []:
            if isinstance(play, dict):
                values.update({k: v for k, v in (play.get('vars') or {}).items() if k not in values})
    return values


# "3 (`var`", "at most 100 per run (`var`", "at least 600 s (`var`" and "`var` (10 s)", "`var` 150"
VALUE_BEFORE = re.compile(r'(?:^|[\s(])([0-9]+|true|false) (?:s |per run )?\(`([a-z0-9_]+)`')
VALUE_AFTER = re.compile(r'`([a-z0-9_]+)` \(?([0-9]+)(?: s)?\b')


def test_the_table_of_differences_from_the_seeds_states_the_defaults_in_force():
    """README's "Where the collection differs from the seeds": every value it gives next to a variable is that
    variable's default (a default changed without the table would tell operators the wrong before/after)."""
    text = README.read_text()
    section = text[text.index('## Where the collection differs from the seeds'):]
    section = section[:section.index('\n## ', 5)]
    defaults = _defaults()
    pairs = [(var, value) for value, var in VALUE_BEFORE.findall(section)] + VALUE_AFTER.findall(section)
    stated = [(var, value) for var, value in pairs if var in defaults]
    assert len(stated) >= 8, stated   # the table's rows name their variables
    wrong = [(var, value, defaults[var]) for var, value in stated
             if str(defaults[var]).lower() != value and not (isinstance(defaults[var], list) or defaults[var] is None)]
    assert not wrong, wrong

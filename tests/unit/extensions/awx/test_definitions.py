# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX/AAP definitions (extensions/awx) against AWX's own rules and the runbooks they drive."""

import datetime
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .awx_rules import (Unsafe, answer_errors, awx_lists_playbook, credential_type_errors, launch_extra_vars,
                        load_definitions, repo_root, survey_spec_errors)

ROOT = repo_root()
AWX = ROOT / 'extensions' / 'awx'
RUNBOOKS = sorted(path.stem for path in (ROOT / 'playbooks').glob('*.yml'))
# Runbooks that change something: each gets an approval workflow (the list, and backup_databases is not one).
CHANGING = {'check_cells repair': 'check_cells', 'clean_placement': 'clean_placement',
            'restore_databases': 'restore_databases', 'recover_conductor': 'recover_conductor',
            'fix_haproxy_balance': 'fix_haproxy_balance', 'tune_galera': 'tune_galera', 'tune_nova': 'tune_nova'}
# Set for every runbook at once (each runbook reads it where it writes reports), or given by AWX itself.
GLOBAL_VARIABLES = {'openstack_ops_report_dir'}

TYPES = load_definitions(AWX / 'controller' / 'credential_types.yml')['controller_credential_types']
DEFINITIONS = load_definitions(AWX / 'controller' / 'runbooks.yml')
TEMPLATES = DEFINITIONS['controller_templates']
WORKFLOWS = DEFINITIONS['controller_workflows']
SCHEDULES = DEFINITIONS['controller_schedules']
TEMPLATE_BY_NAME = {template['name']: template for template in TEMPLATES}


def runbook_of(template):
    return Path(template['playbook']).stem


def variables_read(runbook):
    """Every variable a runbook reads: its play vars, the vars its hosts line names, and the options of the
    argument specs of every role (entry point) it includes."""
    names = set()
    plays = yaml.safe_load((ROOT / 'playbooks' / f'{runbook}.yml').read_text())
    text = (ROOT / 'playbooks' / f'{runbook}.yml').read_text()
    for play in plays:
        names.update(play.get('vars', {}))
        names.update(re.findall(r'([a-z_]+) \| default\(', str(play.get('hosts', ''))))
    for role, entry in re.findall(r'name: openstack_ops\.runbooks\.(\w+)(?:\n\s+tasks_from: (\w+))?', text) + \
            re.findall(r'role: openstack_ops\.runbooks\.(\w+)()', text):
        specs = yaml.safe_load((ROOT / 'roles' / role / 'meta' / 'argument_specs.yml').read_text())['argument_specs']
        names.update(specs[entry or 'main']['options'])
    return names


def variable_specs(runbook):
    """name -> (type, choices) of what the runbook reads: argument spec options, or the type of a play var's
    default (None where the default is an expression)."""
    specs = {}
    text = (ROOT / 'playbooks' / f'{runbook}.yml').read_text()
    for play in yaml.safe_load(text):
        for name, default in play.get('vars', {}).items():
            kind = {bool: 'bool', int: 'int', list: 'list', dict: 'dict', str: 'str'}.get(type(default))
            specs[name] = (None if isinstance(default, str) and '{{' in default else kind, None)
    for role, entry in re.findall(r'name: openstack_ops\.runbooks\.(\w+)(?:\n\s+tasks_from: (\w+))?', text) + \
            re.findall(r'role: openstack_ops\.runbooks\.(\w+)()', text):
        options = yaml.safe_load((ROOT / 'roles' / role / 'meta' / 'argument_specs.yml').read_text())
        for name, option in options['argument_specs'][entry or 'main']['options'].items():
            specs[name] = (option.get('type', 'str'), option.get('choices'))
    return specs


# survey question type -> the variable types it may set
QUESTION_SETS = {'integer': {'int'}, 'float': {'float'}, 'multiselect': {'list'}, 'text': {'str', 'path'},
                 'textarea': {'str', 'path'}}


def test_every_runbook_has_a_wrapper_awx_lists():
    wrappers = sorted(path.stem for path in (AWX / 'playbooks').glob('*.yml'))
    assert wrappers == RUNBOOKS
    for runbook in RUNBOOKS:
        relative = f'extensions/awx/playbooks/{runbook}.yml'
        plays = yaml.safe_load((ROOT / relative).read_text())
        assert len(plays) == 1 and set(plays[0]) == {'name', 'ansible.builtin.import_playbook'}, relative
        assert plays[0]['ansible.builtin.import_playbook'] == f'openstack_ops.runbooks.{runbook}'
        assert awx_lists_playbook(ROOT, relative), relative


def test_awx_rules_as_written_refuse_what_awx_refuses():
    """The rule functions themselves: each catches the mistake it is there for."""
    assert not awx_lists_playbook(ROOT, 'roles/db_backup/tasks/main.yml')
    assert not awx_lists_playbook(ROOT, 'extensions/awx/controller/runbooks.yml')
    question = {'type': 'integer', 'variable': 'x', 'question_name': 'x', 'required': True, 'min': 1, 'max': 5}
    assert answer_errors(question, 6) and answer_errors(question, '3') and not answer_errors(question, 5)
    select = {'type': 'multiselect', 'variable': 'y', 'question_name': 'y', 'required': False, 'choices': ['a', 'b'],
              'default': 'a'}
    assert not survey_spec_errors({'name': 'n', 'description': '', 'spec': [select]})
    assert answer_errors(select, select['default'])   # AWX drops this default at launch
    assert credential_type_errors({'inputs': {'fields': [{'id': 'tower', 'label': 't'}]},
                                   'injectors': {'env': {'ANSIBLE_CONFIG': '{{ tower }}'}}})
    assert credential_type_errors({'inputs': {'fields': [{'id': 'a', 'label': 'a'}]},
                                   'injectors': {'extra_vars': {'v': '{{ b }}'}}})


@pytest.mark.parametrize('template', TEMPLATES, ids=lambda template: template['name'])
def test_job_template(template):
    assert awx_lists_playbook(ROOT, template['playbook']), template['playbook']
    assert template['job_slice_count'] == 1 and template['allow_simultaneous'] is False
    if not template.get('survey_enabled'):
        return
    survey = template['survey_spec']
    assert not survey_spec_errors(survey)
    for question in survey['spec']:
        if 'default' in question:
            # a default AWX would drop at launch (a multiselect's string default, one out of min/max) is a mistake
            assert not answer_errors(question, question['default']), question
        if question['type'] == 'multiselect':
            assert 'default' not in question, 'AWX drops a multiselect default when launched by API or workflow'
    read = variables_read(runbook_of(template)) | GLOBAL_VARIABLES
    asked = {question['variable'] for question in survey['spec']}
    assert asked <= read, f'asked but not read by {runbook_of(template)}: {sorted(asked - read)}'
    specs = variable_specs(runbook_of(template))
    for question in survey['spec']:
        kind, choices = specs.get(question['variable'], (None, None))
        if kind is None:
            continue   # a play var whose default is an expression, or a hosts line
        if question['type'] == 'multiplechoice':
            if sorted(question['choices']) == ['false', 'true']:
                assert kind == 'bool', question['variable']
            else:
                assert kind == 'str' and (choices is None or set(question['choices']) <= set(choices)), question
        else:
            assert kind in QUESTION_SETS[question['type']], (question['variable'], kind, question['type'])
    given = set(template.get('extra_vars') or {})
    assert given <= read, f'set but not read by {runbook_of(template)}: {sorted(given - read)}'
    # secrets come from credentials, never from a survey
    assert not [q for q in survey['spec'] if q['type'] == 'password' or 'password' in q['variable']]


def test_every_runbook_has_a_job_template_and_every_change_a_workflow():
    assert {runbook_of(template) for template in TEMPLATES} >= set(RUNBOOKS)
    workflows = {workflow['name'].removeprefix('openstack_ops '): workflow for workflow in WORKFLOWS}
    assert set(workflows) == set(CHANGING)
    for name, runbook in CHANGING.items():
        template = TEMPLATE_BY_NAME[f'openstack_ops {name}']
        assert runbook_of(template) == runbook
        assert template['ask_job_type_on_launch'] and template['ask_diff_mode_on_launch']


@pytest.mark.parametrize('workflow', WORKFLOWS, ids=lambda workflow: workflow['name'])
def test_approval_workflow(workflow):
    nodes = {node['identifier']: node for node in workflow['workflow_nodes']}
    assert list(nodes) == ['plan', 'approve', 'run', 'report']
    template = workflow['name']
    job_template = {'name': template, 'type': 'job_template', 'organization': {'name': 'Default'}}
    assert nodes['plan']['unified_job_template'] == job_template
    assert nodes['plan']['job_type'] == 'check' and nodes['plan']['diff_mode'] is True
    assert nodes['plan']['related'] == {'success_nodes': [{'identifier': 'approve'}]}
    approval = nodes['approve']['unified_job_template']
    assert approval['type'] == 'workflow_approval' and approval['timeout'] > 0 and approval['name']
    assert nodes['approve']['related'] == {'success_nodes': [{'identifier': 'run'}]}
    assert nodes['run']['unified_job_template']['name'] == template and nodes['run']['job_type'] == 'run'
    assert nodes['run']['related'] == {'always_nodes': [{'identifier': 'report'}]}
    assert nodes['report']['unified_job_template']['name'] == 'openstack_ops workflow report'
    assert workflow['allow_simultaneous'] is False
    assert workflow['survey_spec'] == TEMPLATE_BY_NAME[template]['survey_spec']


def test_workflow_nodes_match_awx_awx_node_options():
    """workflow_job_template's argument spec takes nodes as plain dicts; their documented suboptions are the
    contract, so each node is validated against them with Ansible's own validator."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.awx.awx.plugins.modules import workflow_job_template

    documentation = yaml.safe_load(workflow_job_template.DOCUMENTATION)

    def spec(options):
        return {name: {key: (spec(value) if key == 'suboptions' else value) for key, value in option.items()
                       if key in ('type', 'elements', 'choices', 'required', 'suboptions', 'aliases')}
                for name, option in options.items()}

    validator = ArgumentSpecValidator(spec(documentation['options']['workflow_nodes']['suboptions']))
    for workflow in WORKFLOWS:
        for node in workflow['workflow_nodes']:
            result = validator.validate(node)
            assert not result.error_messages, (workflow['name'], node['identifier'], result.error_messages)


@pytest.mark.parametrize('credential_type', TYPES, ids=lambda credential_type: credential_type['name'])
def test_credential_type(credential_type):
    assert not credential_type_errors(credential_type)
    assert credential_type['kind'] in ('cloud', 'net')
    secrets = {field['id'] for field in credential_type['inputs']['fields'] if field.get('secret')}
    assert secrets, 'every login here has a secret'
    assert all('password' not in field['id'] and 'url' not in field['id'] for field in credential_type['inputs']['fields']
               if field['id'] not in secrets)

    def templates(node):
        if isinstance(node, dict):
            return [item for value in node.values() for item in templates(value)]
        return [node]

    # AWX renders these at launch; Ansible must not when the definitions are applied
    assert all(isinstance(item, Unsafe) for item in templates(credential_type['injectors']))


def test_every_jinja_of_the_definitions_is_unsafe():
    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f'{where}.{key}')
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f'{where}[{index}]')
        elif isinstance(node, str) and '{{' in node:
            assert isinstance(node, Unsafe), where

    walk(TYPES, 'controller_credential_types')
    walk(DEFINITIONS, 'runbooks.yml')


def test_credentials_map_to_what_the_runbooks_read():
    """The credentials' injected variables are the only names the templates' Jinja reads besides AWX's own."""
    injected = {name for credential_type in TYPES for name in credential_type['injectors']['extra_vars']}
    for template in TEMPLATES:
        launched = launch_extra_vars(template)
        for value in launched.values():
            if isinstance(value, str) and '{{' in value:
                names = set(re.findall(r'openstack_ops_\w+', value)) | set(re.findall(r'awx_\w+', value))
                assert names <= injected | {'awx_job_id'}, (template['name'], names)


def test_the_daily_check_up_is_scheduled_and_only_read_only_jobs_are():
    """Issue 18's trend needs a run a day; a schedule never launches a job that changes the cloud unapproved."""
    from dateutil.rrule import rrulestr

    assert [schedule['unified_job_template'] for schedule in SCHEDULES] == ['openstack_ops checkup']
    for schedule in SCHEDULES:
        template = TEMPLATE_BY_NAME[schedule['unified_job_template']]
        assert runbook_of(template) not in CHANGING.values() and template.get('job_type', 'run') == 'run'
        # AWX's rrule: "DTSTART:... RRULE:..." on one line
        rule = rrulestr(schedule['rrule'].replace(' RRULE:', '\nRRULE:'))
        first, second = rule[0], rule[1]
        assert (second - first).total_seconds() == 86400 and first.tzinfo is not None, schedule['rrule']
        # its first run is already past: a start date to come would leave the schedule idle until then
        assert first <= datetime.datetime.now(datetime.timezone.utc), schedule["rrule"]
    checkup = TEMPLATE_BY_NAME['openstack_ops checkup']['extra_vars']
    assert checkup['checkup_previous'] == checkup['checkup_report_path']


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize('task, count', [('Credential types', len(TYPES)), ('Job templates', len(TEMPLATES)),
                                         ('Approval workflows', len(WORKFLOWS)), ('Schedules', len(SCHEDULES))])
def test_apply_playbook_passes_awx_awx_argument_specs(tmp_path, task, count):
    """apply.yml against a closed port: every definition passes its awx.awx module's argument spec, so the only
    failure is the connection (a typo would say "Unsupported parameters", a wrong type its type error)."""
    env = dict(os.environ, CONTROLLER_HOST=f'https://127.0.0.1:{closed_port()}',
               CONTROLLER_OAUTH_TOKEN='a-long-dummy-token-for-no-log-masking', ANSIBLE_STDOUT_CALLBACK='ansible.builtin.json',
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    result = subprocess.run([str(Path(sys.executable).with_name('ansible-playbook')), '-i', 'localhost,', '-c', 'local',
                             '-e', f'ansible_python_interpreter={sys.executable}', '--start-at-task', task,
                             str(AWX / 'controller' / 'apply.yml')],
                            capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=300)
    output = json.loads(result.stdout)
    ran = [entry for entry in output['plays'][0]['tasks'] if entry['task']['name'] == task]
    assert len(ran) == 1, output['plays'][0]['tasks']
    items = ran[0]['hosts']['localhost']['results']
    assert len(items) == count
    for item in items:
        assert item['failed'] and 'Connection refused' in item['msg'], item['msg']

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AWX's own rules, written out from its source (ansible/awx at e21dd0a; see ../shared/research/awx.md), for tests
that have no AWX server: which files it lists as playbooks, what a survey and a credential type may hold, how it
writes a job's extra vars. The tests read the collection's definitions with load_definitions()."""

import os
import re
from pathlib import Path

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

# awx/main/utils/ansible.py: a line that makes a file a playbook, and the folders never scanned.
PLAYBOOK_LINE = re.compile(r'^\s*?-?\s*?(?:hosts|(ansible\.builtin\.)?include|(ansible\.builtin\.)?import_playbook):\s*?.*?$')
SKIPPED_FOLDERS = ('roles', 'tasks', 'group_vars', 'host_vars')

# awx/main/constants.py and awx/api/views: survey question types and the type of their defaults.
SURVEY_TYPES = {'text': str, 'textarea': str, 'password': str, 'multiplechoice': str, 'multiselect': str,
                'integer': int, 'float': (float, int)}
# awx/main/constants.py ENV_BLOCKLIST: environment variables a credential type may not inject (nor ANSIBLE_*).
ENV_BLOCKLIST = frozenset(('VIRTUAL_ENV', 'PATH', 'PYTHONPATH', 'JOB_ID', 'INVENTORY_ID', 'INVENTORY_SOURCE_ID',
                           'INVENTORY_UPDATE_ID', 'AD_HOC_COMMAND_ID', 'REST_API_URL', 'REST_API_TOKEN', 'MAX_EVENT_RES',
                           'CALLBACK_QUEUE', 'CALLBACK_CONNECTION', 'CACHE', 'JOB_CALLBACK_DEBUG', 'INVENTORY_HOSTVARS',
                           'AWX_HOST', 'PROJECT_REVISION', 'SUPERVISOR_CONFIG_PATH'))
VARIABLE_NAME = re.compile(r'^[a-zA-Z_]+[a-zA-Z0-9_]*$')
EXTRA_VAR_KEY = re.compile(r'^[a-zA-Z_\{\}]+[a-zA-Z0-9_\{\}]*$')
FILE_KEY = re.compile(r'^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$')


class Unsafe(str):
    """A string written !unsafe in a definition file: Ansible passes it on without rendering it."""


class DefinitionLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads the definitions as Ansible does for its vars files, keeping !unsafe visible."""


DefinitionLoader.add_constructor('!unsafe', lambda loader, node: Unsafe(loader.construct_scalar(node)))


def load_definitions(path):
    with open(path, encoding='utf-8') as handle:
        return yaml.load(handle, Loader=DefinitionLoader)  # nosec - a SafeLoader subclass


def awx_lists_playbook(project, relative):
    """True when AWX would offer `relative` (a path in the project checkout) as a job template's playbook."""
    path = Path(project) / relative
    if path.suffix not in ('.yml', '.yaml') or not path.is_file():
        return False
    folders = Path(relative).parent.parts
    if any(part in SKIPPED_FOLDERS or part.startswith('.') for part in folders):
        return False
    with open(path, encoding='utf-8', errors='ignore') as handle:
        return any(PLAYBOOK_LINE.match(line) for line in handle)


def survey_spec_errors(survey):
    """What AWX's API refuses in a survey spec (JobTemplateSurveySpec._validate_spec_data)."""
    errors = []
    for field, kind in (('name', str), ('description', str), ('spec', list)):
        if not isinstance(survey.get(field), kind):
            errors.append(f'{field} must be a {kind.__name__}')
    if errors:
        return errors
    if not survey['spec']:
        errors.append('spec has no question')
    seen = set()
    for question in survey['spec']:
        name = question.get('variable')
        for field, kind in (('type', str), ('question_name', str), ('variable', str), ('required', bool)):
            if not isinstance(question.get(field), kind):
                errors.append(f'{name}: {field} must be a {kind.__name__}')
        if name in seen:
            errors.append(f'{name}: asked twice')
        seen.add(name)
        qtype = question.get('type')
        if qtype not in SURVEY_TYPES:
            errors.append(f'{name}: type {qtype} is not one of {sorted(SURVEY_TYPES)}')
            continue
        if question.get('default', '') != '' and not isinstance(question['default'], SURVEY_TYPES[qtype]):
            errors.append(f'{name}: default {question["default"]!r} is not of type {qtype}')
        for key in ('min', 'max'):
            if question.get(key) is not None and not isinstance(question[key], int):
                errors.append(f'{name}: {key} must be an integer')
        if qtype in ('multiplechoice', 'multiselect'):
            if 'choices' not in question:
                errors.append(f'{name}: a {qtype} question needs choices')
                continue
            if 'default' in question:
                defaults = question['default'].splitlines() if isinstance(question['default'], str) else question['default']
                if qtype == 'multiplechoice' and len(defaults) > 1:
                    errors.append(f'{name}: one default only')
                if any(item not in question['choices'] for item in defaults):
                    errors.append(f'{name}: default not among the choices')
    return errors


def answer_errors(question, value):
    """What AWX says of an answer (or a default) at launch (SurveyJobTemplateMixin._survey_element_validation)."""
    qtype, name = question['type'], question['variable']
    if qtype in ('text', 'textarea', 'password'):
        if not isinstance(value, str):
            return [f'{name}: expected a string']
        if question.get('min') not in ('', None) and len(value) < int(question['min']):
            return [f'{name}: {value!r} is shorter than {question["min"]}']
        if question.get('max') not in ('', None) and len(value) > int(question['max']):
            return [f'{name}: {value!r} is longer than {question["max"]}']
    elif qtype in ('integer', 'float'):
        if type(value) not in ((int,) if qtype == 'integer' else (int, float)):  # pylint: disable=unidiomatic-typecheck
            return [f'{name}: expected a number']
        if question.get('min') not in ('', None) and value < question['min']:
            return [f'{name}: {value} is below {question["min"]}']
        if question.get('max') not in ('', None) and value > question['max']:
            return [f'{name}: {value} is above {question["max"]}']
    elif qtype == 'multiselect':
        if not isinstance(value, list):
            return [f'{name}: expected a list']
        return [f'{name}: {item!r} is not a choice' for item in value if item not in question['choices']]
    elif qtype == 'multiplechoice' and value not in question['choices']:
        return [f'{name}: {value!r} is not a choice']
    return []


def launch_extra_vars(template, answers=None):
    """A job's extra vars as AWX builds them: template extra vars < survey defaults < answers. A default AWX finds
    invalid at launch is dropped silently, as AWX does."""
    extra_vars = dict(template.get('extra_vars') or {})
    if template.get('survey_enabled') and template.get('survey_spec'):
        for question in template['survey_spec']['spec']:
            default = question.get('default')
            if default is not None and not answer_errors(question, default):
                extra_vars[question['variable']] = default
    extra_vars.update(answers or {})
    return extra_vars


def credential_type_errors(credential_type):
    """What AWX refuses in a credential type's inputs and injectors (awx/main/fields.py)."""
    errors = []
    fields = credential_type.get('inputs', {}).get('fields', [])
    ids = set()
    for field in fields:
        fid = field.get('id')
        if not isinstance(fid, str) or not VARIABLE_NAME.match(fid):
            errors.append(f'{fid}: not a variable name')
        if fid == 'tower':
            errors.append('tower is a reserved field name')
        if fid in ids:
            errors.append(f'{fid}: defined twice')
        ids.add(fid)
        if 'label' not in field:
            errors.append(f'{fid}: no label')
        extra = set(field) - {'id', 'label', 'type', 'format', 'choices', 'help_text', 'multiline', 'secret',
                              'ask_at_runtime', 'default'}
        if extra:
            errors.append(f'{fid}: unknown keys {sorted(extra)}')
        ftype = field.get('type', 'string')
        if ftype not in ('string', 'boolean'):
            errors.append(f'{fid}: type {ftype}')
        if 'default' in field and type(field['default']) is not {'string': str, 'boolean': bool}.get(ftype):  # pylint: disable=unidiomatic-typecheck
            errors.append(f'{fid}: default is not a {ftype}')
        for key in ('choices', 'multiline', 'format', 'secret'):
            if key in field and ftype != 'string':
                errors.append(f'{fid}: {key} only for strings')
    for name in credential_type.get('inputs', {}).get('required', []):
        if name not in ids:
            errors.append(f'required {name} is not a field')

    injectors = credential_type.get('injectors', {})
    extra = set(injectors) - {'file', 'env', 'extra_vars'}
    if extra:
        errors.append(f'unknown injectors {sorted(extra)}')
    namespace = {fid: 'EXAMPLE' for fid in ids}
    sandbox = ImmutableSandboxedEnvironment(undefined=StrictUndefined)

    def render(where, template):
        if not isinstance(template, str):
            errors.append(f'{where}: not a string')
            return
        try:
            sandbox.from_string(template).render(namespace)
        except Exception as error:  # pylint: disable=broad-exception-caught
            errors.append(f'{where}: {error}')

    for key, template in injectors.get('file', {}).items():
        if not FILE_KEY.match(key):
            errors.append(f'file injector {key}')
        render(f'file.{key}', template)
    for key, template in injectors.get('env', {}).items():
        if not VARIABLE_NAME.match(key) or key.startswith('ANSIBLE_') or key in ENV_BLOCKLIST:
            errors.append(f'env {key} is not allowed')
        render(f'env.{key}', template)

    def walk(where, node):
        if isinstance(node, dict):
            for key, value in node.items():
                if not EXTRA_VAR_KEY.match(key):
                    errors.append(f'extra_vars key {key}')
                walk(f'{where}.{key}', value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(f'{where}[{index}]', value)
        else:
            render(where, node)

    walk('extra_vars', injectors.get('extra_vars', {}))
    return errors


def inject_extra_vars(credential_type, inputs):
    """The extra vars a credential of this type gives a job (CredentialType.inject_credential)."""
    namespace = {key: value for key, value in inputs.items() if value != ''}
    for field in credential_type['inputs']['fields']:
        if field['id'] not in namespace and 'default' in field:
            namespace[field['id']] = field['default']
    sandbox = ImmutableSandboxedEnvironment()

    def build(node):
        if isinstance(node, dict):
            return {build(key): build(value) for key, value in node.items()}
        if isinstance(node, list):
            return [build(item) for item in node]
        return sandbox.from_string(node).render(**namespace)

    return build(credential_type.get('injectors', {}).get('extra_vars', {}))


class _UnsafeDumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
    def represent_data(self, data):
        if isinstance(data, str):
            return self.represent_scalar('!unsafe', data)
        return super().represent_data(data)


def extravars_yaml(extra_vars, trusted=None):
    """env/extravars as AWX writes it (awx/main/utils/safe_yaml.py): each top-level variable on its own, every string
    !unsafe unless the variable and its value are the job template's own (trusted)."""
    trusted = trusted or {}
    parts = []
    for key, value in extra_vars.items():
        dumper = yaml.SafeDumper if key in trusted and trusted[key] == value else _UnsafeDumper
        parts.append(yaml.dump_all([{key: value}], None, Dumper=dumper, default_flow_style=False))
    return ''.join(parts)


def repo_root():
    return Path(os.environ.get('OPS_REPO_ROOT', Path(__file__).resolve().parents[4]))


def plain(node):
    """The definitions as AWX stores them: !unsafe only mattered to the Ansible that applied them."""
    if isinstance(node, dict):
        return {plain(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    return str(node) if isinstance(node, Unsafe) else node

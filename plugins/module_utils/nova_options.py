# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The nova.conf options the seeds tune, their types, and the nova services that read each.

A changed option needs a restart of the services that read it, and only of those: nova-compute alone reads
``block_device_allocate_retries`` (seed 002), nova-scheduler alone the ``[filter_scheduler]`` spreading options
(seed 001), every service with a database the pool options (seed 003), every RPC service
``rpc_response_timeout``. An option outside the table is read, as far as this module knows, by every service.

Names and types come from nova and its libraries (nova/conf/compute.py, nova/conf/scheduler.py, oslo.db
options, oslo.messaging's RPC client options); ``nova_checks`` asks the installed nova itself, which also
covers options outside the table.
"""

import difflib
import json
import subprocess

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import oslo_ini
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

# nova's services by binary name, as kolla-ansible names their config overrides (nova/<service>.conf).
SERVICES = ('nova-api', 'nova-metadata', 'nova-conductor', 'nova-scheduler', 'nova-compute',
            'nova-novncproxy', 'nova-serialproxy', 'nova-spicehtml5proxy')
# The console proxies check console tokens in the cell database; nova-compute has no database access.
CELL_DB_SERVICES = ('nova-api', 'nova-metadata', 'nova-conductor', 'nova-scheduler',
                    'nova-novncproxy', 'nova-serialproxy', 'nova-spicehtml5proxy')
API_DB_SERVICES = ('nova-api', 'nova-metadata', 'nova-conductor', 'nova-scheduler')
POOL_OPTIONS = ('max_pool_size', 'max_overflow', 'pool_timeout', 'connection_recycle_time')
BOOL_WORDS = {'true': 'true', 'yes': 'true', 'on': 'true', '1': 'true',
              'false': 'false', 'no': 'false', 'off': 'false', '0': 'false'}


class Option:
    def __init__(self, kind, services, minimum=None):
        self.kind = kind
        self.services = services
        self.minimum = minimum


KNOWN = {
    ('DEFAULT', 'block_device_allocate_retries'): Option('int', ('nova-compute',), minimum=0),
    ('DEFAULT', 'block_device_allocate_retries_interval'): Option('int', ('nova-compute',), minimum=0),
    ('DEFAULT', 'rpc_response_timeout'): Option('int', SERVICES),
    ('filter_scheduler', 'host_subset_size'): Option('int', ('nova-scheduler',), minimum=1),
    ('filter_scheduler', 'shuffle_best_same_weighed_hosts'): Option('bool', ('nova-scheduler',)),
}
KNOWN.update({('database', name): Option('int', CELL_DB_SERVICES) for name in POOL_OPTIONS})
KNOWN.update({('api_database', name): Option('int', API_DB_SERVICES) for name in POOL_OPTIONS})


class Change:
    """One wanted setting: its group and key, the value as it will be written, and the services that read it."""

    def __init__(self, group, key, value, services, known):
        self.group = group
        self.key = key
        self.value = value
        self.services = services
        self.known = known

    @property
    def name(self):
        return f'[{self.group}] {self.key}'


def plan(requested, nova_python=None, run=subprocess.run, defaults_of=()):
    """(changes, nova version, defaults): the wanted settings, validated. Every problem is raised at once, naming each.

    ``requested`` is a list of {section, option, value, services}; ``services`` (a list of SERVICES, or None)
    is only taken for an option outside the table, which is otherwise taken to be read by every service. With
    ``nova_python``, the nova installed for that interpreter checks each name and value too (nova_checks), and
    says the default of each (group, key) in ``defaults_of``: {(group, key): default}, empty without nova_python.
    """
    problems, changes, seen = [], [], set()
    for number, item in enumerate(requested, 1):
        try:
            change = _change(item)
        except OpsError as error:   # named by its section and option when they are valid
            problems.append(f'setting {number}: {error.msg}' if error.details.get('unnamed') else error.msg)
            continue
        if (change.group, change.key) in seen:
            problems.append(f'{change.name} is given twice')
            continue
        seen.add((change.group, change.key))
        changes.append(change)
    version, defaults = None, {}
    if nova_python and (changes or defaults_of):
        version, found, defaults = nova_checks(nova_python, changes, run, defaults_of)
        problems.extend(found)
    if problems:
        raise OpsError('invalid settings, nothing was changed: ' + '; '.join(problems), problems=problems)
    return changes, version, defaults


def _change(item):
    try:
        group = oslo_ini.group(oslo_ini.check_name('section', item.get('section') or 'DEFAULT'))
        key = oslo_ini.check_name('option', item.get('option'))
    except OpsError as error:
        raise OpsError(error.msg, unnamed=True) from error
    value = item.get('value')
    name = f'[{group}] {key}'
    if value is None or isinstance(value, (dict, list)):
        raise OpsError(f'{name}: {value!r} is not a value (a string, number or boolean is expected)')
    option = KNOWN.get((group, key))
    services = item.get('services')
    if option is not None:
        if services and sorted(services) != sorted(option.services):
            raise OpsError(f'{name} is read by {", ".join(option.services)}; its services cannot be changed')
        return Change(group, key, canonical(name, option, value), option.services, known=True)
    if services is None:
        services = SERVICES
    unknown = [service for service in services if service not in SERVICES]
    if unknown or not services:
        raise OpsError(f'{name}: services {", ".join(unknown) or "(none)"} are not nova services '
                       f'(known: {", ".join(SERVICES)})')
    text = str(value).lower() if isinstance(value, bool) else str(value)
    oslo_ini.format_value(text)   # one line
    return Change(group, key, text, tuple(service for service in SERVICES if service in services), known=False)


def canonical(name, option, value):
    """``value`` as a table option takes it, written the one way this collection writes it."""
    if option.kind == 'bool':
        if isinstance(value, bool):
            return 'true' if value else 'false'
        word = BOOL_WORDS.get(str(value).strip().lower())
        if word is None:
            raise OpsError(f'{name}: {value!r} is not a boolean (true or false)')
        return word
    if isinstance(value, bool):
        raise OpsError(f'{name}: {value!r} is not a number')
    try:
        number = int(str(value).strip())
    except ValueError as error:
        raise OpsError(f'{name}: {value!r} is not a number') from error
    if option.minimum is not None and number < option.minimum:
        raise OpsError(f'{name}: {number} is below its minimum {option.minimum}')
    return str(number)


def same(change, current):
    """Whether the file's value ``current`` (None when unset) already means ``change.value``."""
    if current is None:
        return False
    option = KNOWN.get((change.group, change.key))
    if option is not None and option.kind == 'bool':
        return BOOL_WORDS.get(current.strip().lower()) == change.value
    if option is not None:
        try:
            return int(current.strip()) == int(change.value)
        except ValueError:
            return False
    return current == change.value


# kolla-ansible's service names (its nova/<name>.conf override files) where they differ from SERVICES.
KOLLA_NAMES = {'nova-conductor': ('nova-conductor', 'nova-super-conductor')}


def kolla_files(config_dir, changes):
    """{override file: [Change]}: nova.conf for what every service reads, else each reading service's own file."""
    files = {}
    for change in changes:
        if set(change.services) == set(SERVICES):
            names = ['nova.conf']
        else:
            names = [f'nova/{name}.conf' for service in change.services for name in KOLLA_NAMES.get(service, (service,))]
        for name in names:
            files.setdefault(f'{config_dir.rstrip("/")}/{name}', []).append(change)
    return files


def services_of(changes):
    """The services that read any of ``changes``, in SERVICES order."""
    wanted = {service for change in changes for service in change.services}
    return [service for service in SERVICES if service in wanted]


# Run by nova's own Python: every option nova registers, from the oslo.config.opts entry points that
# oslo-config-generator reads for nova.conf, and each wanted value parsed by the option's own type.
_NOVA_CHECK = r'''
import json, sys
from importlib.metadata import entry_points, version
NAMESPACES = ("nova.conf", "oslo.db", "oslo.messaging", "oslo.log", "oslo.concurrency", "oslo.policy",
              "oslo.middleware", "oslo.service.service", "oslo.service.periodic_task", "oslo.privsep",
              "oslo.versionedobjects", "oslo.reports", "oslo.limit", "keystonemiddleware.auth_token",
              "os_vif", "os_brick", "osprofiler", "castellan.config")
points = {point.name: point for point in entry_points(group="oslo.config.opts")}
if "nova.conf" not in points:
    print(json.dumps({"error": "nova is not installed for this interpreter"}))
    sys.exit(0)
options = {}
for namespace in NAMESPACES:
    if namespace in points:
        for group, opts in points[namespace].load()():
            group = getattr(group, "name", group) or "DEFAULT"
            group = group if group == "DEFAULT" else group.lower()
            for opt in opts:
                options.setdefault(group, {})[opt.dest] = opt
request = json.loads(sys.stdin.read())
answers = []
for group, key, value in request["settings"]:
    opt = options.get(group, {}).get(key)
    answer = {"known": opt is not None, "group_known": group in options, "close": []}
    if opt is None:
        answer["close"] = sorted(options.get(group, {}))
    else:
        try:
            opt.type(value)
        except (ValueError, TypeError) as error:
            answer["error"] = str(error) or type(error).__name__
    answers.append(answer)
defaults = []
for group, key in request["defaults"]:
    opt = options.get(group, {}).get(key)
    defaults.append(None if opt is None else opt.default)
print(json.dumps({"version": version("nova"), "answers": answers, "defaults": defaults}))
'''


def nova_checks(python, changes, run=subprocess.run, defaults_of=()):
    """(nova's version, problems, defaults): whether each change names an option of the nova installed for
    ``python`` (the nearest names it has when not), whether the option's own type takes its value, and the
    default of each (group, key) of ``defaults_of`` ({(group, key): default}; None for no such option).
    """
    request = json.dumps(dict(settings=[[change.group, change.key, change.value] for change in changes],
                              defaults=[list(name) for name in defaults_of]))
    try:
        done = run([python, '-c', _NOVA_CHECK], input=request, capture_output=True, text=True, timeout=120,
                   check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise OpsError(f'cannot run {python} to ask nova about its options: {error}') from error
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as error:
        raise OpsError(f'{python} could not list nova\'s options (rc={done.returncode}): '
                       f'{done.stderr.strip()[-500:]}') from error
    if 'error' in answer:
        raise OpsError(f'{python}: {answer["error"]}; set nova_python to the interpreter nova runs with '
                       '(its virtualenv\'s bin/python), or leave it empty to check only the known options')
    problems = []
    for change, found in zip(changes, answer['answers']):
        if not found['known']:
            where = '' if found['group_known'] else f' (nova has no [{change.group}] section)'
            near = difflib.get_close_matches(change.key, found['close'], n=3)
            hint = f'; did you mean {", ".join(near)}?' if near else ''
            problems.append(f'{change.name} is not an option of nova {answer["version"]}{where}{hint}')
        elif found.get('error'):
            problems.append(f'{change.name}: nova {answer["version"]} refuses {change.value!r}: {found["error"]}')
    defaults = dict(zip((tuple(name) for name in defaults_of), answer.get('defaults', [])))
    return answer['version'], problems, defaults

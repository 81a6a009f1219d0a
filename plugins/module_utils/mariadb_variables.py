# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""MariaDB server variables: what the server says of each, validation of wanted values, and the option file.

What a variable is comes from the running server itself (information_schema.SYSTEM_VARIABLES, MariaDB >= 10.1):
its type, its range or allowed values, whether it is read-only (so changed only by a restart) and its global
value. No table of restart-only variables is kept here: which ones are dynamic changes between MariaDB versions
(innodb_log_file_size became dynamic in 10.11, innodb_log_buffer_size is still read-only there).

The option file is edited line by line: only the lines of the variables set are rewritten (a trailing comment
kept), missing ones are added at the end of the section, every other line stays as it was.
"""

import re

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

INTEGER_TYPES = ('INT', 'INT UNSIGNED', 'BIGINT', 'BIGINT UNSIGNED')
FLOAT_TYPES = ('DOUBLE',)
NAME = re.compile(r'^[a-z][a-z0-9_]{0,63}$')
# A size as option files and the command line take it: 64M, 1G (MariaDB's multipliers are powers of 1024).
_SIZE = re.compile(r'^\s*(-?\d+)\s*([kmgtpe]?)\s*$', re.IGNORECASE)
_MULTIPLIERS = dict(zip('kmgtpe', (1024 ** power for power in range(1, 7))))
# Set in pieces that differ in what a running provider accepts: not handled as one value.
UNSUPPORTED = {
    'wsrep_provider_options': 'its parts differ (gcache.size needs a restart, others do not); set it in the '
                              'option file by hand and restart the nodes one at a time',
}


def normalize_name(name):
    """Option-file spelling (dashes, any case, a ``loose-`` prefix) to the variable's name."""
    name = str(name).strip().lower().replace('-', '_')
    return name[len('loose_'):] if name.startswith('loose_') else name


def read_variables(db, names):
    """What the server says of each variable in ``names``: {name: info}; names it does not know are left out."""
    if not names:
        return {}
    placeholders = ', '.join(['%s'] * len(names))
    try:
        rows = db.query(
            'SELECT VARIABLE_NAME, VARIABLE_SCOPE, VARIABLE_TYPE, NUMERIC_MIN_VALUE, NUMERIC_MAX_VALUE, '
            'ENUM_VALUE_LIST, READ_ONLY, GLOBAL_VALUE FROM information_schema.SYSTEM_VARIABLES '
            f'WHERE VARIABLE_NAME IN ({placeholders})', [name.upper() for name in names])
    except mariadb.ERRORS as error:
        raise OpsError(f'cannot read information_schema.SYSTEM_VARIABLES ({error}); this module needs MariaDB '
                       '10.1 or later') from error
    return {row['VARIABLE_NAME'].lower(): info_from_row(row) for row in rows}


def info_from_row(row):
    return dict(
        scope=row['VARIABLE_SCOPE'], type=row['VARIABLE_TYPE'], read_only=row['READ_ONLY'] == 'YES',
        min=row['NUMERIC_MIN_VALUE'], max=row['NUMERIC_MAX_VALUE'],
        enum=row['ENUM_VALUE_LIST'].split(',') if row['ENUM_VALUE_LIST'] else None,
        value=row['GLOBAL_VALUE'])


def check_requested(requested, known):
    """The wanted values, validated and in the server's terms: {name: value}.

    ``requested`` maps names (any spelling) to values as given; ``known`` is read_variables' answer. Every
    problem is collected and raised as one OpsError naming each variable, before anything is changed.
    """
    problems = []
    wanted = {}
    seen = {}
    for raw_name, raw_value in requested.items():
        name = normalize_name(raw_name)
        if name in seen:
            problems.append(f'{raw_name} and {seen[name]} are the same variable')
            continue
        seen[name] = raw_name
        if not NAME.match(name):
            problems.append(f'{raw_name!r} is not a variable name')
        elif name in UNSUPPORTED:
            problems.append(f'{name} is not supported: {UNSUPPORTED[name]}')
        elif name not in known:
            problems.append(f'{name} is not a variable of this server (unknown or misspelt)')
        elif known[name]['scope'] == 'SESSION ONLY':
            problems.append(f'{name} exists only per session; it has no global value to set')
        else:
            try:
                wanted[name] = parse_value(name, raw_value, known[name])
            except OpsError as error:
                problems.append(error.msg)
    if problems:
        raise OpsError('invalid variables, nothing was changed: ' + '; '.join(problems), problems=problems)
    return wanted


def parse_value(name, value, info):
    """``value`` as the server's type of ``name`` takes it: an int, a float or a canonical string."""
    kind = info['type']
    if kind in INTEGER_TYPES:
        number = _integer(name, value)
        low, high = _bound(info['min']), _bound(info['max'])
        if (low is not None and number < low) or (high is not None and number > high):
            raise OpsError(f'{name}: {value!r} is out of range ({info["min"]} to {info["max"]})')
        return number
    if kind in FLOAT_TYPES:
        if isinstance(value, bool):
            raise OpsError(f'{name}: {value!r} is not a number')
        try:
            return float(value)
        except (TypeError, ValueError) as error:
            raise OpsError(f'{name}: {value!r} is not a number') from error
    if kind == 'BOOLEAN':
        if isinstance(value, bool):
            return 'ON' if value else 'OFF'
        text = str(value).strip().upper()
        if text in ('ON', '1', 'TRUE', 'YES'):
            return 'ON'
        if text in ('OFF', '0', 'FALSE', 'NO'):
            return 'OFF'
        raise OpsError(f'{name}: {value!r} is not ON or OFF')
    if kind == 'ENUM':
        return _choice(name, value, info['enum'])
    if kind == 'SET':
        parts = [part for part in str(value).split(',') if part.strip()]
        return ','.join(_choice(name, part, info['enum']) for part in parts)
    if isinstance(value, (dict, list)):
        raise OpsError(f'{name}: a {type(value).__name__} is not a value')
    return str(value)


def _integer(name, value):
    if isinstance(value, bool):
        raise OpsError(f'{name}: {value!r} is not a number')
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    match = _SIZE.match(str(value))
    if not match:
        raise OpsError(f'{name}: {value!r} is not a number (an integer, optionally with K, M, G or T)')
    return int(match.group(1)) * _MULTIPLIERS.get(match.group(2).lower(), 1)


def _bound(text):
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _choice(name, value, choices):
    for choice in choices or ():
        if str(value).strip().upper() == choice.upper():
            return choice
    raise OpsError(f'{name}: {value!r} is not one of {", ".join(choices or ())}')


def same(info, wanted, current):
    """Whether the server's value ``current`` (a string, or None) is ``wanted``."""
    if current is None:
        return False
    if info['type'] in INTEGER_TYPES:
        try:
            return int(current) == wanted
        except ValueError:
            return False
    if info['type'] in FLOAT_TYPES:
        try:
            return abs(float(current) - wanted) <= 1e-9 * max(1.0, abs(wanted))
        except ValueError:
            return False
    if info['type'] in ('BOOLEAN', 'ENUM', 'SET'):
        return str(current).upper() == str(wanted).upper()
    return str(current) == str(wanted)


def plan(wanted, known, file_values):
    """One entry per variable: running value, wanted value, whether the file and the running server need it.

    ``file_values`` is what the option file sets now (read_file_values). A read-only variable cannot change at
    runtime: it is written to the file, and ``restart_required`` says the server still runs another value.
    """
    entries = []
    for name, value in wanted.items():
        info = known[name]
        running_ok = same(info, value, info['value'])
        entries.append(dict(
            name=name, before=info['value'], wanted=value, dynamic=not info['read_only'],
            file_before=file_values.get(name), file_change=file_values.get(name) != format_value(value),
            runtime_change=not info['read_only'] and not running_ok,
            restart_required=info['read_only'] and not running_ok))
    return entries


# ------------------------------------------------------------ the option file

def format_value(value):
    """A value as the option file writes it."""
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if text == '' or re.search(r'[\s#;"\']', text):
        return '"' + text.replace('\\', '\\\\').replace('"', '\\"') + '"'
    return text


def _section_of(line):
    match = re.match(r'^\s*\[([^\]]+)\]\s*(?:[#;].*)?$', line)
    return match.group(1).strip().lower() if match else None


def _option_of(line):
    """(name, start, end) of an option line: the value is line[start:end]; None for any other line.

    A line with the name alone (``skip-name-resolve``) has start == end at the end of the name.
    """
    stripped = line.strip()
    if not stripped or stripped[0] in '#;[!':
        return None
    match = re.match(r'^\s*([A-Za-z0-9_.-]+)(\s*=\s*)?', line)
    if not match:
        return None
    if not match.group(2):
        return normalize_name(match.group(1)), match.end(1), match.end(1)
    start = match.end()
    body = line[start:].rstrip('\n')
    comment = re.search(r'\s+#', body) if not body.startswith(('"', "'")) else None
    end = start + (comment.start() if comment else len(body.rstrip()))
    return normalize_name(match.group(1)), start, end


def read_file_values(text, section='mysqld'):
    """{name: value as written} of the options in ``section`` (the last one wins, as the server reads them)."""
    values = {}
    current = None
    for line in text.splitlines():
        header = _section_of(line)
        if header is not None:
            current = header
            continue
        if current == section:
            option = _option_of(line)
            if option:
                name, start, end = option
                values[name] = line[start:end].strip()
    return values


def render(text, values, section='mysqld', header=None):
    """``text`` with each of ``values`` ({name: value}) set in ``section``, every other line kept."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith('\n'):
        lines[-1] += '\n'
    formatted = {name: format_value(value) for name, value in values.items()}
    done = set()
    current = None
    last_in_section = None   # index after which missing options go
    for index, line in enumerate(lines):
        found = _section_of(line)
        if found is not None:
            current = found
            if found == section:
                last_in_section = index
            continue
        if current != section:
            continue
        if line.strip():
            last_in_section = index
        option = _option_of(line)
        if option and option[0] in formatted:
            name, start, end = option
            equals = '' if '=' in line[:start] else ' = '
            lines[index] = f'{line[:start]}{equals}{formatted[name]}{line[end:]}'
            done.add(name)
    missing = [f'{name} = {formatted[name]}\n' for name in formatted if name not in done]
    if missing:
        if last_in_section is None:
            if lines and lines[-1].strip():
                lines.append('\n')
            if not lines and header:
                lines.extend(f'# {row}\n' if row else '#\n' for row in header.splitlines())
            lines.append(f'[{section}]\n')
            lines.extend(missing)
        else:
            lines[last_in_section + 1:last_in_section + 1] = missing
    return ''.join(lines)

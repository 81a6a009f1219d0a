# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Line-preserving edits of an OpenStack service's ini file, read the way oslo.config reads it.

oslo.config's parser (oslo_config/iniparser.py) differs from Python's configparser where an edit can go wrong:
an indented line continues the value above it (an indented ``# comment`` too), there is no inline comment
(``key = 10  # retries`` is the value ``10  # retries``), a section may appear twice, and a key set twice keeps
its last value. Group names are case-insensitive except ``DEFAULT``.

An edit rewrites only the lines of the keys it sets, every occurrence of each (so no earlier copy is left to
mislead a reader), and adds missing keys after the last line of their section's last occurrence; every other
line, comment and blank stays as it was, in its place.
"""

import re

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

_NAME = re.compile(r'^[A-Za-z0-9_.-]+$')


def group(name):
    """The group a section header names, as oslo.config compares them."""
    return name if name == 'DEFAULT' else name.lower()


class Entry:
    """One assignment: its group and key, and the index of its first and one past its last line."""

    def __init__(self, group_name, key, first, separator_end):
        self.group = group_name
        self.key = key
        self.first = first
        self.end = first + 1
        self.separator_end = separator_end   # where the value starts on the first line


def parse(lines, source='the file'):
    """(entries, sections): every assignment, and {group: [index of each header line]}, in file order.

    Fails, naming the line, where oslo.config would refuse the file.
    """
    entries, sections = [], {}
    current = None
    entry = None
    for index, raw in enumerate(lines):
        line = raw.rstrip()
        if not line:
            entry = None
            continue
        if line[0] in ' \t':
            if entry is None:
                raise _error(source, index, raw, 'an indented line that continues no value')
            entry.end = index + 1
            continue
        entry = None
        if line.startswith('['):
            if not line.endswith(']') or len(line) <= 2:
                raise _error(source, index, raw, 'a section header must be [name]')
            current = group(line[1:-1])
            sections.setdefault(current, []).append(index)
        elif not line.startswith(('#', ';')):
            key, separator_end = _split(line)
            if not key:
                raise _error(source, index, raw, "an assignment needs a key and '=' or ':'")
            if current is None:
                raise _error(source, index, raw, 'an assignment before any [section]')
            entry = Entry(current, key, index, separator_end)
            entries.append(entry)
    return entries, sections


def _split(line):
    """(key, index where the value starts) of an assignment line, as oslo.config splits it."""
    colon, equal = line.find(':'), line.find('=')
    if colon < 0 and equal < 0:
        return None, None
    at = equal if colon < 0 or 0 <= equal < colon else colon
    start = at + 1
    while start < len(line) and line[start] in ' \t':
        start += 1
    return line[:at].strip(), start


def _error(source, index, line, what):
    return OpsError(f'{source} line {index + 1}: {what} ({line.rstrip()!r}); oslo.config would not read it either',
                    line=index + 1)


def value_of(lines, entry):
    """An entry's value as oslo.config reads it: continuation lines joined by newlines, one quote pair removed."""
    parts = [lines[entry.first].rstrip()[entry.separator_end:].strip()]
    parts.extend(line.strip() for line in lines[entry.first + 1:entry.end])
    value = '\n'.join(parts)
    if len(value) > 1 and value[0] == value[-1] and value[0] in '"\'':
        value = value[1:-1]
    return value


def read(text, source='the file'):
    """{(group, key): value} of the file; a key set twice has its last value."""
    lines = text.splitlines(keepends=True)
    entries = parse(lines, source)[0]
    return {(entry.group, entry.key): value_of(lines, entry) for entry in entries}


def check_name(kind, name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise OpsError(f'{name!r} is not a {kind} name (letters, digits, _ . -)')
    return name


def format_value(value):
    """A value as written after ``key = ``: quoted only where oslo.config would otherwise change it."""
    text = str(value)
    if '\n' in text or '\r' in text:
        raise OpsError(f'{text!r}: a value of one line is expected')
    if text != text.strip() or (len(text) > 1 and text[0] == text[-1] and text[0] in '"\''):
        return f'"{text}"'
    return text


def render(text, values, source='the file'):
    """``text`` with each of ``values`` ({(group, key): value}) set, every other line kept."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith('\n'):
        lines[-1] += '\n'
    entries, sections = parse(lines, source)
    formatted = {name: format_value(value) for name, value in values.items()}
    replace = {}   # first line index -> (end, new line)
    for entry in entries:
        name = (entry.group, entry.key)
        if name in formatted:
            prefix = lines[entry.first][:entry.separator_end].rstrip('\r\n')
            if prefix.endswith(('=', ':')) and prefix[:-1].endswith((' ', '\t')):   # `x =`, not `x=`
                prefix += ' '
            replace[entry.first] = (entry.end, f'{prefix}{formatted[name]}\n')
    missing = {}   # group -> new lines, in the order asked
    for (group_name, key), value in formatted.items():
        if not any(entry.group == group_name and entry.key == key for entry in entries):
            missing.setdefault(group_name, []).append(f'{key} = {value}\n')
    inserts = {_last_line(entries, sections, name): new for name, new in missing.items() if name in sections}
    out = []
    index = 0
    while index < len(lines):
        end, new = replace.get(index, (index + 1, lines[index]))
        out.append(new)
        for consumed in range(index, end):
            out.extend(inserts.get(consumed, ()))
        index = end
    for name, new in missing.items():
        if name not in sections:
            out.extend((['\n'] if out else []) + [f'[{name}]\n'] + new)
    return ''.join(out)


def _last_line(entries, sections, name):
    """Index of the last line of the last assignment in the last occurrence of section ``name`` (or its header)."""
    header = sections[name][-1]
    following = [index for indexes in sections.values() for index in indexes if index > header]
    limit = min(following, default=float('inf'))
    return max((entry.end - 1 for entry in entries if header < entry.first < limit), default=header)

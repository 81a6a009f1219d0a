# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Line-preserving edits of an haproxy configuration: sections, their balance algorithm, timeouts and servers.

Only the lines that change are rewritten (their indentation and trailing comment kept); every other line,
comment and blank stays as it was, in its place.
"""

import re

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import textfile
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

SECTION_KEYWORDS = frozenset((
    'global', 'defaults', 'frontend', 'backend', 'listen', 'userlist', 'peers', 'resolvers', 'mailers',
    'program', 'http-errors', 'ring', 'cache', 'traces', 'crt-store',
))
PROXY_KINDS = ('backend', 'listen')   # the sections that balance traffic over servers
DEFAULT_INDENT = '    '

# The options of every module that edits a configuration file through this module (doc fragment: haproxy).
FILE_ARGUMENT_SPEC = dict(
    path=dict(type='path', default='/etc/haproxy/haproxy.cfg'),
    sections=dict(type='list', elements='str', required=True),
    require_match=dict(type='bool', default=True),
    validate=dict(type='str', default='haproxy -c -f %s'),
    backup=dict(type='bool', default=True),
)


class Section:
    """One section: its kind and name, and the indexes of its header and body lines in the file."""

    def __init__(self, kind, name, header):
        self.kind = kind
        self.name = name
        self.header = header
        self.end = header + 1   # one past its last line

    def body(self):
        return range(self.header + 1, self.end)


def tokens(line):
    """The words of a line without its comment."""
    return line.split('#', 1)[0].split()


def parse(lines):
    """The sections of the configuration, in order."""
    sections = []
    for index, line in enumerate(lines):
        words = tokens(line)
        if words and words[0] in SECTION_KEYWORDS:
            sections.append(Section(words[0], words[1] if len(words) > 1 else None, index))
        elif sections:
            sections[-1].end = index + 1
    return sections


def patterns_of(expressions):
    """The compiled ``sections`` option; a bad expression is refused by name."""
    patterns = []
    for expression in expressions:
        try:
            patterns.append(re.compile(expression))
        except re.error as error:
            raise OpsError(f'sections: {expression!r} is not a regular expression: {error}') from error
    return patterns


def matching(sections, patterns, require_match, path):
    """The backend and listen sections whose names match one of ``patterns``, in file order.

    With ``require_match``, an expression that matches no section is refused (a misspelt backend fails before
    anything is changed), naming the sections the file has.
    """
    proxies = [section for section in sections if section.kind in PROXY_KINDS]
    unmatched = [pattern.pattern for pattern in patterns
                 if not any(section.name and pattern.search(section.name) for section in proxies)]
    if unmatched and require_match:
        raise OpsError(f"no backend or listen section matches {', '.join(unmatched)} in {path} "
                       f"(its sections: {', '.join(section.name or '?' for section in proxies)})",
                       unmatched=unmatched)
    return [section for section in proxies if any(pattern.search(section.name or '') for pattern in patterns)]


def find(lines, section, *keyword):
    """Index of the section's first line that starts with the words ``keyword``, or None."""
    for index in section.body():
        if tokens(lines[index])[:len(keyword)] == list(keyword):
            return index
    return None


def value(lines, index, skip):
    """The words of line ``index`` after its first ``skip`` words, joined."""
    return ' '.join(tokens(lines[index])[skip:]) if index is not None else None


def rewrite(line, new_words):
    """``line`` with its words replaced, its indentation and trailing comment kept."""
    indent = line[:len(line) - len(line.lstrip())]
    code, hash_sign, comment = line.rstrip('\n').partition('#')
    if hash_sign:
        comment = code[len(code.rstrip()):] + hash_sign + comment
    return f'{indent}{new_words}{comment}\n'


def indent_of(lines, section):
    for index in section.body():
        if tokens(lines[index]):
            line = lines[index]
            return line[:len(line) - len(line.lstrip())] or DEFAULT_INDENT
    return DEFAULT_INDENT


def servers(lines, section):
    """The section's ``server`` lines in order: line index, name, address, and the backup and disabled flags."""
    found = []
    for index in section.body():
        words = tokens(lines[index])
        if words[:1] == ['server'] and len(words) >= 3:
            found.append(dict(index=index, name=words[1], address=words[2],
                              backup='backup' in words[3:], disabled='disabled' in words[3:]))
    return found


def with_flag(line, flag, present):
    """A ``server`` line with ``flag`` (a word after its address, such as ``backup``) added at its end or removed."""
    words = tokens(line)
    options = [word for word in words[3:] if word != flag]
    return rewrite(line, ' '.join(words[:3] + options + ([flag] if present else [])))


def replace(module, path, text, validate, backup=True, prefix='.openstack_ops.'):
    """Replace ``path`` by ``text`` once ``validate`` (a command with %s for the candidate, ``haproxy -c -f %s``)
    accepted it; a refused candidate leaves the file as it was. Returns {validation, backup_file}."""
    if '%s' not in validate:
        raise OpsError(f'validate must contain %s where the candidate file goes: {validate!r}')

    def check(candidate):
        rc, out, err = module.run_command(validate.replace('%s', candidate), use_unsafe_shell=False)
        if rc != 0:
            raise OpsError(f'the new configuration fails its check ({validate}); {path} is unchanged: '
                           f'{(err or out).strip()[-2000:]}', path=path, rc=rc)
        return dict(validation=(out + err).strip())

    return textfile.replace(module, path, text, backup=backup, check=check, prefix=prefix)

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OpenStack log lines in oslo.log's formats, parsed into records.

oslo.log writes ``<date> <time>.<ms> <pid> <LEVEL> <logger> [<context>] [instance: <uuid>] <message>``.
The context is ``[<global request id or None> <request id> <user> <project> <domain> <user domain> <project
domain>]`` today (nova, neutron, placement, keystone), ``[req-<id> <user> <project> - - -]`` in older releases
and ``[-]`` without a request. A traceback continues over lines with the same date, pid, level and logger and no
context (``logging_exception_prefix``); a message with newlines continues over lines with no prefix at all.
"""

import re
from datetime import datetime, timedelta, timezone

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import MASK, mask_url

HEADER = re.compile(r'(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:[.,](\d{1,6}))? +(\d+) +([A-Z]+) +(\S+) ?(.*)')
CONTEXT = re.compile(r'\[([^\]]*)\] ?')
INSTANCE = re.compile(r'\[instance: ([0-9a-fA-F-]{36})\] ?')
UUID = re.compile(r'(?<![0-9a-zA-Z-])([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?![0-9a-zA-Z-])')
INSTANCE_IN_MESSAGE = re.compile(
    r'(?:[Ii]nstances?[ :=\'"\[]+|/servers/|instance_uuid[ :=\'"]+|[Ii]nstance ID \')'
    r'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})')
REQUEST_ID = re.compile(r'req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')
ESCAPE = re.compile(r'\\u([0-9a-fA-F]{4})')
ROTATION = re.compile(r'(\.log)?(\.\d+)?(\.gz)?$')
MAX_CONTINUATION = 60
SECRET = re.compile(r'(?i)((?:x-auth-token|x-subject-token|token|password|secret)["\']?\s*[:=]\s*["\']?)([^\s"\',;&}]+)')


def mask_secrets(text):
    """Passwords in URLs and values of token, password and secret fields replaced by a mask."""
    return SECRET.sub(lambda match: match.group(1) + MASK, mask_url(text))


def decode_escapes(text):
    r"""``\u627e\u4e0d`` (a localized fault's message, seed 000) as the characters it stands for."""
    if '\\u' not in text:
        return text
    return ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)


def log_timezone(name):
    """The zone the log's naive times are in: ``local`` (this host's), ``UTC`` or an offset like ``+08:00``."""
    if name in (None, '', 'local'):
        return datetime.now().astimezone().tzinfo
    if name.upper() in ('UTC', 'Z'):
        return timezone.utc
    match = re.fullmatch(r'([+-])(\d\d):?(\d\d)', name)
    if not match:
        raise ValueError(f'{name!r} is not local, UTC or an offset like +08:00')
    sign = -1 if match.group(1) == '-' else 1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def parse_time(text, tz):
    """A time given by the user (ISO 8601, with or without zone; naive times are in ``tz``) as an aware datetime."""
    if text in (None, ''):
        return None
    value = datetime.fromisoformat(str(text).strip().replace('Z', '+00:00'))
    return value if value.tzinfo else value.replace(tzinfo=tz)


def service_of(path):
    """``nova-api`` for ``.../nova/nova-api.log.2.gz``."""
    name = path.rsplit('/', 1)[-1]
    return ROTATION.sub('', name) or name


def split_context(text):
    """(global request id, request id, user, project) from the words between the brackets."""
    words = text.split()
    if not words or words == ['-']:
        return None, None, None, None
    if len(words) > 1 and (words[1].startswith('req-') or words[0] == 'None' and words[1] == 'None'):
        first, request, rest = words[0], words[1], words[2:]
        global_id = None if first in ('None', '-') else first
    elif words[0].startswith('req-'):
        global_id, request, rest = None, words[0], words[1:]
    else:
        return None, None, None, None
    user = rest[0] if rest and rest[0] not in ('-', 'None') else None
    project = rest[1] if len(rest) > 1 and rest[1] not in ('-', 'None') else None
    return global_id, None if request in ('None', '-') else request, user, project


class Record:
    """One log record being built: its first line and the lines that continue it."""

    __slots__ = ('key', 'when', 'pid', 'level', 'logger', 'context', 'instance', 'message', 'more', 'line')

    def __init__(self, key, when, pid, level, logger, context, instance, message, line=''):
        self.key, self.when, self.pid, self.level, self.logger = key, when, pid, level, logger
        self.context, self.instance, self.message, self.more = context, instance, message, []
        self.line = line

    def text(self):
        return '\n'.join([self.message] + self.more)

    def as_dict(self, host, path, tz):
        global_id, request_id, user, project = split_context(self.context or '')
        message = mask_secrets(decode_escapes(self.text()))
        instances = [self.instance] if self.instance else []
        for uuid in INSTANCE_IN_MESSAGE.findall(message):
            if uuid not in instances:
                instances.append(uuid)
        uuids = [uuid for uuid in dict.fromkeys(UUID.findall(message)) if uuid not in instances]
        return dict(
            time=self.when.replace(tzinfo=tz).isoformat(timespec='milliseconds'),
            host=host, service=service_of(path), file=path, pid=int(self.pid), level=self.level,
            logger=self.logger, request_id=request_id, global_request_id=global_id, user_id=user,
            project_id=project, instances=instances, uuids=uuids,
            request_ids=[rid for rid in dict.fromkeys(REQUEST_ID.findall(message))
                         if rid not in (request_id, global_id)],
            message=message)


def parse_header(line):
    """The parts of a line that starts a record, or None for a line that continues one."""
    match = HEADER.match(line)
    if not match:
        return None
    day, clock, fraction, pid, level, logger, rest = match.groups()
    try:
        when = datetime.fromisoformat(f'{day}T{clock}.{(fraction or "0").ljust(6, "0")}')
    except ValueError:
        return None
    context = None
    found = CONTEXT.match(rest)
    if found and not rest.startswith('[instance: '):
        context, rest = found.group(1), rest[found.end():]
    instance = None
    found = INSTANCE.match(rest)
    if found:
        instance, rest = found.group(1), rest[found.end():]
    return (day, clock, fraction, pid, level, logger), when, pid, level, logger, context, instance, rest


def records(lines, separator=None):
    """Group lines (str, without newlines) into ``Record`` objects; ``separator`` ends a group (grep's)."""
    current = None
    for line in lines:
        if separator is not None and line == separator:
            if current is not None:
                yield current
            current = None
            continue
        parts = parse_header(line)
        if parts is None:
            if current is not None and len(current.more) < MAX_CONTINUATION:
                current.more.append(line)
            continue
        key, when, pid, level, logger, context, instance, message = parts
        if current is not None and context is None and key == current.key:
            if len(current.more) < MAX_CONTINUATION:
                current.more.append(message if instance is None else f'[instance: {instance}] {message}')
            continue
        if current is not None:
            yield current
        current = Record(key, when, pid, level, logger, context, instance, message, line)
    if current is not None:
        yield current

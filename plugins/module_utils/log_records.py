# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OpenStack log lines (oslo.log's formats, and the haproxy, Apache and journal lines around them) as records.

oslo.log writes ``<date> <time>.<ms> <pid> <LEVEL> <logger> [<context>] [instance: <uuid>] <message>``.
The context is ``[<global request id or None> <request id> <user> <project> <domain> <user domain> <project
domain>]`` today (nova, neutron, placement, keystone), ``[req-<id> <user> <project> - - -]`` in older releases
and ``[-]`` without a request. A traceback continues over lines with the same date, pid, level and logger and no
context (``logging_exception_prefix``); a message with newlines continues over lines with no prefix at all.

The other lines an operator meets, each into the same record:

* syslog and the journal: ``Dec  4 15:00:00 ctl1 haproxy[123]: <message>`` (rsyslog's traditional format, the
  year taken from a reference time, the file's mtime) or ``2026-12-04T15:00:00.123456+0000 ctl1 nova-conductor[1234]:
  <message>`` (rsyslog's RFC 3339 format, ``journalctl -o short-iso-precise``). The program is the service. The
  message is parsed again: an oslo line (a service logging to stderr), devstack's ``<LEVEL> <logger> [<context>]``
  without date and pid, a haproxy log line, or plain text (level INFO). The naive time of an oslo or haproxy line
  inside an RFC 3339 or journal line is in the prefix's zone;
* haproxy's HTTP and TCP log formats (``option httplog``/``tcplog``) with or without a syslog prefix: the time is
  the accept date in brackets, the level the status (5xx ERROR, 4xx WARNING);
* Apache httpd's access log (common, combined, with a virtual host first or fields after) and its error log
  (``[Fri Dec 04 15:00:00.123456 2026] [wsgi:error] [pid 1:tid 2] [remote 10.0.0.1:5555] <message>``, where
  mod_wsgi writes keystone's and horizon's stderr: an oslo line in it is parsed as one).

A plain message (syslog, journal, Apache's error log) continues the previous record of the same program and pid
when it is indented, starts a traceback, or ends one (a Python traceback written line by line to stderr).
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

MONTHS = {name: number for number, name in enumerate(
    ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'), 1)}
ISO_TIME = r'(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?'
# rsyslog's traditional or RFC 3339 prefix, journalctl's short-iso-precise: time host program[pid]: message
SYSLOG = re.compile(r'(?:([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)|' + ISO_TIME +
                    r') (\S+) ([^\s\[\]:]+)(?:\[(\d+)\])?: ?(.*)')
# devstack's journal: oslo.log's format without date and pid (logging_context_format_string of its services)
BARE = re.compile(r'(DEBUG|INFO|WARNING|ERROR|CRITICAL|TRACE|AUDIT) +([\w.]+) ?(.*)')
# haproxy's HTTP format (client [accept date] frontend backend/server TR/Tw/Tc/Tr/Ta status bytes ... "request")
# and its TCP format (... Tw/Tc/Tt bytes ...)
HAPROXY = re.compile(r'(\S+:\d+) \[(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?\] '
                     r'(\S+) ([^\s/]+)/(\S+) (-?\d+/-?\d+/[+-]?\d+(?:/-?\d+/[+-]?\d+)?) (.*)')
HAPROXY_STATUS = re.compile(r'(-?\d{1,3}) ')
APACHE_ERROR = re.compile(r'\[[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? (\d{4})\] '
                          r'\[(?:([\w-]+):)?(\w+)\] (?:\[pid (\d+)(?::tid (\d+))?\] )?'
                          r'(?:\[(?:remote|client) ([^\]]+)\] )?(.*)')
APACHE_ACCESS = re.compile(r'(?:\S+ )?(\S+) \S+ \S+ \[(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.\d+)? '
                           r'([+-]\d{4})\] "([^"]*)" (\d{3}|-) (\S+)(.*)')
APACHE_LEVELS = dict(emerg='CRITICAL', alert='CRITICAL', crit='CRITICAL', error='ERROR', warn='WARNING',
                     notice='INFO', info='INFO', debug='DEBUG')
ANSI = re.compile(r'\x1b\[[0-9;]*m')


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
    zone = offset_zone(name)
    if zone is None:
        raise ValueError(f'{name!r} is not local, UTC or an offset like +08:00')
    return zone


def offset_zone(text):
    """``+08:00``, ``-0530`` or ``Z`` as a fixed zone; None when it is none of those."""
    if text == 'Z':
        return timezone.utc
    match = re.fullmatch(r'([+-])(\d\d):?(\d\d)', text or '')
    if not match:
        return None
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


def status_level(status):
    """The level of an HTTP status: 5xx ERROR, 4xx WARNING, anything else INFO."""
    return 'ERROR' if status.startswith('5') else 'WARNING' if status.startswith('4') else 'INFO'


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
    """One log record being built: its first line and the lines that continue it.

    ``when`` is naive (in the logs' zone) or aware (the line said its zone); ``service`` is the program of a
    syslog or journal line (None: the file's name); ``request_id`` the id an access log line carries; ``plain``
    says the message is free text whose traceback lines may follow as lines of their own; a ``key`` of None (a
    haproxy or access log line, complete in itself) is never continued by a line with a header.
    """

    __slots__ = ('key', 'when', 'pid', 'level', 'logger', 'context', 'instance', 'message', 'more', 'line',
                 'service', 'request_id', 'plain')

    def __init__(self, key, when, pid, level, logger, context, instance, message, line='', service=None,
                 request_id=None, plain=False):
        self.key, self.when, self.pid, self.level, self.logger = key, when, pid, level, logger
        self.context, self.instance, self.message, self.more = context, instance, message, []
        self.line, self.service, self.request_id, self.plain = line, service, request_id, plain

    def text(self):
        return '\n'.join([self.message] + self.more)

    def at(self, tz):
        """The record's time, aware: a naive time is in ``tz``, an aware one is converted to it."""
        return self.when.astimezone(tz) if self.when.tzinfo else self.when.replace(tzinfo=tz)

    def continues(self, current):
        """Whether this line, parsed as a record of its own, is a further line of ``current``."""
        if current is None or self.key is None or self.key != current.key:
            return False
        if not self.plain:
            return self.context is None
        last = current.more[-1] if current.more else current.message
        return self.message[:1] in (' ', '\t') or self.message.startswith('Traceback (') or \
            last[:1] in (' ', '\t') and any(line.startswith('Traceback (') for line in [current.message] + current.more)

    def as_dict(self, host, path, tz):
        global_id, request_id, user, project = split_context(self.context or '')
        request_id = request_id or self.request_id
        message = mask_secrets(decode_escapes(self.text()))
        instances = [self.instance] if self.instance else []
        for uuid in INSTANCE_IN_MESSAGE.findall(message):
            if uuid not in instances:
                instances.append(uuid)
        uuids = [uuid for uuid in dict.fromkeys(UUID.findall(message)) if uuid not in instances]
        return dict(
            time=self.at(tz).isoformat(timespec='milliseconds'),
            host=host, service=self.service or service_of(path), file=path,
            pid=int(self.pid) if self.pid else None, level=self.level,
            logger=self.logger, request_id=request_id, global_request_id=global_id, user_id=user,
            project_id=project, instances=instances, uuids=uuids,
            request_ids=[rid for rid in dict.fromkeys(REQUEST_ID.findall(message))
                         if rid not in (request_id, global_id)],
            message=message)


def _moment(year, month, day, hour, minute, second, fraction=None, zone=None):
    """A datetime from the parts of a line (None when they make no date); ``zone`` an offset text or None.

    An offset of a day or more (``+9999``), or one that takes the time out of the years datetime has in UTC, makes
    no date either.
    """
    try:
        when = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        int((fraction or '0')[:6].ljust(6, '0')))
        tz = offset_zone(zone) if zone else None
        if tz is None:
            return when
        when = when.replace(tzinfo=tz)
        when.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
    return when


def _without_year(month, day, hour, minute, second, reference):
    """A traditional syslog time (no year) in the year that puts it at most a day after ``reference``."""
    reference = reference or datetime.now()
    reference = reference.replace(tzinfo=None)
    for year in (reference.year, reference.year - 1):
        when = _moment(year, MONTHS.get(month, 0), day, hour, minute, second)
        if when is not None and when <= reference + timedelta(days=1):
            return when
    return None


def _context(rest):
    """(context, instance, message) of the part of an oslo line after its logger."""
    context = None
    found = CONTEXT.match(rest)
    if found and not rest.startswith('[instance: '):
        context, rest = found.group(1), rest[found.end():]
    instance = None
    found = INSTANCE.match(rest)
    if found:
        instance, rest = found.group(1), rest[found.end():]
    return context, instance, rest


def _oslo(line):
    match = HEADER.match(line)
    if not match:
        return None
    day, clock, fraction, pid, level, logger, rest = match.groups()
    try:
        when = datetime.fromisoformat(f'{day}T{clock}.{(fraction or "0").ljust(6, "0")}')
    except ValueError:
        return None
    context, instance, rest = _context(rest)
    return Record((day, clock, fraction, pid, level, logger), when, pid, level, logger, context, instance, rest)


def _haproxy(text, service=None, pid=None):
    match = HAPROXY.match(text)
    if not match:
        return None
    client, day, month, year, hour, minute, second, fraction, frontend, backend, server, timers, rest = \
        match.groups()
    when = _moment(year, MONTHS.get(month, 0), day, hour, minute, second, fraction)
    if when is None:
        return None
    status = HAPROXY_STATUS.match(rest) if timers.count('/') == 4 else None
    level = status_level(status.group(1)) if status else 'INFO'
    request = REQUEST_ID.search(rest)
    message = f'{client} {frontend} {backend}/{server} {timers} {rest}'
    return Record(None, when, pid, level, 'haproxy.http' if status else 'haproxy.tcp', None,
                  None, message, service=service, request_id=request.group(0) if request else None)


def _inner(message, when, service, pid, level):
    """A syslog, journal or Apache error line's message: an oslo line, devstack's, haproxy's, or plain text."""
    record = _oslo(message)
    if record is not None:
        record.service = service
        return record
    match = BARE.match(message)
    if match:
        bare_level, logger, rest = match.groups()
        context, instance, rest = _context(rest)
        return Record(('bare', service, pid, bare_level, logger), when, pid, bare_level, logger, context, instance,
                      rest, service=service)
    record = _haproxy(message, service, pid)
    if record is not None:
        return record
    return Record(('plain', service, pid), when, pid, level, service, None, None, message, service=service,
                  plain=True)


def _syslog(line, reference):
    match = SYSLOG.match(line)
    if not match:
        return None
    (month, day, hour, minute, second, year, imonth, iday, ihour, iminute, isecond, fraction, zone,
     _host, program, pid, message) = match.groups()
    if month:
        when = _without_year(month, day, hour, minute, second, reference)
    else:
        when = _moment(year, imonth, iday, ihour, iminute, isecond, fraction, zone)
    if when is None:
        return None
    service = program[:-len('.service')] if program.endswith('.service') else program
    record = _inner(ANSI.sub('', message), when, service, pid, 'INFO')
    if when.tzinfo is not None and record.when.tzinfo is None:
        # an oslo or haproxy line inside: its naive time is in the zone the prefix says (the same host's clock)
        record.when = record.when.replace(tzinfo=when.tzinfo)
    return record


def _apache_error(line):
    match = APACHE_ERROR.match(line)
    if not match:
        return None
    month, day, hour, minute, second, fraction, year, module, level, pid, tid, _client, message = match.groups()
    when = _moment(year, MONTHS.get(month, 0), day, hour, minute, second, fraction)
    if when is None:
        return None
    level = APACHE_LEVELS.get(level, 'DEBUG' if level.startswith('trace') else 'INFO')
    record = _inner(message, when, None, pid, level)
    if record.plain:
        record.key, record.logger = ('apache', pid, tid), module or 'httpd'
    return record


def _apache_access(line):
    match = APACHE_ACCESS.match(line)
    if not match:
        return None
    client, day, month, year, hour, minute, second, zone, request, status, size, rest = match.groups()
    when = _moment(year, MONTHS.get(month, 0), day, hour, minute, second, None, zone)
    if when is None:
        return None
    found = REQUEST_ID.search(line)
    return Record(None, when, None, status_level(status), 'httpd.access', None, None,
                  f'{client} "{request}" {status} {size}{rest}', request_id=found.group(0) if found else None)


def parse_header(line, reference=None):
    """The record a line starts, or None for a line that continues one.

    ``reference`` (a datetime, default now) gives a traditional syslog time its year.
    """
    record = _oslo(line)
    if record is None:
        first = line[:1]
        if first == '[':
            record = _apache_error(line)
        elif first.isdigit() or first.isalpha():
            record = _syslog(line, reference) or _haproxy(line) or _apache_access(line)
        elif first == ':':   # haproxy's IPv6 client (::ffff:10.0.0.1:5555, ::1:5555)
            record = _haproxy(line)
    if record is not None:
        record.line = line
    return record


def records(lines, separator=None, reference=None):
    """Group lines (str, without newlines) into ``Record`` objects; ``separator`` ends a group (grep's)."""
    current = None
    for line in lines:
        if separator is not None and line == separator:
            if current is not None:
                yield current
            current = None
            continue
        record = parse_header(line, reference)
        if record is None or record.continues(current):
            if current is not None and len(current.more) < MAX_CONTINUATION:
                if record is None:
                    current.more.append(line)
                else:
                    current.more.append(record.message if record.instance is None
                                        else f'[instance: {record.instance}] {record.message}')
            continue
        if current is not None:
            yield current
        current = record
    if current is not None:
        yield current

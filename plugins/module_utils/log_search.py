# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Searching one host's OpenStack logs: which files, a grep pre-filter, the journal, records in a time window.

``LC_ALL=C grep -F`` (``gzip -dc | grep`` for ``.gz``) picks the lines with a term and the lines after each
(``-A``, where a traceback continues); only those are parsed. Without grep, or with regular expressions, Python
reads the file line by line the same way. The journal of the given systemd units is read from ``journalctl -o
short-iso-precise`` limited to the window, and its lines are filtered in Python the same way. Memory stays bounded:
files and journalctl's output are streamed, at most ``max_records`` records are kept (the rest are only counted)
and a record keeps at most ``MAX_CONTINUATION`` lines.
"""

import glob
import gzip
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from datetime import datetime

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import log_records

SEPARATOR = '--log_search--'
PROJECTS = ('nova', 'neutron', 'keystone', 'placement', 'cinder', 'glance', 'horizon', 'haproxy', 'httpd',
            'apache2')
ROOTS = ('/var/log/kolla', '/var/log')
LOG_NAME = r'\.log(\.\d+)?(\.gz)?$'
JOURNAL = 'journal'
# what journalctl writes on stderr when it may not read the system's journal, or finds none
JOURNAL_PROBLEMS = ('insufficient permissions', 'not seeing messages from other users', 'No journal files were')
JOURNAL_EXIT_WAIT = 10   # seconds journalctl has to exit after the end of its output before it is killed


def find_files(roots, projects, paths, problems=None, journal=False):
    """Every log file (rotated and gzipped ones too) under ``<root>/<project>/``, ``<root>/<project>.log`` (the
    package's haproxy writes /var/log/haproxy.log through rsyslog) and the given paths or globs.

    What could not be looked into is appended to ``problems`` (when given) as a sentence: a root or project
    directory this user may not read, no root at all, no log file anywhere (unless the ``journal`` is read as
    well). A missing root is not a problem by itself (kolla's /var/log/kolla and a package's /var/log are both
    searched by default), unless none exists.
    """
    problems = [] if problems is None else problems
    found, existing = [], 0
    for root in roots:
        if not os.path.isdir(root):
            continue
        existing += 1
        if not os.access(root, os.R_OK | os.X_OK):
            problems.append(f'{root}: not readable by this user (uid {os.geteuid()}): permission denied; '
                            'run the search with become, or as a user of the group owning the logs')
            continue
        found.extend(_beside(root, projects))
        for project in projects:
            directory = os.path.join(root, project)
            if not os.path.isdir(directory):
                continue
            try:
                names = sorted(os.listdir(directory))
            except OSError as error:
                problems.append(f'{directory}: not readable by this user (uid {os.geteuid()}): {error.strerror}; '
                                'run the search with become, or as a user of the group owning the logs')
                continue
            found.extend(os.path.join(directory, name) for name in names
                         if re.search(LOG_NAME, name))
    if roots and not existing and not paths and not journal:
        problems.append(f"no log directory: none of {', '.join(roots)} exists on this host")
    for pattern in paths:
        found.extend(sorted(glob.glob(pattern)) or [pattern])
    if not found and not problems and not journal:
        problems.append(f"no log file under {', '.join(roots)} (projects {', '.join(projects)})")
    return list(dict.fromkeys(found))


def _beside(root, projects):
    """``<root>/<project>.log`` and its rotations, as rsyslog writes haproxy's log."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    wanted = re.compile(f"({'|'.join(re.escape(project) for project in projects)}){LOG_NAME}")
    return [os.path.join(root, name) for name in names
            if wanted.fullmatch(name) and os.path.isfile(os.path.join(root, name))] if projects else []


def journal_command(journalctl, units, since, until):
    """journalctl's command line for the units (names or globs) in the window (whole seconds around it)."""
    command = [journalctl, '--no-pager', '--all', '-o', 'short-iso-precise']
    for unit in units:
        command += ['-u', unit]
    if since is not None:
        command.append(f'--since=@{math.floor(since.timestamp())}')
    if until is not None:
        command.append(f'--until=@{math.ceil(until.timestamp())}')
    return command


def _open_lines(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as stream:
        for raw in stream:
            yield raw.rstrip(b'\r\n').decode('utf-8', 'replace')


def _journal_lines(stream):
    """journalctl's lines, without its own notes (``-- No entries --``, ``-- Boot ... --``)."""
    for raw in stream:
        line = raw.rstrip(b'\r\n').decode('utf-8', 'replace')
        if not line.startswith('-- '):
            yield line


def first_time(path, tz, reference=None):
    """The time of the file's first record, aware (None when it has none in its first lines)."""
    try:
        for count, line in enumerate(_open_lines(path)):
            record = log_records.parse_header(line, reference)
            if record is not None:
                return record.at(tz)
            if count > 50:
                return None
    except (OSError, EOFError, ValueError):
        return None
    return None


class Search:
    """One search of one host: the terms, the window, the limits, and the records and figures it found."""

    def __init__(self, host, terms, patterns, since, until, tz, max_records, after_lines, use_grep=True):
        self.host, self.terms, self.tz = host, [term for term in terms if term], tz
        self.patterns = [re.compile(pattern) for pattern in patterns]
        self.since, self.until = since, until
        self.max_records, self.after_lines = max_records, after_lines
        self.grep = shutil.which('grep') if use_grep and self.terms and not self.patterns else None
        self.gzip = shutil.which('gzip')
        self.records, self.matched, self.files, self.problems = [], 0, [], []

    def matches(self, text):
        return any(term in text for term in self.terms) or any(pattern.search(text) for pattern in self.patterns)

    def run(self, files, units=()):
        for path in files:
            self.files.append(self.search_file(path))
        if units:
            self.files.append(self.search_journal(units))
        self.problems += [f"{stats['path']}: {stats['skipped']}" for stats in self.files
                          if (stats['skipped'] or '').startswith('unreadable')]
        return self

    def search_file(self, path):
        stats = dict(path=path, service=log_records.service_of(path), records=0, method=None, skipped=None)
        started = time.monotonic()
        try:
            status = os.stat(path)
        except OSError as error:
            stats['skipped'] = f'unreadable: {error.strerror}'
            return stats
        stats.update(size=status.st_size, mtime=status.st_mtime)
        if not os.access(path, os.R_OK):
            stats['skipped'] = 'unreadable: permission denied'
            return stats
        if self.since is not None and status.st_mtime < self.since.timestamp():
            stats['skipped'] = 'last written before the window'
            return stats
        # a traditional syslog line has no year: the file's mtime (in the logs' zone) gives it one
        reference = datetime.fromtimestamp(status.st_mtime, self.tz).replace(tzinfo=None)
        if self.until is not None:
            start = first_time(path, self.tz, reference)
            if start is not None and start > self.until:
                stats['skipped'] = 'starts after the window'
                return stats
        try:
            if self.grep and (not path.endswith('.gz') or self.gzip):
                stats['method'] = 'grep'
                count = self._collect(path, self._grep_lines(path), SEPARATOR, reference)
            else:
                stats['method'] = 'python'
                count = self._collect(path, self._window(_open_lines(path)), None, reference)
        except (OSError, EOFError, ValueError) as error:
            stats['skipped'] = f'unreadable: {error}'
            return stats
        stats['records'] = count
        stats['seconds'] = round(time.monotonic() - started, 3)
        return stats

    def search_journal(self, units):
        """The journal of the units (names or globs), through journalctl; what it may not read is a problem."""
        stats = dict(path=JOURNAL, units=list(units), service=None, records=0, method='journalctl', skipped=None)
        started = time.monotonic()
        journalctl = shutil.which('journalctl')
        if journalctl is None:
            stats['skipped'] = 'unreadable: journalctl is not installed (no systemd journal on this host)'
            return stats
        try:
            errors = tempfile.TemporaryFile()
        except OSError as error:
            stats['skipped'] = f'unreadable: journalctl could not run: {error.strerror or error}'
            return stats
        with errors:
            try:
                process = subprocess.Popen(journal_command(journalctl, units, self.since, self.until),
                                           stdout=subprocess.PIPE, stderr=errors)
            except OSError as error:
                stats['skipped'] = f'unreadable: journalctl could not run: {error.strerror or error}'
                return stats
            failure = None
            try:
                stats['records'] = self._collect(JOURNAL, self._window(_journal_lines(process.stdout)), None)
                process.stdout.close()
                process.wait(timeout=JOURNAL_EXIT_WAIT)
            except subprocess.TimeoutExpired:
                failure = f'journalctl was killed: it had not exited {JOURNAL_EXIT_WAIT} s after the end of its output'
            except (OSError, ValueError) as error:
                failure = f'reading its output failed: {error}'
            finally:
                # killed only when it has not exited: on a timeout, a failure or an exception going further
                process.stdout.close()
                if process.poll() is None:
                    process.kill()
                code = process.wait()
            errors.seek(0)
            said = ' '.join(errors.read(4000).decode('utf-8', 'replace').split())
        stats['seconds'] = round(time.monotonic() - started, 3)
        if failure is not None:
            stats['skipped'] = f'unreadable: {failure}'
        elif code != 0:
            stats['skipped'] = f'unreadable: journalctl exited with code {code}: {said or "no message"}'
        elif 'No journal files were found' in said:
            self.problems.append(f'{JOURNAL}: {said} (no systemd journal on this host)')
        elif any(text in said for text in JOURNAL_PROBLEMS):
            self.problems.append(f'{JOURNAL}: {said}; run the search with become, or as a user of the '
                                 'systemd-journal group')
        return stats

    def _collect(self, path, lines, separator, reference=None):
        count = 0
        for record in log_records.records(lines, separator, reference):
            if not self.matches(record.line) and not any(self.matches(line) for line in record.more):
                continue
            when = record.at(self.tz)
            if self.since is not None and when < self.since or self.until is not None and when > self.until:
                continue
            count += 1
            self.matched += 1
            if len(self.records) < self.max_records:
                self.records.append(record.as_dict(self.host, path, self.tz))
        return count

    def _window(self, lines):
        """The lines with a term or pattern and the ``after_lines`` after each."""
        after = 0
        for line in lines:
            if self.matches(line):
                after = self.after_lines
                yield line
            elif after:
                after -= 1
                yield line

    def _grep_lines(self, path):
        command = [self.grep, '-a', '-F', f'-A{self.after_lines}', f'--group-separator={SEPARATOR}']
        for term in self.terms:
            command += ['-e', term]
        environment = dict(os.environ, LC_ALL='C')
        source = None
        if path.endswith('.gz'):
            source = subprocess.Popen([self.gzip, '-dc', '--', path], stdout=subprocess.PIPE)
            grep = subprocess.Popen(command, stdin=source.stdout, stdout=subprocess.PIPE, env=environment)
            source.stdout.close()
        else:
            grep = subprocess.Popen(command + ['--', path], stdout=subprocess.PIPE, env=environment)
        try:
            for raw in grep.stdout:
                yield raw.rstrip(b'\r\n').decode('utf-8', 'replace')
        finally:
            grep.stdout.close()
            code = grep.wait()
            if source is not None and source.wait() not in (0, 141, -13):
                raise ValueError(f'gzip -dc {path} failed with exit code {source.returncode}')
            if code > 1:
                raise ValueError(f'grep failed on {path} with exit code {code}')

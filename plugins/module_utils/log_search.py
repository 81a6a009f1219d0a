# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Searching one host's OpenStack logs: which files, a grep pre-filter, records in a time window.

``LC_ALL=C grep -F`` (``gzip -dc | grep`` for ``.gz``) picks the lines with a term and the lines after each
(``-A``, where a traceback continues); only those are parsed. Without grep, or with regular expressions, Python
reads the file line by line the same way. Memory stays bounded: files are streamed, at most ``max_records``
records are kept (the rest are only counted) and a record keeps at most ``MAX_CONTINUATION`` lines.
"""

import glob
import gzip
import os
import re
import shutil
import subprocess
import time

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import log_records

SEPARATOR = '--log_search--'
PROJECTS = ('nova', 'neutron', 'keystone', 'placement', 'cinder', 'glance', 'horizon', 'haproxy', 'httpd',
            'apache2')
ROOTS = ('/var/log/kolla', '/var/log')


def find_files(roots, projects, paths, problems=None):
    """Every log file (rotated and gzipped ones too) under ``<root>/<project>/`` and the given paths or globs.

    What could not be looked into is appended to ``problems`` (when given) as a sentence: a root or project
    directory this user may not read, no root at all, no log file anywhere. A missing root is not a problem by
    itself (kolla's /var/log/kolla and a package's /var/log are both searched by default), unless none exists.
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
                         if re.search(r'\.log(\.\d+)?(\.gz)?$', name))
    if roots and not existing and not paths:
        problems.append(f"no log directory: none of {', '.join(roots)} exists on this host")
    for pattern in paths:
        found.extend(sorted(glob.glob(pattern)) or [pattern])
    if not found and not problems:
        problems.append(f"no log file under {', '.join(roots)} (projects {', '.join(projects)})")
    return list(dict.fromkeys(found))


def _open_lines(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as stream:
        for raw in stream:
            yield raw.rstrip(b'\r\n').decode('utf-8', 'replace')


def first_time(path):
    """The time of the file's first record (None when it has none in its first lines)."""
    try:
        for count, line in enumerate(_open_lines(path)):
            parts = log_records.parse_header(line)
            if parts:
                return parts[1]
            if count > 50:
                return None
    except (OSError, EOFError):
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
        self.records, self.matched, self.files = [], 0, []

    def matches(self, text):
        return any(term in text for term in self.terms) or any(pattern.search(text) for pattern in self.patterns)

    def run(self, files):
        for path in files:
            self.files.append(self.search_file(path))
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
        if self.until is not None:
            start = first_time(path)
            if start is not None and start.replace(tzinfo=self.tz) > self.until:
                stats['skipped'] = 'starts after the window'
                return stats
        try:
            if self.grep and (not path.endswith('.gz') or self.gzip):
                stats['method'] = 'grep'
                count = self._collect(path, self._grep_lines(path), SEPARATOR)
            else:
                stats['method'] = 'python'
                count = self._collect(path, self._python_lines(path), None)
        except (OSError, EOFError, ValueError) as error:
            stats['skipped'] = f'unreadable: {error}'
            return stats
        stats['records'] = count
        stats['seconds'] = round(time.monotonic() - started, 3)
        return stats

    def _collect(self, path, lines, separator):
        count = 0
        for record in log_records.records(lines, separator):
            if not self.matches(record.line) and not any(self.matches(line) for line in record.more):
                continue
            when = record.when.replace(tzinfo=self.tz)
            if self.since is not None and when < self.since or self.until is not None and when > self.until:
                continue
            count += 1
            self.matched += 1
            if len(self.records) < self.max_records:
                self.records.append(record.as_dict(self.host, path, self.tz))
        return count

    def _python_lines(self, path):
        after = 0
        for line in _open_lines(path):
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

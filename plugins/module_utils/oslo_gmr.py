# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Guru Meditation Reports of oslo services: find the process, make it write its report, read it back.

oslo.reports (``oslo_reports/guru_meditation_report.py``) installs its handler for SIGUSR2 in every release since
2015 (SIGUSR1 before), unless ``[oslo_reports] file_event_handler`` is set: then a thread watches that file's mtime
and no signal is caught at all, and a signal would take its default action, which is to end the process. So the
signal is sent only to a process whose ``SigCgt`` mask (``/proc/<pid>/status``) says it catches it. The report
goes to ``[oslo_reports] log_dir`` as ``<service>_gurumeditation_<YYYYmmddHHMMSS>`` when that is set, otherwise to
the process's stderr: a file (read from where it was before the signal), the journal (a systemd unit) or the
container's log (podman/docker). Every path is read through ``/proc/<pid>/root``, so a container's files are
read as the container sees them. The report's own Processes section names the process that wrote it, which tells
apart reports of a parent and its workers sharing one stderr.

A process in state T (stopped, e.g. by SIGSTOP) runs no signal handler until it is continued: it is not signalled,
and its result says so.
"""

import os
import re
import shlex
import signal as signals
import time

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import oslo_ini
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import SECRET_NAME, mask_url

SIGNALS = {'SIGUSR2': signals.SIGUSR2, 'SIGUSR1': signals.SIGUSR1}
STATES = {'R': 'running', 'S': 'sleeping', 'D': 'uninterruptible sleep', 'T': 'stopped', 't': 'tracing stop',
          'Z': 'zombie', 'X': 'dead', 'I': 'idle'}
MASK = '***'
# Option names whose values are masked in the report even where oslo.config did not know them as secret:
# redact.SECRET_NAME, imported above.

_RULE = '=' * 72
_TITLE = re.compile(r'^====\s+(.*?)\s+====$')
_SUBTITLE = re.compile(r'^------\s+(.*?)\s+------$')
_FRAME = re.compile(r'^(\S.*):(\d+) in (.+)$')
_PROCESS = re.compile(r'^( *)Process (\d+) \(under (\d+)\) \[ run by: (.*) \((\d+)\), state: (\w+) \]$')
_GROUP = re.compile(r'^(\S.*?):\s*$')
_OPTION = re.compile(r'^  (\S+) = ?(.*)$')
_LOG_LINE = re.compile(r'^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}')
_REPORT_FILE = re.compile(r'_gurumeditation_\d{14}$')


# --- the report's text ---------------------------------------------------------------------------------------------

def split_reports(text):
    """The reports in ``text`` (a stderr file, a journal), each from its header to before the next one.

    Lines after a report that are not part of it (a log line written after it) are cut off.
    """
    lines = text.splitlines()
    starts = [index - 1 for index in range(1, len(lines) - 1)
              if lines[index - 1] == _RULE and _TITLE.match(lines[index])
              and _TITLE.match(lines[index]).group(1) == 'Guru Meditation']
    reports = []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(lines)
        body = lines[start:end]
        cut = next((index for index, line in enumerate(body) if _LOG_LINE.match(line)), len(body))
        reports.append('\n'.join(body[:cut]).rstrip('\n') + '\n')
    return reports


def sections(text):
    """[(title, [lines])] of one report, in its order; the first is the 'Guru Meditation' banner."""
    lines = text.splitlines()
    found = []
    index = 0
    while index < len(lines):
        if (lines[index] == _RULE and index + 2 < len(lines) and _TITLE.match(lines[index + 1])
                and lines[index + 2] == _RULE):
            found.append((_TITLE.match(lines[index + 1]).group(1), []))
            index += 3
            continue
        if found:
            found[-1][1].append(lines[index])
        index += 1
    return found


def complete(text):
    """Whether a report has all its standard sections (the Configuration section is the last one written)."""
    return 'Configuration' in [title for title, _lines in sections(text)]


def reporter(text):
    """The PID that wrote the report: the first process of its Processes section."""
    for title, lines in sections(text):
        if title == 'Processes':
            for line in lines:
                match = _PROCESS.match(line)
                if match:
                    return int(match.group(2))
    return None


def mask(text):
    """The report with passwords in URLs and options whose names say secret masked (oslo.config masks its own)."""
    out = []
    in_configuration = False
    for line in mask_url(text).splitlines():
        match = _TITLE.match(line)
        if match:
            in_configuration = match.group(1) == 'Configuration'
        option = _OPTION.match(line) if in_configuration else None
        if option and SECRET_NAME.search(option.group(1)) and option.group(2) not in ('', MASK, 'None'):
            line = f'  {option.group(1)} = {MASK}'
        out.append(line)
    return '\n'.join(out) + ('\n' if text.endswith('\n') else '')


def parse(text, max_threads=200):
    """The report's sections as data.

    package: {product, vendor, version}; threads and green_threads: [{name, frames: [{file, line, function,
    code}]}] (at most max_threads each; *_total counts them all); processes: [{pid, parent, user, uid, state,
    depth}]; configuration: {group: {option: value}} (a list option's value is a list); other: {title: text} for
    sections a service registered itself.
    """
    result = dict(package={}, threads=[], threads_total=0, green_threads=[], green_threads_total=0,
                  processes=[], configuration={}, other={})
    for title, lines in sections(text):
        if title == 'Guru Meditation':
            continue
        if title == 'Package':
            result['package'] = dict(_key_value(line) for line in lines if ' = ' in line)
        elif title in ('Threads', 'Green Threads'):
            key = 'threads' if title == 'Threads' else 'green_threads'
            threads = _threads(lines)
            result[key] = threads[:max_threads]
            result[f'{key}_total'] = len(threads)
        elif title == 'Processes':
            result['processes'] = _processes(lines)
        elif title == 'Configuration':
            result['configuration'] = _configuration(lines)
        else:
            result['other'][title] = '\n'.join(lines).strip('\n')
    return result


def _key_value(line):
    key, _sep, value = line.partition(' = ')
    return key.strip(), value.strip()


def _threads(lines):
    threads = []
    for index, line in enumerate(lines):
        match = _SUBTITLE.match(line)
        if match:
            threads.append(dict(name=match.group(1), frames=[]))
            continue
        frame = _FRAME.match(line)
        if frame and threads:
            code = lines[index + 1].strip() if index + 1 < len(lines) else ''
            threads[-1]['frames'].append(dict(file=frame.group(1), line=int(frame.group(2)), function=frame.group(3),
                                              code=code[1:-1] if code.startswith('`') and code.endswith('`') else code))
    return threads


def _processes(lines):
    found = []
    for line in lines:
        match = _PROCESS.match(line)
        if match:
            found.append(dict(pid=int(match.group(2)), parent=int(match.group(3)), user=match.group(4),
                              uid=int(match.group(5)), state=match.group(6), depth=len(match.group(1)) // 4))
    return found


def _configuration(lines):
    groups = {}
    current = last = None
    for line in lines:
        if not line.strip():
            continue
        match = _GROUP.match(line)
        if match and not line.startswith(' '):
            current = groups.setdefault(match.group(1), {})
            last = None
            continue
        option = _OPTION.match(line)
        if option and current is not None:
            last = option.group(1)
            current[last] = option.group(2) if option.group(2) != '' else []
        elif line.startswith('    ') and current is not None and last is not None:
            if not isinstance(current[last], list):
                current[last] = [current[last]]
            current[last].append(line.strip())
    return groups


def bounded(text, max_bytes):
    """(text, truncated): the report cut to max_bytes (UTF-8), ending on a whole line."""
    data = text.encode('utf-8')
    if len(data) <= max_bytes:
        return text, False
    cut = data[:max_bytes].decode('utf-8', 'ignore')
    return cut[:cut.rfind('\n') + 1] if '\n' in cut else cut, True


# --- the process ---------------------------------------------------------------------------------------------------

class Proc:
    """What /proc says of one process (``proc`` is the /proc directory, a test's copy or the real one)."""

    def __init__(self, pid, proc='/proc'):
        self.pid = pid
        self.dir = os.path.join(proc, str(pid))

    def exists(self):
        return os.path.isdir(self.dir)

    def _read(self, name):
        with open(os.path.join(self.dir, name), encoding='utf-8', errors='replace') as handle:
            return handle.read()

    def stat(self):
        """(state letter, ppid) from /proc/<pid>/stat."""
        fields = self._read('stat').rsplit(')', 1)[1].split()
        return fields[0], int(fields[1])

    def state(self):
        try:
            return self.stat()[0]
        except (OSError, IndexError):
            return 'X'

    def caught(self):
        """The signal numbers the process has a handler for (SigCgt)."""
        for line in self._read('status').splitlines():
            if line.startswith('SigCgt:'):
                mask_bits = int(line.split()[1], 16)
                return {number + 1 for number in range(64) if mask_bits >> number & 1}
        return set()

    def own_pids(self):
        """The PID in this host's namespace and in the process's own (a container's), from NSpid."""
        pids = {self.pid}
        try:
            for line in self._read('status').splitlines():
                if line.startswith('NSpid:'):
                    pids.update(int(part) for part in line.split()[1:])
        except (OSError, ValueError):
            pass
        return pids

    def cmdline(self):
        return [part for part in self._read('cmdline').split('\0') if part]

    def executable(self):
        try:
            return os.path.basename(os.readlink(os.path.join(self.dir, 'exe')))
        except OSError:
            return ''

    def fd_target(self, number):
        try:
            return os.readlink(os.path.join(self.dir, 'fd', str(number)))
        except OSError:
            return None

    def root_path(self, path):
        """A path of the process's mount namespace (a container's) as this host reaches it."""
        if not os.path.isabs(path):
            path = os.path.join(self.cwd(), path)
        return os.path.join(self.dir, 'root', path.lstrip('/'))

    def cwd(self):
        try:
            return os.readlink(os.path.join(self.dir, 'cwd'))
        except OSError:
            return '/'

    def systemd_unit(self):
        """The systemd service the process runs in, from its cgroup, or None."""
        try:
            text = self._read('cgroup')
        except OSError:
            return None
        for line in text.splitlines():
            for part in reversed(line.split(':', 2)[-1].split('/')):
                if part.endswith('.service'):
                    return part
        return None


def children_map(proc='/proc'):
    """{ppid: [pid, ...]} of every process."""
    found = {}
    for name in os.listdir(proc):
        if name.isdigit():
            try:
                found.setdefault(Proc(int(name), proc).stat()[1], []).append(int(name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def tree(main_pid, proc='/proc'):
    """main_pid and its descendants, parents before children."""
    children = children_map(proc)
    order, queue = [], [main_pid]
    while queue:
        pid = queue.pop(0)
        order.append(pid)
        queue.extend(sorted(children.get(pid, [])))
    return order


def is_python(process):
    return process.executable().startswith('python')


def config_files(process, project=None):
    """The config files a service read: its --config-file and --config-dir arguments, else /etc/<project>/."""
    args = process.cmdline()
    files, dirs = [], []
    for index, arg in enumerate(args):
        for option, target in (('--config-file', files), ('--config-dir', dirs)):
            if arg == option and index + 1 < len(args):
                target.append(args[index + 1])
            elif arg.startswith(option + '='):
                target.append(arg.split('=', 1)[1])
    for directory in dirs:
        try:
            files.extend(os.path.join(directory, name) for name in sorted(os.listdir(process.root_path(directory)))
                         if name.endswith('.conf'))
        except OSError:
            continue
    if not files and project:
        files = [f'/etc/{project}/{project}.conf']
    return files


def oslo_reports_options(process, files):
    """{log_dir, file_event_handler} of [oslo_reports] in the files (the last one setting an option wins)."""
    options = dict(log_dir=None, file_event_handler=None)
    for path in files:
        try:
            with open(process.root_path(path), encoding='utf-8', errors='replace') as handle:
                values = oslo_ini.read(handle.read(), path)
        except (OSError, OpsError):
            continue
        for name in options:
            if values.get(('oslo_reports', name)):
                options[name] = values[('oslo_reports', name)]
    return options


def project_of(process):
    """nova for nova-conductor (from the script the interpreter runs), or None."""
    args = process.cmdline()
    script = next((os.path.basename(arg) for arg in args[1:] if not arg.startswith('-')), None) if args else None
    if script and '-' in script:
        return script.split('-', 1)[0]
    return None


# --- the target ----------------------------------------------------------------------------------------------------

class Target:
    """The service to report on: kind (pid, systemd_unit, container), name, main_pid, and how to read its logs."""

    def __init__(self, kind, name, main_pid, engine=None, unit=None):
        self.kind, self.name, self.main_pid, self.engine, self.unit = kind, name, main_pid, engine, unit

    def describe(self):
        return dict(kind=self.kind, name=self.name, main_pid=self.main_pid, engine=self.engine, unit=self.unit)


def resolve(params, run_command, which, proc='/proc'):
    """The Target of the module's options; a missing process, unit or container is an OpsError."""
    if params.get('pid') is not None:
        pid = params['pid']
        process = Proc(pid, proc)
        if pid <= 0 or not process.exists():
            raise OpsError(f'no process with PID {pid} on this host', pid=pid)
        return Target('pid', str(pid), pid, unit=process.systemd_unit())
    if params.get('systemd_unit'):
        unit = params['systemd_unit']
        systemctl = which('systemctl')
        if not systemctl:
            raise OpsError(f'systemd unit {unit}: systemctl is not installed on this host; give pid or container')
        rc, out, err = run_command([systemctl, 'show', '-p', 'LoadState', '-p', 'ActiveState', '-p', 'MainPID', unit])
        if rc:
            raise OpsError(f'systemd unit {unit}: systemctl show failed (rc {rc}): {(err or out).strip()}', unit=unit)
        props = dict(line.split('=', 1) for line in out.splitlines() if '=' in line)
        if props.get('LoadState') == 'not-found':
            raise OpsError(f'systemd unit {unit} not found on this host', unit=unit)
        main_pid = int(props.get('MainPID') or 0)
        if not main_pid:
            raise OpsError(f"systemd unit {unit} has no running main process (ActiveState={props.get('ActiveState')})",
                           unit=unit)
        return Target('systemd_unit', unit, main_pid, unit=unit)
    name = params['container']
    engine = params.get('container_engine') or 'auto'
    engines = ['podman', 'docker'] if engine == 'auto' else [engine]
    binary = next((which(candidate) for candidate in engines if which(candidate)), None)
    if not binary:
        raise OpsError(f"container {name}: none of {', '.join(engines)} is installed on this host", container=name)
    rc, out, err = run_command([binary, 'inspect', '--format', '{{.State.Pid}} {{.State.Status}}', name])
    if rc:
        raise OpsError(f'container {name} not found by {os.path.basename(binary)}: {(err or out).strip()}',
                       container=name)
    pid_text, _sep, status = out.strip().partition(' ')
    main_pid = int(pid_text or 0)
    if not main_pid:
        raise OpsError(f'container {name} is not running (status {status or "unknown"})', container=name)
    return Target('container', name, main_pid, engine=binary)


def choose_processes(target, signal_name, scope, max_processes, proc='/proc'):
    """(signal name, [pid]): the Python processes of the target that catch the report's signal.

    scope ``main``: the first one (the service's parent process); ``all``: it and its workers.
    """
    pids = [pid for pid in tree(target.main_pid, proc) if is_python(Proc(pid, proc))]
    names = list(SIGNALS) if signal_name == 'auto' else [signal_name]
    for name in names:
        catching = [pid for pid in pids if SIGNALS[name] in _caught(Proc(pid, proc))]
        if catching:
            return name, catching[:1] if scope == 'main' else catching[:max_processes]
    return names[0], []


def _caught(process):
    try:
        return process.caught()
    except OSError:
        return set()


# --- where a report lands ------------------------------------------------------------------------------------------

class Landing:
    """Where one process's report is written, and how to read what came after the signal."""

    def __init__(self, process, target, options, run_command, which):
        self.process, self.target = process, target
        self.run_command, self.which = run_command, which
        self.log_dir = options['log_dir']
        self.since = time.time()
        self.offset = 0
        self.before = set()
        self.stderr = process.fd_target(2)
        if self.log_dir:
            self.kind, self.where = 'report directory', self.log_dir
        elif self.stderr is None:
            raise OpsError(f'PID {process.pid}: its stderr cannot be read (/proc/{process.pid}/fd/2)')
        elif self.stderr == '/dev/null':
            raise OpsError(f'PID {process.pid} writes stderr to /dev/null, where the report would be lost; '
                           'set [oslo_reports] log_dir so it is written to a file', pid=process.pid)
        elif self.stderr.startswith('/'):
            self.kind, self.where = 'stderr file', self.stderr
        elif target.kind == 'container':
            self.kind, self.where = 'container log', target.name
        elif target.unit:
            self.kind, self.where = 'journal', target.unit
        else:
            raise OpsError(f'PID {process.pid} writes stderr to {self.stderr}, which this module cannot read '
                           '(not a file, a systemd unit or a container); set [oslo_reports] log_dir',
                           pid=process.pid)

    def mark(self):
        """Remember where things stand before the signal."""
        self.since = time.time()
        if self.kind == 'report directory':
            self.before = set(self._report_files())
        elif self.kind == 'stderr file':
            self.offset = os.path.getsize(os.path.join(self.process.dir, 'fd', '2'))

    def _report_files(self):
        directory = self.process.root_path(self.log_dir)
        try:
            return [os.path.join(directory, name) for name in os.listdir(directory) if _REPORT_FILE.search(name)]
        except OSError as error:
            raise OpsError(f'[oslo_reports] log_dir {self.log_dir} cannot be read: {error}') from error

    def read(self):
        """The text written since mark()."""
        if self.kind == 'report directory':
            texts = []
            for path in sorted(set(self._report_files()) - self.before, key=_mtime):
                with open(path, encoding='utf-8', errors='replace') as handle:
                    texts.append(handle.read())
            return '\n'.join(texts)
        if self.kind == 'stderr file':
            with open(os.path.join(self.process.dir, 'fd', '2'), 'rb') as handle:
                size = os.fstat(handle.fileno()).st_size
                handle.seek(self.offset if size >= self.offset else 0)
                return handle.read().decode('utf-8', 'replace')
        since = int(self.since) - 1
        if self.kind == 'journal':
            argv = [self.which('journalctl') or 'journalctl', '-u', self.target.unit, '--since', f'@{since}',
                    '-o', 'cat', '--no-pager']
        else:
            argv = [self.target.engine, 'logs', '--since', str(since), self.target.name]
        rc, out, err = self.run_command(argv)
        if rc:
            raise OpsError(f'{shlex.join(argv)} failed (rc {rc}): {(err or out).strip()}')
        return out + '\n' + err

    def source(self):
        return f'{self.kind}: {self.where}'


def _mtime(path):
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0


def wait_for_report(process, landing, timeout, poll=0.2, clock=time.monotonic, sleep=time.sleep):
    """The complete report of process written since landing.mark(), or None after timeout seconds.

    A report counts once its text stopped growing between two polls and its Processes section names the process
    (by its PID here or, in a container, in the container's PID namespace) or names no process.
    """
    own = process.own_pids() | {None}
    deadline = clock() + timeout
    previous = None
    while True:
        text = landing.read()
        if text == previous:
            mine = [report for report in split_reports(text) if complete(report)
                    and reporter(report) in own]
            if mine:
                return mine[-1]
        previous = text
        if clock() >= deadline or process.state() in ('Z', 'X'):
            return None
        sleep(poll)


def no_report(process, seconds):
    """Why no report came, as the operator should read it."""
    state = process.state()
    if state in ('T', 't'):
        return f'no report: process stopped (state {state}); it runs no signal handler until it is continued'
    if state in ('Z', 'X'):
        return f'no report: process {process.pid} ended (state {state})'
    if state == 'D':
        return (f'no report within {seconds}s: process in uninterruptible sleep (state D); the signal stays pending '
                'and the report may still be written later')
    return (f'no report within {seconds}s (process state {state}, {STATES.get(state, "unknown")}); the signal was '
            'sent and the report may still be written later')

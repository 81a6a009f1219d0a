# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Verified logical backups of MariaDB/MySQL databases, and the guard every destructive action calls first.

Layout: ``<backup_dir>/<backup_id>/manifest.json`` plus one ``<database>.sql.gz`` per
database. A backup is built in ``<backup_dir>/.<backup_id>.partial`` and renamed to
its id only after every file passed a gzip test and its sha256 was recorded, so a
directory named like a backup id is always whole.

A destructive module calls, before its first write::

    manifest = backup.guard(self.nova_db.api, ['nova_api'], self.params, check_mode=self.check_mode)

with ``GUARD_ARGUMENT_SPEC`` merged into its argument_spec. The first argument is the
module's own connection to the server (a ``mariadb.Database``): the backup reads the
server through it and logs its dump tool in with the same login.
``guard`` returns the manifest of the backup relied on and raises UnsafeToProceed
when there is none; ``require_fresh_backup`` and ``take_backup`` are the two halves.
"""

import datetime
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError, UnsafeToProceed

DEFAULT_MAX_AGE = 1800
MANIFEST = 'manifest.json'
SUFFIX = '.sql.gz'
PARTIAL = '.partial'
HOW_TO_BACKUP = ('take one with playbooks/backup_databases.yml (or the openstack_ops.runbooks.db_backup '
                 'module), or set take_backup=true to let this action take it')
DUMP_OPTIONS = ('--single-transaction', '--routines', '--triggers', '--events', '--hex-blob')
# The last line mariadb-dump and mysqldump write; its absence means the dump was cut short.
DUMP_COMPLETED = b'-- Dump completed'
_ID = re.compile(r'^\d{8}T\d{6}Z-[A-Za-z0-9._-]+$')
_NAME = re.compile(r'^[A-Za-z0-9_$-]{1,64}$')
_CHARSET = re.compile(r'^[A-Za-z0-9_]{1,64}$')
_CHUNK = 1024 * 1024

# Options of a module that calls guard().
GUARD_ARGUMENT_SPEC = dict(
    backup_dir=dict(type='path', default='/var/backups/openstack_ops'),
    backup_max_age=dict(type='int', default=DEFAULT_MAX_AGE),
    take_backup=dict(type='bool', default=False),
)


# ---------------------------------------------------------------- the guard

def guard(server, databases, params, check_mode=False, now=None):
    """The backup a destructive action may rely on, taken first when ``take_backup`` is set.

    ``server`` is the module's connection to the server of ``databases``; ``params`` holds GUARD_ARGUMENT_SPEC's options.

    In check mode no backup is taken; a fresh one is still required unless
    take_backup is set, so a check run reports a missing backup as the real run would.
    """
    if params.get('take_backup'):
        if check_mode:
            return dict(id=None, databases=list(databases), check_mode=True, age_seconds=None,
                        msg='check mode: a backup would be taken first; nothing was dumped')
        return dict(take_backup(params['backup_dir'], databases, server, now=now), age_seconds=0)
    return require_fresh_backup(params['backup_dir'], databases,
                                max_age_seconds=params.get('backup_max_age', DEFAULT_MAX_AGE), now=now)


def require_fresh_backup(backup_dir, databases, max_age_seconds=DEFAULT_MAX_AGE, now=None):
    """The manifest of the newest complete, verified backup covering every database, no older than max_age.

    Raises UnsafeToProceed naming the databases, the directory, the age of the
    newest covering backup found (or none) and how to make one.
    """
    databases = _names(databases)
    now = _now(now)
    newest_age = None
    rejected = []
    for manifest in list_backups(backup_dir):
        if not manifest.get('complete') or not set(databases) <= set(manifest.get('databases', ())):
            continue
        age = backup_age(manifest, now)
        if newest_age is None:
            newest_age = age
        if age > max_age_seconds:
            break  # newest first: every later one is older still
        problems = verify_backup(backup_dir, manifest['id'], databases)
        if not problems:
            manifest['age_seconds'] = int(age)
            return manifest
        rejected.append(f"{manifest['id']} ({'; '.join(problems)})")
    found = 'none' if newest_age is None else f'the newest is {format_age(newest_age)} old'
    msg = (f"No verified backup of {', '.join(databases)} younger than {format_age(max_age_seconds)} "
           f"in {backup_dir} ({found})")
    if rejected:
        msg += f"; rejected: {', '.join(rejected)}"
    raise UnsafeToProceed(f'{msg}; {HOW_TO_BACKUP}', backup_dir=backup_dir, databases=databases,
                          newest_age_seconds=None if newest_age is None else int(newest_age),
                          max_age_seconds=max_age_seconds)


# ---------------------------------------------------------------- reading backups

def list_backups(backup_dir):
    """Manifests of the backups in backup_dir, newest first; directories that are not backups are ignored."""
    if not os.path.isdir(backup_dir):
        return []
    manifests = []
    for name in os.listdir(backup_dir):
        if not _ID.match(name):
            continue
        manifest = read_manifest(backup_dir, name)
        if manifest is not None:
            manifests.append(manifest)
    return sorted(manifests, key=lambda item: (item.get('created_at', ''), item['id']), reverse=True)


def read_manifest(backup_dir, backup_id):
    """The manifest of one backup, or None when it has no readable manifest."""
    path = os.path.join(backup_dir, backup_id, MANIFEST)
    try:
        with open(path, encoding='utf-8') as stream:
            manifest = json.load(stream)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get('id') != backup_id:
        return None
    return manifest


def verify_backup(backup_dir, backup_id, databases=None, deep=False):
    """Problems found with a backup's files (empty when it is sound).

    Checks size and sha256 of each file against the manifest; ``deep`` also
    decompresses each file and looks for the dump's completion line.
    """
    manifest = read_manifest(backup_dir, backup_id)
    if manifest is None:
        return [f'no readable {MANIFEST} in {os.path.join(backup_dir, backup_id)}']
    if not manifest.get('complete'):
        return ['the manifest does not mark the backup complete']
    files = {entry['database']: entry for entry in manifest.get('files', ())}
    problems = []
    for database in databases or manifest.get('databases', ()):
        entry = files.get(database)
        if entry is None:
            problems.append(f'no file for database {database}')
            continue
        path = os.path.join(backup_dir, backup_id, entry['path'])
        try:
            size, digest = file_digest(path)
        except OSError as error:
            problems.append(f"{entry['path']}: {error.strerror}")
            continue
        if size != entry['size'] or digest != entry['sha256']:
            problems.append(f"{entry['path']}: sha256 {digest} and size {size} do not match the manifest "
                            f"({entry['sha256']}, {entry['size']})")
        elif deep:
            problem = check_dump(path)
            if problem:
                problems.append(f"{entry['path']}: {problem}")
    return problems


def backup_age(manifest, now=None):
    return (_now(now) - parse_time(manifest['created_at'])).total_seconds()


# ---------------------------------------------------------------- taking a backup

def take_backup(backup_dir, databases, server, now=None, dump_tool=None):
    """Dump each database into a new verified backup under backup_dir and return its manifest.

    ``server`` is a connected mariadb.Database; the dump tool logs in with its login.
    Nothing is left behind on failure.
    """
    databases = _names(databases)
    dump_tool = dump_tool or find_tool(('mariadb-dump', 'mysqldump'))
    moment = _now(now)
    login = server.login
    found = inspect_server(server, databases)
    _prepare_dir(backup_dir)
    backup_id = new_backup_id(backup_dir, found['hostname'], moment)
    partial = os.path.join(backup_dir, f'.{backup_id}{PARTIAL}')
    try:
        os.mkdir(partial, 0o700)
        files = []
        with mariadb.option_file(login) as defaults:
            for database in databases:
                files.append(_dump(dump_tool, defaults, database, partial))
        manifest = dict(
            id=backup_id,
            created_at=format_time(moment),
            server=dict(host=found['host'], port=found['port'], version=found['version'],
                        hostname=found['hostname']),
            databases=databases,
            files=files,
            charsets={name: found['charsets'][name] for name in databases},
            tool=tool_version(dump_tool),
            complete=True,
        )
        _write_json(os.path.join(partial, MANIFEST), manifest)
        os.rename(partial, os.path.join(backup_dir, backup_id))
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise OpsError(f'Cannot write the backup to {backup_dir}: {error.strerror or error}; nothing was kept',
                       backup_dir=backup_dir) from error
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def inspect_server(server, databases):
    """The server's address, version and hostname, each database's charset and data size; unknown ones fail here.

    ``server`` is a connected mariadb.Database.
    """
    row = server.query('SELECT VERSION() AS version, @@hostname AS hostname')[0]
    schemata = {item['name']: item for item in server.query(
        'SELECT SCHEMA_NAME AS name, DEFAULT_CHARACTER_SET_NAME AS charset, '
        'DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA')}
    sizes = {item['name']: int(item['size']) for item in server.query(
        'SELECT TABLE_SCHEMA AS name, CAST(COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS UNSIGNED) AS size '
        'FROM information_schema.TABLES GROUP BY TABLE_SCHEMA')}
    missing = [name for name in databases if name not in schemata]
    login = server.login
    if missing:
        raise OpsError(f"Unknown database {', '.join(missing)} on {server.where}; it has "
                       f"{', '.join(sorted(name for name in schemata if not _is_system(name)))}; nothing was dumped",
                       missing=missing)
    return dict(host=login['login_unix_socket'] or login['login_host'], port=login['login_port'],
                version=row['version'], hostname=row['hostname'],
                charsets={name: dict(charset=item['charset'], collation=item['collation'])
                          for name, item in schemata.items()},
                sizes={name: sizes.get(name, 0) for name in databases})


def _dump(dump_tool, defaults, database, directory):
    name = f'{database}{SUFFIX}'
    path = os.path.join(directory, name)
    command = [dump_tool, f'--defaults-extra-file={defaults}', *DUMP_OPTIONS, '--', database]
    with tempfile.TemporaryFile() as stderr, gzip.open(path, 'wb') as output:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
        try:
            for chunk in iter(lambda: process.stdout.read(_CHUNK), b''):
                output.write(chunk)
        finally:
            process.stdout.close()
            code, message = _ended(process, stderr)
    if code != 0:
        raise OpsError(f'{os.path.basename(dump_tool)} of {database} failed (exit {code}): {message}',
                       database=database)
    problem = check_dump(path)
    if problem:
        raise OpsError(f'The dump of {database} did not verify: {problem}', database=database)
    size, digest = file_digest(path)
    return dict(database=database, path=name, size=size, sha256=digest)


def check_dump(path):
    """None when the file is a whole gzip stream ending with the dump's completion line, else the problem."""
    tail = b''
    try:
        with gzip.open(path, 'rb') as stream:
            for chunk in iter(lambda: stream.read(_CHUNK), b''):
                tail = (tail + chunk)[-4096:]
    except (OSError, EOFError, ValueError) as error:
        return f'not a valid gzip file ({error})'
    if DUMP_COMPLETED not in tail:
        return 'the dump has no completion line: it was cut short'
    return None


# ---------------------------------------------------------------- restoring

def restore_database(backup_dir, manifest, database, target, server, client_tool=None):
    """Replace database target with the dump of database in the backup: drop, create, load.

    The client tool logs in with the login of ``server`` (a mariadb.Database). The caller
    verifies the backup and takes a backup of the target first.
    """
    check_name(target)
    client_tool = client_tool or find_tool(('mariadb', 'mysql'))
    entry = next(item for item in manifest['files'] if item['database'] == database)
    charset = manifest.get('charsets', {}).get(database) or {}
    create = f'CREATE DATABASE `{target}`'
    if charset.get('charset'):
        if not all(_CHARSET.match(str(charset.get(key))) for key in ('charset', 'collation')):
            raise OpsError(f"The manifest of {manifest['id']} names an invalid character set for {database}: {charset}")
        create += f" CHARACTER SET {charset['charset']} COLLATE {charset['collation']}"
    with mariadb.option_file(server.login) as defaults:
        _run_sql(client_tool, defaults, None, f'DROP DATABASE IF EXISTS `{target}`; {create};'.encode())
        with gzip.open(os.path.join(backup_dir, manifest['id'], entry['path']), 'rb') as dump:
            _run_sql(client_tool, defaults, target, dump)


def _run_sql(client_tool, defaults, database, sql):
    command = [client_tool, f'--defaults-extra-file={defaults}', '--batch']
    if database:
        command += ['--database', database]
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            if isinstance(sql, bytes):
                process.stdin.write(sql)
            else:
                for chunk in iter(lambda: sql.read(_CHUNK), b''):
                    process.stdin.write(chunk)
            process.stdin.close()
        except BrokenPipeError:
            pass  # the client stopped reading: its exit code and stderr say why
        code, message = _ended(process, stderr)
    if code != 0:
        raise OpsError(f"Loading into {database or 'the server'} failed (exit {code}): {message}",
                       database=database)


def _ended(process, stderr):
    """(exit code, what it wrote to stderr) of a client tool once it has ended."""
    code = process.wait()
    stderr.seek(0)
    return code, stderr.read().decode('utf-8', 'replace').strip()


def table_checksums(database):
    """{table: CHECKSUM TABLE value} for an open mariadb.Database whose current schema is the one to sum."""
    tables = [next(iter(row.values())) for row in database.query('SHOW FULL TABLES WHERE Table_type = %s',
                                                                 ('BASE TABLE',))]
    if not tables:
        return {}
    rows = database.query('CHECKSUM TABLE ' + ', '.join(f'`{name}`' for name in tables))
    return {row['Table'].split('.', 1)[1]: row['Checksum'] for row in rows}


# ---------------------------------------------------------------- retention

def plan_retention(backup_dir, keep_count, keep_age_seconds=None, now=None, protect=()):
    """Backups to remove: beyond the newest keep_count of each database set, or older than keep_age.

    The newest backup of each database set and the ids in protect are never removed;
    directories without a complete manifest are never touched.
    """
    now = _now(now)
    seen = {}
    remove = []
    for manifest in list_backups(backup_dir):
        if not manifest.get('complete'):
            continue
        key = tuple(sorted(manifest.get('databases', ())))
        rank = seen[key] = seen.get(key, 0) + 1
        if rank == 1 or manifest['id'] in protect:
            continue
        too_many = keep_count is not None and rank > keep_count
        too_old = keep_age_seconds is not None and backup_age(manifest, now) > keep_age_seconds
        if too_many or too_old:
            remove.append(manifest)
    return remove


def remove_backup(backup_dir, backup_id):
    if not _ID.match(backup_id):
        raise OpsError(f'{backup_id!r} is not a backup id')
    shutil.rmtree(os.path.join(backup_dir, backup_id))


# ---------------------------------------------------------------- helpers

def find_tool(names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise OpsError(f"Neither {' nor '.join(names)} is installed on this host",
                   hint='install the MariaDB or MySQL client package')


def tool_version(tool):
    """'mariadb-dump 10.19 Distrib 10.11.19-MariaDB' from the tool's --version output."""
    output = subprocess.run([tool, '--version'], capture_output=True, text=True, check=False).stdout
    match = re.search(r'Ver\s+(\S+)(?:\s+Distrib\s+([^\s,]+))?', output)
    version = ' '.join(part for part in (match.groups() if match else ()) if part) or 'unknown'
    if match and match.group(2):
        version = f'{match.group(1)} Distrib {match.group(2)}'
    return f'{os.path.basename(tool)} {version}'


def new_backup_id(backup_dir, hostname, now=None):
    host = re.sub(r'[^A-Za-z0-9.-]+', '-', hostname or 'db').strip('-') or 'db'
    base = f"{_now(now).strftime('%Y%m%dT%H%M%SZ')}-{host}"
    backup_id, number = base, 1
    while os.path.exists(os.path.join(backup_dir, backup_id)) or \
            os.path.exists(os.path.join(backup_dir, f'.{backup_id}{PARTIAL}')):
        number += 1
        backup_id = f'{base}_{number}'
    return backup_id


def file_digest(path):
    digest = hashlib.sha256()
    size = 0
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b''):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _prepare_dir(backup_dir):
    try:
        os.makedirs(backup_dir, mode=0o700, exist_ok=True)
    except OSError as error:
        raise OpsError(f'Cannot create the backup directory {backup_dir}: {error.strerror or error}',
                       backup_dir=backup_dir) from error
    if not os.access(backup_dir, os.W_OK | os.X_OK):
        raise OpsError(f'The backup directory {backup_dir} is not writable by this user', backup_dir=backup_dir)


def _write_json(path, data):
    with open(path, 'w', encoding='utf-8') as stream:
        json.dump(data, stream, indent=2, sort_keys=True)
        stream.write('\n')
        stream.flush()
        os.fsync(stream.fileno())


def _names(databases):
    names = list(dict.fromkeys(databases))
    if not names:
        raise OpsError('No database named: give at least one')
    for name in names:
        check_name(name)
    return names


def check_name(name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise OpsError(f'{name!r} is not a plain database name (letters, digits, _, $ and -, at most 64)')


SYSTEM_DATABASES = ('information_schema', 'performance_schema', 'mysql', 'sys')


def _is_system(name):
    return name in SYSTEM_DATABASES


def _now(now=None):
    if now is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if isinstance(now, (int, float)):
        return datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    return now


def format_time(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_time(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)


def format_age(seconds):
    seconds = int(seconds)
    if seconds < 120:
        return f'{seconds} s'
    if seconds < 7200:
        return f'{seconds // 60} min'
    if seconds < 172800:
        return f'{seconds // 3600} h {seconds % 3600 // 60} min'
    return f'{seconds // 86400} days'

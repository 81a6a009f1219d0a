# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import datetime
import gzip
import hashlib
import json

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb_backup as backup
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError, UnsafeToProceed

NOW = datetime.datetime(2026, 11, 22, 3, 15, tzinfo=datetime.timezone.utc)
DUMP = b'CREATE TABLE `t` (`id` int);\n-- Dump completed on 2026-11-22  3:15:00\n'


def make_backup(backup_dir, minutes_ago, databases=('nova_api',), host='db1', complete=True, dump=DUMP):
    """A backup as take_backup leaves it, created minutes_ago before NOW."""
    created = NOW - datetime.timedelta(minutes=minutes_ago)
    backup_id = f"{created.strftime('%Y%m%dT%H%M%SZ')}-{host}"
    directory = backup_dir / backup_id
    directory.mkdir(parents=True)
    files = []
    for database in databases:
        path = directory / f'{database}.sql.gz'
        path.write_bytes(gzip.compress(dump))
        data = path.read_bytes()
        files.append(dict(database=database, path=path.name, size=len(data), sha256=hashlib.sha256(data).hexdigest()))
    manifest = dict(id=backup_id, created_at=backup.format_time(created), databases=list(databases), files=files,
                    server=dict(host=host, port=3306, version='10.11.19-MariaDB'), tool='mariadb-dump 10.19',
                    complete=complete)
    (directory / 'manifest.json').write_text(json.dumps(manifest))
    return backup_id


def test_guard_returns_the_newest_fresh_backup_covering_every_database(tmp_path):
    make_backup(tmp_path, 20, ('nova_api', 'nova_cell1'))
    newest = make_backup(tmp_path, 5, ('nova_api', 'nova_cell1', 'placement'))
    make_backup(tmp_path, 1, ('placement',))

    manifest = backup.require_fresh_backup(str(tmp_path), ['nova_api', 'nova_cell1'], now=NOW)

    assert manifest['id'] == newest
    assert manifest['age_seconds'] == 300


def test_guard_refuses_when_there_is_no_backup(tmp_path):
    with pytest.raises(UnsafeToProceed) as error:
        backup.require_fresh_backup(str(tmp_path / 'missing'), ['nova_api'], now=NOW)
    assert 'nova_api' in error.value.msg
    assert str(tmp_path / 'missing') in error.value.msg
    assert '(none)' in error.value.msg
    assert 'playbooks/backup_databases.yml' in error.value.msg


def test_guard_refuses_a_stale_backup_and_says_how_old_it_is(tmp_path):
    make_backup(tmp_path, 45)
    with pytest.raises(UnsafeToProceed) as error:
        backup.require_fresh_backup(str(tmp_path), ['nova_api'], max_age_seconds=1800, now=NOW)
    assert 'the newest is 45 min old' in error.value.msg
    assert error.value.details['newest_age_seconds'] == 2700


def test_guard_refuses_a_backup_missing_one_of_the_databases(tmp_path):
    make_backup(tmp_path, 1, ('nova_api',))
    with pytest.raises(UnsafeToProceed, match='nova_api, placement'):
        backup.require_fresh_backup(str(tmp_path), ['nova_api', 'placement'], now=NOW)


def test_guard_skips_a_corrupted_backup_for_an_older_sound_one(tmp_path):
    older = make_backup(tmp_path, 10)
    newer = make_backup(tmp_path, 2)
    with open(tmp_path / newer / 'nova_api.sql.gz', 'r+b') as stream:
        stream.seek(12)
        stream.write(b'\xff')
    assert backup.require_fresh_backup(str(tmp_path), ['nova_api'], now=NOW)['id'] == older


def test_guard_names_a_corrupted_backup_it_rejected(tmp_path):
    newer = make_backup(tmp_path, 2)
    (tmp_path / newer / 'nova_api.sql.gz').write_bytes(b'truncated')
    with pytest.raises(UnsafeToProceed) as error:
        backup.require_fresh_backup(str(tmp_path), ['nova_api'], now=NOW)
    assert f'rejected: {newer} (nova_api.sql.gz: sha256' in error.value.msg


def test_guard_ignores_incomplete_backups_and_foreign_directories(tmp_path):
    make_backup(tmp_path, 1, complete=False)
    (tmp_path / 'not-a-backup').mkdir()
    (tmp_path / '.20261122T031400Z-db1.partial').mkdir()
    with pytest.raises(UnsafeToProceed, match=r'\(none\)'):
        backup.require_fresh_backup(str(tmp_path), ['nova_api'], now=NOW)


def test_guard_takes_a_backup_itself_only_when_told(tmp_path, monkeypatch):
    taken = []
    monkeypatch.setattr(backup, 'take_backup', lambda *args, **kwargs: taken.append(args) or {'id': 'new'})
    params = dict(backup_dir=str(tmp_path), backup_max_age=1800, take_backup=True)

    server = object()   # the module's connection, handed on to take_backup

    assert backup.guard(server, ['nova_api'], params, check_mode=True)['id'] is None
    assert not taken
    assert backup.guard(server, ['nova_api'], params) == dict(id='new', age_seconds=0)   # just taken
    assert taken[0] == (str(tmp_path), ['nova_api'], server)


def test_deep_verify_finds_a_dump_cut_short(tmp_path):
    backup_id = make_backup(tmp_path, 1, dump=b'CREATE TABLE `t` (`id` int);\n')
    assert backup.verify_backup(str(tmp_path), backup_id) == []
    assert backup.verify_backup(str(tmp_path), backup_id, deep=True) == [
        'nova_api.sql.gz: the dump has no completion line: it was cut short']


def test_retention_keeps_the_newest_per_database_set_and_removes_only_beyond_the_limits(tmp_path):
    full = [make_backup(tmp_path, minutes, ('nova_api', 'placement')) for minutes in (1, 60, 120, 180)]
    single = make_backup(tmp_path, 10 * 24 * 60, ('nova_api',))
    make_backup(tmp_path, 5000, complete=False, host='db2')
    (tmp_path / 'operator-notes').mkdir()

    by_count = [item['id'] for item in backup.plan_retention(str(tmp_path), 2, now=NOW)]
    by_age = [item['id'] for item in backup.plan_retention(str(tmp_path), None, 90 * 60, now=NOW)]
    protected = [item['id'] for item in backup.plan_retention(str(tmp_path), 2, now=NOW, protect=[full[3]])]

    assert by_count == full[2:]
    assert by_age == full[2:]  # the only backup of nova_api alone is the newest of its set: kept
    assert single not in by_count + by_age
    assert protected == [full[2]]


@pytest.mark.parametrize('names', [[], ['nova_api; DROP DATABASE x'], ['a' * 65], ['nova api']])
def test_database_names_are_checked(names):
    with pytest.raises(OpsError):
        backup.take_backup('/nonexistent', names, server=None)


def test_backup_ids_sort_by_time_and_never_collide(tmp_path):
    first = backup.new_backup_id(str(tmp_path), 'db1.example.com', NOW)
    (tmp_path / first).mkdir()
    second = backup.new_backup_id(str(tmp_path), 'db1.example.com', NOW)
    assert first == '20261122T031500Z-db1.example.com'
    assert second == '20261122T031500Z-db1.example.com_2'


@pytest.mark.parametrize('seconds, text', [(59, '59 s'), (1800, '30 min'), (7500, '2 h 5 min'), (200000, '2 days')])
def test_format_age(seconds, text):
    assert backup.format_age(seconds) == text


def test_restore_refuses_a_manifest_with_an_invalid_character_set(tmp_path, monkeypatch):
    backup_id = make_backup(tmp_path, 1)
    manifest = backup.read_manifest(str(tmp_path), backup_id)
    manifest['charsets'] = {'nova_api': {'charset': 'utf8mb3; DROP DATABASE nova', 'collation': 'x'}}
    monkeypatch.setattr(backup, '_run_sql', lambda *args: pytest.fail('nothing may run'))
    with pytest.raises(OpsError, match='invalid character set for nova_api'):
        backup.restore_database(str(tmp_path), manifest, 'nova_api', 'nova_api', server=None, client_tool='/bin/false')

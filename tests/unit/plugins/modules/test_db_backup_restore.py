# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import datetime
import gzip
import hashlib
import json
import os

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb, mariadb_backup as backup
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.modules import db_backup, db_restore

LOGIN = dict(login_user='ops', login_password='s3cret', config_file='/nonexistent/.my.cnf')
DUMP = b'CREATE TABLE `t` (`id` int);\n-- Dump completed on 2026-11-22  3:15:00\n'


def make_backup(backup_dir, minutes_ago, databases=('nova_api',)):
    created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=minutes_ago)
    backup_id = f"{created.strftime('%Y%m%dT%H%M%SZ')}-db1"
    directory = os.path.join(backup_dir, backup_id)
    os.makedirs(directory)
    files = []
    for database in databases:
        data = gzip.compress(DUMP)
        with open(os.path.join(directory, f'{database}.sql.gz'), 'wb') as stream:
            stream.write(data)
        files.append(dict(database=database, path=f'{database}.sql.gz', size=len(data),
                          sha256=hashlib.sha256(data).hexdigest()))
    manifest = dict(id=backup_id, created_at=backup.format_time(created), databases=list(databases), files=files,
                    complete=True)
    with open(os.path.join(directory, 'manifest.json'), 'w', encoding='utf-8') as stream:
        json.dump(manifest, stream)
    return backup_id


class FakeServer:
    """The module's mariadb connection: its login; its only database is nova_api (5 tables)."""

    def __init__(self, login):
        self.login = login

    def query(self, sql, args=None):
        return [dict(name=name, tables=5) for name in args or () if name == 'nova_api']

    def open_database(self, database):
        return FakeServer(self.login)

    def rollback(self):
        pass

    def close(self):
        pass


@pytest.fixture
def dumps(monkeypatch, tmp_path):
    """take_backup replaced by one that writes a backup as the real one does, and records its calls."""
    calls = []

    def take_backup(backup_dir, databases, server):
        calls.append((backup_dir, list(databases), server.login['login_user']))
        backup_id = make_backup(backup_dir, 0, databases)
        return backup.read_manifest(backup_dir, backup_id)

    monkeypatch.setattr(backup, 'take_backup', take_backup)
    monkeypatch.setattr(backup, 'inspect_server', lambda server, databases: dict(sizes={name: 4096 for name in databases}))
    monkeypatch.setattr(mariadb, 'connect', lambda params: FakeServer(mariadb.login_options(params)))
    return calls


def test_backup_takes_one_and_reports_it(run_module, dumps, tmp_path):
    rc, result = run_module(db_backup.main, dict(LOGIN, backup_dir=str(tmp_path), databases=['nova_api', 'placement']))
    assert rc == 0
    assert result['changed'] is True and result['reused'] is False
    assert dumps == [(str(tmp_path), ['nova_api', 'placement'], 'ops')]
    assert result['path'] == str(tmp_path / result['backup']['id'])
    assert result['msg'].startswith(f"Backed up nova_api, placement to {result['path']} (2 files")


def test_backup_check_mode_dumps_nothing_and_says_so(run_module, dumps, tmp_path):
    rc, result = run_module(db_backup.main, dict(LOGIN, backup_dir=str(tmp_path), databases=['nova_api'],
                                                 _ansible_check_mode=True))
    assert rc == 0 and dumps == []
    assert result['changed'] is True and result['backup'] is None
    assert result['would_dump'] == {'nova_api': 4096}
    assert 'proves nothing about the backup itself' in result['msg']


def test_backup_reuses_a_fresh_one_without_change(run_module, dumps, tmp_path):
    existing = make_backup(str(tmp_path), 5)
    rc, result = run_module(db_backup.main, dict(LOGIN, backup_dir=str(tmp_path), databases=['nova_api'],
                                                 reuse_max_age=600))
    assert rc == 0 and dumps == []
    assert result['changed'] is False and result['reused'] is True and result['backup']['id'] == existing


def test_backup_retention_in_check_mode_removes_nothing(run_module, dumps, tmp_path):
    old = [make_backup(str(tmp_path), minutes) for minutes in (60, 120, 180)]
    rc, result = run_module(db_backup.main, dict(LOGIN, backup_dir=str(tmp_path), databases=['nova_api'],
                                                 keep_count=2, _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0
    # The backup a real run would take is not there yet: the check keeps the newest two existing ones.
    assert result['removed'] == [old[2]]
    assert sorted(os.listdir(tmp_path)) == sorted(old)
    assert result['diff']['after']['backups'] == ['(new backup)', old[0], old[1]]


def test_backup_retention_removes_beyond_the_count(run_module, dumps, tmp_path):
    old = [make_backup(str(tmp_path), minutes) for minutes in (60, 120)]
    rc, result = run_module(db_backup.main, dict(LOGIN, backup_dir=str(tmp_path), databases=['nova_api'],
                                                 keep_count=2))
    assert rc == 0
    assert result['removed'] == [old[1]]
    assert sorted(os.listdir(tmp_path)) == sorted([result['backup']['id'], old[0]])


def test_backup_keep_count_below_one_is_refused(run_module, dumps, tmp_path):
    rc, result = run_module(db_backup.main, dict(LOGIN, backup_dir=str(tmp_path), keep_count=0))
    assert rc == 1 and 'keep_count must be at least 1' in result['msg']
    assert dumps == []


@pytest.fixture
def server(monkeypatch, dumps):
    """Restores recorded instead of loaded, on the FakeServer of dumps."""
    restored = []
    monkeypatch.setattr(backup, 'table_checksums', lambda database: {'t': 1, 'u': 2})
    monkeypatch.setattr(backup, 'restore_database',
                        lambda backup_dir, manifest, database, target, server: restored.append((database, target)))
    return restored


def test_restore_refuses_a_corrupted_backup_and_touches_nothing(run_module, server, dumps, tmp_path):
    backup_id = make_backup(str(tmp_path), 5, ('nova_api', 'placement'))
    with open(tmp_path / backup_id / 'placement.sql.gz', 'ab') as stream:
        stream.write(b'x')
    rc, result = run_module(db_restore.main, dict(LOGIN, backup_dir=str(tmp_path), backup_id=backup_id))
    assert rc == 1
    assert result['msg'].startswith(f'Refusing to restore backup {backup_id}: placement.sql.gz: sha256')
    assert server == [] and dumps == []


def test_restore_backs_up_existing_targets_first_and_renames_on_request(run_module, server, dumps, tmp_path):
    backup_id = make_backup(str(tmp_path), 5, ('nova_api', 'placement'))
    rc, result = run_module(db_restore.main, dict(LOGIN, backup_dir=str(tmp_path), backup_id=backup_id,
                                                  target_names={'placement': 'placement_inspect'}))
    assert rc == 0, result
    assert dumps == [(str(tmp_path), ['nova_api'], 'ops')]  # placement_inspect does not exist yet
    assert server == [('nova_api', 'nova_api'), ('placement', 'placement_inspect')]
    assert [(item['target'], item['existed'], item['tables']) for item in result['restored']] == [
        ('nova_api', True, 2), ('placement_inspect', False, 2)]
    assert result['pre_restore_backup']['databases'] == ['nova_api']


def test_restore_check_mode_verifies_and_loads_nothing(run_module, server, dumps, tmp_path):
    backup_id = make_backup(str(tmp_path), 5)
    rc, result = run_module(db_restore.main, dict(LOGIN, backup_dir=str(tmp_path), backup_id=backup_id,
                                                  _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0 and server == [] and dumps == []
    assert result['changed'] is True
    assert result['diff'] == dict(before={'nova_api': '5 tables'}, after={'nova_api': f'nova_api from backup {backup_id}'})
    assert 'Nothing was loaded' in result['msg']


@pytest.mark.parametrize('options, message', [
    (dict(databases=['nova']), 'has no nova; it holds nova_api'),
    (dict(target_names={'placement': 'x'}), 'target_names renames placement, which is not being restored'),
    (dict(target_names={'nova_api': 'bad name'}), "'bad name' is not a plain database name"),
    (dict(backup_id='20200101T000000Z-db9'), "No backup '20200101T000000Z-db9'"),
    (dict(target_names={'nova_api': 'mysql'}), 'Refusing to restore into the system database mysql'),
])
def test_restore_bad_input_is_named_and_nothing_changes(run_module, server, dumps, tmp_path, options, message):
    backup_id = make_backup(str(tmp_path), 5)
    rc, result = run_module(db_restore.main, dict(dict(LOGIN, backup_dir=str(tmp_path), backup_id=backup_id), **options))
    assert rc == 1 and message in result['msg']
    assert server == [] and dumps == []


def test_a_failed_load_names_the_pre_restore_backup(run_module, server, dumps, monkeypatch, tmp_path):
    backup_id = make_backup(str(tmp_path), 5)

    def fail(*args):
        raise OpsError('Loading into nova_api failed (exit 1): ERROR 1114: The table is full')

    monkeypatch.setattr(backup, 'restore_database', fail)
    rc, result = run_module(db_restore.main, dict(LOGIN, backup_dir=str(tmp_path), backup_id=backup_id))
    assert rc == 1
    pre = [name for name in os.listdir(tmp_path) if name != backup_id]
    assert f'the state before is in backup {pre[0]}' in result['msg']
    assert 'nova_api is left incomplete' in result['msg']

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""textfile: reading a file, and replacing it through a checked candidate beside it, with a backup.

The files are real ones under tmp_path and the module a real AnsibleModule, whose backup_local and atomic_move
are what replace() relies on to keep the mode of an existing file and to back it up.
"""

import os
import stat

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import textfile
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

OLD = '[DEFAULT]\ntransport_url = rabbit://nova:s3cret@ctl1:5672/\n'
NEW = '[DEFAULT]\ntransport_url = rabbit://nova:s3cret@ctl1:5672/\n[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\n'


@pytest.fixture
def module():
    # as run_module does (tests/unit/conftest.py): ansible-core keeps the first module's traceback setting
    with patch_module_args({'_ansible_tracebacks_for': ['error']}):
        return AnsibleModule(argument_spec={})


@pytest.fixture
def umask():
    """A known umask (022) for the test, the usual one, restored afterwards."""
    previous = os.umask(0o022)
    yield 0o022
    os.umask(previous)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def existing(tmp_path, text=OLD, mode=0o600):
    path = tmp_path / 'nova.conf'
    path.write_text(text, encoding='utf-8')
    os.chmod(path, mode)
    return str(path)


@pytest.mark.parametrize('text', ['', OLD, '# caf\u00e9 \u2014 \u00fcber\n'])
def test_read_returns_the_whole_text_non_ascii_too(tmp_path, text):
    path = tmp_path / 'nova.conf'
    path.write_bytes(text.encode('utf-8'))

    assert textfile.read(str(path)) == text


@pytest.mark.parametrize('what, msg', [
    ((), 'cannot read the file {path}: No such file or directory'),
    (('the nova configuration',), 'cannot read the nova configuration {path}: No such file or directory'),
])
def test_read_of_a_missing_file_is_an_ops_error_naming_it(tmp_path, what, msg):
    path = str(tmp_path / 'nova.conf')

    with pytest.raises(OpsError) as raised:
        textfile.read(path, *what)

    assert raised.value.msg == msg.format(path=path)
    assert raised.value.details == {'path': path}


def test_a_new_file_gets_the_mode_asked_for_not_the_umask_one(module, tmp_path, umask):
    path = str(tmp_path / 'nova.conf')

    result = textfile.replace(module, path, NEW, mode=0o640)

    assert result == {}   # no previous file, so no backup
    assert (tmp_path / 'nova.conf').read_text(encoding='utf-8') == NEW
    assert mode_of(path) == 0o640
    assert os.listdir(tmp_path) == ['nova.conf']


def test_a_new_file_gets_0644_by_default(module, tmp_path):
    previous = os.umask(0o077)
    try:
        textfile.replace(module, str(tmp_path / 'nova.conf'), NEW)
    finally:
        os.umask(previous)

    assert mode_of(tmp_path / 'nova.conf') == 0o644


def test_an_existing_file_keeps_its_mode_and_is_backed_up_beside_it_as_it_was(module, tmp_path, umask):
    path = existing(tmp_path, mode=0o600)

    result = textfile.replace(module, path, NEW, mode=0o644)

    assert (tmp_path / 'nova.conf').read_text(encoding='utf-8') == NEW
    assert mode_of(path) == 0o600   # not the mode argument: that is for new files
    backup = result['backup_file']
    assert os.path.dirname(backup) == str(tmp_path) and os.path.basename(backup).startswith(f'nova.conf.{os.getpid()}.')
    with open(backup, encoding='utf-8') as handle:
        assert handle.read() == OLD
    assert mode_of(backup) == 0o600   # the backup of a file holding passwords is no more readable than the file
    assert sorted(os.listdir(tmp_path)) == sorted(['nova.conf', os.path.basename(backup)])


def test_without_backup_the_previous_file_is_not_kept(module, tmp_path):
    path = existing(tmp_path)

    assert textfile.replace(module, path, NEW, backup=False) == {}
    assert os.listdir(tmp_path) == ['nova.conf']
    assert (tmp_path / 'nova.conf').read_text(encoding='utf-8') == NEW


def test_check_sees_the_complete_candidate_beside_the_file_before_it_is_replaced(module, tmp_path, umask):
    path = existing(tmp_path)
    seen = []

    def check(candidate):
        with open(candidate, encoding='utf-8') as handle:
            seen.append((os.path.dirname(candidate), os.path.basename(candidate), handle.read(), mode_of(candidate),
                         (tmp_path / 'nova.conf').read_text(encoding='utf-8')))
        return dict(checked_with='nova-manage')

    result = textfile.replace(module, path, NEW, mode=0o640, check=check, prefix='.nova.')

    directory, name, text, mode, current = seen[0]
    # one filesystem with the file, so the final rename is atomic
    assert directory == str(tmp_path)
    assert name.startswith('.nova.') and name.endswith('.tmp')
    assert (text, mode, current) == (NEW, 0o640, OLD)
    # what check returns joins the result
    assert result['checked_with'] == 'nova-manage' and 'backup_file' in result
    assert not os.path.exists(os.path.join(directory, name))


def test_a_refused_candidate_changes_nothing_and_leaves_nothing_behind(module, tmp_path):
    path = existing(tmp_path, mode=0o640)
    before = os.stat(path)

    def refuse(candidate):
        raise OpsError('the candidate is not valid', path=candidate)

    with pytest.raises(OpsError, match='the candidate is not valid'):
        textfile.replace(module, path, NEW, check=refuse)

    assert (tmp_path / 'nova.conf').read_text(encoding='utf-8') == OLD
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns, stat.S_IMODE(after.st_mode)) == (before.st_ino, before.st_mtime_ns, 0o640)
    assert os.listdir(tmp_path) == ['nova.conf']   # neither the candidate nor a backup


def test_a_refused_new_file_is_not_created(module, tmp_path):
    def refuse(candidate):
        raise OpsError('no')

    with pytest.raises(OpsError):
        textfile.replace(module, str(tmp_path / 'nova.conf'), NEW, check=refuse)

    assert os.listdir(tmp_path) == []


def test_a_missing_directory_is_an_ops_error_and_nothing_is_created(module, tmp_path):
    path = str(tmp_path / 'nova' / 'nova.conf')

    with pytest.raises(OpsError) as raised:
        textfile.replace(module, path, NEW)

    assert raised.value.msg == f'the directory of {path} does not exist: {tmp_path / "nova"}'
    assert raised.value.details == {'path': path}
    assert os.listdir(tmp_path) == []


def test_a_relative_path_is_replaced_in_its_own_directory(module, tmp_path, monkeypatch):
    existing(tmp_path)
    monkeypatch.chdir(tmp_path)

    result = textfile.replace(module, 'nova.conf', NEW)

    assert (tmp_path / 'nova.conf').read_text(encoding='utf-8') == NEW
    assert os.path.exists(result['backup_file'])

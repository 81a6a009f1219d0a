# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading a configuration file, and replacing it safely: candidate beside it, checked, backed up, renamed over it.

The candidate is written in the file's own directory so that the final rename is atomic (one filesystem): a
service that reads the file at any moment sees the old one or the new one, never a half-written one.
"""

import os
import tempfile

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


def read(path, what='the file'):
    try:
        with open(path, encoding='utf-8') as handle:
            return handle.read()
    except OSError as error:
        raise OpsError(f'cannot read {what} {path}: {error.strerror}', path=path) from error


def replace(module, path, text, backup=True, mode=0o644, check=None, prefix='.openstack_ops.'):
    """Put ``text`` in ``path``; returns {backup_file} when a previous file was kept.

    ``check(candidate)`` may refuse the candidate by raising, before anything is replaced. A new file gets
    ``mode``; an existing one keeps its mode and owner (AnsibleModule.atomic_move copies them).
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OpsError(f'the directory of {path} does not exist: {directory}', path=path)
    existed = os.path.exists(path)
    handle, candidate = tempfile.mkstemp(prefix=prefix, suffix='.tmp', dir=directory)
    result = {}
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as out:
            out.write(text)
        os.chmod(candidate, mode)
        if check is not None:
            result.update(check(candidate) or {})
        if existed and backup:
            result['backup_file'] = module.backup_local(path)
        module.atomic_move(candidate, path)
        if not existed:   # atomic_move gives a new file the umask's mode, not the candidate's
            os.chmod(path, mode)
    finally:
        if os.path.exists(candidate):
            os.unlink(candidate)
    return result

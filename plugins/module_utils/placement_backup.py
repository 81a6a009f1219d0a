# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""JSON backups of Placement allocations, with a checksum, written before any change."""

import datetime
import hashlib
import json
import os
import tempfile

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

FORMAT = 'openstack_ops.runbooks.placement_allocation/1'
FIELDS = ('allocations', 'consumer_generation', 'consumer_type', 'project_id', 'user_id')


def checksum(consumers):
    canonical = json.dumps(consumers, sort_keys=True, separators=(',', ':'))
    return 'sha256:' + hashlib.sha256(canonical.encode()).hexdigest()


def snapshot(allocation):
    """The parts of a GET /allocations/{consumer} answer (1.38) that re-create it."""
    return {field: allocation.get(field) for field in FIELDS}


def write(backup_dir, consumers, now=None):
    """Save {consumer: snapshot} to a new file in backup_dir; returns (path, checksum).

    The file appears complete or not at all (written to a temporary name, then renamed).
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        os.makedirs(backup_dir, mode=0o700, exist_ok=True)
    except OSError as error:
        raise OpsError(f'Cannot create the backup directory {backup_dir}: {error.strerror}') from error
    digest = checksum(consumers)
    document = dict(format=FORMAT, created_at=now.isoformat(), checksum=digest, consumers=consumers)
    name = f"placement-allocations-{now.strftime('%Y%m%dT%H%M%S.%fZ')}.json"
    path = os.path.join(backup_dir, name)
    try:
        handle, temporary = tempfile.mkstemp(dir=backup_dir, prefix='.placement-allocations-', suffix='.tmp')
        with os.fdopen(handle, 'w') as stream:
            json.dump(document, stream, indent=1, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.rename(temporary, path)
    except OSError as error:
        raise OpsError(f'Cannot write the allocation backup in {backup_dir}: {error.strerror}') from error
    return path, digest


def read(path):
    """The consumers of a backup file after its checksum is verified."""
    try:
        with open(path) as stream:
            document = json.load(stream)
    except OSError as error:
        raise OpsError(f'Cannot read the allocation backup {path}: {error.strerror}') from error
    except ValueError as error:
        raise OpsError(f'The allocation backup {path} is not JSON: {error}') from error
    if not isinstance(document, dict) or document.get('format') != FORMAT:
        raise OpsError(f'{path} is not an allocation backup of this module (format {FORMAT})')
    consumers = document.get('consumers')
    if not isinstance(consumers, dict) or checksum(consumers) != document.get('checksum'):
        raise OpsError(f'The allocation backup {path} fails its checksum: it was changed or truncated',
                       expected=document.get('checksum'))
    return document

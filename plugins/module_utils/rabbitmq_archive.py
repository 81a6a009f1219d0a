# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Archives of drained RabbitMQ messages: one JSON object a line, with a SHA-256 sidecar.

The archive ``<name>.jsonl`` holds one line per message, as the management
API's ``/get`` returned it plus where it came from:
vhost, queue, exchange, routing_key, redelivered, properties (headers
included), payload, payload_encoding (``string`` or ``base64``) and
payload_bytes. ``<name>.jsonl.sha256`` holds the file's checksum in the
format of ``sha256sum``, so ``sha256sum -c`` verifies it too.
``<name>.jsonl.republished`` records that the archive was published back.
"""

import datetime
import hashlib
import json
import os
import threading

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

CHECKSUM_SUFFIX = '.sha256'
REPUBLISHED_SUFFIX = '.republished'
_FIELDS = ('exchange', 'routing_key', 'redelivered', 'properties', 'payload', 'payload_encoding', 'payload_bytes')


class ArchiveWriter:
    """Appends drained messages to a new archive in directory; safe to call from several threads.

    The file is created on the first message, so a run that drains nothing
    leaves nothing behind. Each batch is flushed to disk before write()
    returns: the broker has already forgotten those messages.
    """

    def __init__(self, directory, now=None):
        stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime('%Y%m%dT%H%M%S%fZ')
        self.path = os.path.join(directory, f'rabbitmq-purge-{stamp}.jsonl')
        self.directory = directory
        self.messages = 0
        self.bytes = 0
        self._hash = hashlib.sha256()
        self._file = None
        self._lock = threading.Lock()

    def write(self, vhost, queue, messages):
        if not messages:
            return
        data = ''.join(json.dumps(dict({field: message.get(field) for field in _FIELDS}, vhost=vhost, queue=queue),
                                  sort_keys=True, separators=(',', ':')) + '\n' for message in messages).encode()
        with self._lock:
            if self._file is None:
                self._file = self._create()
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._hash.update(data)
            self.messages += len(messages)
            self.bytes += len(data)

    def finish(self):
        """Close the archive and write its checksum; returns its description, or None if nothing was written."""
        with self._lock:
            if self._file is None:
                return None
            self._file.close()
            digest = self._hash.hexdigest()
            checksum_path = self.path + CHECKSUM_SUFFIX
            with open(checksum_path, 'w', encoding='utf-8') as sidecar:
                sidecar.write(f'{digest}  {os.path.basename(self.path)}\n')
            return dict(path=self.path, checksum_path=checksum_path, sha256=digest, messages=self.messages,
                        bytes=self.bytes)

    def _create(self):
        if not os.path.isdir(self.directory):
            raise OpsError(f'The archive directory {self.directory} does not exist', archive_dir=self.directory)
        # Owner-only, and never over an existing archive.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return os.fdopen(fd, 'wb')


def verify(path):
    """Check an archive against its sidecar; returns the SHA-256, raises OpsError when it does not match."""
    checksum_path = path + CHECKSUM_SUFFIX
    if not os.path.isfile(path):
        raise OpsError(f'The archive {path} does not exist', archive_path=path)
    try:
        with open(checksum_path, encoding='utf-8') as sidecar:
            expected = sidecar.read().split()[0].lower()
    except (OSError, IndexError) as error:
        raise OpsError(f'Cannot read the checksum of {path} from {checksum_path}: refusing to use an unverified '
                       f'archive', archive_path=path) from error
    digest = hashlib.sha256()
    with open(path, 'rb') as archive:
        for block in iter(lambda: archive.read(1 << 20), b''):
            digest.update(block)
    actual = digest.hexdigest()
    if actual != expected:
        raise OpsError(f'The archive {path} does not match its checksum (expected {expected}, found {actual}): it '
                       f'was changed or truncated', archive_path=path, expected=expected, actual=actual)
    return actual


def records(path):
    """The archived messages, in the order they were drained."""
    with open(path, encoding='utf-8') as archive:
        for number, line in enumerate(archive, 1):
            try:
                yield json.loads(line)
            except ValueError as error:
                raise OpsError(f'Line {number} of {path} is not JSON', archive_path=path) from error


def republished(path):
    """What a previous republish of this archive recorded, or None."""
    try:
        with open(path + REPUBLISHED_SUFFIX, encoding='utf-8') as marker:
            return json.load(marker)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise OpsError(f'Cannot read {path + REPUBLISHED_SUFFIX}', archive_path=path) from error


def mark_republished(path, record):
    with open(path + REPUBLISHED_SUFFIX, 'w', encoding='utf-8') as marker:
        json.dump(record, marker, sort_keys=True)
        marker.write('\n')

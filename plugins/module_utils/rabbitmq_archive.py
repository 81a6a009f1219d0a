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

Draining a queue into an archive and publishing an archive back both use the
management API client (rabbitmq.RabbitMQClient): rabbitmqctl can do neither.
"""

import datetime
import hashlib
import json
import os
import threading

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, OpsError, UnsafeToProceed
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.workers import run_bounded

CHECKSUM_SUFFIX = '.sha256'
# Messages fetched per /get request while draining a queue.
DRAIN_BATCH = 1000
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


def drain_queue(client, vhost, name, writer, batch=DRAIN_BATCH):
    """Move a queue's ready messages into the archive writer; returns how many.

    Each batch is on disk before the next is taken off the broker, so when a
    later request fails, every message already handed over is in the archive.
    """
    drained = 0
    while True:
        messages = client.get_messages(vhost, name, batch) or []
        writer.write(vhost, name, messages)
        drained += len(messages)
        if len(messages) < batch:
            return drained


class Republication:
    """Publishing an archive's messages back to the broker, resumably.

    Reading it verifies the checksum and groups the messages by their
    (vhost, queue); the ``.republished`` marker of an earlier run of the same
    archive says how many of each queue were already published, and those are
    not published again (unless the run was complete and force is set).
    """

    def __init__(self, path, force=False):
        self.path = path
        self.sha256 = verify(path)
        marker = republished(path) or {}
        if marker.get('sha256') != self.sha256 or (marker.get('complete') and force):
            marker = {}
        self.already = {(entry['vhost'], entry['queue']): entry['published'] for entry in marker.get('queues', [])}
        self.by_queue = {}
        for record in records(path):
            self.by_queue.setdefault((record['vhost'], record['queue']), []).append(record)
        # (vhost, queue) in order; the messages of each still to publish.
        self.queues = sorted(self.by_queue)
        self.pending = {key: self.by_queue[key][self.already.get(key, 0):] for key in self.queues}

    def describe(self):
        """The archive as modules return it."""
        return dict(path=self.path, checksum_path=self.path + CHECKSUM_SUFFIX, sha256=self.sha256,
                    messages=sum(len(messages) for messages in self.by_queue.values()),
                    bytes=os.path.getsize(self.path))

    def planned(self):
        """{(vhost, queue): messages published} once this run is done, as check mode reports it."""
        return {key: self.already.get(key, 0) + len(self.pending[key]) for key in self.queues}

    def check_destinations(self, client, republish_to):
        """Refuse before publishing anything when a message could not be routed back to its queue."""
        if republish_to != 'queue':
            return
        existing = set()
        for vhost in sorted({vhost for vhost, _name in self.queues}):
            try:
                existing.update((queue['vhost'], queue['name']) for queue in client.list_queues(vhost))
            except ApiError as error:
                if error.status != 404:
                    raise
        missing = [f'{name} (vhost {vhost})' for vhost, name in self.queues if (vhost, name) not in existing]
        if missing:
            raise UnsafeToProceed(f"Cannot republish: queue(s) {', '.join(missing)} do not exist any more; declare them "
                                  '(restarting their service does) or use republish_to: exchange', missing=missing)

    def publish(self, client, republish_to, concurrency):
        """Publish the pending messages and record the progress in the marker; returns (published, changed).

        republish_to ``queue`` sends each message to the default exchange with
        its queue as routing key, ``exchange`` to its original exchange and
        routing key. The messages of one queue go back in order, by one
        worker; queues go in parallel. The marker is written whatever happens,
        so a failed run can be run again to publish the rest.
        """
        published = {key: self.already.get(key, 0) for key in self.queues}
        unrouted = []
        lock = threading.Lock()

        def work(key):
            for record in self.pending[key]:
                if republish_to == 'queue':
                    exchange, routing_key = '', record['queue']
                else:
                    exchange, routing_key = record['exchange'], record['routing_key']
                routed = client.publish(record['vhost'], exchange, routing_key, record['payload'],
                                        record['payload_encoding'], record['properties'])
                with lock:
                    published[key] += 1
                    if not routed:
                        unrouted.append(key)
            return len(self.pending[key])

        _done, failed, not_reached = run_bounded([key for key in self.queues if self.pending[key]], work, concurrency)
        mark_republished(self.path, dict(
            sha256=self.sha256, complete=not failed and not not_reached, republished_at=_now(),
            republish_to=republish_to,
            queues=[dict(vhost=vhost, queue=name, published=published[(vhost, name)]) for vhost, name in self.queues]))
        changed = any(published[key] != self.already.get(key, 0) for key in self.queues)
        if failed:
            raise OpsError(
                f'The republish stopped part-way ({len(failed)} queue(s) failed, {len(not_reached)} not reached); run '
                f'it again to publish the rest. First error: {failed[0][1].msg}',
                published=[dict(vhost=vhost, name=name, republished=published[(vhost, name)])
                           for vhost, name in self.queues],
                changed=changed)
        if unrouted:
            raise OpsError(f'{len(unrouted)} message(s) were not routed to any queue and are lost to the broker '
                           f"(they remain in {self.path})", unrouted=sorted(set(unrouted)))
        return published, changed


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
    """Record what a republish of the archive published (see Republication)."""
    with open(path + REPUBLISHED_SUFFIX, 'w', encoding='utf-8') as marker:
        json.dump(record, marker, sort_keys=True)
        marker.write('\n')


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()

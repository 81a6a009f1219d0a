# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import datetime

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import rabbitmq_archive
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


def test_archive_round_trip_and_checksum(tmp_path):
    writer = rabbitmq_archive.ArchiveWriter(str(tmp_path), now=datetime.datetime(2024, 8, 2, 9, 39, 40))
    assert writer.finish() is None and not list(tmp_path.iterdir())

    writer.write('/', 'conductor', [dict(payload='{"a": 1}', payload_encoding='string', payload_bytes=8,
                                         redelivered=False, exchange='nova', routing_key='conductor',
                                         properties={'headers': {'x': 1}}, message_count=0)])
    archive = writer.finish()

    assert archive['path'] == str(tmp_path / 'rabbitmq-purge-20240802T093940000000Z.jsonl')
    assert archive['messages'] == 1
    assert (tmp_path / 'rabbitmq-purge-20240802T093940000000Z.jsonl').stat().st_mode & 0o777 == 0o600
    assert rabbitmq_archive.verify(archive['path']) == archive['sha256']
    assert list(rabbitmq_archive.records(archive['path'])) == [dict(
        vhost='/', queue='conductor', payload='{"a": 1}', payload_encoding='string', payload_bytes=8,
        redelivered=False, exchange='nova', routing_key='conductor', properties={'headers': {'x': 1}})]


def test_an_archive_without_or_against_its_checksum_is_refused(tmp_path):
    archive = tmp_path / 'a.jsonl'
    archive.write_text('{}\n')
    with pytest.raises(OpsError, match='refusing to use an unverified archive'):
        rabbitmq_archive.verify(str(archive))

    (tmp_path / 'a.jsonl.sha256').write_text('0' * 64 + '  a.jsonl\n')
    with pytest.raises(OpsError, match='does not match its checksum'):
        rabbitmq_archive.verify(str(archive))


class Queue:
    """A queue that hands out its messages through get_messages and takes published ones back."""

    def __init__(self, count):
        self.bodies = [f'm{i}' for i in range(count)]
        self.published = []

    def get_messages(self, vhost, name, count):
        taken, self.bodies = self.bodies[:count], self.bodies[count:]
        return [dict(payload=body, payload_encoding='string', exchange='nova', routing_key=name, properties={})
                for body in taken]

    def list_queues(self, vhost=None):
        return [dict(vhost='/', name='conductor')]

    def publish(self, vhost, exchange, routing_key, payload, payload_encoding='string', properties=None):
        self.published.append((vhost, exchange, routing_key, payload))
        return True


def test_drain_takes_batches_until_one_is_short_then_republish_puts_them_back_once(tmp_path):
    queue = Queue(5)
    writer = rabbitmq_archive.ArchiveWriter(str(tmp_path))

    assert rabbitmq_archive.drain_queue(queue, '/', 'conductor', writer, batch=2) == 5
    archive = writer.finish()
    assert archive['messages'] == 5 and queue.bodies == []

    replay = rabbitmq_archive.Republication(archive['path'])
    replay.check_destinations(queue, 'queue')
    assert replay.planned() == {('/', 'conductor'): 5}
    assert replay.publish(queue, 'queue', 2) == ({('/', 'conductor'): 5}, True)
    assert queue.published == [('/', '', 'conductor', f'm{i}') for i in range(5)]

    again = rabbitmq_archive.Republication(archive['path'])
    assert again.pending == {('/', 'conductor'): []}
    assert rabbitmq_archive.Republication(archive['path'], force=True).planned() == {('/', 'conductor'): 5}
    assert again.describe() == archive

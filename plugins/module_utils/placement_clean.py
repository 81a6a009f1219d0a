# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generation-safe removal of classified allocations, and their restore from a backup.

Every write is a PUT /allocations/{consumer} carrying the consumer generation read
just before it, so a concurrent writer makes Placement answer 409 instead of the
change silently overwriting theirs; the consumer is then re-read, re-classified and
planned again, a bounded number of times.
"""

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import allocation_backup
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, OpsError, UnsafeToProceed
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement import CONCURRENT_UPDATE
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement_audit import (
    MICROVERSION,
    Classifier,
    consumer_path,
)


def plan_clean(audit_result, classes, only_consumers=None):
    """{consumer: {provider uuid: classification}} of the allocations to remove."""
    plan = {}
    for consumer in audit_result['consumers']:
        if only_consumers is not None and consumer['uuid'] not in only_consumers:
            continue
        remove = {a['provider_uuid']: a['classification'] for a in consumer['allocations']
                  if a['classification'] in classes}
        if remove:
            plan[consumer['uuid']] = remove
    return plan


def _flatten(allocations):
    return {provider: body['resources'] for provider, body in (allocations or {}).items()}


def _put(client, consumer, current, allocations):
    client.put(consumer_path(consumer), dict(
        allocations={provider: {'resources': resources} for provider, resources in allocations.items()},
        consumer_generation=current.get('consumer_generation'), project_id=current.get('project_id'),
        user_id=current.get('user_id'), consumer_type=current.get('consumer_type') or 'INSTANCE',
    ), MICROVERSION)


def _is_generation_conflict(error):
    return isinstance(error, ApiError) and error.status == 409 and CONCURRENT_UPDATE in error.details.get('codes', ())


class Cleaner:
    """Removes planned allocations; reclassify(consumer, allocations) re-decides after a conflict."""

    def __init__(self, client, classes, reclassify, backup_dir, retries=3):
        self.client = client
        self.classes = classes
        self.reclassify = reclassify
        self.backup_dir = backup_dir
        self.retries = retries
        self.backups = []

    def read(self, consumer):
        return self.client.get(consumer_path(consumer), MICROVERSION)

    def apply(self, plan):
        """Back up every planned consumer, then trim each; returns the list of changes made."""
        current = {consumer: self.read(consumer) for consumer in sorted(plan)}
        self._backup(current)
        changes = []
        for consumer in sorted(plan):
            change = self._clean_one(consumer, current[consumer], plan[consumer])
            if change:
                changes.append(change)
        return changes

    def _backup(self, allocations):
        path, digest = allocation_backup.write(
            self.backup_dir, {consumer: allocation_backup.snapshot(body) for consumer, body in allocations.items()})
        self.backups.append(dict(path=path, checksum=digest, consumers=len(allocations)))

    def _clean_one(self, consumer, current, remove):
        for attempt in range(1, self.retries + 2):
            held = _flatten(current.get('allocations'))
            remove = {provider: classification for provider, classification in remove.items() if provider in held}
            if not remove:
                return None
            keep = {provider: resources for provider, resources in held.items() if provider not in remove}
            try:
                _put(self.client, consumer, current, keep)
            except ApiError as error:
                if not _is_generation_conflict(error) or attempt > self.retries:
                    raise
                current = self.read(consumer)
                self._backup({consumer: current})
                remove = self.reclassify(consumer, _flatten(current.get('allocations')))
                continue
            return dict(consumer_uuid=consumer, attempts=attempt,
                        action='trimmed' if keep else 'deleted',
                        removed={provider: dict(resources=held[provider], classification=classification)
                                 for provider, classification in sorted(remove.items())},
                        kept=keep)
        return None


def reclassifier(placement_state, read_nova, grace_period, classes):
    """A function that re-reads Nova for one consumer and says which of its allocations to remove."""
    def reclassify(consumer, allocations):
        nova = read_nova([consumer])
        classifier = Classifier(placement_state, nova, grace_period)
        remove = {}
        for provider in allocations:
            if provider not in placement_state.providers:
                continue    # a provider made after the audit: not verified, not touched
            classification, _reason = classifier.classify(consumer, provider)
            if classification in classes:
                remove[provider] = classification
        return remove
    return reclassify


def enforce_cap(plan, max_changes):
    if max_changes is not None and len(plan) > max_changes:
        raise UnsafeToProceed(
            f'The clean would change {len(plan)} consumers, more than max_changes={max_changes}; nothing was changed. '
            'Review the audit, then raise max_changes or narrow it with consumers or resource_providers.',
            planned=len(plan), max_changes=max_changes)


class Restorer:
    """Puts consumers back to the allocations a backup file holds."""

    def __init__(self, client, retries=3):
        self.client = client
        self.retries = retries

    def read(self, consumer):
        return self.client.get(consumer_path(consumer), MICROVERSION)

    def plan(self, saved):
        """{consumer: (current, saved)} for the consumers whose allocations differ from the backup."""
        plan = {}
        for consumer, snapshot in sorted(saved.items()):
            current = self.read(consumer)
            if _flatten(current.get('allocations')) != _flatten(snapshot['allocations']):
                plan[consumer] = (current, snapshot)
        return plan

    def apply(self, plan):
        restored, failed = [], []
        for consumer, (current, snapshot) in sorted(plan.items()):
            try:
                attempts = self._restore_one(consumer, current, snapshot)
            except ApiError as error:
                failed.append(dict(consumer_uuid=consumer, error=error.msg))
                continue
            if attempts:
                restored.append(dict(consumer_uuid=consumer, attempts=attempts))
        return restored, failed

    def _restore_one(self, consumer, current, snapshot):
        wanted = _flatten(snapshot['allocations'])
        for attempt in range(1, self.retries + 2):
            if _flatten(current.get('allocations')) == wanted:
                return None
            body = dict(current, project_id=snapshot['project_id'] or current.get('project_id'),
                        user_id=snapshot['user_id'] or current.get('user_id'),
                        consumer_type=snapshot.get('consumer_type') or current.get('consumer_type'))
            try:
                _put(self.client, consumer, body, wanted)
            except ApiError as error:
                if not _is_generation_conflict(error) or attempt > self.retries:
                    raise
                current = self.read(consumer)
                continue
            return attempt
        raise OpsError(f'Consumer {consumer} kept changing while it was restored')

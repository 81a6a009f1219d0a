# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generation-safe removal of classified allocations, and their restore from a backup.

Every write is a PUT /allocations/{consumer} carrying the consumer generation read
just before it, so a concurrent writer makes Placement answer 409 instead of the
change silently overwriting theirs; the consumer is then re-read, re-classified and
planned again, a bounded number of times (placement.retry_on_conflict).

A clean is planned once, as change records (plan_changes): check mode returns them,
and Cleaner.apply executes them, so what a check run shows is what a real run does.

A V(mismatched) consumer (an instance whose allocation differs from its flavor) is not trimmed but
rewritten whole: the allocation placement_flavor.judge planned (action ``repaired``), through the same
backup, cap, generation and re-judgement after a conflict.
"""

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement_backup
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, UnsafeToProceed
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement import (
    CONSUMER_GENERATIONS,
    CONSUMER_TYPES,
    consumer_path,
    retry_on_conflict,
)
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement_classify import (
    MISMATCHED,
    Classifier,
)


def plan_clean(audit_result, classes, only_consumers=None):
    """{consumer: {provider uuid: classification}} of the allocations to remove (or, all V(mismatched), to
    rewrite); a mismatched consumer the repair cannot place is left out (unrepairable lists it)."""
    plan = {}
    for consumer in audit_result['consumers']:
        if only_consumers is not None and consumer['uuid'] not in only_consumers:
            continue
        remove = {a['provider_uuid']: a['classification'] for a in consumer['allocations']
                  if a['classification'] in classes}
        if MISMATCHED in remove.values() and (consumer.get('mismatch') or {}).get('target') is None:
            continue
        if remove:
            plan[consumer['uuid']] = remove
    return plan


def unrepairable(audit_result, classes, only_consumers=None):
    """The V(mismatched) consumers a repair of ``classes`` leaves alone, with the reason."""
    if MISMATCHED not in classes:
        return []
    return [dict(consumer_uuid=consumer['uuid'], reason=consumer['mismatch']['unrepairable'])
            for consumer in audit_result['consumers']
            if (only_consumers is None or consumer['uuid'] in only_consumers)
            and (consumer.get('mismatch') or {}).get('unrepairable')]


def held_allocations(audit_result):
    """{consumer: {provider uuid: resources}}: every allocation of the audit's consumers, as it was read."""
    return {consumer['uuid']: {a['provider_uuid']: a['resources'] for a in consumer['allocations']}
            for consumer in audit_result['consumers']}


def plan_changes(audit_result, plan):
    """The change record of each consumer of ``plan`` (plan_clean), from the allocations the audit read.

    This list is what check mode returns and what Cleaner.apply executes; apply returns the same records
    with the attempts made, re-planned from Placement's answer when a consumer changed since the audit.
    """
    held = held_allocations(audit_result)
    mismatches = {consumer['uuid']: consumer.get('mismatch') for consumer in audit_result['consumers']}
    return [repair_record(consumer, held[consumer], mismatches[consumer]) if MISMATCHED in remove.values()
            else change_record(consumer, held[consumer], remove) for consumer, remove in sorted(plan.items())]


def change_record(consumer, held, remove, attempts=0):
    """What removing ``remove`` ({provider: classification}) from the ``held`` allocations does to a consumer."""
    keep = {provider: resources for provider, resources in held.items() if provider not in remove}
    return dict(consumer_uuid=consumer, attempts=attempts,
                action='trimmed' if keep else 'deleted',
                removed={provider: dict(resources=held[provider], classification=classification)
                         for provider, classification in sorted(remove.items())},
                kept=keep)


# What a repair record says of the mismatch it repairs.
MISMATCH_FIELDS = ('flavor', 'host', 'node', 'expected', 'missing', 'wrong_amount', 'unexpected', 'wrong_provider')


def repair_record(consumer, held, mismatch, attempts=0):
    """What writing the allocation ``mismatch`` planned (its ``target``) does to a consumer holding ``held``:
    ``removed`` the previous allocation of each provider that changes, ``kept`` the whole allocation after."""
    target = mismatch['target']
    return dict(consumer_uuid=consumer, attempts=attempts, action='repaired',
                removed={provider: dict(resources=resources, classification=MISMATCHED)
                         for provider, resources in sorted(held.items()) if target.get(provider) != resources},
                kept=target, before=held,
                mismatch={key: mismatch[key] for key in MISMATCH_FIELDS})


def _removals(change):
    """{provider: classification} a change record removes."""
    return {provider: removed['classification'] for provider, removed in change['removed'].items()}


def _flatten(allocations):
    return {provider: body['resources'] for provider, body in (allocations or {}).items()}


def require_safe_writes(client, action):
    """Refuse ``action`` (a write) on a Placement without consumer generations, before anything is read or written.

    Below microversion 1.28 a PUT /allocations/{consumer} carries no generation: Placement cannot tell that Nova
    (or anyone) changed the consumer since it was read, and the write would replace their allocations silently.
    """
    if client.at_least(CONSUMER_GENERATIONS):
        return
    version = client.negotiate()
    raise UnsafeToProceed(
        f"action={action} is refused: this Placement serves microversions up to {version['max_version']} "
        f"({version['release']}), and a write is generation-safe only with consumer generations "
        f"(microversion {CONSUMER_GENERATIONS}, Rocky or later); without them it could overwrite what Nova wrote "
        f"meanwhile. Nothing was read or changed; action=audit and action=fit work on this Placement.",
        microversion=version)


# How Placement names a consumer written without a type. Nova's scheduler claims below microversion 1.38, so every
# instance it placed reads back as 'unknown' -- a name a write refuses.
UNTYPED = 'unknown'
# The last microversion without consumer types (and with consumer generations): the one an untyped consumer is
# written at, so that it keeps no type, as Nova left it.
UNTYPED_WRITES = '1.37'


def _put(client, consumer, current, allocations):
    body = dict(
        allocations={provider: {'resources': resources} for provider, resources in allocations.items()},
        consumer_generation=current.get('consumer_generation'), project_id=current.get('project_id'),
        user_id=current.get('user_id'))
    microversion = client.microversion
    if client.at_least(CONSUMER_TYPES):
        if current.get('consumer_type') in (None, UNTYPED):
            microversion = UNTYPED_WRITES
        else:
            body['consumer_type'] = current['consumer_type']
    client.put(consumer_path(consumer), body, microversion)


def _retrying(first, reread, write, retries):
    """write(read, attempt) on ``first``, then on reread() after each generation conflict (retry_on_conflict).

    ``first`` is the read made just before (the one backed up), so the first write carries its generation
    and the backup holds exactly what that write replaces.
    """
    reads = []

    def attempt():
        reads.append(reread() if reads else first)
        return write(reads[-1], len(reads))
    return retry_on_conflict(attempt, retries)


class Cleaner:
    """Removes planned allocations; reclassify(consumer, allocations) re-decides after a conflict."""

    def __init__(self, client, classes, reclassify, backup_dir, retries=3, rejudge=None):
        self.client = client
        self.classes = classes
        self.reclassify = reclassify
        self.rejudge = rejudge      # rejudge(consumer, allocations): the mismatch (judgement) now, for a repair
        self.backup_dir = backup_dir
        self.retries = retries
        self.backups = []

    def read(self, consumer):
        return self.client.get(consumer_path(consumer), self.client.microversion)

    def apply(self, changes):
        """Back up every planned consumer, then trim each; returns the change records of what was done.

        ``changes`` are the records plan_changes made (what check mode returns).
        """
        changes = sorted(changes, key=lambda change: change['consumer_uuid'])
        current = {change['consumer_uuid']: self.read(change['consumer_uuid']) for change in changes}
        self._backup(current)
        done = []
        for change in changes:
            record = self._clean_one(change, current[change['consumer_uuid']])
            if record:
                done.append(record)
        return done

    def _backup(self, allocations):
        path, digest = placement_backup.write(
            self.backup_dir, {consumer: placement_backup.snapshot(body) for consumer, body in allocations.items()})
        self.backups.append(dict(path=path, checksum=digest, consumers=len(allocations)))

    def _clean_one(self, change, current):
        """The change made to one consumer, or None when nothing planned is left to remove."""
        if change['action'] == 'repaired':
            return self._repair_one(change, current)
        consumer = change['consumer_uuid']

        def reread():
            fresh = self.read(consumer)
            self._backup({consumer: fresh})
            return fresh, self.reclassify(consumer, _flatten(fresh.get('allocations')))

        def write(read, attempt):
            fresh, remove = read
            held = _flatten(fresh.get('allocations'))
            remove = {provider: classification for provider, classification in remove.items() if provider in held}
            if not remove:
                return None
            record = change_record(consumer, held, remove, attempt)
            _put(self.client, consumer, fresh, record['kept'])
            return record
        return _retrying((current, _removals(change)), reread, write, self.retries)

    def _repair_one(self, change, current):
        """The repair made to one consumer, or None when it needs none (or no safe one) any more.

        The planned allocation is written when the consumer still holds what the audit read; otherwise (and
        after a conflict) it is judged again on what it holds now, with Nova read again.
        """
        consumer = change['consumer_uuid']

        def reread():
            fresh = self.read(consumer)
            self._backup({consumer: fresh})
            return fresh

        def write(fresh, attempt):
            held = _flatten(fresh.get('allocations'))
            if attempt == 1 and held == change['before']:
                target = change['kept']
                mismatch = dict(change['mismatch'], target=target)
            else:
                mismatch = self.rejudge(consumer, held) if self.rejudge else None
                if mismatch is None or mismatch['target'] is None:
                    return None
            record = repair_record(consumer, held, mismatch, attempt)
            _put(self.client, consumer, fresh, mismatch['target'])
            return record
        return _retrying(current, reread, write, self.retries)


def rejudger(placement_state, nova, grace_period):
    """A function that re-reads Nova for one consumer and judges ``allocations`` against its flavor again:
    the mismatch (with the allocation to write), or None when it matches, is no settled instance any more, or
    holds an allocation on a provider the audit did not read (not verified, not touched)."""
    def rejudge(consumer, allocations):
        if any(provider not in placement_state.providers for provider in allocations):
            return None
        classifier = Classifier(placement_state, nova.read([consumer]), grace_period, held={consumer: allocations})
        return classifier.mismatch(consumer)
    return rejudge


def reclassifier(placement_state, nova, grace_period, classes):
    """A function that re-reads Nova for one consumer and says which of its allocations to remove.

    ``nova`` is a placement_nova_state.NovaSource: where Nova is read, not how.
    """
    def reclassify(consumer, allocations):
        classifier = Classifier(placement_state, nova.read([consumer]), grace_period)
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
        return self.client.get(consumer_path(consumer), self.client.microversion)

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
        """How many writes restoring one consumer took, or None when it already holds the backup's allocations."""
        wanted = _flatten(snapshot['allocations'])

        def write(fresh, attempt):
            if _flatten(fresh.get('allocations')) == wanted:
                return None
            body = dict(fresh, project_id=snapshot['project_id'] or fresh.get('project_id'),
                        user_id=snapshot['user_id'] or fresh.get('user_id'),
                        consumer_type=snapshot.get('consumer_type') or fresh.get('consumer_type'))
            _put(self.client, consumer, body, wanted)
            return attempt
        return _retrying(current, lambda: self.read(consumer), write, self.retries)

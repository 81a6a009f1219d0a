# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""placement_clean: the plan, its change records, and generation-safe writes against a fake Placement."""

import json

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement_classify, placement_clean
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, UnsafeToProceed
from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.module_utils.placement_fakes import Negotiated

CLEANABLE = placement_classify.CLEANABLE


def test_plan_clean_takes_only_the_chosen_classes_and_consumers():
    audit = dict(consumers=[
        dict(uuid='a', allocations=[dict(provider_uuid='cn1', classification='stale_source'),
                                    dict(provider_uuid='cn2', classification='active')]),
        dict(uuid='b', allocations=[dict(provider_uuid='cn1', classification='orphan')]),
        dict(uuid='c', allocations=[dict(provider_uuid='cn1', classification='building')]),
    ])
    assert placement_clean.plan_clean(audit, CLEANABLE) == {
        'a': {'cn1': 'stale_source'}, 'b': {'cn1': 'orphan'}}
    assert placement_clean.plan_clean(audit, ['orphan'], only_consumers={'a'}) == {}
    with pytest.raises(UnsafeToProceed, match='would change 2 consumers, more than max_changes=1'):
        placement_clean.enforce_cap({'a': {}, 'b': {}}, 1)


def allocation(**resources_by_provider):
    return dict(allocations={rp: {'resources': resources} for rp, resources in resources_by_provider.items()},
                consumer_generation=1, project_id='p', user_id='u', consumer_type='INSTANCE')


class FakePlacement(Negotiated):
    """Placement holding consumers' allocations; conflicts[consumer] PUTs answer a generation conflict first."""

    def __init__(self, consumers, conflicts=None):
        self.consumers = consumers
        self.conflicts = dict(conflicts or {})
        self.puts = []

    def get(self, path, microversion, params=None):
        return json.loads(json.dumps(self.consumers[path.rsplit('/', 1)[1]]))

    def put(self, path, body, microversion):
        consumer = path.rsplit('/', 1)[1]
        self.puts.append((consumer, body))
        if self.conflicts.get(consumer):
            self.conflicts[consumer] -= 1
            self.consumers[consumer]['consumer_generation'] += 1
            raise ApiError('conflict', status=409, body='', codes=['placement.concurrent_update'])
        self.consumers[consumer]['allocations'] = body['allocations']


def audit_of(placement, classifications):
    """The audit's consumers as they read from ``placement``, classified per provider."""
    return dict(consumers=[
        dict(uuid=consumer, allocations=[
            dict(provider_uuid=rp, classification=classifications[consumer].get(rp, 'active'),
                 resources=body['resources'])
            for rp, body in placement.consumers[consumer]['allocations'].items()])
        for consumer in sorted(classifications)])


def test_check_mode_returns_the_change_records_that_apply_executes(tmp_path):
    placement = FakePlacement({'a': allocation(cn1={'VCPU': 1}, cn2={'VCPU': 1}), 'b': allocation(cn1={'VCPU': 2})})
    audit = audit_of(placement, {'a': {'cn1': 'stale_source'}, 'b': {'cn1': 'orphan'}})
    changes = placement_clean.plan_changes(audit, placement_clean.plan_clean(audit, CLEANABLE))

    assert changes == [
        dict(consumer_uuid='a', attempts=0, action='trimmed',
             removed={'cn1': dict(resources={'VCPU': 1}, classification='stale_source')}, kept={'cn2': {'VCPU': 1}}),
        dict(consumer_uuid='b', attempts=0, action='deleted',
             removed={'cn1': dict(resources={'VCPU': 2}, classification='orphan')}, kept={})]

    cleaner = placement_clean.Cleaner(placement, CLEANABLE, lambda consumer, held: {}, str(tmp_path))
    done = cleaner.apply(changes)

    assert done == [dict(change, attempts=1) for change in changes]
    assert [(consumer, body['allocations']) for consumer, body in placement.puts] == [
        ('a', {'cn2': {'resources': {'VCPU': 1}}}), ('b', {})]
    assert [backup['consumers'] for backup in cleaner.backups] == [2]


class ConflictOnce(Negotiated):
    """Placement that answers the first PUT with a generation conflict."""

    def __init__(self):
        self.allocation = dict(allocations={'cn1': {'resources': {'VCPU': 1}}, 'cn2': {'resources': {'VCPU': 1}}},
                               consumer_generation=1, project_id='p', user_id='u', consumer_type='INSTANCE')
        self.puts = []

    def get(self, path, microversion, params=None):
        return json.loads(json.dumps(self.allocation))

    def put(self, path, body, microversion):
        self.puts.append(body)
        if len(self.puts) == 1:
            self.allocation['consumer_generation'] = 2
            raise ApiError('conflict', status=409, body='', codes=['placement.concurrent_update'])
        self.allocation['allocations'] = body['allocations']


def planned(consumer, remove):
    """The change record the plan makes for ConflictOnce's consumer."""
    return placement_clean.change_record(consumer, {'cn1': {'VCPU': 1}, 'cn2': {'VCPU': 1}}, remove)


def test_a_generation_conflict_is_re_read_re_classified_and_retried(tmp_path):
    client = ConflictOnce()
    decided = []

    def reclassify(consumer, allocations):
        decided.append(sorted(allocations))
        return {'cn2': 'stale_source'}   # after the re-read, a different part is stale

    cleaner = placement_clean.Cleaner(client, placement_classify.CLEANABLE, reclassify, str(tmp_path))
    [change] = cleaner.apply([planned('a', {'cn1': 'stale_source'})])

    assert [put['consumer_generation'] for put in client.puts] == [1, 2]
    assert decided == [['cn1', 'cn2']]
    assert change['attempts'] == 2 and set(change['removed']) == {'cn2'}
    assert client.allocation['allocations'] == {'cn1': {'resources': {'VCPU': 1}}}
    assert len(cleaner.backups) == 2


def test_conflicts_stop_after_the_retries():
    client = ConflictOnce()

    def always_conflict(path, body, microversion):
        raise ApiError('conflict', status=409, body='', codes=['placement.concurrent_update'])

    client.put = always_conflict
    cleaner = placement_clean.Cleaner(client, placement_classify.CLEANABLE, lambda c, a: {'cn1': 'orphan'},
                                      '/nonexistent/never', retries=0)
    cleaner._backup = lambda allocations: None
    with pytest.raises(ApiError):
        cleaner.apply([planned('a', {'cn1': 'orphan'})])


def test_a_consumer_whose_planned_part_is_gone_is_left_alone(tmp_path):
    client = FakePlacement({'a': allocation(cn2={'VCPU': 1})})
    cleaner = placement_clean.Cleaner(client, CLEANABLE, lambda c, a: {}, str(tmp_path))

    assert cleaner.apply([placement_clean.change_record('a', {'cn1': {'VCPU': 1}}, {'cn1': 'orphan'})]) == []
    assert client.puts == [] and len(cleaner.backups) == 1


def test_a_restore_retries_a_conflict_and_skips_a_consumer_already_back():
    saved = {'a': allocation(cn1={'VCPU': 1}), 'b': allocation(cn1={'VCPU': 2})}
    client = FakePlacement({'a': allocation(), 'b': allocation()}, conflicts={'a': 1})
    restorer = placement_clean.Restorer(client)
    plan = restorer.plan(saved)
    client.consumers['b']['allocations'] = saved['b']['allocations']     # put back by someone else meanwhile
    client.conflicts['b'] = 1

    restored, failed = restorer.apply(plan)

    assert restored == [dict(consumer_uuid='a', attempts=2)] and failed == []
    assert client.consumers['a']['allocations'] == saved['a']['allocations']
    assert [consumer for consumer, _body in client.puts] == ['a', 'a', 'b']


def clean_the_orphan(placement, tmp_path):
    """Clean consumer b, an orphan on cn1; returns (the microversions of the writes, the body written)."""
    calls = []
    put = placement.put
    placement.put = lambda path, body, microversion: calls.append(microversion) or put(path, body, microversion)
    audit = audit_of(placement, {'b': {'cn1': 'orphan'}})
    placement_clean.Cleaner(placement, CLEANABLE, lambda c, a: {}, str(tmp_path)).apply(
        placement_clean.plan_changes(audit, placement_clean.plan_clean(audit, CLEANABLE)))
    [(_consumer, body)] = placement.puts
    return calls, body


@pytest.mark.parametrize('max_version, consumer_type', [('1.39', 'INSTANCE'), ('1.38', 'INSTANCE'), ('1.36', None),
                                                        ('1.28', None)])
def test_writes_use_the_negotiated_microversion_and_send_consumer_type_only_where_it_exists(
        tmp_path, max_version, consumer_type):
    placement = FakePlacement({'b': allocation(cn1={'VCPU': 2})})
    placement.max_version = max_version

    calls, body = clean_the_orphan(placement, tmp_path)

    assert calls == [min('1.38', max_version)]
    assert body.get('consumer_type') == consumer_type and body['consumer_generation'] == 1


@pytest.mark.parametrize('consumer_type', ['unknown', None])
def test_an_untyped_consumer_is_written_without_a_type_at_the_last_microversion_before_types(tmp_path, consumer_type):
    # What Nova's scheduler leaves: it claims below 1.38, and Placement reads such a consumer back as 'unknown',
    # which a write at 1.38 refuses (HTTP 400, seen on the cloud lab).
    placement = FakePlacement({'b': dict(allocation(cn1={'VCPU': 2}), consumer_type=consumer_type)})

    calls, body = clean_the_orphan(placement, tmp_path)

    assert calls == ['1.37'] and 'consumer_type' not in body and body['consumer_generation'] == 1


@pytest.mark.parametrize('max_version, release', [('1.27', 'Rocky'), ('1.17', 'Queens'), ('1.10', 'Pike')])
def test_a_write_is_refused_without_consumer_generations(max_version, release):
    client = FakePlacement({})
    client.max_version = max_version
    with pytest.raises(UnsafeToProceed) as raised:
        placement_clean.require_safe_writes(client, 'clean')
    assert raised.value.msg.startswith(
        f'action=clean is refused: this Placement serves microversions up to {max_version} ({release}), and a write '
        'is generation-safe only with consumer generations (microversion 1.28, Rocky or later)')
    assert 'action=audit and action=fit work on this Placement' in raised.value.msg
    client.max_version = '1.28'
    placement_clean.require_safe_writes(client, 'clean')


WANTED = {'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 10}


def mismatch(target, **details):
    base = dict(flavor='m1.small', host='compute2', node='compute2', expected=WANTED, missing={}, wrong_amount={},
                unexpected={}, wrong_provider={}, target=target, unrepairable=None)
    return dict(base, **details)


def mismatched_audit(placement, mismatches):
    audit = audit_of(placement, {consumer: dict.fromkeys(placement.consumers[consumer]['allocations'], 'mismatched')
                                 for consumer in mismatches})
    for consumer in audit['consumers']:
        consumer['mismatch'] = mismatches[consumer['uuid']]
    return audit


def test_a_mismatched_consumer_is_repaired_only_when_named_and_only_when_its_place_is_known(tmp_path):
    placement = FakePlacement({'wrong': allocation(cn1=WANTED), 'short': allocation(cn2={'VCPU': 1}),
                               'split': allocation(cn2={'DISK_GB': 1}, nfs={'DISK_GB': 1})})
    audit = mismatched_audit(placement, {
        'wrong': mismatch({'cn2': WANTED}, missing=WANTED, wrong_provider={'cn1': WANTED}),
        'short': mismatch({'cn2': WANTED}, missing={'MEMORY_MB': 1024, 'DISK_GB': 10}),
        'split': mismatch(None, unrepairable='DISK_GB is split over 2 providers')})

    assert placement_clean.plan_clean(audit, CLEANABLE) == {}          # the default clean leaves them alone
    classes = CLEANABLE + placement_classify.REPAIRABLE
    plan = placement_clean.plan_clean(audit, classes)
    assert sorted(plan) == ['short', 'wrong']
    assert placement_clean.unrepairable(audit, classes) == [
        dict(consumer_uuid='split', reason='DISK_GB is split over 2 providers')]
    changes = placement_clean.plan_changes(audit, plan)
    assert [(c['consumer_uuid'], c['action'], c['kept'], sorted(c['removed'])) for c in changes] == [
        ('short', 'repaired', {'cn2': WANTED}, ['cn2']), ('wrong', 'repaired', {'cn2': WANTED}, ['cn1'])]
    assert changes[1]['before'] == {'cn1': WANTED} and changes[1]['mismatch']['wrong_provider'] == {'cn1': WANTED}

    cleaner = placement_clean.Cleaner(placement, classes, lambda c, a: {}, str(tmp_path),
                                      rejudge=lambda c, a: pytest.fail('nothing changed since the audit'))
    done = cleaner.apply(changes)
    assert done == [dict(change, attempts=1) for change in changes]
    assert {c: placement.consumers[c]['allocations'] for c in ('short', 'wrong')} == {
        'short': {'cn2': {'resources': WANTED}}, 'wrong': {'cn2': {'resources': WANTED}}}
    assert [body['consumer_generation'] for _c, body in placement.puts] == [1, 1]
    assert [backup['consumers'] for backup in cleaner.backups] == [2]


def test_a_repair_is_judged_again_when_the_consumer_changed_since_the_audit_or_on_a_conflict(tmp_path):
    placement = FakePlacement({'a': allocation(cn2={'VCPU': 1, 'MEMORY_MB': 1024})}, conflicts={'a': 1})
    audit = mismatched_audit(placement, {'a': mismatch({'cn2': WANTED}, missing={'DISK_GB': 10})})
    changes = placement_clean.plan_changes(audit, placement_clean.plan_clean(audit, ['mismatched']))
    placement.consumers['a']['allocations'] = {'cn2': {'resources': {'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 10}},
                                               'cn1': {'resources': {'VCPU': 1}}}
    judged = []

    def rejudge(consumer, held):
        judged.append(held)
        return mismatch({'cn2': WANTED}, wrong_provider={'cn1': {'VCPU': 1}})

    cleaner = placement_clean.Cleaner(placement, ['mismatched'], lambda c, a: {}, str(tmp_path), rejudge=rejudge)
    [done] = cleaner.apply(changes)
    assert done['attempts'] == 2 and len(judged) == 2 and sorted(done['removed']) == ['cn1']
    assert placement.consumers['a']['allocations'] == {'cn2': {'resources': WANTED}}
    assert len(cleaner.backups) == 2

    # Matching by now (someone else repaired it): nothing is written.
    placement = FakePlacement({'a': allocation(cn2=WANTED)})
    cleaner = placement_clean.Cleaner(placement, ['mismatched'], lambda c, a: {}, str(tmp_path),
                                      rejudge=lambda c, a: None)
    assert cleaner.apply(changes) == [] and placement.puts == []


def test_rejudge_reads_nova_again_and_leaves_a_provider_the_audit_did_not_read_alone():
    from ansible_collections.openstack_ops.runbooks.tests.unit.plugins.module_utils.test_placement_classify import (
        flavored,
    )
    placement_state, nova = flavored({'cn2': {'VCPU': 1}})
    reads = []

    class Source:
        def read(self, consumers):
            reads.append(consumers)
            return nova

    rejudge = placement_clean.rejudger(placement_state, Source(), 3600)
    assert rejudge('i', {'cn2': {'VCPU': 1}, 'new-provider': {'DISK_GB': 10}}) is None and reads == []
    assert rejudge('i', {'cn2': WANTED}) is None
    assert rejudge('i', {'cn1': WANTED})['target'] == {'cn2': WANTED} and reads == [['i'], ['i']]

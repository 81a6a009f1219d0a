# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fit check: which providers can take a resource request, and why the others cannot.

Placement's /allocation_candidates decides who fits; the explanation for every
other provider tree is worked out from its inventories and usage, class by class.
"""

import re

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement import (
    ALLOCATION_CANDIDATES,
    MICROVERSION,
    RESOURCE_PROVIDERS,
)

_RESOURCE = re.compile(r'^\s*([A-Z][A-Z0-9_]*)\s*[:=]\s*(\d+)\s*$')
_TRAIT = re.compile(r'^[A-Z][A-Z0-9_]*$')


def parse_resources(text):
    """'VCPU:1,MEMORY_MB:1024,DISK_GB:10' (or a dict) -> {class: amount}."""
    if isinstance(text, dict):
        items = [f'{key}:{value}' for key, value in text.items()]
    else:
        items = [item for item in str(text).split(',') if item.strip()]
    resources = {}
    for item in items:
        match = _RESOURCE.match(item)
        if not match:
            raise OpsError(f'Invalid resource request {item.strip()!r}: expected CLASS:AMOUNT such as MEMORY_MB:1024')
        resources[match.group(1)] = resources.get(match.group(1), 0) + int(match.group(2))
    resources = {name: amount for name, amount in resources.items() if amount}
    if not resources:
        raise OpsError('The resource request asks for nothing: give at least one CLASS:AMOUNT above zero')
    return resources


def check_traits(traits):
    bad = [trait for trait in traits if not _TRAIT.match(trait)]
    if bad:
        raise OpsError(f"Invalid trait name(s): {', '.join(bad)}")
    return list(traits)


def flavor_request(nova_db, name):
    """The resources and required traits Nova asks Placement for when booting flavor ``name``."""
    rows = nova_db.query('SELECT id, vcpus, memory_mb, root_gb, ephemeral_gb, swap FROM flavors WHERE name = %s',
                         (name,))
    if not rows:
        raise OpsError(f'Unknown flavor {name!r} in the nova_api database')
    flavor = rows[0]
    resources = dict(VCPU=flavor['vcpus'], MEMORY_MB=flavor['memory_mb'],
                     DISK_GB=flavor['root_gb'] + flavor['ephemeral_gb'] + (flavor['swap'] + 1023) // 1024)
    traits = []
    for spec in nova_db.query('SELECT `key`, value FROM flavor_extra_specs WHERE flavor_id = %s', (flavor['id'],)):
        key, value = spec['key'], spec['value']
        if key.startswith('resources:'):
            resources[key.split(':', 1)[1]] = int(value)
        elif key.startswith('trait:') and value == 'required':
            traits.append(key.split(':', 1)[1])
        elif key == 'hw:cpu_policy' and value == 'dedicated':
            resources['PCPU'] = resources.pop('VCPU')
    return {name: amount for name, amount in resources.items() if amount}, traits


def fit(client, state, resources, required_traits):
    """The fit report of ``resources`` (+ traits) against every provider tree in ``state``."""
    params = {'resources': ','.join(f'{name}:{amount}' for name, amount in sorted(resources.items()))}
    if required_traits:
        params['required'] = ','.join(required_traits)
    answer = client.get(ALLOCATION_CANDIDATES, MICROVERSION, params=params)
    placed_on = set()
    for request in answer['allocation_requests']:
        placed_on.update(request['allocations'])
    with_traits = None
    if required_traits:
        with_traits = {rp['uuid'] for rp in client.get(
            RESOURCE_PROVIDERS, MICROVERSION, params={'required': ','.join(required_traits)})['resource_providers']}

    trees = {}
    for uuid, provider in state.providers.items():
        trees.setdefault(provider['root_provider_uuid'], []).append(uuid)
    candidates, blocked = [], []
    for root, members in sorted(trees.items(), key=lambda item: state.providers[item[0]]['name']
                                if item[0] in state.providers else item[0]):
        name = state.providers[root]['name'] if root in state.providers else root
        if root in state.sharing and not set(members) & placed_on:
            continue
        reasons = _tree_reasons(state, members, resources, with_traits, required_traits)
        entry = dict(uuid=root, name=name, fits=_how_many(state, members, resources))
        if set(members) & placed_on:
            candidates.append(entry)
        elif reasons:
            blocked.append(dict(entry, fits=0, reasons=reasons))
        else:
            blocked.append(dict(entry, fits=0, reasons=[dict(
                resource_class=None, reason='Placement offers no candidate here although every class has room: '
                                            'a sharing provider, aggregate or trait rule outside this check decides')]))
    return dict(
        request=dict(resources=resources, required_traits=list(required_traits)),
        fits=bool(candidates),
        candidates=candidates,
        blocked=blocked,
        total_fits=sum(candidate['fits'] for candidate in candidates),
    )


def _limits(inventory_report, amount):
    """Why one provider's inventory of a class cannot take ``amount``, or None."""
    inv = inventory_report
    if amount > inv['max_unit']:
        return f"asks {amount}, more than max_unit {inv['max_unit']}"
    if amount < inv['min_unit']:
        return f"asks {amount}, less than min_unit {inv['min_unit']}"
    if amount % inv['step_size']:
        return f"asks {amount}, not a multiple of step_size {inv['step_size']}"
    if amount > inv['free']:
        return (f"asks {amount}, only {max(inv['free'], 0)} free: capacity {inv['capacity']} = "
                f"({inv['total']} - reserved {inv['reserved']}) * allocation_ratio {inv['allocation_ratio']}, "
                f"used {inv['used']}")
    return None


def _tree_reasons(state, members, resources, with_traits, required_traits):
    reasons = []
    if with_traits is not None and not set(members) & with_traits:
        reasons.append(dict(resource_class=None,
                            reason=f"no provider in the tree has the trait(s) {', '.join(required_traits)}"))
    for resource_class, amount in sorted(resources.items()):
        offers = [(uuid, state.inventory_report(uuid)[resource_class]) for uuid in members
                  if resource_class in state.providers[uuid]['inventories']]
        if not offers:
            shared = any(resource_class in state.providers[uuid]['inventories'] for uuid in state.sharing)
            reasons.append(dict(resource_class=resource_class, requested=amount,
                                reason=f'no inventory of {resource_class} in the tree'
                                       + (' (a sharing provider may supply it)' if shared else '')))
            continue
        problems = [(uuid, inv, _limits(inv, amount)) for uuid, inv in offers]
        if all(problem for _uuid, _inv, problem in problems):
            uuid, inv, problem = max(problems, key=lambda item: item[1]['free'])
            reasons.append(dict(
                resource_class=resource_class, provider_uuid=uuid, provider_name=state.providers[uuid]['name'],
                requested=amount, capacity=inv['capacity'], used=inv['used'], free=inv['free'],
                reserved=inv['reserved'], allocation_ratio=inv['allocation_ratio'],
                max_unit=inv['max_unit'], min_unit=inv['min_unit'], step_size=inv['step_size'],
                shortfall=max(amount - inv['free'], 0), reason=f'{resource_class}: {problem}'))
    return reasons


def _how_many(state, members, resources):
    """How many copies of the request fit in a tree, class by class (the smallest wins)."""
    counts = []
    for resource_class, amount in resources.items():
        best = 0
        for uuid in members:
            if resource_class in state.providers[uuid]['inventories']:
                inv = state.inventory_report(uuid)[resource_class]
                if _limits(inv, amount) is None:
                    best = max(best, inv['free'] // amount)
        counts.append(best)
    return min(counts) if counts else 0

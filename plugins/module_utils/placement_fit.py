# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fit check: which hosts can take a resource request, how many times, and why the others cannot.

Placement's /allocation_candidates decides which hosts fit. Each host is the tree of a provider that is not a
sharing provider; the sharing providers (MISC_SHARES_VIA_AGGREGATE) in an aggregate with any provider of the
tree serve it too and are never hosts of their own. The count and the reasons are worked out here the way
Placement assembles a candidate:

* the unnumbered group takes each resource class from one provider of the tree or of a sharing provider that
  serves it; those providers together must have its required traits, none of them a forbidden one;
  ``member_of`` wants each provider (or its root; a sharing provider itself) in one of the aggregates of each list;
* each numbered (granular) group takes all its resources from one provider, which has the group's required
  traits and none of its forbidden ones (and is itself in its ``member_of`` aggregates);
* ``group_policy: isolate`` puts the numbered groups on different providers;
* below microversion 1.29 one candidate uses at most one provider of a tree.
"""

import re

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement import (
    ALLOCATION_CANDIDATES,
    RESOURCE_PROVIDERS,
    provider_path,
)
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.placement_state import (
    capacity,
    sharing_providers,
)

_RESOURCE = re.compile(r'^\s*([A-Z][A-Z0-9_]*)\s*[:=]\s*(\d+)\s*$')
_TRAIT = re.compile(r'^[A-Z][A-Z0-9_]*$')
_UUID = re.compile(r'^[0-9a-fA-F-]{32,36}$')
_GROUP_SPEC = re.compile(r'^(resources|trait)([A-Za-z0-9_-]*):(.+)$')
UNNUMBERED = ''
# How many rounds of placing copies one host may take before the count stops (each round places as many
# copies of one assignment as fit at once, so this bounds the work, not the count).
_ROUNDS = 10000

# The microversion each part of a request needs.
FEATURES = dict(required='1.17', member_of='1.21', forbidden='1.22', member_of_repeated='1.24', granular='1.25',
                string_suffix='1.33', nested='1.29')


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


def parse_member_of(values):
    """['agg1', 'in:agg2,agg3'] -> [['agg1'], ['agg2', 'agg3']]: each list is one aggregate of which to be in."""
    result = []
    for value in values or ():
        text = value[3:] if value.startswith('in:') else value
        aggregates = [item.strip() for item in text.split(',') if item.strip()]
        bad = [item for item in aggregates if not _UUID.match(item)]
        if bad or not aggregates:
            raise OpsError(f"Invalid member_of {value!r}: expected an aggregate UUID or in:UUID,UUID")
        result.append(aggregates)
    return result


def group(resources=None, required=(), forbidden=(), member_of=()):
    return dict(resources=dict(resources or {}), required=list(required), forbidden=list(forbidden),
                member_of=[list(aggregates) for aggregates in member_of])


def make_request(resources, required=(), forbidden=(), member_of=(), groups=None, group_policy=None):
    """The fit request: the unnumbered group, numbered groups {suffix: group} and group_policy."""
    request = dict(groups={UNNUMBERED: group(resources, check_traits(required), check_traits(forbidden), member_of)},
                   group_policy=group_policy)
    for suffix, numbered in sorted((groups or {}).items()):
        request['groups'][suffix] = group(numbered.get('resources'), check_traits(numbered.get('required', ())),
                                          check_traits(numbered.get('forbidden', ())), numbered.get('member_of', ()))
    if not any(g['resources'] for g in request['groups'].values()):
        raise OpsError('The resource request asks for nothing: give at least one CLASS:AMOUNT above zero')
    numbered = [suffix for suffix in request['groups'] if suffix != UNNUMBERED]
    if len(numbered) > 1 and group_policy not in ('none', 'isolate'):
        raise OpsError(f"A request with {len(numbered)} numbered groups needs group_policy none or isolate "
                       "(Placement refuses it without)")
    return request


def flavor_request(nova_db, name):
    """The request Nova makes of Placement to boot flavor ``name``: resources, traits, granular groups, policy."""
    rows = nova_db.query('SELECT id, vcpus, memory_mb, root_gb, ephemeral_gb, swap FROM flavors WHERE name = %s',
                         (name,))
    if not rows:
        raise OpsError(f'Unknown flavor {name!r} in the nova_api database')
    flavor = rows[0]
    resources = dict(VCPU=flavor['vcpus'], MEMORY_MB=flavor['memory_mb'],
                     DISK_GB=flavor['root_gb'] + flavor['ephemeral_gb'] + (flavor['swap'] + 1023) // 1024)
    groups = {}
    traits = {UNNUMBERED: dict(required=[], forbidden=[])}
    group_policy = None
    dedicated = False
    for spec in nova_db.query('SELECT `key`, value FROM flavor_extra_specs WHERE flavor_id = %s', (flavor['id'],)):
        key, value = spec['key'], spec['value']
        match = _GROUP_SPEC.match(key)
        if key == 'group_policy':
            group_policy = value
        elif key == 'hw:cpu_policy' and value == 'dedicated':
            dedicated = True
        elif match:
            kind, suffix, item = match.groups()
            if kind == 'resources':
                target = resources if suffix == '' else groups.setdefault(suffix, {}).setdefault('resources', {})
                target[item] = int(value)
            elif value in ('required', 'forbidden'):
                traits.setdefault(suffix, dict(required=[], forbidden=[]))[value].append(item)
    if dedicated and 'VCPU' in resources:
        resources['PCPU'] = resources.pop('VCPU')
    for suffix, named in traits.items():
        if suffix != UNNUMBERED:
            groups.setdefault(suffix, {}).update(named)
    groups = {suffix: dict(g, resources={k: v for k, v in g.get('resources', {}).items() if v})
              for suffix, g in groups.items()}
    return make_request({k: v for k, v in resources.items() if v}, traits[UNNUMBERED]['required'],
                        traits[UNNUMBERED]['forbidden'], groups=groups, group_policy=group_policy)


def query(request):
    """GET /allocation_candidates parameters of ``request`` (lists become repeated parameters)."""
    params = {}
    for suffix, g in request['groups'].items():
        if g['resources']:
            params['resources' + suffix] = ','.join(f'{rc}:{amount}' for rc, amount in sorted(g['resources'].items()))
        traits = g['required'] + ['!' + trait for trait in g['forbidden']]
        if traits:
            params['required' + suffix] = ','.join(traits)
        if g['member_of']:
            params['member_of' + suffix] = ['in:' + ','.join(aggregates) for aggregates in g['member_of']]
    if request['group_policy'] and len(request['groups']) > 1:
        params['group_policy'] = request['group_policy']
    return params


def needed_microversion(request):
    """{feature: microversion} of the features of ``request`` that need more than allocation candidates (1.10)."""
    needed = {}
    for suffix, g in request['groups'].items():
        if g['required']:
            needed['required traits'] = FEATURES['required']
        if g['forbidden']:
            needed['forbidden traits'] = FEATURES['forbidden']
        if g['member_of']:
            needed['member_of'] = FEATURES['member_of' if len(g['member_of']) == 1 else 'member_of_repeated']
        if suffix != UNNUMBERED:
            needed['granular request groups'] = FEATURES['string_suffix' if not suffix.isdigit() else 'granular']
    return needed


def _require(client, request):
    missing = {feature: version for feature, version in needed_microversion(request).items()
               if not client.at_least(version)}
    if missing:
        version = client.negotiate()
        raise OpsError(
            f"This Placement serves microversions up to {version['max_version']} ({version['release']}); the request "
            f"uses {', '.join(f'{feature} (microversion {v})' for feature, v in sorted(missing.items()))}, which it "
            'does not know, and Nova of that release would not send', microversion=version)


class _Pool:
    """What the fit check knows of every provider that matters: free capacity, traits, aggregates, sharing."""

    def __init__(self, providers, sharing, anchors, with_trait, in_aggregates, nested_aware=True):
        self.providers = providers          # uuid -> provider (inventories, allocations, root, name)
        self.sharing = sharing              # uuids of sharing providers
        self.anchors = anchors              # sharing uuid -> roots of the trees it serves
        self.with_trait = with_trait        # trait -> uuids of providers that have it
        self.in_aggregates = in_aggregates  # tuple of aggregates -> uuids of providers in any of them
        self.nested_aware = nested_aware
        self.free = {}
        for uuid, provider in providers.items():
            used = {}
            for resources in provider['allocations'].values():
                for rc, amount in resources.items():
                    used[rc] = used.get(rc, 0) + amount
            for rc, inventory in provider['inventories'].items():
                self.free[(uuid, rc)] = capacity(inventory) - used.get(rc, 0)

    def root(self, uuid):
        return self.providers[uuid]['root_provider_uuid']

    def name(self, uuid):
        return self.providers[uuid]['name'] if uuid in self.providers else uuid

    def tree(self, root):
        """The providers of a tree, then the sharing providers that serve it, each in name order."""
        own = sorted((u for u, p in self.providers.items() if p['root_provider_uuid'] == root and u not in self.sharing),
                     key=self.name)
        shared = sorted((u for u in self.sharing if root in self.anchors.get(u, ()) and u in self.providers),
                        key=self.name)
        return own, shared

    def hosts(self):
        """Roots of the trees that are hosts: every root that is not a sharing provider."""
        return sorted({p['root_provider_uuid'] for u, p in self.providers.items()
                       if p['root_provider_uuid'] not in self.sharing and u not in self.sharing}, key=self.name)

    def in_member_of(self, uuid, member_of, by_root):
        """Whether ``uuid`` (or, for the unnumbered group of a provider that is not sharing, its root) is in an
        aggregate of each list."""
        for aggregates in member_of:
            members = self.in_aggregates[tuple(aggregates)]
            if uuid not in members and not (by_root and uuid not in self.sharing and self.root(uuid) in members):
                return False
        return True

    def traits_of(self, uuid):
        return {trait for trait, holders in self.with_trait.items() if uuid in holders}

    def static_problem(self, uuid, rc, amount, g, unnumbered):
        """Why provider ``uuid`` can never give ``amount`` of ``rc`` to group ``g`` (free capacity aside), or None."""
        inventory = self.providers[uuid]['inventories'].get(rc)
        if inventory is None:
            return f'no inventory of {rc}'
        limit = _unit_limits(inventory, amount)
        if limit:
            return limit
        forbidden = sorted(set(g['forbidden']) & self.traits_of(uuid))
        if forbidden:
            return f"has forbidden trait(s) {', '.join(forbidden)}"
        if not unnumbered:
            missing = sorted(set(g['required']) - self.traits_of(uuid))
            if missing:
                return f"lacks trait(s) {', '.join(missing)}"
        if g['member_of'] and not self.in_member_of(uuid, g['member_of'], by_root=unnumbered):
            return 'is in none of the aggregates of member_of'
        return None


def _unit_limits(inventory, amount):
    if amount > inventory['max_unit']:
        return f"asks {amount}, more than max_unit {inventory['max_unit']}"
    if amount < inventory['min_unit']:
        return f"asks {amount}, less than min_unit {inventory['min_unit']}"
    if amount % inventory['step_size']:
        return f"asks {amount}, not a multiple of step_size {inventory['step_size']}"
    return None


class _Host:
    """The choices a request has on one host: per unnumbered class and per numbered group, the providers that
    could ever serve it."""

    def __init__(self, pool, root, request):
        self.pool, self.root, self.request = pool, root, request
        own, shared = pool.tree(root)
        self.providers = own + shared
        self.slots = []      # (suffix, resource class or None for a whole numbered group, resources, choices)
        self.problems = []   # reasons no provider can serve a slot
        for suffix, g in sorted(request['groups'].items()):
            if suffix == UNNUMBERED:
                for rc, amount in sorted(g['resources'].items()):
                    choices = [u for u in self.providers if not pool.static_problem(u, rc, amount, g, True)]
                    self.slots.append((suffix, rc, {rc: amount}, choices))
            elif g['resources']:
                choices = [u for u in self.providers
                           if not any(pool.static_problem(u, rc, amount, g, False) for rc, amount in g['resources'].items())]
                self.slots.append((suffix, None, dict(g['resources']), choices))

    def place(self, free):
        """One assignment {slot index: provider} that fits ``free`` now, or None (depth first, in slot order)."""
        chosen = []
        usage = {}

        def fits(uuid, resources):
            return all(free.get((uuid, rc), 0) - usage.get((uuid, rc), 0) >= amount for rc, amount in resources.items())

        def allowed(uuid, suffix):
            if not self.pool.nested_aware:
                tree = self.pool.root(uuid)
                if any(self.pool.root(other) == tree and other != uuid for other, _s in chosen):
                    return False
            if suffix != UNNUMBERED and self.request['group_policy'] == 'isolate':
                if any(other == uuid and s != UNNUMBERED for other, s in chosen):
                    return False
            return True

        def unnumbered_traits_hold():
            g = self.request['groups'][UNNUMBERED]
            held = set()
            for uuid, suffix in chosen:
                if suffix == UNNUMBERED:
                    held |= self.pool.traits_of(uuid)
            return set(g['required']) <= held

        def search(index):
            if index == len(self.slots):
                return True
            suffix, _rc, resources, choices = self.slots[index]
            last_unnumbered = suffix == UNNUMBERED and (index + 1 == len(self.slots)
                                                        or self.slots[index + 1][0] != UNNUMBERED)
            for uuid in choices:
                if not allowed(uuid, suffix) or not fits(uuid, resources):
                    continue
                chosen.append((uuid, suffix))
                for rc, amount in resources.items():
                    usage[(uuid, rc)] = usage.get((uuid, rc), 0) + amount
                if (not last_unnumbered or unnumbered_traits_hold()) and search(index + 1):
                    return True
                chosen.pop()
                for rc, amount in resources.items():
                    usage[(uuid, rc)] -= amount
            return False

        if not self.request['groups'][UNNUMBERED]['resources'] and self.request['groups'][UNNUMBERED]['required']:
            return None     # traits asked of an unnumbered group without resources: not modelled, Placement decides
        return dict(usage) if search(0) else None

    def count(self, free):
        """How many copies fit, placed one assignment after another; ``free`` is consumed."""
        copies = 0
        for _round in range(_ROUNDS):
            usage = self.place(free)
            if usage is None:
                break
            repeat = min(free[key] // amount for key, amount in usage.items() if amount)
            for key, amount in usage.items():
                free[key] -= amount * repeat
            copies += repeat
        return copies

    def reasons(self):
        """Why no copy fits on this host, as the report lists them."""
        pool, reasons = self.pool, []
        for suffix, rc, resources, choices in self.slots:
            g = self.request['groups'][suffix]
            label = f'{rc}' if suffix == UNNUMBERED else f"group {suffix} ({_describe(resources)})"
            if not choices:
                reasons.append(self._no_choice(suffix, rc, resources, g, label))
                continue
            if not any(all(pool.free.get((u, c), 0) >= a for c, a in resources.items()) for u in choices):
                reasons.append(self._short(suffix, rc, resources, choices, label))
        g = self.request['groups'][UNNUMBERED]
        if g['required']:
            offered = set()
            for u in self.providers:
                offered |= pool.traits_of(u)
            missing = sorted(set(g['required']) - offered)
            if missing:
                reasons.append(dict(resource_class=None, reason=(
                    f"no provider of the tree or sharing with it has the required trait(s) {', '.join(missing)}")))
        numbered = [s for s in self.slots if s[0] != UNNUMBERED]
        if not reasons and self.request['group_policy'] == 'isolate' and len(numbered) > 1:
            distinct = set()
            for _s, _rc, _res, choices in numbered:
                distinct |= set(choices)
            if len(distinct) < len(numbered):
                reasons.append(dict(resource_class=None, reason=(
                    f'group_policy isolate puts the {len(numbered)} numbered groups on different providers, and only '
                    f"{len(distinct)} provider(s) can serve them: {', '.join(sorted(map(pool.name, distinct)))}")))
        if not reasons:
            reasons.append(dict(resource_class=None, reason=(
                'every part of the request finds room on its own, but not all together (the same provider would '
                'have to give more than it has free, or the required traits are on providers that cannot serve)')))
        return reasons

    def _no_choice(self, suffix, rc, resources, g, label):
        pool = self.pool
        offering = [u for u in self.providers if all(c in pool.providers[u]['inventories'] for c in resources)]
        if not offering:
            where = 'a single provider of the tree' if suffix != UNNUMBERED else 'the tree'
            return dict(resource_class=rc, requested=resources.get(rc) if rc else resources,
                        reason=f"{label}: no inventory of {_describe(resources, amounts=False)} in {where} "
                               'or in a sharing provider in an aggregate with it')
        problems = []
        for u in offering:
            why = [pool.static_problem(u, c, a, g, suffix == UNNUMBERED) for c, a in resources.items()]
            problems.append(f"{pool.name(u)} {'; '.join(w for w in why if w)}")
        return dict(resource_class=rc, requested=resources.get(rc) if rc else resources,
                    reason=f"{label}: {'; '.join(problems)}")

    def _short(self, suffix, rc, resources, choices, label):
        pool = self.pool
        c = rc or max(resources, key=lambda k: max(resources[k] - pool.free.get((u, k), 0) for u in choices))
        amount = resources[c]
        uuid = max(choices, key=lambda u: pool.free.get((u, c), 0))
        inv = dict(pool.providers[uuid]['inventories'][c])
        cap = capacity(inv)
        free = pool.free[(uuid, c)]
        reason = dict(
            resource_class=c, provider_uuid=uuid, provider_name=pool.name(uuid), requested=amount, capacity=cap,
            used=cap - free, free=free, reserved=inv['reserved'], allocation_ratio=inv['allocation_ratio'],
            max_unit=inv['max_unit'], min_unit=inv['min_unit'], step_size=inv['step_size'],
            shortfall=max(amount - free, 0),
            reason=(f"{c}: asks {amount}, only {max(free, 0)} free: capacity {cap} = ({inv['total']} - reserved "
                    f"{inv['reserved']}) * allocation_ratio {inv['allocation_ratio']}, used {cap - free}"))
        if suffix != UNNUMBERED:
            reason['reason'] = f'{label}: ' + reason['reason']
        if uuid in pool.sharing:
            reason['reason'] += f' (sharing provider {pool.name(uuid)})'
        return reason


def _describe(resources, amounts=True):
    return ', '.join(f'{rc}:{amount}' if amounts else rc for rc, amount in sorted(resources.items()))


def _read_pool(client, state, request):
    """A _Pool over the state's providers plus the sharing providers that serve them, with what the request
    names: its traits and aggregates."""
    listed = {rp['uuid']: rp for rp in client.get(RESOURCE_PROVIDERS, client.microversion)['resource_providers']}
    sharing = sharing_providers(client, listed)
    providers = dict(state.providers)
    roots = {p['root_provider_uuid'] for p in providers.values()}
    anchors = {}
    for uuid in sharing:
        aggregates = client.get(provider_path(uuid, 'aggregates'), client.microversion)['aggregates']
        served = {listed[uuid].get('root_provider_uuid', uuid)}
        if aggregates:
            served |= {rp.get('root_provider_uuid', rp['uuid']) for rp in client.get(
                RESOURCE_PROVIDERS, client.microversion,
                params={'member_of': 'in:' + ','.join(aggregates)})['resource_providers']}
        anchors[uuid] = served
        if uuid not in providers and served & roots:
            rp = listed[uuid]
            providers[uuid] = dict(
                uuid=uuid, name=rp['name'], generation=rp['generation'],
                parent_provider_uuid=rp.get('parent_provider_uuid'),
                root_provider_uuid=rp.get('root_provider_uuid', uuid),
                inventories=client.get(provider_path(uuid, 'inventories'), client.microversion)['inventories'],
                allocations={consumer: body['resources'] for consumer, body in client.get(
                    provider_path(uuid, 'allocations'), client.microversion)['allocations'].items()})
    traits = set()
    member_of = set()
    for g in request['groups'].values():
        traits |= set(g['required']) | set(g['forbidden'])
        member_of |= {tuple(aggregates) for aggregates in g['member_of']}
    with_trait = {trait: _having(client, trait, providers) for trait in sorted(traits)}
    in_aggregates = {aggregates: {rp['uuid'] for rp in client.get(
        RESOURCE_PROVIDERS, client.microversion, params={'member_of': 'in:' + ','.join(aggregates)})['resource_providers']}
        for aggregates in member_of}
    return _Pool(providers, sharing & set(providers), anchors, with_trait, in_aggregates,
                 nested_aware=client.at_least(FEATURES['nested']))


def _having(client, trait, providers):
    if client.at_least('1.18'):
        return {rp['uuid'] for rp in client.get(
            RESOURCE_PROVIDERS, client.microversion, params={'required': trait})['resource_providers']}
    return {uuid for uuid in providers
            if trait in client.get(provider_path(uuid, 'traits'), client.microversion)['traits']}


def _providers_of(allocation_request):
    """The providers of one allocation request: a dict by provider from 1.12, a list before."""
    allocations = allocation_request['allocations']
    if isinstance(allocations, dict):
        return list(allocations)
    return [item['resource_provider']['uuid'] for item in allocations]


def fit(client, state, request):
    """The fit report of ``request`` (make_request) against every host in ``state``."""
    _require(client, request)
    answer = client.get(ALLOCATION_CANDIDATES, client.microversion, params=query(request))
    pool = _read_pool(client, state, request)
    offered = {}
    for allocation_request in answer['allocation_requests']:
        used = [uuid for uuid in _providers_of(allocation_request) if uuid in pool.providers]
        anchors = {pool.root(uuid) for uuid in used if uuid not in pool.sharing} or {pool.root(uuid) for uuid in used}
        for anchor in anchors:
            offered.setdefault(anchor, set()).update(uuid for uuid in used if uuid in pool.sharing)
    hosts = pool.hosts() + sorted(set(offered) - set(pool.hosts()), key=pool.name)
    candidates, blocked, placements = [], [], []
    for root in hosts:
        host = _Host(pool, root, request)
        entry = dict(uuid=root, name=pool.name(root), fits=host.count(dict(pool.free)))
        if root in offered:
            candidates.append(dict(entry, sharing_providers=sorted(pool.name(u) for u in offered[root])))
            placements.append(host)
        else:
            blocked.append(dict(entry, fits=0, reasons=host.reasons()))
    shared_free = dict(pool.free)
    total = sum(host.count(shared_free) for host in placements)
    unnumbered = request['groups'][UNNUMBERED]
    return dict(
        request=dict(resources=unnumbered['resources'], required_traits=unnumbered['required'],
                     forbidden_traits=unnumbered['forbidden'], member_of=unnumbered['member_of'],
                     groups={suffix: g for suffix, g in request['groups'].items() if suffix != UNNUMBERED},
                     group_policy=request['group_policy']),
        fits=bool(candidates),
        candidates=candidates,
        blocked=blocked,
        total_fits=total,
    )

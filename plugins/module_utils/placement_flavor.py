# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What an instance's allocation should be, from its flavor as Nova asks Placement for it, and how to get there.

expected() follows nova.scheduler.utils.resources_from_flavor_and_bfv (ResourceRequest.from_request_spec):
``resources[$S]:$CLASS`` extra specs (every group merged, the last group's amount for a class set twice in one
group), ``hw:cpu_policy=dedicated`` (flavor, else the image) turns the vCPUs into PCPU (one more with
``hw:emulator_threads_policy=isolate``), VCPU / MEMORY_MB / DISK_GB from the flavor only where the extra specs
did not name them, DISK_GB = ephemeral + swap rounded up to GiB + root unless the instance boots from volume,
zero amounts dropped. What Nova adds from elsewhere (ports' bandwidth, accelerators, PCI, vTPM, memory
encryption, persistent memory) is not judged: those classes are kept as they are.

judge() compares what a consumer holds on its home (the compute node's provider tree and the sharing providers
serving it) with that, and plans the allocation to write.
"""

import json
import re

# The classes Nova derives from a flavor's own fields: held on the home but not expected, they are wrong.
FLAVOR_CLASSES = ('VCPU', 'PCPU', 'MEMORY_MB', 'DISK_GB')
_RESOURCE_SPEC = re.compile(r'^resources([a-zA-Z0-9_-]{1,64})?:(.*)$')
_STANDARD_OR_CUSTOM = re.compile(r'^(CUSTOM_[A-Z0-9_]+|[A-Z][A-Z0-9_]*)$')


def parse_flavor(text):
    """The current flavor of an instance_extra.flavor JSON document ({"cur": Flavor primitive, ...}), or None."""
    try:
        document = json.loads(text) if text else None
    except ValueError:
        return None
    current = (document or {}).get('cur') or {}
    data = current.get('nova_object.data') if isinstance(current, dict) else None
    if not isinstance(data, dict):
        return None
    try:
        return dict(name=data.get('name'), vcpus=int(data['vcpus']), memory_mb=int(data['memory_mb']),
                    root_gb=int(data.get('root_gb') or 0), ephemeral_gb=int(data.get('ephemeral_gb') or 0),
                    swap=int(data.get('swap') or 0), extra_specs=dict(data.get('extra_specs') or {}))
    except (KeyError, TypeError, ValueError):
        return None


def _ceil_gb(megabytes):
    return -(-megabytes // 1024) if megabytes else 0


def expected(flavor, is_bfv, image_properties=None):
    """({class: amount}, None) Nova asks Placement for, or (None, why it cannot be worked out here)."""
    specs = flavor['extra_specs']
    groups = {}
    for key, value in specs.items():
        match = _RESOURCE_SPEC.match(key)
        if not match:
            continue
        resource_class = match.group(2)
        if not _STANDARD_OR_CUSTOM.match(resource_class):
            continue        # Nova warns and ignores it
        try:
            amount = int(value)
        except (TypeError, ValueError):
            continue        # the same
        if amount >= 0:
            groups.setdefault(match.group(1), {})[resource_class] = amount
    policy = specs.get('hw:cpu_policy') or (image_properties or {}).get('hw_cpu_policy')
    if policy == 'mixed':
        return None, 'hw:cpu_policy=mixed (its PCPU/VCPU split) is not worked out by this check'
    if policy == 'dedicated':
        pcpus = flavor['vcpus'] + (1 if specs.get('hw:emulator_threads_policy') == 'isolate' else 0)
        groups.setdefault(None, {})['PCPU'] = pcpus
    merged = {}
    for resources in groups.values():
        for resource_class, amount in resources.items():
            merged[resource_class] = merged.get(resource_class, 0) + amount
    if 'VCPU' not in merged and 'PCPU' not in merged:
        merged['VCPU'] = flavor['vcpus']
    if 'MEMORY_MB' not in merged:
        merged['MEMORY_MB'] = flavor['memory_mb']
    if 'DISK_GB' not in merged:
        merged['DISK_GB'] = flavor['ephemeral_gb'] + _ceil_gb(flavor['swap']) + (0 if is_bfv else flavor['root_gb'])
    return {resource_class: amount for resource_class, amount in sorted(merged.items()) if amount}, None


def judge(held, home, wanted, inventories, root):
    """How a consumer's allocation differs from ``wanted`` ({class: amount}), and the allocation to write.

    ``held`` is {provider: resources} (the whole consumer), ``home`` the providers that may serve the instance,
    ``inventories`` {provider: classes it has inventory of}, ``root`` the compute node's provider. None when the
    home holds exactly what is wanted of every judged class; otherwise a dict with ``missing`` {class: wanted},
    ``wrong_amount`` {class: {held, expected}}, ``unexpected`` {class: held}, ``wrong_provider`` {provider:
    resources} (what it holds outside its home), ``target`` (the allocation to write, or None) and ``unrepairable``
    (why there is no target, or None).
    """
    judged = set(FLAVOR_CLASSES) | set(wanted)
    on_home = {}
    for provider, resources in held.items():
        if provider in home:
            for resource_class, amount in resources.items():
                if resource_class in judged:
                    on_home[resource_class] = on_home.get(resource_class, 0) + amount
    missing = {rc: amount for rc, amount in wanted.items() if not on_home.get(rc)}
    wrong = {rc: dict(held=on_home[rc], expected=amount) for rc, amount in wanted.items()
             if on_home.get(rc) and on_home[rc] != amount}
    unexpected = {rc: amount for rc, amount in on_home.items() if rc not in wanted and amount}
    if not (missing or wrong or unexpected):
        return None
    target, unrepairable = _target(held, home, wanted, judged, inventories, root)
    return dict(expected=dict(wanted), held_on_node=dict(sorted(on_home.items())), missing=missing,
                wrong_amount=wrong, unexpected=unexpected,
                wrong_provider={p: r for p, r in sorted(held.items()) if p not in home},
                target=target, unrepairable=unrepairable)


def _target(held, home, wanted, judged, inventories, root):
    """(allocation to write, None) or (None, why not): judged classes set to ``wanted`` where they are held
    (or on the compute node, or on the one provider of the home that has the class), the other classes kept
    where they are on the home, nothing outside the home."""
    target = {}
    for provider, resources in held.items():
        if provider in home:
            kept = {rc: amount for rc, amount in resources.items() if rc not in judged}
            if kept:
                target[provider] = kept
    for resource_class, amount in sorted(wanted.items()):
        holders = sorted(p for p, resources in held.items() if p in home and resources.get(resource_class))
        if len(holders) > 1:
            return None, (f"{resource_class} is split over {len(holders)} providers of its node "
                          f"({', '.join(holders)}); which part is wrong cannot be told")
        if holders:
            place = holders[0]
        elif resource_class in inventories.get(root, ()):
            place = root
        else:
            offering = sorted(p for p in home if resource_class in inventories.get(p, ()))
            if len(offering) != 1:
                return None, (f"no provider of its node has {resource_class} inventory" if not offering else
                              f"{resource_class} could go on any of {', '.join(offering)}")
            place = offering[0]
        target.setdefault(place, {})[resource_class] = amount
    return {p: dict(sorted(r.items())) for p, r in sorted(target.items())}, None


def describe(mismatch, names):
    """One line on what is wrong, with provider names from ``names`` ({uuid: name})."""
    parts = []
    if mismatch['missing']:
        parts.append('missing ' + ', '.join(f'{rc} {amount}' for rc, amount in sorted(mismatch['missing'].items())))
    for rc, amounts in sorted(mismatch['wrong_amount'].items()):
        parts.append(f"{rc} {amounts['held']} held, {amounts['expected']} expected")
    if mismatch['unexpected']:
        parts.append('not in its flavor: ' + ', '.join(
            f'{rc} {amount}' for rc, amount in sorted(mismatch['unexpected'].items())))
    if mismatch['wrong_provider']:
        parts.append('held on ' + ', '.join(names.get(p, p) for p in mismatch['wrong_provider'])
                     + ', not its node')
    return '; '.join(parts)

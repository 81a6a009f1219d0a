# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Waits nova takes as retries x interval, reasoned about as their total, so that no tuning shortens one.

Seed 002's boots from volume failed because nova-compute gave up on Cinder too early: it polls a new volume
``block_device_allocate_retries`` times, ``block_device_allocate_retries_interval`` seconds apart (nova's
defaults: 60 x 3 s = 180 s). What matters is the product. A setting that shortens the wait in force (the file's
values, or nova's defaults where the file sets none) is refused unless the operator allows it, and a wanted
minimum (``ensure``) lengthens the wait by raising the retries, keeping the interval, and leaves a longer wait
alone.
"""

import math

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


class Wait:
    def __init__(self, name, retries, interval, defaults, what):
        self.name = name
        self.retries = retries      # (group, key)
        self.interval = interval    # (group, key)
        self.defaults = defaults    # nova's (retries, interval)
        self.what = what

    @property
    def keys(self):
        return (self.retries, self.interval)


WAITS = {
    'block_device_allocate': Wait(
        'block_device_allocate', ('DEFAULT', 'block_device_allocate_retries'),
        ('DEFAULT', 'block_device_allocate_retries_interval'), (60, 3),
        "nova-compute's wait for Cinder to create a boot volume (seed 002)"),
}


def wait_named(name):
    if name not in WAITS:
        raise OpsError(f'ensure_waits: {name!r} is not a wait this module knows (known: {", ".join(sorted(WAITS))})')
    return WAITS[name]


def in_force(wait, values, nova_defaults=None):
    """{retries, interval, total, source} of ``wait`` from a file's values ({(group, key): text}).

    An option the file does not set has nova's default: the installed nova's (``nova_defaults``) when known, else
    the table's.
    """
    found = {}
    sources = []
    for key, default in zip(wait.keys, wait.defaults):
        text = values.get(key)
        if text is None:
            found[key] = int((nova_defaults or {}).get(key, default))
            sources.append('default')
        else:
            try:
                found[key] = int(text.strip())
            except ValueError as error:
                raise OpsError(f'[{key[0]}] {key[1]} = {text!r} in the file is not a number') from error
            sources.append('file')
    retries, interval = found[wait.retries], found[wait.interval]
    source = sources[0] if sources[0] == sources[1] else 'file and default'
    return dict(retries=retries, interval=interval, total=retries * interval, source=source)


def ensure(wait, values, seconds, nova_defaults=None):
    """The settings ({(group, key): value}) that make ``wait`` last at least ``seconds``; {} when it already does.

    The retries go up and the interval in force stays (a longer interval only delays a boot whose volume is
    ready sooner); an interval of 0 becomes nova's default first.
    """
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
        raise OpsError(f'ensure_waits: {wait.name} must be a whole number of seconds, at least 1, not {seconds!r}')
    now = in_force(wait, values, nova_defaults)
    if now['total'] >= seconds:
        return {}
    settings = {}
    interval = now['interval']
    if interval == 0:
        interval = int((nova_defaults or {}).get(wait.interval, wait.defaults[1]))
        settings[wait.interval] = interval
    settings[wait.retries] = math.ceil(seconds / interval)
    return settings


def check(wanted, values, allow_shorter, where, nova_defaults=None):
    """One report per wait that ``wanted`` ({(group, key): value}) touches: the wait in force before and after.

    A wanted wait shorter than the one in force fails, naming both totals, unless ``allow_shorter``.
    """
    reports, problems = [], []
    for wait in WAITS.values():
        if not any(key in wanted for key in wait.keys):
            continue
        before = in_force(wait, values, nova_defaults)
        after = in_force(wait, {**values, **{key: str(value) for key, value in wanted.items()}}, nova_defaults)
        shorter = after['total'] < before['total']
        reports.append(report(wait, where, before, after))
        if shorter and not allow_shorter:
            problems.append(
                f"{wait.retries[1]} x {wait.interval[1]} would shorten {wait.what} in {where} from "
                f"{describe(before)} to {describe(after)}; a wait too short is what failed seed 002's boots. "
                'Set allow_shorter_waits to write it anyway')
    if problems:
        raise OpsError('; '.join(problems) + '; nothing was changed', waits=reports)
    return reports


def report(wait, where, before, after):
    """What a result says of one wait in one file: before, after, whether shorter, and a line for people."""
    return dict(name=wait.name, path=where, before=before, after=after, shorter=after['total'] < before['total'],
                summary=f'{wait.name} wait in {where}: {describe(before)} -> {describe(after)}')


def describe(state):
    source = {"default": ", nova's defaults", 'file': '', 'file and default': ', partly nova\'s default'}[state['source']]
    return f"{state['total']} s ({state['retries']} x {state['interval']} s{source})"

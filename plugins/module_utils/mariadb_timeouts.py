# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The idle-connection timeouts of the stack between an OpenStack service and Galera, and their order.

A pooled connection must be recycled by the service (oslo.db ``connection_recycle_time``) before MariaDB closes
it for idleness (``wait_timeout``), and MariaDB must close it before haproxy cuts it (``timeout client`` and
``timeout server`` of the Galera section): otherwise the service finds a dead connection in its pool, or its
transaction is cut under it (seed 003, "closed connection: sql timeout").
"""

import re

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import haproxy_config as cfg
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import oslo_ini
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

# oslo.db's default (oslo_db/options.py, connection_recycle_time, formerly idle_timeout).
OSLO_DEFAULT_RECYCLE = 3600
# The sections oslo.db options live in: nova's two databases and placement's.
DATABASE_SECTIONS = ('database', 'api_database', 'placement_database')
_HAPROXY_TIME = re.compile(r'^(\d+)(us|ms|s|m|h|d)?$')
_UNIT_SECONDS = dict(us=1e-6, ms=1e-3, s=1, m=60, h=3600, d=86400)


def recycle_times(text, source):
    """[{source, section, recycle}] for each database section of an oslo config that has a connection.

    The file is read as oslo.config reads it (oslo_ini): a value set twice keeps its last one.
    """
    values = oslo_ini.read(text, source)
    found = []
    for section in DATABASE_SECTIONS:
        if values.get((section, 'connection'), '').strip():
            raw = values.get((section, 'connection_recycle_time'))
            if raw is None:
                raw = values.get((section, 'idle_timeout'))   # the deprecated name
            try:
                recycle = int(raw) if raw is not None else OSLO_DEFAULT_RECYCLE
            except ValueError as error:
                raise OpsError(f'{source} [{section}] connection_recycle_time = {raw!r} is not a number of seconds',
                               path=source) from error
            found.append(dict(source=source, section=section, recycle=recycle, default=raw is None))
    return found


def haproxy_seconds(value):
    """An haproxy time (milliseconds when it has no unit) in seconds."""
    match = _HAPROXY_TIME.match(str(value).strip())
    if not match:
        raise OpsError(f'{value!r} is not an haproxy time')
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2) or 'ms']


def haproxy_timeouts(text, names, path='haproxy.cfg'):
    """[{section, kind, timeout, value, seconds, from}] of the client and server timeouts of each named section.

    A setting missing from a section is the one of the ``defaults`` section before it. The client timeout of a
    ``backend`` is its frontends' (those naming it in default_backend or use_backend), since haproxy applies the
    frontend's. Every name must be a ``backend`` or ``listen`` section of the file.
    """
    lines = text.splitlines(keepends=True)
    sections = cfg.parse(lines)
    proxies = {section.name: section for section in sections if section.kind in cfg.PROXY_KINDS}
    missing = [name for name in names if name not in proxies]
    if missing:
        raise OpsError(f"no backend or listen section named {', '.join(missing)} in {path} "
                       f"(its sections: {', '.join(sorted(n or '?' for n in proxies)) or 'none'})", missing=missing)
    found = []
    for name in names:
        section = proxies[name]
        found.append(_timeout(lines, sections, section, 'server'))
        if section.kind == 'listen':
            found.append(_timeout(lines, sections, section, 'client'))
        else:
            frontends = [other for other in sections if other.kind == 'frontend' and any(
                cfg.tokens(lines[index])[:1] in (['default_backend'], ['use_backend'])
                and name in cfg.tokens(lines[index])[1:2] for index in other.body())]
            if not frontends:
                raise OpsError(f'backend {name} in {path} is named by no frontend (default_backend or use_backend), '
                               'so its client timeout cannot be told', section=name)
            found.extend(dict(_timeout(lines, sections, frontend, 'client'), section=name,
                              frontend=frontend.name) for frontend in frontends)
    return found


def _timeout(lines, sections, section, kind):
    index = cfg.find(lines, section, 'timeout', kind)
    origin = section.name
    if index is None:
        defaults = next((other for other in reversed(sections[:sections.index(section)])
                         if other.kind == 'defaults'), None)
        index = cfg.find(lines, defaults, 'timeout', kind) if defaults else None
        origin = 'defaults'
    if index is None:
        # haproxy warns and never times out: no limit for the order to respect
        return dict(section=section.name, kind=kind, value=None, seconds=None, origin=None)
    value = cfg.value(lines, index, 2)
    return dict(section=section.name, kind=kind, value=value, seconds=haproxy_seconds(value), origin=origin)


def check(recycles, wait_timeout, timeouts):
    """(holds, message): connection_recycle_time < wait_timeout < haproxy timeout, with the three numbers."""
    if not recycles:
        raise OpsError('no database section with a connection in the service configurations: nothing to check')
    recycle = max(recycles, key=lambda entry: entry['recycle'])
    limited = [entry for entry in timeouts if entry['seconds'] is not None]
    haproxy = min(limited, key=lambda entry: entry['seconds']) if limited else None
    recycle_text = (f"connection_recycle_time {recycle['recycle']} "
                    f"({recycle['source']} [{recycle['section']}]{', the oslo.db default' if recycle['default'] else ''})")
    wait_text = f'MariaDB wait_timeout {wait_timeout}'
    if haproxy is None:
        haproxy_text = 'haproxy timeout none (no timeout client or server set)'
        haproxy_seconds_value = float('inf')
    else:
        haproxy_seconds_value = haproxy['seconds']
        haproxy_text = (f"haproxy timeout {_number(haproxy['seconds'])} (timeout {haproxy['kind']} {haproxy['value']} of "
                        f"{haproxy.get('frontend') or haproxy['section']})")
    holds = recycle['recycle'] < wait_timeout < haproxy_seconds_value
    chain = f'{recycle_text} < {wait_text} < {haproxy_text}'
    if holds:
        return True, f'holds: {chain}'
    reasons = []
    if recycle['recycle'] >= wait_timeout:
        reasons.append('MariaDB closes idle pooled connections before the service recycles them')
    if wait_timeout >= haproxy_seconds_value:
        reasons.append('haproxy cuts idle connections before MariaDB closes them')
    return False, f"does not hold: {chain} ({'; '.join(reasons)})"


def _number(seconds):
    return int(seconds) if float(seconds).is_integer() else seconds

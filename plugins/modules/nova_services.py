#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: nova_services
short_description: The nova services of a host - their systemd unit, state, main process and start time
version_added: 0.1.0
description:
  - For each nova service in O(units), finds the first of its candidate systemd units that exists on the host and
    reports its state, main process and when that process started (C(systemctl show)).
  - With O(config), also says for each whether its process started before the file's last change (RV(services)
    C(stale)). Such a process may run older settings than the file has, for example after a run that wrote the file
    and was stopped before its restarts.
  - Never changes anything.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  units:
    description:
      - Each nova service and the unit names it may have (a name or a list of names), tried in order.
    type: dict
    required: true
  config:
    description:
      - A configuration file the services read, such as C(/etc/nova/nova.conf).
    type: path
extends_documentation_fragment:
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.NO_ACTION_GROUP
  - openstack_ops.runbooks.attributes.INFO_MODULE
  - openstack_ops.runbooks.attributes.PLATFORM
'''

EXAMPLES = r'''
- name: The nova services of this host, and which run an older nova.conf than the file
  openstack_ops.runbooks.nova_services:
    units:
      nova-api: [nova-api, nova-api-os-compute]
      nova-conductor: [nova-conductor]
    config: /etc/nova/nova.conf
  register: nova_services
'''

RETURN = r'''
services:
  description: The services found on the host (those with none of their units are left out), by service name.
  returned: always
  type: dict
  sample:
    nova-conductor: {unit: nova-conductor, active: active, main_pid: 4242, started: 1795000000.25, stale: false}
config_changed:
  description: When O(config) was last changed (seconds since the epoch).
  returned: with O(config)
  type: float
'''

import os
import time

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

PROPERTIES = ('Id', 'LoadState', 'ActiveState', 'MainPID', 'ExecMainStartTimestampMonotonic')


class NovaServices(OpsModule):
    argument_spec = dict(
        units=dict(type='dict', required=True),
        config=dict(type='path'),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        wanted = {service: _unit_names(service, names) for service, names in self.params['units'].items()}
        candidates = [name for names in wanted.values() for name in names]
        shown = self._show(candidates) if candidates else {}
        # systemd's monotonic clock to wall time, to compare a start with the file's mtime
        boot = self._wall_minus_monotonic()
        services = {}
        for service, names in wanted.items():
            unit = next((name for name in names if shown.get(name, {}).get('LoadState') == 'loaded'), None)
            if unit is None:
                continue
            props = shown[unit]
            started = int(props.get('ExecMainStartTimestampMonotonic') or 0) / 1e6
            services[service] = dict(unit=unit, active=props.get('ActiveState'),
                                     main_pid=int(props.get('MainPID') or 0),
                                     started=round(boot + started, 3) if started else None)
        result = dict(changed=False, services=services)
        config = self.params['config']
        if config:
            try:
                changed_at = os.stat(config).st_mtime
            except OSError as error:
                raise OpsError(f'cannot read {config}: {error.strerror}', path=config) from error
            result['config_changed'] = changed_at
            for info in services.values():
                info['stale'] = info['main_pid'] > 0 and info['started'] is not None and info['started'] < changed_at
        return result

    def _show(self, names):
        command = ['systemctl', 'show', '--property=' + ','.join(PROPERTIES), '--'] + [f'{name}.service' for name in names]
        rc, out, err = self.module.run_command(command)
        if rc != 0:
            raise OpsError(f'systemctl show failed (rc={rc}): {err.strip()}')
        blocks = [dict(line.split('=', 1) for line in block.splitlines() if '=' in line)
                  for block in out.strip().split('\n\n')]
        if len(blocks) == len(names):
            # One block per unit asked for, in that order: an alias is answered under the unit it names (its Id),
            # so the order, not the Id, says which candidate a block belongs to.
            return dict(zip(names, blocks))
        shown = {}
        for props in blocks:
            if props.get('Id'):
                shown[props['Id'][:-len('.service')] if props['Id'].endswith('.service') else props['Id']] = props
        return shown

    @staticmethod
    def _wall_minus_monotonic():
        # Python's monotonic clock is CLOCK_MONOTONIC on Linux, the one systemd stamps with
        return time.time() - time.monotonic()


def _unit_names(service, names):
    """The candidate unit names of one service: a name or a list of names, checked."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
        raise OpsError(f'units: {service} must be a unit name or a list of unit names, not {names!r}')
    return names


def main():
    NovaServices()()


if __name__ == '__main__':
    main()

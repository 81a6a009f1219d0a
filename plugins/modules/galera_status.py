#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: galera_status
short_description: Check that a Galera node is in the Primary component, Synced, and in a cluster of the expected size
version_added: 0.1.0
description:
  - Reads the node's C(wsrep_cluster_status), C(wsrep_local_state_comment), C(wsrep_cluster_size), C(wsrep_ready) and
    C(wsrep_connected) (C(SHOW GLOBAL STATUS)) and fails, naming what is wrong, unless the node is C(Primary),
    C(Synced), ready, connected and, with O(expected_size), in a cluster of that many nodes.
  - With O(wait), polls until the node is healthy or the time is up. A node that does not answer (restarting) counts
    as not healthy yet, so the module can follow a node through its restart.
  - Reads only.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  expected_size:
    description:
      - The number of nodes the cluster must have. Unset checks only that the node is Primary and Synced.
    type: int
  wait:
    description:
      - How long, in seconds, to wait for the node to become healthy. V(0) checks once.
    type: int
    default: 0
  interval:
    description:
      - Seconds between two checks while waiting.
    type: float
    default: 1.0
extends_documentation_fragment:
  - openstack_ops.runbooks.mariadb
  - openstack_ops.runbooks.attributes
  - openstack_ops.runbooks.attributes.INFO_MODULE
attributes:
  action_group:
    support: full
    membership:
      - openstack_ops.runbooks.mariadb
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - Any host that reaches the node's server; usually the node itself.
seealso:
  - module: openstack_ops.runbooks.mariadb_variables
  - name: Galera cluster status variables
    description: What each wsrep status variable means.
    link: https://mariadb.com/kb/en/galera-cluster-status-variables/
'''

EXAMPLES = r'''
- name: This node is Primary, Synced and one of three
  openstack_ops.runbooks.galera_status:
    expected_size: 3

- name: Wait up to five minutes for a restarted node to rejoin
  openstack_ops.runbooks.galera_status:
    expected_size: 3
    wait: 300
'''

RETURN = r'''
cluster_status:
  description: C(wsrep_cluster_status), C(Primary) when the node is in the quorate component.
  returned: always
  type: str
  sample: Primary
local_state:
  description: C(wsrep_local_state_comment).
  returned: always
  type: str
  sample: Synced
cluster_size:
  description: C(wsrep_cluster_size).
  returned: always
  type: int
  sample: 3
ready:
  description: C(wsrep_ready) is ON.
  returned: always
  type: bool
connected:
  description: C(wsrep_connected) is ON.
  returned: always
  type: bool
healthy:
  description: Whether every condition held (the module fails otherwise).
  returned: always
  type: bool
waited:
  description: Seconds spent waiting.
  returned: always
  type: float
'''

import time

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

STATUS_NAMES = ('wsrep_cluster_status', 'wsrep_local_state_comment', 'wsrep_cluster_size', 'wsrep_ready',
                'wsrep_connected')


def problems(status, expected_size):
    """What keeps a node with these wsrep status values from being healthy; empty when it is."""
    if not status:
        return ['the server does not answer']
    if 'wsrep_cluster_status' not in status:
        return ['the server has no wsrep status: Galera is not loaded (wsrep_on or wsrep_provider unset)']
    found = []
    if status.get('wsrep_cluster_status') != 'Primary':
        found.append(f"wsrep_cluster_status is {status.get('wsrep_cluster_status')}, not Primary")
    if status.get('wsrep_local_state_comment') != 'Synced':
        found.append(f"wsrep_local_state_comment is {status.get('wsrep_local_state_comment')}, not Synced")
    for name in ('wsrep_ready', 'wsrep_connected'):
        if status.get(name) != 'ON':
            found.append(f'{name} is {status.get(name)}')
    if expected_size is not None and str(status.get('wsrep_cluster_size')) != str(expected_size):
        found.append(f"wsrep_cluster_size is {status.get('wsrep_cluster_size')}, not {expected_size}")
    return found


class GaleraStatus(OpsModule):
    argument_spec = dict(
        expected_size=dict(type='int'),
        wait=dict(type='int', default=0),
        interval=dict(type='float', default=1.0),
    )
    module_kwargs = dict(supports_check_mode=True)
    option_families = ('mariadb',)
    option_minimums = dict(expected_size=1, wait=0)

    def run(self):
        if self.params['interval'] <= 0:
            raise OpsError(f"interval must be more than 0, not {self.params['interval']}")
        started = time.monotonic()
        deadline = started + self.params['wait']
        while True:
            status, error = self._read()
            found = problems(status, self.params['expected_size'])
            if error:
                found = [f'cannot read its status: {error}']
            if not found or time.monotonic() >= deadline:
                break
            time.sleep(self.params['interval'])
        result = dict(
            changed=False, healthy=not found, waited=round(time.monotonic() - started, 1),
            cluster_status=status.get('wsrep_cluster_status'), local_state=status.get('wsrep_local_state_comment'),
            cluster_size=int(status['wsrep_cluster_size']) if status.get('wsrep_cluster_size') else None,
            ready=status.get('wsrep_ready') == 'ON', connected=status.get('wsrep_connected') == 'ON')
        if found:
            waited = f" after waiting {result['waited']:.0f}s" if self.params['wait'] else ''
            raise OpsError(f"the Galera node is not healthy{waited}: {'; '.join(found)}", **result)
        return result

    def _read(self):
        """The wsrep status and None, or {} and why it could not be read (while waiting; else that fails).

        Each poll reads on a connection of its own: one made before a node restarted would only report it gone.
        """
        try:
            rows = self.mariadb.query('SHOW GLOBAL STATUS WHERE Variable_name IN ('
                                      + ', '.join(['%s'] * len(STATUS_NAMES)) + ')', list(STATUS_NAMES))
            return {row['Variable_name'].lower(): row['Value'] for row in rows}, None
        except OpsError as error:
            if not self.params['wait']:
                raise
            return {}, error.msg
        except mariadb.ERRORS as error:
            if not self.params['wait']:
                raise OpsError(f'cannot read the wsrep status: {error}') from error
            return {}, str(error)
        finally:
            self.close_connection('mariadb')


def main():
    GaleraStatus()()


if __name__ == '__main__':
    main()

#!/usr/bin/python
# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
module: mariadb_server_info
short_description: Check that a MariaDB server answers the login, and say what it is
version_added: 0.1.0
description:
  - Logs in to the server and returns its version, its host name and, for each database in O(databases), whether
    it exists; fails, naming the server and the reason, when the login does not work or a database is missing.
  - The preflight of a runbook that needs the database uses it to stop before anything is changed.
  - Reads only.
author:
  - openstack_ops.runbooks maintainers (@openstack-ops)
options:
  databases:
    description:
      - Databases that must exist on the server (for example V(nova_api)). Empty checks only the login.
    type: list
    elements: str
    default: []
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
      - Any host that reaches the server.
seealso:
  - module: openstack_ops.runbooks.galera_status
'''

EXAMPLES = r'''
- name: The nova API database answers
  openstack_ops.runbooks.mariadb_server_info:
    login_host: 192.0.2.10
    login_user: nova
    login_password: "{{ nova_db_password }}"
    databases: [nova_api]
  register: db
'''

RETURN = r'''
version:
  description: The server's C(VERSION()).
  returned: always
  type: str
  sample: 10.11.11-MariaDB-0+deb12u1
hostname:
  description: The server's C(@@hostname).
  returned: always
  type: str
  sample: ctl1
server:
  description: The socket, or host and port, logged in to.
  returned: always
  type: str
  sample: 192.0.2.10:3306
databases:
  description: Each database of O(databases) and whether it exists.
  returned: always
  type: dict
  sample: {"nova_api": true}
'''

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.base import OpsModule
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


class MariadbServerInfo(OpsModule):
    argument_spec = dict(
        databases=dict(type='list', elements='str', default=[]),
    )
    module_kwargs = dict(supports_check_mode=True)
    option_families = ('mariadb',)

    def run(self):
        row = self.mariadb.query('SELECT VERSION() AS version, @@hostname AS hostname')[0]
        present = {item['name'] for item in self.mariadb.query('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA')}
        databases = {name: name in present for name in self.params['databases']}
        result = dict(changed=False, version=row['version'], hostname=row['hostname'], server=self.mariadb.where,
                      databases=databases)
        missing = [name for name, exists in databases.items() if not exists]
        if missing:
            raise OpsError(f"{self.mariadb.where} answers, but has no database {', '.join(missing)}", **result)
        return result


def main():
    MariadbServerInfo()()


if __name__ == '__main__':
    main()

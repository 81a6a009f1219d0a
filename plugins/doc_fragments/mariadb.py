# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MariaDB login options (plugins/module_utils/mariadb.py ARGUMENT_SPEC), written once.

DOCUMENTATION is the ``mariadb`` family (a server); NOVA_DB adds ``login_db`` (the ``nova_db`` family);
NOVA_DB_NESTED is NOVA_DB as the one dict option ``nova_db`` of modules that also take the OpenStack options.
"""

import re
import textwrap

_LOGIN_OPTIONS = r'''
ca_cert:
  description:
    - A file of CA certificates; when set, the connection uses TLS verified against it.
  type: path
  aliases: [ssl_ca]
client_cert:
  description:
    - A client certificate file for TLS connections.
  type: path
  aliases: [ssl_cert]
client_key:
  description:
    - The private key file of O(client_cert).
  type: path
  aliases: [ssl_key]
config_file:
  description:
    - A MySQL option file. Its C([client]) section supplies C(user), C(password), C(socket) and C(ssl-*)
      settings that the options leave unset; O(login_host) and O(login_port) always come from the options.
    - Ignored when the file does not exist.
  type: path
  default: ~/.my.cnf
connect_timeout:
  description:
    - How long, in seconds, to wait for a database connection.
  type: int
  default: 30
login_host:
  description:
    - The host of the MariaDB (or MySQL) server.
    - Each Galera node is its own server; the Galera modules run on (or point at) each node.
  type: str
  default: localhost
login_password:
  description:
    - The password of O(login_user).
  type: str
login_port:
  description:
    - The TCP port of the server.
  type: int
  default: 3306
login_unix_socket:
  description:
    - A Unix socket to connect through instead of O(login_host) and O(login_port).
  type: str
login_user:
  description:
    - The database user. Reading needs only C(SELECT); each module that writes names the privileges it needs.
    - Unset means the user from O(config_file), else the name of the user running the module.
  type: str
'''

_LOGIN_DB = r'''
login_db:
  description:
    - The name of the nova_api database.
    - Cell databases are reached through the C(cell_mappings) table of this database.
  type: str
  default: nova_api
'''

_COMMON = r'''
requirements:
  - python >= 3.10
  - PyMySQL
notes:
  - Options given to the module take precedence over O(config_file), as with community.mysql.
'''


def _nested(options, name):
    """``options`` as the suboptions of the dict option ``name``, their O() references made full."""
    options = re.sub(r'O\((\w+)\)', rf'O({name}.\1)', options)
    return textwrap.indent(options.lstrip('\n'), ' ' * 6)


class ModuleDocFragment:

    DOCUMENTATION = 'options:\n' + textwrap.indent(_LOGIN_OPTIONS.lstrip('\n'), '  ') + _COMMON

    NOVA_DB = 'options:\n' + textwrap.indent((_LOGIN_OPTIONS + _LOGIN_DB).lstrip('\n'), '  ') + _COMMON + r'''
  - Nova's databases are only read, except by an explicit repair (C(repair) of cell_mapping_check), which writes
    after a verified backup, in one transaction.
'''

    NOVA_DB_NESTED = r'''
options:
  nova_db:
    description:
      - How to log in to the nova_api database. The cell databases are reached through its C(cell_mappings) table.
      - The suboptions are named as in community.mysql.
    type: dict
    suboptions:
''' + _nested(_LOGIN_OPTIONS + _LOGIN_DB, 'nova_db') + r'''
requirements:
  - python >= 3.10
  - PyMySQL
notes:
  - Nova's databases are only read here; the database sessions never commit.
'''

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment:
    # The MariaDB login options (plugins/module_utils/mariadb.py ARGUMENT_SPEC), written once.
    # DOCUMENTATION is the ``mariadb`` family (a server). The ``nova_db`` family is that fragment plus NOVA_DB
    # (``login_db``): a module extends both. NOVA_DB_NESTED is the two as the one dict option ``nova_db`` of modules
    # that also take the OpenStack options; ansible-test wants literal fragments, so it is written out, and a unit
    # test (tests/unit/plugins/doc_fragments/test_mariadb.py) keeps its suboptions equal to the two it is made of.

    DOCUMENTATION = r'''
options:
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

requirements:
  - python >= 3.10
  - PyMySQL
notes:
  - Options given to the module take precedence over O(config_file), as with community.mysql.
'''

    NOVA_DB = r'''
options:
  login_db:
    description:
      - The name of the nova_api database.
      - Cell databases are reached through the C(cell_mappings) table of this database.
    type: str
    default: nova_api
notes:
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
          - The private key file of O(nova_db.client_cert).
        type: path
        aliases: [ssl_key]
      config_file:
        description:
          - A MySQL option file. Its C([client]) section supplies C(user), C(password), C(socket) and C(ssl-*)
            settings that the options leave unset; O(nova_db.login_host) and O(nova_db.login_port) always come from the options.
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
          - The password of O(nova_db.login_user).
        type: str
      login_port:
        description:
          - The TCP port of the server.
        type: int
        default: 3306
      login_unix_socket:
        description:
          - A Unix socket to connect through instead of O(nova_db.login_host) and O(nova_db.login_port).
        type: str
      login_user:
        description:
          - The database user. Reading needs only C(SELECT); each module that writes names the privileges it needs.
          - Unset means the user from O(nova_db.config_file), else the name of the user running the module.
        type: str

      login_db:
        description:
          - The name of the nova_api database.
          - Cell databases are reached through the C(cell_mappings) table of this database.
        type: str
        default: nova_api

requirements:
  - python >= 3.10
  - PyMySQL
notes:
  - Nova's databases are only read here; the database sessions never commit.
'''

    # The cell_connections option of the modules that read every cell through nova_api's cell_mappings.
    CELL_CONNECTIONS = r'''
options:
  cell_connections:
    description:
      - Connection settings that replace parts of a cell's C(database_connection), for cells whose database
        address, as stored in C(cell_mappings), cannot be reached from where the module runs.
    type: list
    elements: dict
    default: []
    suboptions:
      cell:
        description:
          - The name or uuid of the cell, as in C(cell_mappings).
        type: str
        required: true
      login_db:
        description:
          - The database name to use instead of the mapping's.
        type: str
      login_host:
        description:
          - The host to connect to instead of the mapping's.
        type: str
      login_password:
        description:
          - The password to use instead of the mapping's.
        type: str
      login_port:
        description:
          - The port to connect to instead of the mapping's.
        type: int
      login_unix_socket:
        description:
          - A Unix socket to connect through instead of a host and port.
        type: str
      login_user:
        description:
          - The user to log in as instead of the mapping's.
        type: str
'''

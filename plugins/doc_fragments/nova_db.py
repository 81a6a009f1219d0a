# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment:

    # The options of plugins/module_utils/nova_db.py ARGUMENT_SPEC, named as in community.mysql.
    DOCUMENTATION = r'''
options:
  ca_cert:
    description:
      - A file of CA certificates; when set, the connection to the nova_api database uses TLS verified against it.
    type: path
    aliases: [ssl_ca]
  client_cert:
    description:
      - A client certificate file for TLS connections to the nova_api database.
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
  login_db:
    description:
      - The name of the nova_api database.
      - Cell databases are reached through the C(cell_mappings) table of this database.
    type: str
    default: nova_api
  login_host:
    description:
      - The host of the nova_api database.
    type: str
    default: localhost
  login_password:
    description:
      - The password of O(login_user).
    type: str
  login_port:
    description:
      - The TCP port of the nova_api database.
    type: int
    default: 3306
  login_unix_socket:
    description:
      - A Unix socket to connect through instead of O(login_host) and O(login_port).
    type: str
  login_user:
    description:
      - The database user. Audits need only C(SELECT); repairs, db_backup and db_restore need the privileges their
        modules document.
      - Unset means the user from O(config_file), else the name of the user running the module.
    type: str
requirements:
  - python >= 3.10
  - PyMySQL
notes:
  - Options given to the module take precedence over O(config_file), as with community.mysql.
  - The modules read; only an explicit repair (such as C(repair=true) of cell_mapping_check) writes, after a
    verified backup, in one transaction; db_restore writes the databases it restores.
'''

    # The same options as one dict option, nova_db, for modules that also take the OpenStack options
    # (base.py nested_families): both families have ca_cert, client_cert and client_key.
    NESTED = r'''
options:
  nova_db:
    description:
      - How to log in to the nova_api database. The cell databases are reached through its C(cell_mappings) table.
      - The suboptions are named as in community.mysql.
    type: dict
    suboptions:
      ca_cert:
        description:
          - A file of CA certificates; when set, the connection to the nova_api database uses TLS verified against it.
        type: path
        aliases: [ssl_ca]
      client_cert:
        description:
          - A client certificate file for TLS connections to the nova_api database.
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
            settings that the suboptions leave unset; O(nova_db.login_host) and O(nova_db.login_port) always come
            from the suboptions.
          - Ignored when the file does not exist.
        type: path
        default: ~/.my.cnf
      connect_timeout:
        description:
          - How long, in seconds, to wait for a database connection.
        type: int
        default: 30
      login_db:
        description:
          - The name of the nova_api database.
        type: str
        default: nova_api
      login_host:
        description:
          - The host of the nova_api database.
        type: str
        default: localhost
      login_password:
        description:
          - The password of O(nova_db.login_user).
        type: str
      login_port:
        description:
          - The TCP port of the nova_api database.
        type: int
        default: 3306
      login_unix_socket:
        description:
          - A Unix socket to connect through instead of O(nova_db.login_host) and O(nova_db.login_port).
        type: str
      login_user:
        description:
          - The database user. C(SELECT) privileges are enough, since nova's databases are only read here.
          - Unset means the user from O(nova_db.config_file), else the name of the user running the module.
        type: str
requirements:
  - python >= 3.10
  - PyMySQL
notes:
  - Nova's databases are only read here; the database sessions never commit.
'''

    # The same login options without login_db, for modules that talk to a MariaDB server rather than to nova's
    # databases (plugins/module_utils/mariadb_variables.py LOGIN_ARGUMENT_SPEC): mariadb_variables, galera_status.
    SERVER = r'''
options:
  ca_cert:
    description:
      - A file of CA certificates; when set, the connection to the server uses TLS verified against it.
    type: path
    aliases: [ssl_ca]
  client_cert:
    description:
      - A client certificate file for TLS connections to the server.
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
      - How long, in seconds, to wait for the connection.
    type: int
    default: 30
  login_host:
    description:
      - The host of the MariaDB server.
      - Each Galera node is its own server; run the module on (or point it at) each node.
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
      - The database user.
      - Unset means the user from O(config_file), else the name of the user running the module.
    type: str
requirements:
  - python >= 3.10
  - PyMySQL
notes:
  - Options given to the module take precedence over O(config_file), as with community.mysql.
'''

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment:

    # The options of plugins/module_utils/rabbitmq.py ARGUMENT_SPEC, named as in community.rabbitmq.
    DOCUMENTATION = r'''
options:
  ca_cert:
    description:
      - A file of CA certificates to verify the management API's certificate with.
    type: path
    aliases: [cacert]
  client_cert:
    description:
      - A client certificate file, for a management API that requires TLS client authentication.
    type: path
    aliases: [cert]
  client_key:
    description:
      - The private key file of O(client_cert).
    type: path
    aliases: [key]
  login_host:
    description:
      - The host of the RabbitMQ management API.
    type: str
    default: localhost
  login_password:
    description:
      - The password of O(login_user).
    type: str
    required: true
  login_port:
    description:
      - The port of the RabbitMQ management API.
    type: int
    default: 15672
  login_protocol:
    description:
      - Whether to reach the management API over plain HTTP or HTTPS.
    type: str
    choices: [http, https]
    default: http
  login_user:
    description:
      - A RabbitMQ user allowed to use the management API (tag C(monitoring) to read, C(administrator) to purge
        queues of every vhost).
    type: str
    required: true
  validate_certs:
    description:
      - Whether to verify the management API's TLS certificate.
    type: bool
    default: true
  vhost:
    description:
      - The virtual host to work in.
      - Modules that can work across virtual hosts use all of them when this is unset.
    type: str
requirements:
  - python >= 3.10
notes:
  - The modules call the management HTTP API (the C(rabbitmq_management) plugin), not C(rabbitmqctl), unless a
    module's own C(backend) option says otherwise.
'''

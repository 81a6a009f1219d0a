# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment:

    # The options of plugins/module_utils/placement.py ARGUMENT_SPEC, named as in openstack.cloud.
    DOCUMENTATION = r'''
options:
  api_timeout:
    description:
      - How long, in seconds, to wait for a single API call.
      - Unset means the value from C(clouds.yaml), else no timeout.
    type: int
  auth:
    description:
      - Authentication settings, such as C(auth_url), C(username), C(password), C(project_name) and the domain
        names, or C(endpoint) and C(token) for the C(admin_token) auth type.
      - Merged over the settings of O(cloud) when both are given.
    type: dict
  auth_type:
    description:
      - The keystoneauth plugin to authenticate with, for example C(password), C(v3applicationcredential) or
        C(admin_token).
      - Unset means the value from C(clouds.yaml), else C(password).
    type: str
  ca_cert:
    description:
      - A file of CA certificates to verify the API endpoints with.
    type: path
    aliases: [cacert]
  client_cert:
    description:
      - A client certificate file, for endpoints that require TLS client authentication.
    type: path
    aliases: [cert]
  client_key:
    description:
      - The private key file of O(client_cert).
    type: path
    aliases: [key]
  cloud:
    description:
      - The name of a cloud in C(clouds.yaml), or a dictionary of cloud settings in the same format.
      - Unset means the C(OS_*) environment variables, as for the C(openstack) client.
    type: raw
  interface:
    description:
      - Which endpoint of each service to use from the catalog.
      - Unset means the value from C(clouds.yaml), else V(public).
    type: str
    choices: [admin, internal, public]
    aliases: [endpoint_type]
  region_name:
    description:
      - The region whose endpoints to use.
    type: str
  validate_certs:
    description:
      - Whether to verify TLS certificates of the API endpoints.
      - Unset means the value from C(clouds.yaml), else V(true).
    type: bool
    aliases: [verify]
requirements:
  - python >= 3.10
  - openstacksdk
notes:
  - Options left unset fall through to C(clouds.yaml) and the C(OS_*) environment variables, exactly as for the
    C(openstack) command line client.
'''

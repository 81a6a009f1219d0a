# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment:

    # Modules that edit chosen sections of an haproxy configuration file (module_utils/haproxy_config.py,
    # FILE_ARGUMENT_SPEC); each module documents O(sections) itself, since what it does to them differs.
    DOCUMENTATION = r'''
options:
  path:
    description:
      - The haproxy configuration file.
    type: path
    default: /etc/haproxy/haproxy.cfg
  require_match:
    description:
      - Fail when an expression of O(sections) matches no section, before anything is changed. V(false) lets a list of
        services a cloud may or may not run be used as it is.
    type: bool
    default: true
  validate:
    description:
      - The command that checks the candidate file, with C(%s) where its path goes. It runs before anything is
        replaced, not in check mode.
    type: str
    default: haproxy -c -f %s
'''

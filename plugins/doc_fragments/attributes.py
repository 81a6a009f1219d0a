# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment:

    # Descriptions of the attributes every module documents.
    DOCUMENTATION = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/openstack_ops.runbooks.<group>) in C(module_defaults) to set the connection options
      of every module in the group at once.
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
'''

    # Modules that only talk to a service API: any host with Python can run them.
    PLATFORM = r'''
options: {}
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
'''

    # Modules that take none of the shared login option families, so belong to no action group.
    NO_ACTION_GROUP = r'''
options: {}
attributes:
  action_group:
    support: none
    membership: []
    details:
      - It takes none of the shared login option families (it works on a local file or socket, or takes a URL of its
        own), so no C(module_defaults) group sets its options.
'''

    # Use together with DOCUMENTATION for read-only modules.
    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
'''

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment:

    # Modules that replace a configuration file: the backup they keep, and the diff they show.
    DOCUMENTATION = r'''
options:
  backup:
    description:
      - Keep a copy of the previous file (timestamped, next to it) before it is replaced.
    type: bool
    default: true
attributes:
  diff_mode:
    support: full
    details:
      - The file before and after.
'''

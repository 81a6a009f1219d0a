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
      - The file before and after, with its secrets masked (C(********)) on both sides - passwords in URLs (such as
        C(transport_url) and C([database] connection)), the values of options whose names contain C(password),
        C(passwd), C(secret), C(token), C(credential), C(private_key) or C(sst_auth) (commented out too), and
        haproxy's C(stats auth) and userlist passwords. A change of a secret alone shows no changed line, though the
        task still reports changed. The file written is not masked.
'''

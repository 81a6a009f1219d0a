# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a fake Placement client needs besides get/put: the microversion PlacementClient would negotiate."""

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement


class Negotiated:
    """A client of a server whose version document says ``max_version`` (the newest by default)."""

    max_version = '1.39'

    @property
    def microversion(self):
        return min(placement.MICROVERSION, self.max_version, key=placement.version_tuple)

    def at_least(self, version):
        return placement.version_tuple(self.microversion) >= placement.version_tuple(version)

    def negotiate(self):
        return dict(microversion=self.microversion, max_version=self.max_version, min_version='1.0',
                    release=placement.release_of(self.max_version))

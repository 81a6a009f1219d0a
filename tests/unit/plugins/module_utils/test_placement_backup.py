# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""placement_backup: the JSON backup a clean or restore writes before any change."""

import json

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement_backup
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError


def test_a_backup_round_trips_and_a_changed_one_is_refused(tmp_path):
    consumers = {'a': placement_backup.snapshot(dict(
        allocations={'cn1': {'resources': {'VCPU': 1}, 'generation': 3}}, consumer_generation=1,
        consumer_type='INSTANCE', project_id='p', user_id='u'))}
    path, digest = placement_backup.write(str(tmp_path / 'b'), consumers)
    document = placement_backup.read(path)
    assert document['consumers'] == consumers and document['checksum'] == digest
    assert (tmp_path / 'b').stat().st_mode & 0o777 == 0o700

    tampered = json.loads(open(path).read())
    tampered['consumers']['a']['allocations']['cn1']['resources']['VCPU'] = 2
    with open(path, 'w') as stream:
        json.dump(tampered, stream)
    with pytest.raises(OpsError, match='fails its checksum'):
        placement_backup.read(path)

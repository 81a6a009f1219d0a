# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""placement_flavor: the request Nova makes of a flavor, and how a consumer's allocation differs from it."""

import json

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement_flavor


def flavor(vcpus=2, memory_mb=2048, root_gb=20, ephemeral_gb=0, swap=0, **extra_specs):
    return dict(name='f', vcpus=vcpus, memory_mb=memory_mb, root_gb=root_gb, ephemeral_gb=ephemeral_gb, swap=swap,
                extra_specs={key.replace('__', ':'): value for key, value in extra_specs.items()})


def expected(f, is_bfv=False, image=None):
    return placement_flavor.expected(f, is_bfv, image)[0]


@pytest.mark.parametrize('f, is_bfv, image, wanted', [
    (flavor(), False, None, {'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 20}),
    # swap in MB rounded up to GiB, ephemeral added, as nova's resources_from_flavor counts them
    (flavor(ephemeral_gb=5, swap=1025), False, None, {'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 27}),
    # boot from volume: no root disk; with nothing else, no DISK_GB at all
    (flavor(), True, None, {'VCPU': 2, 'MEMORY_MB': 2048}),
    (flavor(swap=512), True, None, {'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 1}),
    # pinned CPUs are PCPU, not VCPU; one more for an isolated emulator thread; the image may ask for pinning
    (flavor(hw__cpu_policy='dedicated'), False, None, {'PCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 20}),
    (flavor(hw__cpu_policy='dedicated', hw__emulator_threads_policy='isolate'), False, None,
     {'PCPU': 3, 'MEMORY_MB': 2048, 'DISK_GB': 20}),
    (flavor(), False, {'hw_cpu_policy': 'dedicated'}, {'PCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 20}),
    (flavor(hw__cpu_policy='shared'), False, None, {'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 20}),
    # extra specs override the flavor's fields; zero amounts are dropped (an Ironic flavor)
    (flavor(resources__VCPU='0', resources__MEMORY_MB='0', resources__DISK_GB='0',
            resources__CUSTOM_BAREMETAL_GOLD='1'), False, None, {'CUSTOM_BAREMETAL_GOLD': 1}),
    # granular groups are merged; an invalid class or amount is ignored as nova ignores it
    (flavor(resources1__VGPU='1', resources2__VGPU='1', resources__lower='1', resources__CUSTOM_X='many'), False,
     None, {'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 20, 'VGPU': 2}),
])
def test_expected_follows_nova(f, is_bfv, image, wanted):
    assert expected(f, is_bfv, image) == wanted


def test_a_mixed_cpu_policy_is_not_guessed():
    wanted, why = placement_flavor.expected(flavor(hw__cpu_policy='mixed'), False, None)
    assert wanted is None and 'mixed' in why


def test_parse_flavor_reads_the_current_flavor_of_instance_extra():
    text = json.dumps({'cur': {'nova_object.name': 'Flavor', 'nova_object.data': dict(
        name='m1', vcpus=1, memory_mb=512, root_gb=1, ephemeral_gb=0, swap=0, extra_specs={'a': 'b'})},
        'old': {'nova_object.data': dict(vcpus=8)}, 'new': None})
    assert placement_flavor.parse_flavor(text) == dict(
        name='m1', vcpus=1, memory_mb=512, root_gb=1, ephemeral_gb=0, swap=0, extra_specs={'a': 'b'})
    assert placement_flavor.parse_flavor(None) is None
    assert placement_flavor.parse_flavor('{') is None
    assert placement_flavor.parse_flavor(json.dumps({'cur': None})) is None


WANTED = {'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 10}
INVENTORIES = {'cn2': {'VCPU', 'MEMORY_MB', 'DISK_GB'}, 'bw': {'NET_BW_EGR_KILOBIT_PER_SEC'}, 'nfs': {'DISK_GB'}}
HOME = {'cn2', 'bw', 'nfs'}


def judge(held, wanted=None, inventories=None):
    return placement_flavor.judge(held, HOME, wanted or WANTED, inventories or INVENTORIES, 'cn2')


def test_what_the_flavor_asks_for_on_the_node_matches():
    assert judge({'cn2': WANTED}) is None
    # its disk on the shared storage that serves the node, a port's bandwidth on a child: still a match
    assert judge({'cn2': {'VCPU': 1, 'MEMORY_MB': 1024}, 'nfs': {'DISK_GB': 10},
                  'bw': {'NET_BW_EGR_KILOBIT_PER_SEC': 1000}}) is None


def test_a_missing_class_is_added_where_the_node_has_it_and_other_classes_are_kept():
    result = judge({'cn2': {'VCPU': 1, 'MEMORY_MB': 1024}, 'bw': {'NET_BW_EGR_KILOBIT_PER_SEC': 1000}})
    assert result['missing'] == {'DISK_GB': 10} and result['wrong_amount'] == {} and result['unexpected'] == {}
    assert result['target'] == {'bw': {'NET_BW_EGR_KILOBIT_PER_SEC': 1000}, 'cn2': WANTED}
    assert placement_flavor.describe(result, {}) == 'missing DISK_GB 10'


def test_a_wrong_amount_is_set_where_it_is_held():
    result = judge({'cn2': {'VCPU': 1, 'MEMORY_MB': 512}, 'nfs': {'DISK_GB': 1}})
    assert result['wrong_amount'] == {'MEMORY_MB': dict(held=512, expected=1024),
                                      'DISK_GB': dict(held=1, expected=10)}
    assert result['target'] == {'cn2': {'MEMORY_MB': 1024, 'VCPU': 1}, 'nfs': {'DISK_GB': 10}}
    assert placement_flavor.describe(result, {'nfs': 'shared'}) == (
        'DISK_GB 1 held, 10 expected; MEMORY_MB 512 held, 1024 expected')


def test_an_allocation_on_another_node_moves_to_the_instances_node():
    result = judge({'cn1': WANTED})
    assert result['missing'] == WANTED and result['wrong_provider'] == {'cn1': WANTED}
    assert result['target'] == {'cn2': WANTED}
    assert placement_flavor.describe(result, {'cn1': 'compute1'}) == (
        'missing DISK_GB 10, MEMORY_MB 1024, VCPU 1; held on compute1, not its node')


def test_a_class_the_flavor_does_not_ask_for_goes():
    # a boot-from-volume instance holding a root disk, a pinned one holding VCPU
    result = judge({'cn2': {'VCPU': 2, 'MEMORY_MB': 1024, 'DISK_GB': 10}}, wanted={'PCPU': 2, 'MEMORY_MB': 1024},
                   inventories={'cn2': {'VCPU', 'PCPU', 'MEMORY_MB', 'DISK_GB'}})
    assert result['missing'] == {'PCPU': 2} and result['unexpected'] == {'VCPU': 2, 'DISK_GB': 10}
    assert result['target'] == {'cn2': {'MEMORY_MB': 1024, 'PCPU': 2}}


def test_no_target_when_the_place_cannot_be_told():
    split = judge({'cn2': {'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 4}, 'nfs': {'DISK_GB': 4}})
    assert split['target'] is None and 'DISK_GB is split over 2 providers' in split['unrepairable']
    nowhere = judge({'cn2': {'VCPU': 1, 'MEMORY_MB': 1024}}, inventories={'cn2': {'VCPU', 'MEMORY_MB'}})
    assert nowhere['target'] is None and nowhere['unrepairable'] == 'no provider of its node has DISK_GB inventory'
    two = judge({'cn2': {'VCPU': 1, 'MEMORY_MB': 1024}},
                inventories={'cn2': {'VCPU', 'MEMORY_MB'}, 'nfs': {'DISK_GB'}, 'bw': {'DISK_GB'}})
    assert two['target'] is None and two['unrepairable'] == 'DISK_GB could go on any of bw, nfs'
    # the node's own inventory is preferred to a sharing provider's when nothing holds the class yet
    assert judge({'cn2': {'VCPU': 1, 'MEMORY_MB': 1024}})['target'] == {'cn2': WANTED}

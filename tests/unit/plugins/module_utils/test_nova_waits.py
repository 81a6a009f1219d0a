# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Waits reasoned about as retries x interval: in force, ensured, never shortened unless allowed."""

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_waits
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

BDM = nova_waits.WAITS['block_device_allocate']
RETRIES = ('DEFAULT', 'block_device_allocate_retries')
INTERVAL = ('DEFAULT', 'block_device_allocate_retries_interval')


def test_the_wait_in_force_is_the_files_or_novas_defaults():
    assert nova_waits.in_force(BDM, {}) == dict(retries=60, interval=3, total=180, source='default')
    assert nova_waits.in_force(BDM, {RETRIES: '10'}) == dict(retries=10, interval=3, total=30, source='file and default')
    assert nova_waits.in_force(BDM, {RETRIES: '10', INTERVAL: ' 10'})['total'] == 100
    # the installed nova's default wins over the table's
    assert nova_waits.in_force(BDM, {}, {RETRIES: 90, INTERVAL: 3})['total'] == 270


def test_ensure_lengthens_by_retries_keeping_the_interval_and_leaves_a_longer_wait_alone():
    assert nova_waits.ensure(BDM, {}, 600) == {RETRIES: 200}
    assert nova_waits.ensure(BDM, {INTERVAL: '7'}, 600) == {RETRIES: 86}   # 86 x 7 s = 602 s
    assert nova_waits.ensure(BDM, {RETRIES: '100', INTERVAL: '10'}, 600) == {}
    assert nova_waits.ensure(BDM, {INTERVAL: '0'}, 600) == {INTERVAL: 3, RETRIES: 200}


@pytest.mark.parametrize('seconds', [0, -5, 'ten', True, 1.5])
def test_ensure_takes_whole_seconds_only(seconds):
    with pytest.raises(OpsError, match='must be a whole number of seconds'):
        nova_waits.ensure(BDM, {}, seconds)


def test_a_shorter_wait_is_refused_naming_both_totals_unless_allowed():
    with pytest.raises(OpsError) as refused:
        nova_waits.check({RETRIES: '10', INTERVAL: '10'}, {}, False, '/etc/nova/nova.conf')

    assert 'in /etc/nova/nova.conf from 180 s (60 x 3 s, nova\'s defaults) to 100 s (10 x 10 s)' in refused.value.msg
    assert refused.value.msg.endswith('Set allow_shorter_waits to write it anyway; nothing was changed')
    allowed = nova_waits.check({RETRIES: '10', INTERVAL: '10'}, {}, True, 'nova.conf')
    assert [(report['before']['total'], report['after']['total'], report['shorter']) for report in allowed] == [
        (180, 100, True)]


def test_a_longer_wait_and_settings_outside_any_wait_pass():
    assert nova_waits.check({('database', 'max_pool_size'): '10'}, {}, False, 'nova.conf') == []
    [report] = nova_waits.check({INTERVAL: '10'}, {RETRIES: '60'}, False, 'nova.conf')
    assert (report['before']['total'], report['after']['total'], report['shorter']) == (180, 600, False)

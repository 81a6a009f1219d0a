# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from ansible_collections.openstack_ops.runbooks.plugins.modules.galera_status import problems

HEALTHY = dict(wsrep_cluster_status='Primary', wsrep_local_state_comment='Synced', wsrep_cluster_size='3',
               wsrep_ready='ON', wsrep_connected='ON')


def test_a_primary_synced_node_of_the_expected_size_is_healthy():
    assert problems(HEALTHY, 3) == []
    assert problems(HEALTHY, None) == []


def test_each_problem_is_named():
    status = dict(HEALTHY, wsrep_cluster_status='non-Primary', wsrep_local_state_comment='Joining',
                  wsrep_cluster_size='1', wsrep_ready='OFF')
    assert problems(status, 3) == ['wsrep_cluster_status is non-Primary, not Primary',
                                   'wsrep_local_state_comment is Joining, not Synced', 'wsrep_ready is OFF',
                                   'wsrep_cluster_size is 1, not 3']


def test_a_server_without_galera_or_without_an_answer():
    assert problems({}, 3) == ['the server does not answer']
    assert 'Galera is not loaded' in problems({'wsrep_ready': 'OFF'}, 3)[0]

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mariadb_option_file on a real file: the diff it returns hides the file's passwords."""

from ansible_collections.openstack_ops.runbooks.plugins.modules import mariadb_option_file

GALERA_CNF = ('[client]\npassword = client-pw\n\n[mysqld]\nmax_connections = 500\n'
              'wsrep_sst_auth = root:sst-pw\n# wsrep-sst-auth = old:old-pw\n')


def test_the_diff_masks_the_option_file_s_passwords(run_module, tmp_path):
    path = tmp_path / 'galera.cnf'
    path.write_text(GALERA_CNF)

    rc, result = run_module(mariadb_option_file.main, dict(path=str(path), options={'max_connections': 1000},
                                                           _ansible_check_mode=True, _ansible_diff=True))

    assert rc == 0, result
    assert result['changed'] is True and path.read_text() == GALERA_CNF
    masked = ('[client]\npassword = ********\n\n[mysqld]\nmax_connections = {}\n'
              'wsrep_sst_auth = ********\n# wsrep-sst-auth = ********\n')
    assert result['diff'] == dict(before=masked.format(500), after=masked.format(1000),
                                  before_header=str(path), after_header=str(path))


def test_a_changed_secret_alone_is_changed_though_the_diff_shows_no_line(run_module, tmp_path):
    path = tmp_path / 'galera.cnf'
    path.write_text(GALERA_CNF)

    rc, result = run_module(mariadb_option_file.main, dict(path=str(path), options={'wsrep_sst_auth': 'root:new-pw'},
                                                           _ansible_diff=True))

    assert rc == 0, result
    assert result['changed'] is True and 'wsrep_sst_auth = root:new-pw\n' in path.read_text()
    assert result['diff']['before'] == result['diff']['after'] and 'pw' not in result['diff']['after']

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""haproxy_sections on a real file: the diff it returns hides the file's passwords."""

from ansible_collections.openstack_ops.runbooks.plugins.modules import haproxy_sections

HAPROXY_CFG = """\
userlist admins
    user admin password $6$salt$hashed
    user op insecure-password op-pw groups ops

listen stats
    bind :1936
    stats auth admin:stats-pw
    # stats auth old:old-pw

backend nova_api
    balance source
    server ctl1 10.0.0.11:8774 check
"""
MASKED = """\
userlist admins
    user admin password ********
    user op insecure-password ******** groups ops

listen stats
    bind :1936
    stats auth admin:********
    # stats auth old:********

backend nova_api
    balance {}
    server ctl1 10.0.0.11:8774 check
"""


def test_the_diff_masks_stats_auth_and_userlist_passwords(run_module, tmp_path):
    path = tmp_path / 'haproxy.cfg'
    path.write_text(HAPROXY_CFG)

    rc, result = run_module(haproxy_sections.main, dict(path=str(path), sections=['^nova_api$'], balance='roundrobin',
                                                        validate='true %s', _ansible_diff=True))

    assert rc == 0, result
    assert result['changed'] is True and path.read_text() == HAPROXY_CFG.replace('source', 'roundrobin')
    assert result['diff'] == dict(before=MASKED.format('source'), after=MASKED.format('roundrobin'),
                                  before_header=str(path), after_header=str(path))

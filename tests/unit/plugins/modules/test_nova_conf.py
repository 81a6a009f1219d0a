# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nova_conf end to end on real files: the block-device wait (seed 002) never shortened unless allowed."""

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.modules import nova_conf

NOVA_CONF = '[DEFAULT]\ndebug = false\n\n[database]\nconnection = mysql+pymysql://nova:x@db/nova\n'
SHORT = [{'option': 'block_device_allocate_retries', 'value': 10},
         {'option': 'block_device_allocate_retries_interval', 'value': 10}]


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / 'nova.conf'
    path.write_text(NOVA_CONF)
    return path


def totals(result):
    return [(wait['before']['total'], wait['after']['total']) for wait in result['waits']]


def test_a_file_with_novas_defaults_ends_with_a_longer_wait(run_module, conf):
    rc, result = run_module(nova_conf.main, dict(path=str(conf), ensure_waits={'block_device_allocate': 600}))

    assert rc == 0, result
    assert result['changed'] is True and totals(result) == [(180, 600)]
    assert result['waits'][0]['summary'] == (f"block_device_allocate wait in {conf}: 180 s (60 x 3 s, nova's "
                                             "defaults) -> 600 s (200 x 3 s, partly nova's default)")
    assert 'block_device_allocate_retries = 200\n' in conf.read_text()
    assert 'block_device_allocate_retries_interval' not in conf.read_text()   # nova's 3 s kept
    again = run_module(nova_conf.main, dict(path=str(conf), ensure_waits={'block_device_allocate': 600}))[1]
    assert again['changed'] is False and totals(again) == [(600, 600)]


def test_a_file_with_a_longer_wait_is_left_alone(run_module, conf):
    conf.write_text(NOVA_CONF.replace('debug = false\n', 'debug = false\nblock_device_allocate_retries = 100\n'
                                      'block_device_allocate_retries_interval = 10\n'))
    before = conf.read_text()

    rc, result = run_module(nova_conf.main, dict(path=str(conf), ensure_waits={'block_device_allocate': 600}))

    assert rc == 0 and result['changed'] is False and conf.read_text() == before
    assert totals(result) == [(1000, 1000)] and result['waits'][0]['before']['source'] == 'file'


def test_an_explicit_shorter_setting_is_refused_naming_both_totals_unless_allowed(run_module, conf):
    rc, refused = run_module(nova_conf.main, dict(path=str(conf), settings=SHORT))

    assert rc == 1 and conf.read_text() == NOVA_CONF
    assert "from 180 s (60 x 3 s, nova's defaults) to 100 s (10 x 10 s)" in refused['msg']
    assert 'allow_shorter_waits' in refused['msg'] and refused['msg'].endswith('nothing was changed')

    rc, allowed = run_module(nova_conf.main, dict(path=str(conf), settings=SHORT, allow_shorter_waits=True))
    assert rc == 0 and allowed['changed'] is True and totals(allowed) == [(180, 100)]
    assert allowed['waits'][0]['shorter'] is True


def test_a_wait_cannot_be_both_ensured_and_set(run_module, conf):
    rc, result = run_module(nova_conf.main, dict(path=str(conf), settings=SHORT[:1],
                                                 ensure_waits={'block_device_allocate': 600}))

    assert rc == 1 and 'ensure_waits sets block_device_allocate' in result['msg'] and conf.read_text() == NOVA_CONF


def test_a_host_without_nova_compute_takes_no_block_device_wait(run_module, conf):
    rc, result = run_module(nova_conf.main, dict(path=str(conf), ensure_waits={'block_device_allocate': 600},
                                                 services_here=['nova-api', 'nova-conductor']))

    assert rc == 0 and result['changed'] is False and result['waits'] == [] and conf.read_text() == NOVA_CONF


def test_an_unknown_wait_is_named(run_module, conf):
    rc, result = run_module(nova_conf.main, dict(path=str(conf), ensure_waits={'volume_wait': 600}))

    assert rc == 1 and "'volume_wait' is not a wait this module knows (known: block_device_allocate)" in result['msg']


SECRET_CONF = ('[DEFAULT]\ntransport_url = rabbit://nova:rabbit-pw@ctl1:5672,nova:rabbit-pw2@ctl2:5672/\n\n'
               '[database]\nconnection = mysql+pymysql://nova:db-pw@db/nova\n\n'
               '[keystone_authtoken]\nauth_type = password\npassword = keystone-pw\n#memcache_secret_key = mc-pw\n')


def test_the_diff_masks_every_secret_of_the_file(run_module, conf):
    conf.write_text(SECRET_CONF)

    rc, result = run_module(nova_conf.main, dict(path=str(conf), ensure_waits={'block_device_allocate': 600},
                                                 _ansible_check_mode=True, _ansible_diff=True))

    assert rc == 0, result
    assert result['changed'] is True and conf.read_text() == SECRET_CONF
    diff = result['diff']
    assert diff['before_header'] == diff['after_header'] == str(conf)
    for side in (diff['before'], diff['after']):
        assert not any(secret in side for secret in ('rabbit-pw', 'db-pw', 'keystone-pw', 'mc-pw')), side
        assert 'rabbit://nova:********@ctl1:5672,nova:********@ctl2:5672/' in side
        assert 'mysql+pymysql://nova:********@db/nova' in side and 'auth_type = password\n' in side
        assert 'password = ********\n#memcache_secret_key = ********\n' in side
    assert 'block_device_allocate_retries = 200' in diff['after']


def test_a_changed_secret_alone_is_changed_though_the_diff_shows_no_line(run_module, conf):
    conf.write_text(SECRET_CONF)
    setting = [{'section': 'keystone_authtoken', 'option': 'password', 'value': 'new-pw', 'services': ['nova-api']}]

    rc, result = run_module(nova_conf.main, dict(path=str(conf), settings=setting, _ansible_diff=True))

    assert rc == 0, result
    assert result['changed'] is True and 'password = new-pw\n' in conf.read_text()   # the file is not masked
    assert result['diff']['before'] == result['diff']['after']
    assert 'new-pw' not in result['diff']['after'] and 'keystone-pw' not in result['diff']['before']

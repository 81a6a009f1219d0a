# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""haproxy_active_server end to end on files: the report, one writer, check mode, idempotence and the refusals."""

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.modules import haproxy_active_server

# Seed 002's entrance to Galera: three controllers, every one a writer.
MULTI = """\
defaults
    mode http
    timeout client 60s

listen nova_api
    bind :8774
    server ctl1 10.0.0.11:8774 check
    server ctl2 10.0.0.12:8774 check

listen mariadb
    mode tcp
    bind 10.0.0.10:3306
    timeout client 90m   # seed 002
    server ctl1 10.0.0.11:3306 check inter 2000 rise 2 fall 5
    server ctl2 10.0.0.12:3306 check inter 2000 rise 2 fall 5
    server ctl3 10.0.0.13:3306 check inter 2000 rise 2 fall 5  # third
"""
SINGLE = (MULTI
          .replace('ctl2 10.0.0.12:3306 check inter 2000 rise 2 fall 5', 'ctl2 10.0.0.12:3306 check inter 2000 rise 2 fall 5 backup')
          .replace('ctl3 10.0.0.13:3306 check inter 2000 rise 2 fall 5  # third',
                   'ctl3 10.0.0.13:3306 check inter 2000 rise 2 fall 5 backup  # third'))


@pytest.fixture
def config(tmp_path):
    path = tmp_path / 'haproxy.cfg'
    path.write_text(MULTI)
    return path


def run(run_module, config, **args):
    return run_module(haproxy_active_server.main, dict(dict(path=str(config), sections=['^mariadb$'], validate='true %s'),
                                                       **args))


def files(config):
    return sorted(p.name for p in config.parent.iterdir())


def test_present_reports_three_writers_with_the_seed_s_consequence_and_changes_nothing(run_module, config):
    rc, result = run(run_module, config, state='present')

    assert rc == 0, result
    assert result['changed'] is False and result['multi_writer'] == ['mariadb']
    assert result['sections'] == [dict(name='mariadb', kind='listen', servers=['ctl1', 'ctl2', 'ctl3'],
                                       active_before=['ctl1', 'ctl2', 'ctl3'], active=['ctl1', 'ctl2', 'ctl3'],
                                       backup=[], multi_writer=True, allbackups=False, changed=False)]
    assert 'mariadb has 3 active servers (ctl1, ctl2, ctl3)' in result['msg']
    assert 'may not yet see a write committed through another' in result['msg'] and 'volume ids' in result['msg']
    assert config.read_text() == MULTI and files(config) == ['haproxy.cfg']


def test_single_keeps_the_first_active_flags_the_others_backup_and_backs_up(run_module, config):
    rc, result = run(run_module, config, _ansible_diff=True)

    assert rc == 0, result
    assert result['changed'] is True and result['changed_sections'] == ['mariadb']
    assert result['sections'][0]['active'] == ['ctl1'] and result['sections'][0]['backup'] == ['ctl2', 'ctl3']
    assert config.read_text() == SINGLE        # only the two server lines changed, comments kept
    assert result['backup_file'] and open(result['backup_file'], encoding='utf-8').read() == MULTI
    assert '+    server ctl2 10.0.0.12:3306 check inter 2000 rise 2 fall 5 backup' not in result['msg']
    assert result['diff']['after'] == SINGLE and result['diff']['before'] == MULTI
    assert 'now: ctl1 active, ctl2, ctl3 backup' in result['msg']

    rc, again = run(run_module, config)
    assert rc == 0 and again['changed'] is False and again['multi_writer'] == []
    assert again['msg'] == 'mariadb has one active server (ctl1)'
    assert len(files(config)) == 2      # the file and the one backup: the second run wrote nothing


def test_check_mode_plans_the_same_change_and_writes_nothing(run_module, config):
    rc, result = run(run_module, config, _ansible_check_mode=True, _ansible_diff=True)

    assert rc == 0, result
    assert result['changed'] is True and result['diff']['after'] == SINGLE
    assert 'planned: ctl1 active' in result['msg']
    assert config.read_text() == MULTI and files(config) == ['haproxy.cfg']


def test_the_one_already_active_is_kept_and_a_named_one_is_made_active(run_module, config):
    second_active = (SINGLE
                     .replace('ctl1 10.0.0.11:3306 check inter 2000 rise 2 fall 5', 'ctl1 10.0.0.11:3306 check inter 2000 rise 2 fall 5 backup')
                     .replace('ctl2 10.0.0.12:3306 check inter 2000 rise 2 fall 5 backup', 'ctl2 10.0.0.12:3306 check inter 2000 rise 2 fall 5'))
    config.write_text(second_active)
    rc, result = run(run_module, config)
    assert rc == 0 and result['changed'] is False and result['sections'][0]['active'] == ['ctl2']

    rc, result = run(run_module, config, active='ctl1')
    assert rc == 0 and result['changed'] is True
    assert config.read_text() == SINGLE


def test_all_backup_makes_the_first_active(run_module, config):
    config.write_text(SINGLE.replace('rise 2 fall 5\n    server ctl2', 'rise 2 fall 5 backup\n    server ctl2'))
    rc, result = run(run_module, config)
    assert rc == 0 and result['sections'][0]['active_before'] == [] and result['changed'] is True
    assert config.read_text() == SINGLE


@pytest.mark.parametrize('args, edit, message', [
    (dict(active='ctl9'), None, "listen mariadb in {path} has no server 'ctl9' (its servers: ctl1, ctl2, ctl3)"),
    (dict(sections=['^galera']), None, 'no backend or listen section matches ^galera'),
    (dict(sections=['(']), None, "sections: '(' is not a regular expression"),
    (dict(), ('    server ctl1', '    option allbackups\n    server ctl1'), 'has option allbackups'),
    (dict(), ('check inter 2000 rise 2 fall 5\n    server ctl2', 'disabled check\n    server ctl2'),
     'server ctl1 is disabled and cannot be the active one'),
    (dict(), ('    server ctl', '    # server ctl'), 'has no server line'),
    (dict(validate='false %s'), None, 'fails its check (false %s); {path} is unchanged'),
    (dict(validate='haproxy -c'), None, 'validate must contain %s'),
])
def test_refusals_say_why_and_change_nothing(run_module, config, args, edit, message):
    text = MULTI.replace(*edit) if edit else MULTI
    config.write_text(text)

    rc, result = run(run_module, config, **args)

    assert rc == 1 and result['failed'] is True
    assert message.format(path=config) in result['msg'], result['msg']
    assert config.read_text() == text and files(config) == ['haproxy.cfg']


def test_refusals_are_checked_in_every_section_before_any_edit(run_module, config):
    text = MULTI + 'listen galera_2\n    option allbackups\n    server g1 10.0.1.1:3306\n    server g2 10.0.1.2:3306\n'
    config.write_text(text)
    rc, result = run(run_module, config, sections=['^mariadb$', '^galera'])
    assert rc == 1 and 'galera_2' in result['msg'] and config.read_text() == text


def test_present_reports_allbackups_and_a_disabled_first_server_without_refusing(run_module, config):
    config.write_text(MULTI.replace('    server ctl1', '    option allbackups\n    server ctl1'))
    rc, result = run(run_module, config, state='present')
    assert rc == 0 and result['sections'][0]['allbackups'] is True and result['changed'] is False


def test_the_diff_masks_stats_auth_and_userlist_passwords(run_module, config):
    secrets = ('userlist admins\n    user admin password $6$salt$hashed groups ops\n'
               '    user op insecure-password op-pw\n\nlisten stats\n    bind :1936\n    stats auth admin:stats-pw\n\n')
    config.write_text(secrets + MULTI)

    rc, result = run(run_module, config, _ansible_check_mode=True, _ansible_diff=True)

    assert rc == 0, result
    assert result['changed'] is True and config.read_text() == secrets + MULTI
    masked = ('userlist admins\n    user admin password ******** groups ops\n'
              '    user op insecure-password ********\n\nlisten stats\n    bind :1936\n    stats auth admin:********\n\n')
    assert result['diff']['before'] == masked + MULTI and result['diff']['after'] == masked + SINGLE

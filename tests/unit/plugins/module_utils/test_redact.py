# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import file_diff, mask_config_text, mask_url, redact


@pytest.mark.parametrize('text, expected', [
    ('mysql+pymysql://nova:s3cret@10.0.0.5:3306/nova?charset=utf8',
     'mysql+pymysql://nova:********@10.0.0.5:3306/nova?charset=utf8'),
    ('rabbit://openstack:pw1@ctl1:5672,openstack:pw2@ctl2:5672/nova',
     'rabbit://openstack:********@ctl1:5672,openstack:********@ctl2:5672/nova'),
    ('mysql+pymysql://nova:pa%40ss@[fd00::5]:3306/nova',
     'mysql+pymysql://nova:********@[fd00::5]:3306/nova'),
    # Unencoded '@', '/' and ':' in a password are hidden whole.
    ('mysql+pymysql://nova:p@ss/w:rd@db/nova', 'mysql+pymysql://nova:********@db/nova'),
    ('rabbit://u:p,w@h/', 'rabbit://u:********@h/'),
    ('mysql://:only-password@db/nova', 'mysql://:********@db/nova'),
    ("connect to 'mysql://nova:x@db/nova' failed, mail admin@example.com",
     "connect to 'mysql://nova:********@db/nova' failed, mail admin@example.com"),
    ('mysql://first:a@db1/x and mysql://second:b@db2/y',
     'mysql://first:********@db1/x and mysql://second:********@db2/y'),
])
def test_mask_url_hides_passwords(text, expected):
    assert mask_url(text) == expected


@pytest.mark.parametrize('text', [
    'mysql+pymysql://nova@db/nova',
    'http://placement:8778/resource_providers',
    'http://[::1]:15672/api/queues/%2F',
    'no URL here: user:pass@host',
    '',
])
def test_mask_url_leaves_urls_without_passwords_alone(text):
    assert mask_url(text) == text


def test_redact_masks_nested_strings_and_keeps_other_values():
    details = {
        'url': 'rabbit://u:secret@h:5672/',
        'hosts': ['mysql://a:secret@h/db', 3],
        'nested': {'pair': ('mysql://b:secret@h/db', None)},
        'count': 7,
    }

    assert redact(details) == {
        'url': 'rabbit://u:********@h:5672/',
        'hosts': ['mysql://a:********@h/db', 3],
        'nested': {'pair': ['mysql://b:********@h/db', None]},
        'count': 7,
    }


@pytest.mark.parametrize('line, expected', [
    # URLs in any option (nova.conf's transport_url and [database] connection)
    ('transport_url = rabbit://nova:pw1@ctl1:5672,nova:pw2@ctl2:5672/',
     'transport_url = rabbit://nova:********@ctl1:5672,nova:********@ctl2:5672/'),
    ('connection = mysql+pymysql://nova:pw@db/nova', 'connection = mysql+pymysql://nova:********@db/nova'),
    ('transport_url = rabbit://nova:pw1@ctl1:5672,\n    nova:pw2@ctl2:5672,nova:pw3@ctl3:5672/',
     'transport_url = rabbit://nova:********@ctl1:5672,\n    nova:********@ctl2:5672,nova:********@ctl3:5672/'),
    # options whose names look secret, the value to the end of the line, commented out with '#' or ';' too
    ('password = keystone pw', 'password = ********'),
    ('admin_password=pw', 'admin_password=********'),
    ('memcache_secret_key = pw', 'memcache_secret_key = ********'),
    ('passwd: pw', 'passwd: ********'),
    ('auth_token = pw', 'auth_token = ********'),
    ('application_credential_secret = pw', 'application_credential_secret = ********'),
    ('ssl_private_key = pw', 'ssl_private_key = ********'),
    ('PASSWORD = pw', 'PASSWORD = ********'),
    ('  password = pw  ', '  password = ********  '),
    ('#password = pw', '#password = ********'),
    ('; password = pw', '; password = ********'),
    # MariaDB option files: wsrep_sst_auth (dashes or underscores), [client] password
    ('wsrep_sst_auth = root:pw', 'wsrep_sst_auth = ********'),
    ('loose-wsrep-sst-auth="root:pw"', 'loose-wsrep-sst-auth=********'),
    ('password = "p w"  # comment', 'password = ********'),
    # haproxy
    ('    stats auth admin:pw', '    stats auth admin:********'),
    ('    stats auth admin:"p w"', '    stats auth admin:********'),
    ('fixed_key = 0123abcd', 'fixed_key = ********'),
    ('    # stats auth admin:pw', '    # stats auth admin:********'),
    ('    user admin password $6$salt$hash groups ops', '    user admin password ******** groups ops'),
    ('    user op insecure-password pw', '    user op insecure-password ********'),
])
def test_mask_config_text_hides_each_form_of_secret(line, expected):
    assert mask_config_text(line) == expected
    assert mask_config_text(f'[section]\n{line}\nnext = 1\n') == f'[section]\n{expected}\nnext = 1\n'


@pytest.mark.parametrize('text', [
    'auth_type = password\n',       # a secret-looking value under a plain name
    'password =\n',                 # nothing to hide
    '[keystone_authtoken]\n',
    '# The password of the service user. (string value)\n',
    '    bind :::80\n    server ctl1 10.0.0.11:3306 check\n',
    'max_connections = 500\r\nwsrep_sst_method = mariabackup\n',
    '',
])
def test_mask_config_text_leaves_the_rest_alone(text):
    assert mask_config_text(text) == text


def test_file_diff_masks_both_sides_and_keeps_the_headers():
    assert file_diff('password = a\nx = 1\n', 'password = b\nx = 2\n', '/etc/nova/nova.conf') == dict(
        before='password = ********\nx = 1\n', after='password = ********\nx = 2\n',
        before_header='/etc/nova/nova.conf', after_header='/etc/nova/nova.conf')

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import mask_url, redact


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

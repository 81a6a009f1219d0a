# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import pytest

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import oslo_ini
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError

NOVA_CONF = """\
# nova.conf of ctl1
[DEFAULT]
debug = false
#block_device_allocate_retries = 60
rpc_response_timeout=30
transport_url = rabbit://nova:secret@ctl1:5672,
    nova:secret@ctl2:5672/
    # an indented comment is part of the value too

[Database]
connection = mysql+pymysql://nova:x@db/nova
max_pool_size = 5  # not a comment for oslo.config
# a comment after the section's last option

[filter_scheduler]
[DEFAULT]
rpc_response_timeout = 45
"""


def test_values_are_read_as_oslo_config_reads_them():
    values = oslo_ini.read(NOVA_CONF)
    assert values[('DEFAULT', 'rpc_response_timeout')] == '45'   # the last one wins
    assert values[('DEFAULT', 'transport_url')] == (
        'rabbit://nova:secret@ctl1:5672,\nnova:secret@ctl2:5672/\n# an indented comment is part of the value too')
    assert values[('database', 'max_pool_size')] == '5  # not a comment for oslo.config'
    assert ('DEFAULT', 'block_device_allocate_retries') not in values


def test_one_pair_of_quotes_is_removed():
    assert oslo_ini.read('[a]\nx = "  padded "\ny = \'q\'\nz = "half\n') == {
        ('a', 'x'): '  padded ', ('a', 'y'): 'q', ('a', 'z'): '"half'}


def test_a_set_option_is_rewritten_in_place_every_time_it_occurs_and_other_lines_stay():
    after = oslo_ini.render(NOVA_CONF, {('DEFAULT', 'rpc_response_timeout'): 180, ('database', 'max_pool_size'): 10})
    assert after == NOVA_CONF.replace('rpc_response_timeout=30', 'rpc_response_timeout=180').replace(
        'rpc_response_timeout = 45', 'rpc_response_timeout = 180').replace(
        'max_pool_size = 5  # not a comment for oslo.config', 'max_pool_size = 10')


def test_a_continued_value_is_replaced_with_its_continuation_lines():
    after = oslo_ini.render(NOVA_CONF, {('DEFAULT', 'transport_url'): 'rabbit://nova:secret@vip:5672/'})
    assert 'transport_url = rabbit://nova:secret@vip:5672/\n\n[Database]' in after
    assert 'ctl2' not in after and 'indented comment' not in after


def test_a_missing_option_goes_after_the_last_option_of_the_sections_last_occurrence():
    after = oslo_ini.render(NOVA_CONF, {('DEFAULT', 'block_device_allocate_retries'): 10,
                                        ('database', 'max_overflow'): 20,
                                        ('filter_scheduler', 'host_subset_size'): 3})
    lines = after.splitlines()
    assert lines[lines.index('max_pool_size = 5  # not a comment for oslo.config') + 1] == 'max_overflow = 20'
    assert lines[lines.index('[filter_scheduler]') + 1] == 'host_subset_size = 3'
    assert lines[-2:] == ['rpc_response_timeout = 45', 'block_device_allocate_retries = 10']
    assert '#block_device_allocate_retries = 60' in lines   # the commented default stays


def test_a_missing_section_is_added_at_the_end():
    assert oslo_ini.render('[DEFAULT]\ndebug = true', {('conductor', 'workers'): 2, ('conductor', 'x'): 'y'}) == (
        '[DEFAULT]\ndebug = true\n\n[conductor]\nworkers = 2\nx = y\n')
    assert oslo_ini.render('', {('DEFAULT', 'debug'): 'true'}) == '[DEFAULT]\ndebug = true\n'


def test_rendering_what_is_there_changes_nothing():
    assert oslo_ini.render(NOVA_CONF, {}) == NOVA_CONF
    after = oslo_ini.render(NOVA_CONF, {('database', 'max_overflow'): 20})
    assert oslo_ini.render(after, {('database', 'max_overflow'): 20}) == after


def test_an_empty_value_is_filled_in_the_style_of_its_line():
    assert oslo_ini.render('[a]\nx =\ny=\nz=3\n', {('a', 'x'): 1, ('a', 'y'): 2, ('a', 'z'): 4}) == '[a]\nx = 1\ny=2\nz=4\n'


def test_values_oslo_config_would_change_are_quoted_and_multi_line_values_refused():
    assert oslo_ini.format_value(' padded') == '" padded"'
    assert oslo_ini.format_value('"x"') == '""x""'
    assert oslo_ini.format_value('a # b') == 'a # b'
    with pytest.raises(OpsError, match='one line'):
        oslo_ini.format_value('a\nb')


@pytest.mark.parametrize('text, problem', [
    ('x = 1\n', 'line 1: an assignment before any [section]'),
    ('[a]\n  x = 1\n', 'line 2: an indented line that continues no value'),
    ('[a\nx = 1\n', 'line 1: a section header must be [name]'),
    ('[a]\njust words\n', "line 2: an assignment needs a key and '=' or ':'"),
])
def test_a_file_oslo_config_would_refuse_is_refused_naming_the_line(text, problem):
    with pytest.raises(OpsError, match=problem.replace('[', r'\[')):
        oslo_ini.read(text, source='nova.conf')


def test_names_are_checked():
    assert oslo_ini.check_name('option', 'max_pool_size') == 'max_pool_size'
    with pytest.raises(OpsError, match="'max pool' is not a option name"):
        oslo_ini.check_name('option', 'max pool')

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import haproxy_config as cfg

LINES = """\
global
  stats socket /run/haproxy/admin.sock level admin
defaults
  balance source
listen nova_api  # the API
  bind :8774
\tbalance   source   # tab-indented, spaced
backend empty
""".splitlines(keepends=True)


def test_sections_are_found_with_their_lines():
    sections = cfg.parse(LINES)
    assert [(s.kind, s.name, s.header, s.end) for s in sections] == [
        ('global', None, 0, 2), ('defaults', None, 2, 4), ('listen', 'nova_api', 4, 7), ('backend', 'empty', 7, 8)]


def test_find_and_value_ignore_comments_and_spacing():
    listen = cfg.parse(LINES)[2]
    index = cfg.find(LINES, listen, 'balance')
    assert index == 6 and cfg.value(LINES, index, 1) == 'source'
    assert cfg.find(LINES, listen, 'timeout', 'client') is None and cfg.value(LINES, None, 1) is None


def test_rewrite_keeps_indentation_and_the_trailing_comment():
    assert cfg.rewrite(LINES[6], 'balance roundrobin') == '\tbalance roundrobin   # tab-indented, spaced\n'
    assert cfg.rewrite('    balance source', 'balance leastconn') == '    balance leastconn\n'


def test_indent_of_a_section_is_its_first_line_or_four_spaces():
    sections = cfg.parse(LINES)
    assert cfg.indent_of(LINES, sections[0]) == '  '
    assert cfg.indent_of(LINES, sections[3]) == cfg.DEFAULT_INDENT

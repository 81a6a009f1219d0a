# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""haproxy_config: sections, the lines in them, and rewriting one line while keeping its layout."""

import pytest

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


CONFIG = """\
# haproxy.cfg, written by kolla-ansible
#   backend old_api   (a comment, not a section)

global
    daemon
defaults
    timeout connect 5s
    timeout client 1m   # was 30s
frontend public
    default_backend nova_api
    use_backend placement_api if { path_beg /placement }
backend nova_api

    # the API servers
  option httpchk GET /
    balance url_param userid check_post
    timeout server 2m
    timeout server 3m
    server ctl1 10.0.0.11:8774 check

""".splitlines(keepends=True)


def test_lines_before_the_first_section_are_in_none_and_blank_lines_after_one_are_in_it():
    sections = cfg.parse(CONFIG)

    assert [(s.kind, s.name, s.header, s.end) for s in sections] == [
        ('global', None, 3, 5), ('defaults', None, 5, 8), ('frontend', 'public', 8, 11), ('backend', 'nova_api', 11, 20)]
    assert list(sections[0].body()) == [4]


@pytest.mark.parametrize('line, words', [
    ('    timeout client 1m   # was 30s\n', ['timeout', 'client', '1m']),
    ('#   backend old_api\n', []),
    ('\t\n', []),
    ('server ctl1 10.0.0.11:8774 check#no space\n', ['server', 'ctl1', '10.0.0.11:8774', 'check']),
])
def test_tokens_are_the_words_before_the_comment(line, words):
    assert cfg.tokens(line) == words


@pytest.mark.parametrize('section, keyword, index', [
    (1, ('timeout', 'client'), 7),
    (1, ('timeout',), 6),                 # the first line that starts with the words
    (3, ('timeout', 'server'), 16),       # the first of two
    (3, ('option', 'httpchk'), 14),       # indentation does not matter
    (3, ('option', 'httpchk', 'GET', '/', 'x'), None),
    (3, ('timeout', 'client'), None),     # the defaults' one is in another section
    (3, ('server', 'ctl1'), 18),
    (3, ('serve',), None),                # whole words only
    (2, ('backend',), None),              # default_backend is not backend
])
def test_find_looks_in_its_section_only_for_whole_leading_words(section, keyword, index):
    assert cfg.find(CONFIG, cfg.parse(CONFIG)[section], *keyword) == index


def test_value_joins_the_words_after_the_skipped_ones_without_the_comment():
    assert cfg.value(CONFIG, 7, 2) == '1m'
    assert cfg.value(CONFIG, 15, 1) == 'url_param userid check_post'
    assert cfg.value(CONFIG, 15, 4) == ''


@pytest.mark.parametrize('line, expected', [
    ('    timeout client 1m   # was 30s\n', '    timeout client 5m   # was 30s\n'),
    ('    timeout client 1m#x\n', '    timeout client 5m#x\n'),
    ('\ttimeout client 1m   \n', '\ttimeout client 5m\n'),   # trailing blanks without a comment go
    ('timeout client 1m # a # b\n', 'timeout client 5m # a # b\n'),
])
def test_rewrite_replaces_only_the_words(line, expected):
    assert cfg.rewrite(line, 'timeout client 5m') == expected


def test_indent_of_skips_blank_and_comment_lines_and_an_unindented_first_line_gets_four_spaces():
    sections = cfg.parse(CONFIG)
    # backend nova_api: a blank line, then a comment line, then "  option httpchk"
    assert cfg.indent_of(CONFIG, sections[3]) == '  '
    assert cfg.indent_of(['backend b\n', 'balance source\n'], cfg.parse(['backend b\n', 'balance source\n'])[0]) == '    '


GALERA = """\
listen mariadb
    mode tcp
    server gal1 10.0.0.11:3306 check inter 2000 rise 2 fall 5   # the first
    server gal2 10.0.0.12:3306 check backup inter 2000
\tserver gal3 10.0.0.13:3306 disabled check
    server-template extra 3 _mysql._tcp.example resolvers dns
""".splitlines(keepends=True)


def test_servers_are_the_server_lines_with_their_flags():
    assert cfg.servers(GALERA, cfg.parse(GALERA)[0]) == [
        dict(index=2, name='gal1', address='10.0.0.11:3306', backup=False, disabled=False),
        dict(index=3, name='gal2', address='10.0.0.12:3306', backup=True, disabled=False),
        dict(index=4, name='gal3', address='10.0.0.13:3306', backup=False, disabled=True),
    ]


@pytest.mark.parametrize('line, present, expected', [
    (GALERA[2], True, '    server gal1 10.0.0.11:3306 check inter 2000 rise 2 fall 5 backup   # the first\n'),
    (GALERA[3], False, '    server gal2 10.0.0.12:3306 check inter 2000\n'),
    (GALERA[3], True, '    server gal2 10.0.0.12:3306 check inter 2000 backup\n'),
    (GALERA[4], True, '\tserver gal3 10.0.0.13:3306 disabled check backup\n'),
    ('server backup 10.0.0.14:3306 check\n', True, 'server backup 10.0.0.14:3306 check backup\n'),   # a server named backup
])
def test_with_flag_adds_or_removes_the_word_after_the_address_only(line, present, expected):
    assert cfg.with_flag(line, 'backup', present) == expected

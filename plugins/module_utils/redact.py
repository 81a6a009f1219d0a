# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hide credentials embedded in URLs and configuration files before they reach task output."""

import re

MASK = '********'

# user:password@ after a scheme, or after a comma in multi-host URLs such as
# rabbit://u:p@h1:5672,u:p@h2:5672/vhost. The password runs to the first '@'
# that has no other '@' after it in the same URL (up to whitespace, a quote or
# a comma), so a password holding a raw '@', '/' or ':' is still masked whole.
_CREDENTIALS = re.compile(
    r'(?P<prefix>[A-Za-z][A-Za-z0-9+.-]*://|,)'
    r'(?P<user>[^:/@,\s]*):(?P<password>[^\s]*?)@'
    r'(?=[^@\s,\'"]*(?:[\s,\'"]|$))'
)


def mask_url(text):
    """Return text with the password of every URL in it replaced by a mask."""
    return _CREDENTIALS.sub(
        lambda match: f"{match.group('prefix')}{match.group('user')}:{MASK}@", text)


def redact(value):
    """Apply mask_url to every string inside nested dicts, lists and tuples."""
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return value


# The name of an option that holds a secret (nova.conf's [keystone_authtoken] password, memcache_secret_key,
# [key_manager] fixed_key, MariaDB's password in [client] or wsrep_sst_auth); a name containing any of these is
# taken as one.
SECRET_NAME = re.compile(r'password|passwd|secret|token|credential|private[_-]key|sst[_-]auth|fixed[_-]key',
                         re.IGNORECASE)

# An INI or MariaDB option line, perhaps commented out with '#' or ';': its value runs to the end of the line.
_OPTION = re.compile(r'^(?P<key>[ \t]*(?:[#;][ \t]*)?(?P<name>[\w.-]+)[ \t]*[=:][ \t]*)(?P<value>\S(?:.*\S)?)',
                     re.MULTILINE)

# An indented line that starts with user:password@host continues a multi-host URL of the line above (oslo.config's
# continuation lines: 'transport_url = rabbit://u:p@h1:5672,' then '    u:p@h2:5672/'); mask_url sees no scheme or
# comma before it on its line.
_CONTINUED_URL = re.compile(r'^(?P<prefix>[ \t]+)(?P<user>[^:/@,\s]*):(?P<password>\S*?)@'
                            r'(?=[^@\s,\'"]*(?:[\s,\'"]|$))', re.MULTILINE)

# haproxy: 'stats auth <user>:<password>', and a userlist's 'user <name> password <hash>' or
# 'user <name> insecure-password <password>' (perhaps followed by 'groups ...').
_HAPROXY = re.compile(r'^(?P<key>[ \t]*(?:#[ \t]*)?(?:stats[ \t]+auth[ \t]+[^:\s]*:'
                      r'|user[ \t]+\S+[ \t]+(?:insecure-)?password[ \t]+))(?P<value>"[^"\n]*"?|\S+)',
                      re.MULTILINE)


def mask_config_text(text):
    """A configuration file's text with its secrets masked, for a diff shown to the user.

    Masks the password of every URL (mask_url; a multi-host URL continued on indented lines too), the value of
    every option whose name looks secret (SECRET_NAME), commented out or not, and haproxy's 'stats auth' and
    userlist passwords. Only the values change: every line stays where it is, so a diff of two masked texts still
    lines up with the file.
    """
    text = _CONTINUED_URL.sub(lambda match: f"{match.group('prefix')}{match.group('user')}:{MASK}@", mask_url(text))
    text = _HAPROXY.sub(lambda match: match.group('key') + MASK, text)
    return _OPTION.sub(lambda match: (match.group('key') + MASK if SECRET_NAME.search(match.group('name'))
                                      else match.group(0)), text)


def file_diff(before, after, path):
    """The diff a module returns for a file it edits, both sides masked with mask_config_text.

    A change of a secret alone shows no changed line (both sides read the mask); the module still reports changed.
    """
    return dict(before=mask_config_text(before), after=mask_config_text(after), before_header=path, after_header=path)

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hide credentials embedded in URLs before they reach task output."""

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

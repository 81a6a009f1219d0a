"""Placement as an older release serves it: a WSGI entry for gunicorn (test lab only).

OPS_LAB_PLACEMENT_MAX_MICROVERSION (for example 1.36, Train's maximum) trims placement's own list of
microversions before the API is built, so that the real service answers the way an older one does: its version
document (GET /) advertises that maximum, its microversion middleware answers 406 Not Acceptable above it,
and every handler's version range ends there. Behaviour below the maximum is placement 16's.
"""
import os

from placement import microversion

MAX_VERSION = os.environ["OPS_LAB_PLACEMENT_MAX_MICROVERSION"]
if MAX_VERSION not in microversion.VERSIONS:
    raise ValueError(f"placement {microversion.max_version_string()} has no microversion {MAX_VERSION}")
# In place: the middleware, the root handler and version_handler all read this one list.
del microversion.VERSIONS[microversion.VERSIONS.index(MAX_VERSION) + 1:]

from placement.wsgi.api import application  # noqa: E402  pylint: disable=wrong-import-position

__all__ = ["application"]

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OpenStack options, an openstacksdk connection, and the Placement API: its calls, microversion, paths and conflict retry.

Placement is called through the SDK's placement proxy (a keystoneauth Adapter)
with an explicit microversion per call, so behaviour does not depend on which
Placement resources the installed openstacksdk happens to model. The audit, the
fit check and the clean name their microversion and paths from here, so that
what the collection asks of Placement is written down once.

The microversion is negotiated once per connection: the highest the collection
uses (MICROVERSION) that the server's version document (GET /) says it serves.
What each action needs below that is named here too (CONSUMER_GENERATIONS, ...).
"""

import importlib.util
import traceback
from urllib.parse import quote

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import ApiError, OpsError

# openstacksdk takes about half a second to import, which an audit reading Placement's database never needs:
# it is found now and imported by the first connection (load_sdk). Its errors are handled from then on.
sdk = None
ERRORS = ()
_MISSING = [name for name in ('openstack', 'keystoneauth1') if importlib.util.find_spec(name) is None]
IMPORT_ERROR = f"ModuleNotFoundError: No module named {', '.join(map(repr, _MISSING))}" if _MISSING else None

REQUIRED_LIBRARY = 'openstacksdk'
ERROR_LABEL = 'OpenStack request failed'

ARGUMENT_SPEC = dict(
    cloud=dict(type='raw'),
    auth=dict(type='dict', no_log=True),
    auth_type=dict(type='str'),
    region_name=dict(type='str'),
    interface=dict(type='str', choices=['public', 'internal', 'admin'], aliases=['endpoint_type']),
    validate_certs=dict(type='bool', aliases=['verify']),
    ca_cert=dict(type='path', aliases=['cacert']),
    client_cert=dict(type='path', aliases=['cert']),
    client_key=dict(type='path', aliases=['key'], no_log=False),
    api_timeout=dict(type='int'),
)

# Module option name -> openstack.connect() keyword.
_SDK_KEYWORDS = dict(
    auth='auth',
    auth_type='auth_type',
    region_name='region_name',
    interface='interface',
    validate_certs='verify',
    ca_cert='cacert',
    client_cert='cert',
    client_key='key',
    api_timeout='api_timeout',
)

# The highest microversion the collection uses (Xena: consumer types). A server that serves less is called at its
# own maximum; each action checks what it needs of it (below).
MICROVERSION = '1.38'
# The oldest server the module works with at all: Pike, where GET /allocation_candidates appeared.
MINIMUM = '1.10'
# Consumer generations (Rocky): without them a write cannot detect a concurrent writer, so clean and restore
# refuse to run below this.
CONSUMER_GENERATIONS = '1.28'
# consumer_type in allocation bodies (Xena): required in writes from here on, refused before.
CONSUMER_TYPES = '1.38'

# The highest microversion each release of Placement serves (placement/rest_api_version_history.rst in
# openstack/placement; Placement was part of nova up to Rocky).
RELEASES = (
    ('1.0', 'Newton'),
    ('1.4', 'Ocata'),
    ('1.10', 'Pike'),
    ('1.17', 'Queens'),
    ('1.30', 'Rocky'),
    ('1.31', 'Stein'),
    ('1.36', 'Train to Wallaby'),
    ('1.38', 'Xena'),
    ('1.39', 'Yoga or later'),
)

# The error code of a generation conflict: another writer changed the provider or consumer since it was read.
CONCURRENT_UPDATE = 'placement.concurrent_update'

RESOURCE_PROVIDERS = '/resource_providers'
ALLOCATION_CANDIDATES = '/allocation_candidates'


def provider_path(provider_uuid, part):
    """/resource_providers/{uuid}/{part}: a provider's ``inventories``, ``allocations`` or ``aggregates``."""
    return f"{RESOURCE_PROVIDERS}/{quote(provider_uuid, safe='')}/{part}"


def consumer_path(consumer_uuid):
    """/allocations/{uuid}: every allocation of one consumer, read and written whole."""
    return f"/allocations/{quote(consumer_uuid, safe='')}"


def load_sdk():
    """openstacksdk, imported on first use; ERRORS then names its exceptions."""
    global sdk, ERRORS  # pylint: disable=global-statement
    if sdk is None:
        try:
            import openstack  # pylint: disable=import-outside-toplevel
            from keystoneauth1 import exceptions as ksa_exceptions  # pylint: disable=import-outside-toplevel
        except ImportError as error:
            raise OpsError(f'{REQUIRED_LIBRARY} cannot be imported: {error}',
                           exception=traceback.format_exc()) from error
        ERRORS = (openstack.exceptions.SDKException, ksa_exceptions.ClientException)
        sdk = openstack
    return sdk


def connect(params):
    """Return a PlacementClient for the cloud the openstack options describe.

    Options left unset fall through to clouds.yaml and OS_* variables.
    ``cloud`` may name a clouds.yaml entry or be a dict of cloud settings.
    """
    settings = {keyword: params[option] for option, keyword in _SDK_KEYWORDS.items()
                if params[option] is not None}
    cloud = params['cloud']
    if isinstance(cloud, dict):
        # The precedence openstacksdk gives a named cloud: options win, auth settings merge.
        merged = dict(cloud, **settings)
        if isinstance(cloud.get('auth'), dict) and 'auth' in settings:
            merged['auth'] = dict(cloud['auth'], **settings['auth'])
        return PlacementClient(load_sdk().connect(**merged))
    return PlacementClient(load_sdk().connect(cloud=cloud, **settings))


def version_tuple(version):
    """'1.28' -> (1, 28); a version that is not MAJOR.MINOR is an error."""
    try:
        major, minor = str(version).split('.')
        return int(major), int(minor)
    except ValueError as error:
        raise OpsError(f'Placement microversion {version!r} is not MAJOR.MINOR') from error


def release_of(max_version):
    """The first release whose Placement serves ``max_version`` (a server between two is the later one's)."""
    for version, release in RELEASES:
        if version_tuple(max_version) <= version_tuple(version):
            return release
    return RELEASES[-1][1]


class PlacementClient:
    """JSON calls to the Placement API, each at an explicit microversion.

    ``microversion`` is the one negotiated with the server on first use (negotiate()).
    """

    def __init__(self, conn):
        self.conn = conn
        self._negotiated = None

    @property
    def microversion(self):
        return self.negotiate()['microversion']

    def negotiate(self):
        """Read the server's version document once; the microversion used is the highest both sides know.

        Returns dict(microversion, max_version, min_version, release), what a module result reports.
        """
        if self._negotiated is None:
            document = self._request('GET', '/', None)
            versions = (document or {}).get('versions') or [{}]
            newest = max(versions, key=lambda v: version_tuple(v.get('max_version') or '1.0'))
            max_version = newest.get('max_version') or '1.0'
            used = min(MICROVERSION, max_version, key=version_tuple)
            if version_tuple(used) < version_tuple(MINIMUM):
                raise OpsError(
                    f'Placement serves microversions up to {max_version} ({release_of(max_version)}); '
                    f'this module needs at least {MINIMUM} (Pike)', max_version=max_version)
            self._negotiated = dict(microversion=used, max_version=max_version,
                                    min_version=newest.get('min_version') or '1.0', release=release_of(max_version))
        return self._negotiated

    def at_least(self, version):
        """Whether the negotiated microversion is ``version`` or later."""
        return version_tuple(self.microversion) >= version_tuple(version)

    def get(self, path, microversion, params=None):
        return self._request('GET', path, microversion, params=params)

    def put(self, path, body, microversion):
        return self._request('PUT', path, microversion, json=body)

    def post(self, path, body, microversion):
        return self._request('POST', path, microversion, json=body)

    def delete(self, path, microversion):
        return self._request('DELETE', path, microversion)

    def close(self):
        self.conn.close()

    def _request(self, method, path, microversion, **kwargs):
        if microversion is not None:
            kwargs['microversion'] = microversion
        response = self.conn.placement.request(path, method, raise_exc=False, **kwargs)
        if response.status_code >= 400:
            raise ApiError(
                f'Placement {method} {path} failed with HTTP {response.status_code}: {_error_detail(response)}',
                status=response.status_code,
                body=response.text,
                codes=_error_codes(response),
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise OpsError(f'Placement {method} {path} returned a body that is not JSON',
                           status=response.status_code, body=response.text) from error


def retry_on_conflict(attempt, retries=3):
    """Call attempt() until it succeeds, retrying only Placement generation conflicts.

    attempt must re-read the generations it writes on every call; a conflict
    means another writer got there first, so the next call plans again from
    fresh state. Other 409s (for example not enough capacity) are not retried.
    """
    for remaining in range(retries, -1, -1):
        try:
            return attempt()
        except ApiError as error:
            if remaining and CONCURRENT_UPDATE in error.details.get('codes', ()):
                continue
            raise


def _errors(response):
    try:
        return response.json().get('errors') or []
    except (ValueError, AttributeError):
        return []


def _error_codes(response):
    return [error['code'] for error in _errors(response) if 'code' in error]


def _error_detail(response):
    details = [' '.join((error.get('detail') or error.get('title', '')).split()) for error in _errors(response)]
    return '; '.join(detail for detail in details if detail) or response.text.strip() or response.reason

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Errors a module reports as its failure: a message plus structured details."""


class OpsError(Exception):
    """A failure worth explaining to the operator.

    ``msg`` becomes the task's failure message and ``details`` a mapping of
    facts that help to act on it (an HTTP status, the host that was tried).
    """

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


class BackendUnavailable(OpsError):
    """A service (API, database, broker) could not be reached at all."""


class ApiError(OpsError):
    """A service answered with an HTTP error; ``status`` tells callers which."""

    def __init__(self, msg, status, body, **details):
        super().__init__(msg, status=status, body=body, **details)
        self.status = status
        self.body = body


class UnsafeToProceed(OpsError):
    """The state needed to act safely cannot be verified, so nothing is done."""

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures shared by the unit tests: running a module, faking the RabbitMQ API."""

import io
import json
from urllib.error import HTTPError

import pytest

from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.testing import patch_module_args

# What the controller sends a module when tracebacks are on for errors (ANSIBLE_DISPLAY_TRACEBACK=error).
# ansible-core reads it from the first module's arguments and keeps it for the process, so every module a
# test builds under patch_module_args must be given it: run_module does, and so must a test that builds one itself.
TRACEBACKS_FOR_ERRORS = {'_ansible_tracebacks_for': ['error']}


@pytest.fixture
def run_module(capsys):
    """Call a module entry point with the given arguments.

    Returns the exit code and the parsed JSON result. Tracebacks are enabled so
    tests can check what the ``exception`` field of a failure reveals.
    """

    def run(entry_point, args):
        # ansible-core keeps a module's warnings in a process-wide registry; under Ansible each module is its own
        # process, here one module's warnings would show in the next module's result
        module_warnings._global_warnings.clear()  # pylint: disable=protected-access
        module_warnings._global_deprecations.clear()  # pylint: disable=protected-access
        with patch_module_args({**TRACEBACKS_FOR_ERRORS, **args}), pytest.raises(SystemExit) as exit_info:
            entry_point()
        return exit_info.value.code, json.loads(capsys.readouterr().out)

    return run


class FakeSession:
    """Stands in for ansible.module_utils.urls.Request: answers from a table of URLs.

    responses maps (method, URL) to a JSON-serialisable body, to bytes sent
    as they are, to None for an empty body, or to an exception to raise.
    """

    def __init__(self, responses):
        self.responses = responses
        self.calls = []

    def open(self, method, url):
        self.calls.append((method, url))
        response = self.responses[(method, url)]
        if isinstance(response, Exception):
            raise response
        if response is None:
            return io.BytesIO(b'')
        return io.BytesIO(response if isinstance(response, bytes) else json.dumps(response).encode())


def http_error(url, status, body):
    return HTTPError(url, status, 'error', {}, io.BytesIO(json.dumps(body).encode()))


@pytest.fixture
def fake_session():
    return FakeSession


@pytest.fixture
def make_http_error():
    return http_error


class FakeCursor:
    """A PyMySQL cursor that answers every statement with the same rows and records what ran."""
    def __init__(self, rows, executed):
        self.rows = rows
        self.executed = executed

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def execute(self, sql, args):
        self.executed.append((sql, args))

    def fetchall(self):
        return tuple(self.rows)


class FakeConnection:
    """A PyMySQL connection for mariadb.Database: its cursors, and how often it was closed."""
    def __init__(self, rows=()):
        self.rows = rows
        self.executed = []
        self.closed = 0

    def cursor(self):
        return FakeCursor(self.rows, self.executed)

    def close(self):
        self.closed += 1


@pytest.fixture
def fake_db_connection():
    return FakeConnection

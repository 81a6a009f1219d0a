# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import ast
import json
import os
import pathlib
import subprocess
import sys
import textwrap
from urllib.error import URLError

import openstack
import pymysql
import pytest
from keystoneauth1 import exceptions as ksa_exceptions

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import base, mariadb, nova_db, placement, rabbitmq
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import (
    ApiError,
    BackendUnavailable,
    OpsError,
    UnsafeToProceed,
)

RABBITMQ_LOGIN = dict(login_user='monitor', login_password='s3cret')


def module_class(run, families=('nova_db',), argument_spec=None):
    return type('Probe', (base.OpsModule,), dict(
        argument_spec=argument_spec or {},
        module_kwargs=dict(supports_check_mode=True),
        option_families=families,
        run=run,
    ))


def main(run, **kwargs):
    """The main() of a module whose run() is the given function."""
    def entry_point():
        module_class(run, **kwargs)()()
    return entry_point


class FakeClient:
    def __init__(self):
        self.closed = 0

    def close(self):
        self.closed += 1


@pytest.fixture
def connects(monkeypatch):
    """Replace nova_db.connect; the list it returns holds every client it made."""
    clients = []

    def connect(params):
        clients.append(FakeClient())
        return clients[-1]

    monkeypatch.setattr(nova_db, 'connect', connect)
    return clients


def test_full_argument_spec_adds_each_family_to_the_module_options():
    probe = module_class(None, families=('openstack',), argument_spec=dict(limit=dict(type='int')))

    spec = probe.full_argument_spec()

    assert set(spec) == {'limit'} | set(placement.ARGUMENT_SPEC)
    assert spec['auth'] == dict(type='dict', no_log=True)
    spec['auth']['no_log'] = False
    assert placement.ARGUMENT_SPEC['auth']['no_log'] is True


def test_families_that_share_option_names_cannot_be_combined():
    probe = module_class(None, families=('nova_db', 'rabbitmq'))

    with pytest.raises(ValueError) as raised:
        probe.full_argument_spec()

    assert str(raised.value) == ("Probe: the 'rabbitmq' option family redefines ['ca_cert', 'client_cert', "
                                 "'client_key', 'login_host', 'login_password', 'login_port', 'login_user']")


def test_a_module_option_may_not_take_the_alias_of_a_family_option():
    probe = module_class(None, families=('rabbitmq',), argument_spec=dict(cacert=dict(type='path')))

    with pytest.raises(ValueError, match=r"redefines \['cacert'\]$"):
        probe.full_argument_spec()


def test_the_ansible_module_class_can_be_injected():
    class FakeAnsibleModule:
        def __init__(self, argument_spec, **kwargs):
            self.argument_spec, self.kwargs = argument_spec, kwargs
            self.params, self.check_mode, self._diff = {'x': 1}, True, False

        def warn(self, warning):
            self.warned = warning

    module = module_class(None, families=(), argument_spec=dict(x=dict(type='int')))(module_class=FakeAnsibleModule)
    module.warn('careful')

    assert module.module.argument_spec == dict(x=dict(type='int'))
    assert module.module.kwargs == dict(supports_check_mode=True)
    assert (module.params, module.check_mode, module.diff_mode) == ({'x': 1}, True, False)
    assert module.module.warned == 'careful'


def test_run_result_is_the_module_result(run_module):
    runs = []

    def run(self):
        runs.append(self)
        return dict(changed=True, rows=[1, 2])

    rc, result = run_module(main(run), {})

    assert (rc, result['changed'], result['rows']) == (0, True, [1, 2])
    assert len(runs) == 1


def test_check_and_diff_mode_are_exposed(run_module):
    def run(self):
        return dict(changed=False, modes=[self.check_mode, self.diff_mode])

    _rc, result = run_module(main(run), {'_ansible_check_mode': True, '_ansible_diff': True})

    assert result['modes'] == [True, True]


def test_a_connection_is_made_on_first_use_only_and_closed_at_the_end(run_module, connects):
    def run(self):
        assert self.nova_db is self.nova_db
        return dict(changed=False)

    rc, _result = run_module(main(run), {})

    assert rc == 0
    assert [client.closed for client in connects] == [1]


def test_no_connection_is_made_when_the_module_does_not_use_it(run_module, connects):
    rc, _result = run_module(main(lambda self: dict(changed=False)), {})

    assert rc == 0
    assert not connects


def test_an_assigned_client_replaces_the_connection(run_module, connects):
    fake = FakeClient()

    def run(self):
        return dict(changed=False, same=self.nova_db is fake)

    def entry_point():
        module = module_class(run)()
        module.nova_db = fake
        module()

    _rc, result = run_module(entry_point, {})

    assert result['same'] is True
    assert fake.closed == 1
    assert not connects


def test_using_an_undeclared_family_is_a_programming_error(run_module):
    def run(self):
        return dict(changed=False, client=self.rabbitmq)

    with pytest.raises(TypeError, match="Probe does not declare the 'rabbitmq' option family"):
        run_module(main(run), {})


def test_unexpected_exceptions_propagate_after_connections_are_closed(run_module, connects):
    def run(self):
        return dict(changed=False, value=self.nova_db.missing_attribute)

    with pytest.raises(AttributeError):
        run_module(main(run), {})

    assert [client.closed for client in connects] == [1]


@pytest.mark.parametrize('error, msg, details', [
    (OpsError('Cell cell1 at mysql+pymysql://nova:urlpass@db/nova_cell1 is down',
              url='mysql+pymysql://nova:urlpass@db/nova_cell1'),
     'Cell cell1 at mysql+pymysql://nova:********@db/nova_cell1 is down',
     {'url': 'mysql+pymysql://nova:********@db/nova_cell1'}),
    (UnsafeToProceed('Instance abc is still building', instance='abc'),
     'Instance abc is still building', {'instance': 'abc'}),
    (BackendUnavailable('Cannot reach rabbit://guest:urlpass@ctl1:5672/', url='rabbit://guest:urlpass@ctl1:5672/'),
     'Cannot reach rabbit://guest:********@ctl1:5672/', {'url': 'rabbit://guest:********@ctl1:5672/'}),
    (ApiError('Placement PUT /allocations/x failed with HTTP 409: conflict', status=409, body='{}'),
     'Placement PUT /allocations/x failed with HTTP 409: conflict', {'status': 409, 'body': '{}'}),
    (openstack.exceptions.SDKException('Cloud lab was not found.'),
     'OpenStack request failed: Cloud lab was not found.', {'error_type': 'SDKException'}),
    (ksa_exceptions.ConnectFailure('Unable to establish connection to http://admin:urlpass@ctl1:8778/'),
     'OpenStack request failed: Unable to establish connection to http://admin:********@ctl1:8778/',
     {'error_type': 'ConnectFailure'}),
    (pymysql.err.ProgrammingError(1146, "Table 'nova_api.cell_mapping' doesn't exist"),
     "Database query failed: (1146, \"Table 'nova_api.cell_mapping' doesn't exist\")",
     {'error_type': 'ProgrammingError'}),
])
def test_every_handled_error_ends_in_one_masked_failure(run_module, connects, error, msg, details):
    def run(self):
        assert self.nova_db
        if error.__module__.startswith(('openstack', 'keystoneauth1')):
            placement.load_sdk()    # as the first Placement connection does, before the SDK can raise
        raise error

    rc, result = run_module(main(run, argument_spec=dict(token=dict(type='str', no_log=True))),
                            {'login_password': 's3cret', 'token': 'tok3n'})

    assert rc == 1
    assert result['failed'] is True
    assert result['msg'] == msg
    assert result['details'] == details
    assert type(error).__name__ in result['exception']
    output = json.dumps(result)
    assert [secret for secret in ('urlpass', 's3cret', 'tok3n') if secret in output] == []
    assert [client.closed for client in connects] == [1]


def test_a_secret_a_module_option_holds_is_masked_wherever_it_appears(run_module):
    def run(self):
        raise OpsError(f"login {self.params['login_password']} refused", tried=self.params['login_password'])

    _rc, result = run_module(main(run), {'login_password': 's3cret'})

    assert 's3cret' not in json.dumps(result)
    assert result['msg'] == 'login ******** refused'


def test_an_unreachable_rabbitmq_api_fails_the_module(run_module, monkeypatch, fake_session):
    def connect(params):
        url = f"http://{params['login_host']}:{params['login_port']}/api/overview"
        refused = URLError(ConnectionRefusedError(111, 'Connection refused'))
        return rabbitmq.RabbitMQClient(f"http://{params['login_host']}:{params['login_port']}",
                                       fake_session({('GET', url): refused}))
    monkeypatch.setattr(rabbitmq, 'connect', connect)

    def run(self):
        return dict(changed=False, overview=self.rabbitmq.overview())

    rc, result = run_module(main(run, families=('rabbitmq',)), dict(RABBITMQ_LOGIN, login_host='ctl1'))

    assert rc == 1
    assert result['msg'] == ('Cannot reach the RabbitMQ management API at http://ctl1:15672: '
                             '[Errno 111] Connection refused')
    assert result['details'] == {'url': 'http://ctl1:15672'}


def test_a_missing_library_is_named_before_anything_runs(run_module, monkeypatch):
    monkeypatch.setattr(nova_db, 'IMPORT_ERROR', "ModuleNotFoundError: No module named 'pymysql'")
    runs = []

    def run(self):
        runs.append(self)

    rc, result = run_module(main(run), {})

    assert rc == 1
    assert result['msg'].startswith('Failed to import the required Python library (PyMySQL)')
    assert "No module named 'pymysql'" in result['exception']
    assert not runs


def nested_module_class(run, argument_spec=None):
    return type('NestedProbe', (base.OpsModule,), dict(
        argument_spec=argument_spec or {},
        module_kwargs=dict(supports_check_mode=True),
        option_families=('openstack',),
        nested_families=('nova_db',),
        run=run,
    ))


def test_a_nested_family_is_one_dict_option_so_clashing_families_combine():
    spec = nested_module_class(None).full_argument_spec()

    assert set(spec) == set(placement.ARGUMENT_SPEC) | {'nova_db'}
    assert spec['nova_db']['type'] == 'dict'
    assert spec['nova_db']['apply_defaults'] is True
    assert spec['nova_db']['options'] == nova_db.ARGUMENT_SPEC
    assert spec['nova_db']['options'] is not nova_db.ARGUMENT_SPEC


def test_a_family_cannot_be_both_top_level_and_nested():
    probe = type('Both', (base.OpsModule,), dict(option_families=('nova_db',), nested_families=('nova_db',)))

    with pytest.raises(ValueError, match="the 'nova_db' option family cannot be both top-level and nested"):
        probe.full_argument_spec()


def test_a_nested_family_may_not_take_a_module_option_name():
    probe = type('Taken', (base.OpsModule,), dict(argument_spec=dict(nova_db=dict(type='str')),
                                                  nested_families=('nova_db',)))

    with pytest.raises(ValueError, match=r"the nested 'nova_db' option family redefines \['nova_db'\]"):
        probe.full_argument_spec()


def test_a_nested_family_connects_with_its_own_suboptions_and_defaults(run_module, monkeypatch):
    seen = []

    def connect(params):
        seen.append(params)
        return FakeClient()

    monkeypatch.setattr(nova_db, 'connect', connect)

    def run(self):
        assert self.nova_db
        return dict(changed=False)

    def entry_point():
        nested_module_class(run)()()

    rc, result = run_module(entry_point, {'ca_cert': '/etc/openstack/ca.pem',
                                          'nova_db': {'login_user': 'nova_audit', 'login_password': 's3cret'}})

    assert rc == 0, result
    [params] = seen
    assert (params['login_user'], params['login_host'], params['login_port']) == ('nova_audit', 'localhost', 3306)
    assert params['ca_cert'] is None
    assert 's3cret' not in json.dumps(result)


def test_a_left_out_nested_family_still_gets_its_defaults(run_module, monkeypatch):
    seen = []
    monkeypatch.setattr(nova_db, 'connect', lambda params: seen.append(params) or FakeClient())

    def entry_point():
        nested_module_class(lambda self: dict(changed=False, client=bool(self.nova_db)))()()

    rc, _result = run_module(entry_point, {})

    assert rc == 0
    assert seen[0]['login_db'] == 'nova_api' and seen[0]['connect_timeout'] == 30


# Lazy option families: a module pays the import of the libraries of the families it declares, no others.

COLLECTIONS_ROOT = pathlib.Path(base.__file__).resolve().parents[5]
BACKEND_LIBRARIES = {'openstack': 'placement', 'keystoneauth1': 'placement', 'pymysql': 'mariadb'}


def fresh_python(code, then=''):
    """Run code (then more code) in a new interpreter that sees this copy of the collection; return its JSON output."""
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS_ROOT))
    out = subprocess.run([sys.executable, '-c', textwrap.dedent(code) + textwrap.dedent(then)], env=env, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return json.loads(out)


LOADED = '''
    import json
    import sys
    print(json.dumps({
        'libraries': sorted(name for name in ('openstack', 'keystoneauth1', 'pymysql') if name in sys.modules),
        'families': sorted(base.loaded_families()),
        'handled': sorted(error.__name__ for error in base.handled_errors()),
    }))
'''


def test_importing_base_imports_no_backend_library():
    loaded = fresh_python('from ansible_collections.openstack_ops.runbooks.plugins.module_utils import base\n', LOADED)

    assert loaded == dict(libraries=[], families=[], handled=['OpsError'])


@pytest.mark.parametrize('module, families, libraries, handled', [
    ('rabbitmq_purge', ['rabbitmq'], [], ['OpsError']),
    ('rabbitmq_queue_info', ['rabbitmq'], [], ['OpsError']),
    # openstacksdk itself waits for the first Placement connection (an audit of Placement's database needs none).
    ('placement_allocation', ['mariadb', 'nova_db', 'openstack'], ['pymysql'], ['MySQLError', 'OpsError']),
    ('db_backup', ['mariadb'], ['pymysql'], ['MySQLError', 'OpsError']),
])
def test_a_module_imports_only_the_families_it_declares(module, families, libraries, handled):
    loaded = fresh_python(f'''
        from ansible_collections.openstack_ops.runbooks.plugins.module_utils import base
        from ansible_collections.openstack_ops.runbooks.plugins.modules import {module} as module
        [cls] = [value for value in vars(module).values()
                 if isinstance(value, type) and issubclass(value, base.OpsModule) and value is not base.OpsModule]
        cls.full_argument_spec()
        ''', LOADED)

    assert loaded == dict(libraries=libraries, families=families, handled=handled)


def test_the_old_module_constants_still_name_every_family_and_error():
    placement.load_sdk()
    assert base.FAMILIES == {'openstack': placement, 'mariadb': mariadb, 'nova_db': nova_db, 'rabbitmq': rabbitmq}
    assert set(base.HANDLED_ERRORS) == {OpsError, openstack.exceptions.SDKException, ksa_exceptions.ClientException,
                                        pymysql.MySQLError}
    with pytest.raises(AttributeError, match='has no attribute'):
        assert base.NO_SUCH_NAME
    with pytest.raises(KeyError, match="unknown option family 'ldap'"):
        base.load_family('ldap')


def test_a_library_error_is_handled_once_its_backend_is_loaded_even_by_a_module_not_declaring_it(run_module):
    def run(self):
        raise pymysql.err.OperationalError(2003, "Can't connect to MySQL server on 'db'")

    rc, result = run_module(main(run, families=('rabbitmq',)), RABBITMQ_LOGIN)

    assert rc == 1
    assert result['msg'] == "Database query failed: (2003, \"Can't connect to MySQL server on 'db'\")"


def test_an_error_no_loaded_backend_claims_propagates(run_module):
    def run(self):
        raise LookupError('a bug, not a backend failure')

    with pytest.raises(LookupError):
        run_module(main(run, families=('rabbitmq',)), RABBITMQ_LOGIN)


def test_only_the_backend_modules_import_the_backend_libraries():
    """handled_errors() relies on it: a library's errors are handled once its backend module is loaded."""
    plugins = COLLECTIONS_ROOT / 'ansible_collections' / 'openstack_ops' / 'runbooks' / 'plugins'
    importers = set()
    for path in plugins.rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or '']
            else:
                continue
            for name in names:
                if name.split('.')[0] in BACKEND_LIBRARIES:
                    importers.add((name.split('.')[0], path.stem))

    assert importers == set(BACKEND_LIBRARIES.items())


def test_ansible_packages_every_backend_with_a_module_that_uses_base():
    """The family modules are imported inside load_family(); Ansible's packager must still find and ship them."""
    # In a new interpreter: importing Ansible's controller code changes how modules report tracebacks.
    found = fresh_python(f'''
        import ast, json
        from ansible.executor import module_common
        tree = ast.parse(open({base.__file__!r}).read())
        finder = module_common.ModuleDepFinder('ansible_collections.openstack_ops.runbooks.plugins.module_utils.base', tree)
        print(json.dumps(sorted('.'.join(name) for name in finder.submodules)))''')
    package = 'ansible_collections.openstack_ops.runbooks.plugins.module_utils'

    assert {f'{package}.{module}' for module in base.FAMILY_MODULES.values()} <= set(found)


def test_openstacksdk_is_imported_by_the_first_placement_connection_and_its_errors_handled_from_then():
    loaded = fresh_python('''
        import json
        import sys
        from ansible_collections.openstack_ops.runbooks.plugins.module_utils import base, placement
        def state():
            return dict(libraries=sorted(name for name in ('openstack', 'keystoneauth1') if name in sys.modules),
                        handled=sorted(error.__name__ for error in base.handled_errors()))
        before = state()
        placement.load_sdk()
        print(json.dumps(dict(before=before, after=state())))
        ''')

    assert loaded == dict(before=dict(libraries=[], handled=['OpsError']),
                          after=dict(libraries=['keystoneauth1', 'openstack'],
                                     handled=['ClientException', 'OpsError', 'SDKException']))


def entry_point(module):
    """The main() of the module class ``module``."""
    def main_function():
        module()()
    return main_function


def test_an_option_below_its_minimum_fails_before_run_and_connects_nothing(run_module, connects):
    probe = type('Probe', (base.OpsModule,), dict(
        argument_spec=dict(wait=dict(type='int', default=0), timeout=dict(type='int')),
        module_kwargs=dict(supports_check_mode=True), option_families=('nova_db',),
        option_minimums=dict(wait=0, timeout=1), run=lambda self: dict(changed=False, ran=True)))

    rc, result = run_module(entry_point(probe), dict(wait=-1))
    unset_rc, unset = run_module(entry_point(probe), dict(wait=0))   # an unset option has no minimum to meet

    assert rc == 1 and result['msg'] == 'wait must be at least 0, not -1' and 'ran' not in result
    assert connects == [] and unset_rc == 0 and unset['ran'] is True


def test_a_missing_required_library_fails_with_ansibles_message(run_module):
    probe = type('Probe', (base.OpsModule,), dict(
        module_kwargs=dict(supports_check_mode=True), required_libraries=(('oslo.messaging', 'Traceback: no oslo'),),
        run=lambda self: dict(changed=False, ran=True)))

    rc, result = run_module(entry_point(probe), {})

    assert rc == 1 and 'ran' not in result
    assert result['msg'].startswith('Failed to import the required Python library (oslo.messaging)')


def test_registered_clients_close_last_first_whatever_happens_and_a_closed_family_reconnects(run_module, connects):
    closed = []

    def run(self):
        self.closing(FakeClient(), close=lambda: closed.append('first'))
        self.closing(FakeClient(), close=lambda: closed.append('second'))
        first = self.nova_db
        self.close_connection('nova_db')
        assert self.nova_db is not first and first.closed == 1
        raise OpsError('failed after registering')

    rc, result = run_module(main(run), {})

    assert rc == 1 and result['msg'] == 'failed after registering'
    assert closed == ['second', 'first']
    assert [client.closed for client in connects] == [1, 1]

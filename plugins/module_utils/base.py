# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OpsModule, the base class of every module in the collection.

A module subclasses OpsModule, declares ``argument_spec`` (its own options),
``module_kwargs`` (extra AnsibleModule arguments such as supports_check_mode)
and ``option_families`` (the shared option sets it takes), and implements
``run()`` returning the result dict. Its main() is ``MyModule()()``.

A family listed in ``nested_families`` instead becomes one dict option named
after the family, whose suboptions are the family's options; this lets a
module take two families whose option names overlap (the OpenStack and the
nova DB families both have ``ca_cert``).

A family's module (and so its library) is imported only when a module
that declares the family is built: openstacksdk alone takes about half a second
to import, which a RabbitMQ module should not pay.
"""

import copy
import sys
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import mask_url, redact

_PACKAGE = __name__.rpartition('.')[0]

# Option family -> its family module in module_utils, which offers ARGUMENT_SPEC,
# REQUIRED_LIBRARY, IMPORT_ERROR, ERRORS (library exceptions that may escape it),
# ERROR_LABEL and connect(params). Only the family module imports its library.
FAMILY_MODULES = {
    'openstack': 'placement',
    'mariadb': 'mariadb',
    'nova_db': 'nova_db',
    'rabbitmq': 'rabbitmq',
}


def load_family(name):
    """The family module of the option family ``name``, imported on first use.

    The imports are spelled out (not built from a string) so that Ansible's
    module packager, which follows import statements, ships every family module.
    """
    # pylint: disable=import-outside-toplevel
    if name == 'openstack':
        from ansible_collections.openstack_ops.runbooks.plugins.module_utils import placement as family_module
    elif name == 'mariadb':
        from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb as family_module
    elif name == 'nova_db':
        from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_db as family_module
    elif name == 'rabbitmq':
        from ansible_collections.openstack_ops.runbooks.plugins.module_utils import rabbitmq as family_module
    else:
        raise KeyError(f'unknown option family {name!r}; known: {sorted(FAMILY_MODULES)}')
    return family_module


def loaded_families():
    """The family modules imported so far (by a module declaring them, or by any other code), by family."""
    return {name: load_family(name) for name, module in FAMILY_MODULES.items() if f'{_PACKAGE}.{module}' in sys.modules}


def handled_errors():
    """OpsError and the library errors of every family module imported so far.

    A library's exception can only be raised once the library is imported, and
    only its family module imports it, so families not yet imported need not
    be (and are not) imported here.
    """
    errors = (error for family_module in loaded_families().values() for error in family_module.ERRORS)
    return (OpsError,) + tuple(dict.fromkeys(errors))   # mariadb and nova_db share PyMySQL's


def __getattr__(name):
    # FAMILIES and HANDLED_ERRORS were module constants; reading them still works, but imports every family module.
    if name == 'FAMILIES':
        return {family_name: load_family(family_name) for family_name in FAMILY_MODULES}
    if name == 'HANDLED_ERRORS':
        for family_name in FAMILY_MODULES:
            load_family(family_name)
        return handled_errors()
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


class _Connection:
    """A family's client, connected on first access and closed when the module ends.

    Assigning to the attribute replaces the client, which is how unit tests
    substitute fakes.
    """

    def __init__(self, family):
        self.family = family

    def __get__(self, module, owner=None):
        if module is None:
            return self
        return module._connect(self.family)

    def __set__(self, module, client):
        module._connections[self.family] = client


class OpsModule:
    argument_spec = {}
    module_kwargs = {}
    option_families = ()
    nested_families = ()
    # Libraries the module imports itself, beside its families' ones: ((name, import traceback or None), ...).
    required_libraries = ()
    # The smallest value each numeric option takes ({'timeout': 1}); a smaller one fails before run().
    option_minimums = {}

    placement = _Connection('openstack')
    mariadb = _Connection('mariadb')
    nova_db = _Connection('nova_db')
    rabbitmq = _Connection('rabbitmq')

    def __init__(self, module_class=AnsibleModule):
        self.module = module_class(argument_spec=self.full_argument_spec(), **self.module_kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.diff_mode = self.module._diff
        self.warn = self.module.warn
        self._connections = {}
        self._clients = []
        libraries = [(load_family(name).REQUIRED_LIBRARY, load_family(name).IMPORT_ERROR)
                     for name in self.option_families + self.nested_families]
        for library, import_error in libraries + list(self.required_libraries):
            if import_error:
                self.module.fail_json(msg=missing_required_lib(library), exception=import_error)
        for name, minimum in self.option_minimums.items():
            if self.params[name] is not None and self.params[name] < minimum:
                self.module.fail_json(msg=f'{name} must be at least {minimum}, not {self.params[name]}')

    @classmethod
    def full_argument_spec(cls):
        """The module's own options plus those of each family it declares.

        Two option sets that define the same name or alias cannot be combined
        in one module: the shared value would mean different things to each.
        """
        spec = copy.deepcopy(cls.argument_spec)
        for name in cls.option_families:
            options = load_family(name).ARGUMENT_SPEC
            clash = _names(spec) & _names(options)
            if clash:
                raise ValueError(f"{cls.__name__}: the {name!r} option family redefines {sorted(clash)}")
            spec.update(copy.deepcopy(options))
        for name in cls.nested_families:
            if name in cls.option_families:
                raise ValueError(f"{cls.__name__}: the {name!r} option family cannot be both top-level and nested")
            if name in _names(spec):
                raise ValueError(f"{cls.__name__}: the nested {name!r} option family redefines [{name!r}]")
            # apply_defaults fills the suboption defaults even when the dict is left out.
            spec[name] = dict(type='dict', options=copy.deepcopy(load_family(name).ARGUMENT_SPEC),
                              apply_defaults=True)
        return spec

    def run(self):
        """Do the module's work and return its result dict (with ``changed``)."""
        raise NotImplementedError

    def __call__(self):
        try:
            try:
                result = self.run()
            finally:
                self._close_connections()
        except Exception as error:  # pylint: disable=broad-exception-caught
            # Which library errors are handled is only known once the module ran (see handled_errors).
            if not isinstance(error, handled_errors()):
                raise
            self._fail(error)
        self.module.exit_json(**result)

    def _connect(self, name):
        if name not in self._connections:
            if name in self.nested_families:
                params = self.params[name]
            elif name in self.option_families:
                params = self.params
            else:
                raise TypeError(f"{type(self).__name__} does not declare the {name!r} option family")
            self._connections[name] = load_family(name).connect(params)
        return self._connections[name]

    def closing(self, client, close=None):
        """Register ``client`` to be closed when run() ends, whatever the outcome, and return it.

        ``close`` is the call that closes it, ``client.close`` unless given (``connection.release`` for kombu).
        """
        self._clients.append(close or client.close)
        return client

    def close_connection(self, name):
        """Close the family's connection now; the next use of it connects again (a poll after a lost server)."""
        connection = self._connections.pop(name, None)
        if connection is not None:
            connection.close()

    def _close_connections(self):
        while self._clients:
            self._clients.pop()()
        while self._connections:
            self._connections.popitem()[1].close()

    def _fail(self, error):
        if isinstance(error, OpsError):
            msg, details = error.msg, error.details
        else:
            label = next(family.ERROR_LABEL for family in loaded_families().values() if isinstance(error, family.ERRORS))
            msg, details = f'{label}: {error}', {'error_type': type(error).__name__}
        self.module.fail_json(msg=mask_url(msg), details=redact(details), exception=mask_url(traceback.format_exc()))


def _names(spec):
    return {name for option_name, option in spec.items() for name in [option_name] + option.get('aliases', [])}

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
"""

import copy
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.openstack_ops.runbooks.plugins.module_utils import nova_db, placement, rabbitmq
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.errors import OpsError
from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import mask_url, redact

# Each family is a backend module offering ARGUMENT_SPEC, REQUIRED_LIBRARY,
# IMPORT_ERROR, ERRORS (library exceptions that may escape it), ERROR_LABEL
# and connect(params).
FAMILIES = {
    'openstack': placement,
    'nova_db': nova_db,
    'rabbitmq': rabbitmq,
}

HANDLED_ERRORS = (OpsError,) + tuple(error for backend in FAMILIES.values() for error in backend.ERRORS)


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

    placement = _Connection('openstack')
    nova_db = _Connection('nova_db')
    rabbitmq = _Connection('rabbitmq')

    def __init__(self, module_class=AnsibleModule):
        self.module = module_class(argument_spec=self.full_argument_spec(), **self.module_kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.diff_mode = self.module._diff
        self.warn = self.module.warn
        self._connections = {}
        for family in self.option_families + self.nested_families:
            backend = FAMILIES[family]
            if backend.IMPORT_ERROR:
                self.module.fail_json(msg=missing_required_lib(backend.REQUIRED_LIBRARY),
                                      exception=backend.IMPORT_ERROR)

    @classmethod
    def full_argument_spec(cls):
        """The module's own options plus those of each family it declares.

        Two option sets that define the same name or alias cannot be combined
        in one module: the shared value would mean different things to each.
        """
        spec = copy.deepcopy(cls.argument_spec)
        for family in cls.option_families:
            options = FAMILIES[family].ARGUMENT_SPEC
            clash = _names(spec) & _names(options)
            if clash:
                raise ValueError(f"{cls.__name__}: the {family!r} option family redefines {sorted(clash)}")
            spec.update(copy.deepcopy(options))
        for family in cls.nested_families:
            if family in cls.option_families:
                raise ValueError(f"{cls.__name__}: the {family!r} option family cannot be both top-level and nested")
            if family in _names(spec):
                raise ValueError(f"{cls.__name__}: the nested {family!r} option family redefines [{family!r}]")
            # apply_defaults fills the suboption defaults even when the dict is left out.
            spec[family] = dict(type='dict', options=copy.deepcopy(FAMILIES[family].ARGUMENT_SPEC),
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
        except HANDLED_ERRORS as error:
            self._fail(error)
        self.module.exit_json(**result)

    def _connect(self, family):
        if family not in self._connections:
            if family in self.nested_families:
                params = self.params[family]
            elif family in self.option_families:
                params = self.params
            else:
                raise TypeError(f"{type(self).__name__} does not declare the {family!r} option family")
            self._connections[family] = FAMILIES[family].connect(params)
        return self._connections[family]

    def _close_connections(self):
        while self._connections:
            self._connections.popitem()[1].close()

    def _fail(self, error):
        if isinstance(error, OpsError):
            msg, details = error.msg, error.details
        else:
            label = next(backend.ERROR_LABEL for backend in FAMILIES.values() if isinstance(error, backend.ERRORS))
            msg, details = f'{label}: {error}', {'error_type': type(error).__name__}
        self.module.fail_json(msg=mask_url(msg), details=redact(details), exception=mask_url(traceback.format_exc()))


def _names(spec):
    return {name for option_name, option in spec.items() for name in [option_name] + option.get('aliases', [])}

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MariaDB doc fragment says what the option families take, and its nested variant is the flat ones."""

import re

import yaml

from ansible_collections.openstack_ops.runbooks.plugins.doc_fragments.mariadb import ModuleDocFragment
from ansible_collections.openstack_ops.runbooks.plugins.module_utils import mariadb, nova_db


def options(text):
    return yaml.safe_load(text)['options']


def spec_of(documented):
    """What an argument spec says of each documented option: type, default, aliases."""
    return {name: (option['type'], option.get('default'), sorted(option.get('aliases', [])))
            for name, option in documented.items()}


def spec_from_code(argument_spec):
    return {name: (option['type'], option.get('default'), sorted(option.get('aliases', [])))
            for name, option in argument_spec.items()}


def test_the_fragment_documents_the_mariadb_family_as_the_code_defines_it():
    assert spec_of(options(ModuleDocFragment.DOCUMENTATION)) == spec_from_code(mariadb.ARGUMENT_SPEC)


def test_the_fragment_and_nova_db_document_the_nova_db_family():
    documented = dict(options(ModuleDocFragment.DOCUMENTATION), **options(ModuleDocFragment.NOVA_DB))
    assert spec_of(documented) == spec_from_code(nova_db.ARGUMENT_SPEC)


def test_the_nested_variant_is_the_flat_one_with_its_references_made_full():
    flat = dict(options(ModuleDocFragment.DOCUMENTATION), **options(ModuleDocFragment.NOVA_DB))
    nested = options(ModuleDocFragment.NOVA_DB_NESTED)['nova_db']['suboptions']

    assert spec_of(nested) == spec_of(flat)
    for name, option in flat.items():
        full = [re.sub(r'O\((\w+)\)', r'O(nova_db.\1)', line) for line in option['description']]
        assert nested[name]['description'] == full, name

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""requirements.txt and bindep.txt name what the modules need on the host that runs them (and what ansible-builder
puts in an execution environment through meta/execution-environment.yml)."""

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# Executables the module code runs, and the Debian package that provides them (dpkg -S on Debian 12).
EXECUTABLES = {'mariadb-dump': 'mariadb-client', 'mariadb': 'mariadb-client', 'haproxy': 'haproxy', 'ip': 'iproute2'}


def third_party_imports():
    names = set()
    for path in (ROOT / 'plugins').rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split('.')[0])
    return {name for name in names
            if name not in sys.stdlib_module_names and name not in ('ansible', 'ansible_collections', '__future__')}


def canonical(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def requirement_names(path):
    names = set()
    for line in path.read_text().splitlines():
        line = line.split('#')[0].strip()
        if line:
            names.add(canonical(re.split(r'[<>=!~;\[ ]', line)[0]))
    return names


def with_dependencies(names):
    """The distributions installed with these (their requirements without extras), as pip would install them."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:   # a requirement for other Pythons than this one
            continue
        for requirement in requirements:
            if 'extra ==' not in requirement:
                todo.append(canonical(re.split(r'[<>=!~;\[ (]', requirement)[0]))
    return seen


def test_every_imported_library_comes_with_requirements_txt():
    imported = third_party_imports()
    assert {'openstack', 'pymysql', 'oslo_messaging', 'kombu'} <= imported   # the scan sees the modules' imports
    distributions = metadata.packages_distributions()
    installed = with_dependencies(requirement_names(ROOT / 'requirements.txt'))
    for name in sorted(imported):
        provided_by = {canonical(dist) for dist in distributions.get(name, [])}
        assert provided_by, f'{name} is imported by a module but not installed here'
        assert provided_by & installed, f'{name} ({", ".join(sorted(provided_by))}) does not come with requirements.txt'


def test_every_executable_the_modules_run_is_in_bindep():
    code = '\n'.join(path.read_text() for path in (ROOT / 'plugins').rglob('*.py'))
    roles = '\n'.join(path.read_text() for path in (ROOT / 'roles').rglob('*.yml'))
    assert "find_tool(('mariadb-dump'" in code and "find_tool(('mariadb'" in code
    assert "default='haproxy -c -f %s'" in code and 'command: ip -o addr' in roles
    packages = {line.split()[0]: line for line in (ROOT / 'bindep.txt').read_text().splitlines()
                if line.strip() and not line.startswith('#')}
    for executable, package in EXECUTABLES.items():
        assert package in packages and 'platform:dpkg' in packages[package], (executable, package)


def test_meta_execution_environment_points_at_both_files():
    """ansible-builder reads dependencies.python and .system relative to the collection root, nothing else."""
    definition = yaml.safe_load((ROOT / 'meta' / 'execution-environment.yml').read_text())
    assert definition['dependencies'] == {'python': 'requirements.txt', 'system': 'bindep.txt'}
    for name in definition['dependencies'].values():
        assert (ROOT / name).is_file()

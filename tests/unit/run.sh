#!/usr/bin/env bash
# Run the unit tests with pytest, from a copy of the collection at
# .build/unit/ansible_collections/openstack_ops/runbooks so that the
# ansible_collections.openstack_ops.runbooks imports resolve as they do when
# Ansible runs the modules. Extra arguments go to pytest.
# VENV names the virtualenv to use (default: the repository's .venv).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${VENV:-$repo/.venv}
root=${UNIT_ROOT:-$repo/.build/unit}   # a separate root lets two unit runs go at once
collection=$root/ansible_collections/openstack_ops/runbooks

bash "$repo/tests/copy-collection.sh" "$root"

cd "$collection"
PYTHONPATH=$root exec "$venv/bin/python" -m pytest -p no:cacheprovider --import-mode=importlib tests/unit "$@"

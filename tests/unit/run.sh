#!/usr/bin/env bash
# Run the unit tests with pytest, from a copy of the collection at
# .build/unit/ansible_collections/openstack_ops/runbooks so that the
# ansible_collections.openstack_ops.runbooks imports resolve as they do when
# Ansible runs the modules. Extra arguments go to pytest.
# VENV names the virtualenv to use (default: the repository's .venv).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${VENV:-$repo/.venv}
root=$repo/.build/unit
collection=$root/ansible_collections/openstack_ops/runbooks

# Copy what git would commit: tracked and untracked-but-not-ignored files.
rm -rf "$root"
mkdir -p "$collection"
(
  cd "$repo"
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' path; do
      if [[ -e $path ]]; then printf '%s\0' "$path"; fi
    done |
    tar --null --files-from=- -cf -
) | tar -xf - -C "$collection"

cd "$collection"
PYTHONPATH=$root exec "$venv/bin/python" -m pytest -p no:cacheprovider --import-mode=importlib tests/unit "$@"

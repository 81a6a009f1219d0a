#!/usr/bin/env bash
# Usage: tests/copy-collection.sh ROOT
# Lay out ROOT/ansible_collections/openstack_ops/runbooks as a fresh copy of what git would commit
# (tracked and untracked-but-not-ignored files): ansible-test needs that path layout and resolves
# symlinks, and the unit tests import the collection the way Ansible does.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
root=$1
collection=$root/ansible_collections/openstack_ops/runbooks

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

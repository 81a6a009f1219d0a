#!/usr/bin/env bash
# Run ansible-test sanity, with no ignore files, on a copy of the collection at
# .build/sanity/ansible_collections/openstack_ops/runbooks (ansible-test needs
# that path layout and resolves symlinks, so a symlink would not do).
# Each sanity test runs in a virtualenv ansible-test builds with its own pinned
# requirements (--venv), so no container engine is needed.
# VENV names the virtualenv that provides ansible-test (default: the repository's .venv).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${VENV:-$repo/.venv}
root=${SANITY_ROOT:-$repo/.build/sanity}   # a separate root lets two sanity runs go at once
collection=$root/ansible_collections/openstack_ops/runbooks

bash "$repo/tests/copy-collection.sh" "$root"

# ansible-test lists the files to check with git. Without a repository of its
# own the copy would be seen through the outer one, which ignores .build/.
git init --quiet "$collection"

# ansible-test bootstraps pip in each virtualenv with a get-pip.py it downloads
# once into its cache; where that download is blocked, cache the offline stand-in.
# 24.2 is the pip that ansible-core 2.19's ansible-test installs (get_venv_packages).
get_pip_url=https://ci-files.testing.ansible.com/ansible-test/get-pip-24.2.py
get_pip=$HOME/.ansible/test/cache/get_pip_24_2.py
if [[ ! -e $get_pip ]] && ! curl --silent --head --fail --max-time 10 "$get_pip_url" >/dev/null; then
  install -D --mode=0644 "$repo/tests/sanity/get_pip.py" "$get_pip"
fi

cd "$collection"
PATH=$venv/bin:$PATH exec ansible-test sanity --venv --python 3.11 --color no "$@"

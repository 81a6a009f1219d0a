#!/usr/bin/env bash
# Run every molecule scenario (extensions/molecule) on the podman controller lab, then take the lab
# down whatever happened: molecule skips its destroy step when create fails.
# On failure the failed tasks are repeated at the very end, where a truncated CI log still shows them.
# Expects the environment the Makefile's molecule target sets (OPS_LAB_DIR, OPS_LAB_PORT_BASE,
# MOLECULE_EPHEMERAL_DIRECTORY) and VENV, the virtualenv with molecule.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${VENV:-$repo/.venv}/bin
state=${MOLECULE_EPHEMERAL_DIRECTORY:?set by the Makefile}
log=$state.log
cd "$repo" || exit

"$bin/python" -m tests.controller_lab inventory >/dev/null || exit
rm -rf "$state"   # instance state a killed run may have left

"$bin/molecule" test --all --destroy always 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
"$bin/python" -m tests.controller_lab down >/dev/null 2>&1
# the galera scenario's own hosts (gal1..gal3): its cleanup takes them down, unless molecule stopped before it
"$bin/python" -m tests.galera_lab down >/dev/null 2>&1

if [ "$rc" -ne 0 ]; then
  echo "== molecule failed (rc=$rc); its failed tasks (broken_standby's expected ones too) and tests, from $log:"
  # a fatal line followed by "...ignoring" was an expected failure; leave it out
  awk '{ if (p != "" && $0 !~ /^\.\.\.ignoring/) print p; p = "" }
       /^(fatal|failed): |^FAILED [^ ]+::/ { p = substr($0, 1, 1500) }
       END { if (p != "") print p }' "$log" | tail -n 6
fi
exit "$rc"

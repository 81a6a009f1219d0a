#!/usr/bin/env bash
# Run a pytest command; "no tests collected" (exit 5) is a broken suite here, said as such.
"$@"
rc=$?
if [ "$rc" = 5 ]; then
  echo "no tests were collected by: $* -- the suite is missing, which is a failure" >&2
fi
exit "$rc"

#!/usr/bin/env bash
# Install what `make test` and the lab need on a fresh Debian 12 machine (as root): Debian
# packages for the services, and a virtualenv pinned by constraints.txt. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the browser tests open the HTML reports in it (headless).
APT_PACKAGES=(mariadb-server mariadb-client rabbitmq-server haproxy git python3-venv shellcheck chromium)
# `bootstrap.sh demo`: the podman controller lab of `make demo` needs these too.
if [ "${1:-}" = demo ]; then
  APT_PACKAGES+=(podman debootstrap netavark aardvark-dns crun conmon catatonit iptables socat openssh-client)
fi
VENV=${VENV:-.venv}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: missing Debian packages: ${missing[*]} (run as root, or: apt-get install -y ${missing[*]})" >&2
    exit 2
  fi
  echo "bootstrap: apt-get install ${missing[*]}"
  # The lab runs its own private copies of these services: keep apt from starting the system ones.
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  trap '[ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp="$VENV/.installed-$(cat constraints.txt requirements-dev.in | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "bootstrap: creating $VENV from constraints.txt"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -c constraints.txt -r requirements-dev.in
  rm -f "$VENV"/.installed-* && touch "$stamp"
fi

# Ansible and pytest find the collection as ansible_collections.openstack_ops.runbooks through this link.
link=.build/collections/ansible_collections/openstack_ops/runbooks
mkdir -p "$(dirname "$link")"
[ -L "$link" ] || ln -s ../../../.. "$link"

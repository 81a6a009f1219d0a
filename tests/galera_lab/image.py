"""The Galera image: the controller lab's debootstrap base with MariaDB, galera-4 and rsync layered on by apt.

Built once and reused (`podman image exists`). The base image comes from tests/controller_lab/image.py and is
built there when missing. apt runs with a policy-rc.d that forbids starting services: the lab, not the
package's postinst, decides when each node starts (gal1 bootstraps the cluster, the others join it).
"""
import subprocess

from tests.controller_lab import image as controller_image

BASE_IMAGE = controller_image.BASE_IMAGE
# The tag changes with PACKAGES, so an older image on a machine is not reused by mistake.
IMAGE = "localhost/opsctl-galera:bookworm-1"
# python3-pymysql: the collection's modules run on the nodes (podman connection) and log in with PyMySQL.
PACKAGES = ("mariadb-server", "mariadb-client", "galera-4", "rsync", "python3-pymysql", "iproute2", "procps")


def exists(image=IMAGE):
    return controller_image.exists(image)


def build(log=print, rebuild=False):
    if exists() and not rebuild:
        log(f"image {IMAGE} already built: reusing it")
        return False
    if not exists(BASE_IMAGE):
        controller_image._build_base(log)  # pylint: disable=protected-access
    log(f"apt-get install {' '.join(PACKAGES)} on {BASE_IMAGE} -> {IMAGE}")
    script = (
        "set -e; printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; "
        "apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
        f"{' '.join(PACKAGES)} >/dev/null; apt-get clean; rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d; "
        # the lab starts MariaDB itself, in cluster order; socket activation would hold port 3306 for a
        # mariadbd that galera_new_cluster never gets to bind
        "systemctl disable mariadb >/dev/null 2>&1 || true; "
        "ln -sf /dev/null /etc/systemd/system/mariadb.socket; ln -sf /dev/null /etc/systemd/system/mariadb-extra.socket")
    controller_image.layer(BASE_IMAGE, IMAGE, script, "installing MariaDB and galera-4 into the Galera image")
    return True


def remove():
    if exists():
        subprocess.run(["podman", "rmi", "-f", IMAGE], check=True, capture_output=True)

"""The controller image, built locally (no registry): debootstrap minbase bookworm, podman import.

Built once and reused: `podman image exists` decides. The packages are what systemd as PID 1, the
entrance (haproxy), the runbook's probes and the host's bind-mounted Python need. podman itself (for the
kolla-style backend) and sshd are layered on top with apt inside a container: debootstrap cannot configure
containers-common in its base phase.
"""
import pathlib
import shutil
import subprocess
import tempfile

BASE_IMAGE = "localhost/opsctl-controller:bookworm"
# The tag changes with LAYERED_PACKAGES, so an older image on a machine is not reused by mistake.
IMAGE = "localhost/opsctl-controller:bookworm-4"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "iproute2", "procps", "python3", "haproxy", "socat",
    "ca-certificates", "curl",
    # shared libraries of the host's Python and venv, which the containers bind-mount read-only
    "libssl3", "libffi8", "libsqlite3-0", "libbz2-1.0", "liblzma5", "zlib1g", "libreadline8",
    "libncursesw6", "libtinfo6", "libgdbm6", "libuuid1", "libexpat1", "libtirpc3", "libnsl2",
)
# The kolla-style backend (nova_conductor and nova_api as podman containers inside each controller), and sshd:
# Ansible reaches the controllers over SSH, as it reaches a cloud's.
LAYERED_PACKAGES = ("podman", "crun", "conmon", "catatonit", "openssh-server")
# Units that only slow a container's boot or fight the host.
MASKED_UNITS = ("systemd-resolved.service", "systemd-timesyncd.service", "getty@tty1.service",
                "console-getty.service", "systemd-logind.service", "apt-daily.timer",
                "apt-daily-upgrade.timer")
NESTED_MASKED_UNITS = ("podman.socket", "podman-auto-update.timer", "podman-restart.service")
# podman inside a controller: no cgroup or journald plumbing of its own (the containers run --cgroups=disabled),
# and vfs storage, because overlay cannot sit on the controller's own overlay root.
NESTED_PODMAN_CONF = """\
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
NESTED_STORAGE_CONF = """\
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
"""


def exists(image=IMAGE):
    return subprocess.run(["podman", "image", "exists", image], check=False).returncode == 0


def build(log=print, rebuild=False):
    if exists() and not rebuild:
        log(f"image {IMAGE} already built: reusing it")
        return False
    if rebuild or not exists(BASE_IMAGE):
        _build_base(log)
    _layer_packages(log)
    return True


def _layer_packages(log):
    log(f"apt-get install {' '.join(LAYERED_PACKAGES)} on {BASE_IMAGE} -> {IMAGE}")
    script = (
        "set -e; apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
        f"{' '.join(LAYERED_PACKAGES)} >/dev/null; apt-get clean; rm -rf /var/lib/apt/lists/*; "
        "mkdir -p /etc/containers/containers.conf.d; "
        f"printf '%s' '{NESTED_PODMAN_CONF}' > /etc/containers/containers.conf.d/opsctl-lab.conf; "
        f"printf '%s' '{NESTED_STORAGE_CONF}' > /etc/containers/storage.conf; "
        + "".join(f"ln -sf /dev/null /etc/systemd/system/{unit}; " for unit in NESTED_MASKED_UNITS))
    layer(BASE_IMAGE, IMAGE, script, "installing the layered packages into the controller image")


def layer(base, image, script, what):
    """Run a shell script in a container of base and commit the result as image (systemd as its command)."""
    container = f"opsctl-build-{image.rsplit('/', 1)[-1].replace(':', '-')}"
    subprocess.run(["podman", "rm", "-f", "--ignore", container], check=False, capture_output=True)
    try:
        result = subprocess.run(["podman", "run", "--name", container, base, "/bin/sh", "-c", script],
                                capture_output=True, text=True, check=False)
        if result.returncode:
            raise RuntimeError(f"{what} failed:\n{result.stderr[-3000:]}")
        subprocess.run(["podman", "commit", "--change", 'CMD ["/sbin/init"]', "--change", "STOPSIGNAL SIGRTMIN+3",
                        container, image], check=True, capture_output=True)
    finally:
        subprocess.run(["podman", "rm", "-f", "--ignore", container], check=False, capture_output=True)


def _build_base(log):
    for tool in ("debootstrap", "podman"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} is missing: apt-get install -y podman debootstrap")
    with tempfile.TemporaryDirectory(prefix="opsctl-rootfs-") as tmp:
        rootfs = pathlib.Path(tmp, "rootfs")
        log(f"debootstrap bookworm into {rootfs} (a few minutes)")
        result = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", "bookworm",
             str(rootfs), MIRROR], capture_output=True, text=True, check=False)
        if result.returncode:
            raise RuntimeError(f"debootstrap failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        _prepare(rootfs)
        log(f"podman import -> {BASE_IMAGE}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["podman", "import", "--change", 'CMD ["/sbin/init"]',
                        "--change", "STOPSIGNAL SIGRTMIN+3", "-", BASE_IMAGE],
                       stdin=tar.stdout, check=True, capture_output=True)
        tar.stdout.close()
        if tar.wait():
            raise RuntimeError("tar of the rootfs failed")


def _prepare(rootfs):
    # An empty machine-id makes systemd generate one per container at boot.
    (rootfs / "etc/machine-id").write_text("")
    for unit in MASKED_UNITS:
        link = rootfs / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)


def remove():
    for image in (IMAGE, BASE_IMAGE):
        if exists(image):
            subprocess.run(["podman", "rmi", "-f", image], check=True, capture_output=True)

"""Build the execution environment of extensions/awx/ee/execution-environment.yml with podman, offline.

1. The base, once per machine (cached by tag): debootstrap minbase bookworm with python3, python3-pip,
   python3-venv and every package bindep.txt names for the image's platform (Debian 12, bindep's profiles as
   ansible-builder's assemble asks for them), `podman import`ed, never pulled; its apt package lists are removed.
   Its tag ends in a digest of that package list, and the definition names it (a unit test and build() check
   they agree). Debian refuses ensurepip for its system Python, which ansible-builder's pip_install script runs:
   the definition skips it (options.skip_pip_install) and Debian's pip does the work; assemble makes a venv
   (python3-venv).
2. The collection tarball (`ansible-galaxy collection build`, what `make build` does).
3. Every Python package the image needs, as wheels fetched on this host with its pip configuration and
   constraints.txt (Debian 12's Python 3.11 in the image is the venv's): ansible-core, ansible-runner,
   requirements.txt, and what ansible-builder's own stages install (bindep, PyYAML, packaging, dumb-init).
4. `ansible-builder create` writes the build context (its Containerfile and scripts, unchanged); the wheels are
   copied into it; `podman build --pull=never --network=none` builds it, so anything in the build that reaches for
   the network fails it. pip reads only the wheels (the definition sets PIP_NO_INDEX and PIP_FIND_LINKS),
   ansible-galaxy installs the collection tarball with --offline, and the `apt-get install` of ansible-builder's
   scripts (python3, then bindep's list; assemble's compile list is empty) finds every package installed already.

The image's tag carries the collection's version and a digest of everything that goes into it, so a stale image is
never reused, and podman's layer cache makes a rebuild after a collection change short.
"""
import hashlib
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import yaml
from bindep.depends import Depends

from tests.controller_lab import host

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "extensions" / "awx" / "ee" / "execution-environment.yml"
BUILD = ROOT / ".build" / "ee"
# The wheels are what ansible-builder's additional_build_files copies from here.
WHEELS = BUILD / "wheels"
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
PYTHON_PACKAGES = ("python3", "python3-pip", "python3-venv")
# The image to bindep in the build: Depends.platform_profiles() on Debian 12 bookworm (a unit test checks it)
PLATFORM = ("platform:base-py3", "platform:debian", "platform:debian-12", "platform:debian-bookworm", "platform:dpkg")
# What ansible-builder's assemble (3.2.0) asks bindep: `bindep -l newline`, the default profile's packages, installed
# or not, which install-from-bindep installs; and `bindep -b compile`, the compile profile's missing ones it installs
BINDEP_PROFILES = ("default", "compile")
# What ansible-builder's own Containerfile installs with pip besides the definition's packages (3.2.0).
BUILDER_PIP = ("bindep", "PyYAML", "packaging", "dumb-init==1.2.5")
BIN = pathlib.Path(sys.executable).parent


def definition():
    return yaml.safe_load(DEFINITION.read_text())


def base_image():
    return definition()["images"]["base_image"]["name"]


def bindep_packages():
    """The packages bindep.txt names for the image's platform, as bindep in the build selects them."""
    depends = Depends((ROOT / "bindep.txt").read_text())
    return sorted({rule[0] for profile in BINDEP_PROFILES for rule in depends.active_rules([profile, *PLATFORM])})


def base_packages():
    return sorted({*PYTHON_PACKAGES, *bindep_packages()})


def base_tag():
    """The tag of the base these packages make: a base that lacks one is never reused."""
    digest = hashlib.sha256(" ".join(base_packages()).encode()).hexdigest()[:8]
    return f"localhost/openstack_ops-ee-base:{SUITE}-{digest}"


def image():
    """The tag of the built image: its version, and a digest of what goes in (the definition, the collection's
    files as git sees them, the dependency pins)."""
    return f"{definition()['options']['tags'][0]}-{_digest()}"


def _digest():
    digest = hashlib.sha256()
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard",
                            "plugins", "roles", "playbooks", "meta", "galaxy.yml", "requirements.txt", "bindep.txt",
                            "constraints.txt", "extensions/awx/ee", "tests/ee/image.py"],
                           capture_output=True, text=True, check=True).stdout.split()
    for name in sorted(files):
        path = ROOT / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def exists(tag):
    return subprocess.run(["podman", "image", "exists", tag], check=False).returncode == 0


def build(log=print, rebuild=False):
    """Build the image unless it exists; return its tag.

    The podman host fixes first (tests/controller_lab/host.py: rlimits, and cgroup v1 mounts on a hybrid host, where
    crun refuses to run a container, a build step or a job's container, while a controller is left in cgroup2).
    """
    if base_image() != base_tag():
        raise RuntimeError(f"{DEFINITION.relative_to(ROOT)} names the base {base_image()}, but its packages"
                           f" (bindep.txt) make it {base_tag()}: write that into images.base_image.name")
    host.apply(log)
    tag = image()
    if exists(tag) and not rebuild:
        log(f"image {tag} already built: reusing it")
        return tag
    started = time.monotonic()
    if not exists(base_image()):
        _build_base(log)
    tarball = _build_collection(log)
    _fetch_wheels(log)
    with tempfile.TemporaryDirectory(prefix="openstack_ops-ee-") as tmp:
        context = pathlib.Path(tmp, "context")
        log(f"ansible-builder create -> {context}")
        _run([str(BIN / "ansible-builder"), "create", "-f", str(DEFINITION), "-c", str(context),
              "--output-filename", "Containerfile"], "ansible-builder create")
        assert (context / "_build" / "collections" / tarball.name).exists()
        log(f"podman build --pull=never --network=none -> {tag}")
        _run(podman_build(context, tag), "podman build")
    log(f"built {tag} in {time.monotonic() - started:.0f} s")
    return tag


def podman_build(context, tag):
    """The build's argv: from the local base only, and no network for any step."""
    return ["podman", "build", "--pull=never", "--network=none", "--layers", "-f", str(context / "Containerfile"),
            "-t", tag, str(context)]


def _run(argv, what, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode:
        raise RuntimeError(f"{what} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def _build_collection(log):
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    dist = ROOT / ".build" / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    log(f"ansible-galaxy collection build -> {dist}")
    _run([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(dist), str(ROOT)],
         "ansible-galaxy collection build")
    return dist / f"openstack_ops-runbooks-{version}.tar.gz"


def _fetch_wheels(log):
    refs = definition()["dependencies"]
    log(f"pip wheel (host's indexes, constraints.txt) -> {WHEELS}")
    shutil.rmtree(WHEELS, ignore_errors=True)
    WHEELS.mkdir(parents=True)
    _run([str(BIN / "python"), "-m", "pip", "wheel", "-q", "--wheel-dir", str(WHEELS),
          "-c", str(ROOT / "constraints.txt"), refs["ansible_core"]["package_pip"],
          refs["ansible_runner"]["package_pip"], "-r", str(ROOT / "requirements.txt"), *BUILDER_PIP], "pip wheel")


def _build_base(log):
    for tool in ("debootstrap", "podman"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} is missing: apt-get install -y podman debootstrap")
    with tempfile.TemporaryDirectory(prefix="openstack_ops-ee-rootfs-") as tmp:
        rootfs = pathlib.Path(tmp, "rootfs")
        packages = base_packages()
        log(f"debootstrap --variant=minbase {SUITE} ({', '.join(packages)}) into {rootfs}")
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", SUITE,
              str(rootfs), MIRROR], "debootstrap")
        # no package lists: apt-get in the build knows only what is installed, and can fetch nothing
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
            (rootfs / cache / "partial").mkdir(parents=True, exist_ok=True)
        # for an image made from this one: no recommended packages in what apt-get installs, and no service started
        (rootfs / "etc/apt/apt.conf.d/90openstack-ops-ee").write_text(
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n')
        policy = rootfs / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        log(f"podman import -> {base_image()}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["podman", "import", "--change", 'CMD ["/bin/bash"]', "-", base_image()],
                       stdin=tar.stdout, check=True, capture_output=True)
        tar.stdout.close()
        if tar.wait():
            raise RuntimeError("tar of the rootfs failed")


def main(argv):
    rebuild = "--rebuild" in argv
    print(build(rebuild=rebuild))
    return 0

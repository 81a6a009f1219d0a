"""The two host fixes podman needs on these machines before it can run anything (DESIGN.md).

Both are idempotent and only ever add: a containers.conf drop-in, and v1 mounts for the cgroup
controllers that crun refuses to find left in the cgroup2 hierarchy of a hybrid host.
"""
import os
import pathlib
import resource
import subprocess

CONTAINERS_CONF = pathlib.Path("/etc/containers/containers.conf.d/50-opsctl-lab.conf")
UNIFIED_CONTROLLERS = pathlib.Path("/sys/fs/cgroup/unified/cgroup.controllers")


def containers_conf_text():
    """crun cannot raise rlimits here (no CAP_SYS_RESOURCE): ask for what the host already allows.

    podman 4.3 would otherwise pick CNI, whose plugins Debian does not install with it.
    """
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    pid_max = int(pathlib.Path("/proc/sys/kernel/pid_max").read_text())
    if nproc == resource.RLIM_INFINITY or nproc > pid_max:
        nproc = pid_max
    return (
        "# Written by tests/controller_lab (host fix for the podman controller lab)\n"
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        "[network]\n"
        'network_backend = "netavark"\n'
    )


def fix_containers_conf():
    text = containers_conf_text()
    if CONTAINERS_CONF.exists() and CONTAINERS_CONF.read_text() == text:
        return False
    CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
    CONTAINERS_CONF.write_text(text)
    return True


def fix_cgroup_controllers():
    """Mount each controller still listed in cgroup2 on a hybrid host as its own v1 hierarchy."""
    if not UNIFIED_CONTROLLERS.exists():
        return []
    mounted = []
    for controller in UNIFIED_CONTROLLERS.read_text().split():
        target = pathlib.Path("/sys/fs/cgroup", controller)
        if os.path.ismount(target):
            continue
        target.mkdir(exist_ok=True)
        subprocess.run(["mount", "-t", "cgroup", "-o", controller, "cgroup", str(target)], check=True)
        mounted.append(controller)
    return mounted


def apply(log=print):
    if fix_containers_conf():
        log(f"host fix: wrote {CONTAINERS_CONF}")
    for controller in fix_cgroup_controllers():
        log(f"host fix: mounted cgroup v1 controller {controller}")

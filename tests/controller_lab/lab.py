"""Three controllers ctl1..ctl3 as podman containers with systemd as PID 1, on one podman network.

Each controller runs, as systemd units, a real nova-conductor and a real nova-api (gunicorn) from the
host's venv (bind-mounted read-only with its base Python, so nothing is installed in the image), and
haproxy in front of the three nova-api on the VIP, which ctl1 holds (`ip addr add` at start).
MariaDB, RabbitMQ and Placement are the service lab's (tests/lab, same OPS_LAB_DIR and port base),
bound to loopback; one socat forwarder per port on the podman network's gateway address lets the
containers reach them, and stopping the MariaDB forwarder is how the lab cuts the conductors' DB
connections under them. Everything is found again by name and label, and `down` removes it all.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.lab import nova, process
from tests.lab.config import CONTROLLERS, DB_USERS, RABBIT_USER
from tests.lab.lab import Lab

from . import host, image

LABEL = "opsctl.lab"
NOVA_API_PORT = 8774
FORWARDED = ("mariadb", "amqp", "rabbitmq_management", "placement")
PYTHON_PREFIX = pathlib.Path(sys.base_prefix)

NOVA_CONF = """\
[DEFAULT]
host = {host}
my_ip = {ip}
transport_url = rabbit://{rabbit_user}:{rabbit_password}@127.0.0.1:{amqp}/
state_path = /var/lib/nova
rpc_ping_enabled = true
use_stderr = false
debug = false

[api]
auth_strategy = keystone

[wsgi]
api_paste_config = /etc/nova/api-paste.ini

""" + nova.NOVA_CONF_SECTIONS

CONDUCTOR_UNIT = """\
[Unit]
Description=OpenStack Compute conductor (controller lab)
After=network-online.target

[Service]
Environment=OS_NOVA_DISABLE_EVENTLET_PATCHING=1
ExecStart={venv}/bin/nova-conductor --config-file /etc/nova/nova.conf --log-file /var/log/nova/nova-conductor.log
KillMode=mixed
TimeoutStopSec=20

[Install]
WantedBy=multi-user.target
"""

API_UNIT = """\
[Unit]
Description=OpenStack Compute API under gunicorn (controller lab)
After=network-online.target

[Service]
Environment=OS_NOVA_DISABLE_EVENTLET_PATCHING=1
Environment=OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf;nova-api.conf
ExecStart={venv}/bin/gunicorn --no-control-socket --workers 1 --timeout 120 --bind {ip}:{port} \
 --error-logfile /var/log/nova/nova-api.log --chdir /etc/nova nova_api_wsgi:application
KillMode=mixed
TimeoutStopSec=20

[Install]
WantedBy=multi-user.target
"""

# nova's WSGI entry point parses sys.argv as its own options: hide gunicorn's from it.
API_WSGI = """\
import sys

sys.argv = sys.argv[:1]
from nova.wsgi.osapi_compute import application  # noqa: E402,F401
"""

# nova_api.cell_mappings (made by the host's nova-manage) name 127.0.0.1: inside each controller the
# same loopback ports lead to the host's forwarders, as if the DB and broker ran on the controllers.
FORWARD_UNIT = """\
[Unit]
Description=Controller lab: 127.0.0.1:%i to the lab service on the host
Before=nova-conductor.service nova-api.service

[Service]
ExecStart=/usr/bin/socat TCP-LISTEN:%i,bind=127.0.0.1,reuseaddr,fork TCP:{gateway}:%i
Restart=always

[Install]
WantedBy=multi-user.target
"""

# The kolla-style backend: the same two services as podman containers named as kolla names them, run
# inside each controller on the controller's own root (overlay) and network, logging where kolla does.
KOLLA_LOG_DIR = "/var/log/kolla/nova"
KOLLA_CONTAINERS = ("nova_conductor", "nova_api")
UNITS = ("nova-conductor", "nova-api")

# The Debian unit bind-mounts /dev/log, which a container without syslog lacks.
HAPROXY_DROPIN = """\
[Service]
BindReadOnlyPaths=
RuntimeDirectory=haproxy
"""

HAPROXY_CFG = """\
global
    stats socket /run/haproxy/admin.sock mode 600 level admin
    stats timeout 30s

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend nova_api
    bind {vip}:{port}
    default_backend nova_api_back

backend nova_api_back
    option httpchk GET /
    http-check expect status 200
{servers}
"""


class ControllerLab:
    def __init__(self, services=None):
        self.services = services or Lab()
        self.cfg = self.services.cfg
        self.dir = self.cfg.path("controllers")
        self.state_file = self.cfg.path("controllers.json")
        third = 20 + (self.cfg.port_base // 100) % 200
        self.subnet = f"10.89.{third}.0/24"
        self.gateway = f"10.89.{third}.1"
        self.vip = f"10.89.{third}.10"
        self.network = f"opsctl{self.cfg.port_base}"
        self.hosts = {name: f"10.89.{third}.{11 + index}" for index, name in enumerate(CONTROLLERS)}
        self.venv = self.cfg.venv_bin.parent

    # --- state ---------------------------------------------------------------
    def _state(self):
        if not self.state_file.exists():
            return {"forwarders": {}}
        return json.loads(self.state_file.read_text())

    def _save(self, state):
        self.state_file.write_text(json.dumps(state, indent=2))

    # --- podman --------------------------------------------------------------
    @staticmethod
    def podman(*args, check=True):
        result = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
        if check and result.returncode:
            raise process.LabError(f"podman {' '.join(args[:3])}: {result.stderr.strip()[-1500:]}")
        return result

    def exec(self, name, *argv, check=True):
        return self.podman("exec", name, *argv, check=check)

    def running(self):
        out = self.podman("ps", "--filter", f"label={LABEL}={self.cfg.state_dir}", "--format", "{{.Names}}",
                          check=False).stdout
        return sorted(out.split())

    # --- up ------------------------------------------------------------------
    def up(self, log=print):
        started = time.monotonic()
        host.apply(log)
        image.build(log)
        if not self.services.is_up():
            self.services.up(log=log)
        for name in CONTROLLERS:
            # The service lab's own host conductors would answer for ctl1..ctl3: the containers do now.
            if self.services.stop_conductor(name):
                log(f"stopped the service lab's host nova-conductor {name}")
        self.dir.mkdir(exist_ok=True)
        self._ssh_key()
        self._network()
        for name in CONTROLLERS:
            self._write_files(name)
            self._container(name, log)
        self._forwarders(log)
        for name in CONTROLLERS:
            self._services_in(name)
        self.hold_vip(CONTROLLERS[0])
        self.wait_healthy(log)
        log(f"controller lab up in {time.monotonic() - started:.0f}s: VIP {self.vip} on {CONTROLLERS[0]}, "
            f"inventory {self.write_inventory()}")

    @property
    def ssh_key(self):
        return self.cfg.path("ssh", "id_ed25519")

    def _ssh_key(self):
        """The lab's own key pair; its public half is each controller's root authorized_keys."""
        if not self.ssh_key.exists():
            self.ssh_key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "opsctl-lab", "-f", str(self.ssh_key)],
                           check=True, capture_output=True)

    def _network(self):
        if self.podman("network", "exists", self.network, check=False).returncode:
            self.podman("network", "create", "--subnet", self.subnet, "--gateway", self.gateway,
                        "--label", f"{LABEL}={self.cfg.state_dir}", self.network)

    def _write_files(self, name):
        root = self.dir / name
        for sub in ("nova", "log", "haproxy", "units"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        nova_conf = root / "nova" / "nova.conf"
        if not nova_conf.exists():   # a test may have broken it on purpose: `reset_config` restores it
            nova_conf.write_text(self.nova_conf(name))
        (root / "nova" / "nova-api.conf").write_text("[DEFAULT]\nlog_file = /var/log/nova/nova-api-app.log\n")
        (root / "nova" / "nova_api_wsgi.py").write_text(API_WSGI)
        paste = self.venv / "etc" / "nova" / "api-paste.ini"
        (root / "nova" / "api-paste.ini").write_text(paste.read_text())
        (root / "units" / "nova-conductor.service").write_text(CONDUCTOR_UNIT.format(venv=self.venv))
        (root / "units" / "haproxy-lab.conf").write_text(HAPROXY_DROPIN)
        (root / "units" / "opsctl-forward@.service").write_text(FORWARD_UNIT.format(gateway=self.gateway))
        (root / "units" / "nova-api.service").write_text(
            API_UNIT.format(venv=self.venv, ip=self.hosts[name], port=NOVA_API_PORT))
        servers = "\n".join(f"    server {other} {ip}:{NOVA_API_PORT} check inter 2000 rise 2 fall 3"
                            for other, ip in self.hosts.items())
        (root / "haproxy" / "haproxy.cfg").write_text(
            HAPROXY_CFG.format(vip=self.vip, port=NOVA_API_PORT, servers=servers))

    def nova_conf(self, name):
        user, password = RABBIT_USER
        db = f"mysql+pymysql://nova:{DB_USERS['nova']}@127.0.0.1:{self.cfg.port('mariadb')}"
        return NOVA_CONF.format(
            host=name, ip=self.hosts[name], rabbit_user=user, rabbit_password=password,
            amqp=self.cfg.port("amqp"), placement=f"http://127.0.0.1:{self.cfg.port('placement')}",
            lock_path="/var/lib/nova/lock",
            api_db=f"{db}/nova_api?charset=utf8", cell1_db=f"{db}/nova_cell1?charset=utf8")

    def reset_config(self, name):
        (self.dir / name / "nova" / "nova.conf").write_text(self.nova_conf(name))

    def _container(self, name, log):
        if name in self.running():
            return
        self.podman("rm", "-f", "--ignore", name, check=False)
        root = self.dir / name
        log(f"starting container {name} ({self.hosts[name]})")
        self.podman(
            "run", "-d", "--name", name, "--hostname", name, "--label", f"{LABEL}={self.cfg.state_dir}",
            "--network", self.network, "--ip", self.hosts[name], "--systemd=always", "--privileged",
            "--sysctl", "net.ipv4.ip_nonlocal_bind=1",
            "-v", f"{self.venv}:{self.venv}:ro", "-v", f"{PYTHON_PREFIX}:{PYTHON_PREFIX}:ro",
            "-v", f"{root / 'nova'}:/etc/nova", "-v", f"{root / 'log'}:/var/log/nova",
            "-v", f"{root / 'log'}:{KOLLA_LOG_DIR}",
            # the directory, not the file: a role replaces haproxy.cfg by renaming a checked copy over it
            "-v", f"{root / 'haproxy'}:/etc/haproxy",
            "-v", f"{self.ssh_key}.pub:/root/.ssh/authorized_keys:ro",
            "-v", f"{root / 'units' / 'nova-conductor.service'}:/etc/systemd/system/nova-conductor.service:ro",
            "-v", f"{root / 'units' / 'nova-api.service'}:/etc/systemd/system/nova-api.service:ro",
            "-v", f"{root / 'units' / 'opsctl-forward@.service'}:/etc/systemd/system/opsctl-forward@.service:ro",
            "-v", f"{root / 'units' / 'haproxy-lab.conf'}:/etc/systemd/system/haproxy.service.d/lab.conf:ro",
            image.IMAGE, "/sbin/init")

    def _services_in(self, name):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = self.exec(name, "systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.5)
        self.exec(name, "mkdir", "-p", "/var/lib/nova/lock")
        self.exec(name, "systemctl", "daemon-reload")
        self.exec(name, "systemctl", "unmask", "haproxy")
        self.exec(name, "systemctl", "enable", "--now",
                  *(f"opsctl-forward@{self.cfg.port(service)}" for service in FORWARDED))
        self.exec(name, "systemctl", "enable", "--now", "haproxy", "ssh")
        if self.backend() == "kolla":
            self._kolla_in(name)
        else:
            self.exec(name, "systemctl", "enable", "--now", *UNITS)

    def _forwarders(self, log):
        state = self._state()
        for service in FORWARDED:
            if process.alive(state["forwarders"].get(service)):
                continue
            state["forwarders"][service] = self._forwarder(service)
            log(f"forwarding {self.gateway}:{self.cfg.port(service)} -> 127.0.0.1 ({service})")
        self._save(state)

    def _forwarder(self, service):
        port = self.cfg.port(service)
        pid = process.spawn(
            ["socat", f"TCP-LISTEN:{port},bind={self.gateway},reuseaddr,fork", f"TCP:127.0.0.1:{port}"],
            self.cfg.path("logs", f"socat-{service}.log"))
        process.wait_until(lambda: process.port_open(port, self.gateway), 10, f"socat for {service}", pid=pid)
        return pid

    def hold_vip(self, name):
        for other in CONTROLLERS:
            if other != name:
                self.exec(other, "ip", "addr", "del", f"{self.vip}/32", "dev", "eth0", check=False)
        if self.vip not in self.exec(name, "ip", "-o", "addr", "show", "dev", "eth0").stdout:
            self.exec(name, "ip", "addr", "add", f"{self.vip}/32", "dev", "eth0")

    def wait_healthy(self, log=print, timeout=180):
        log("waiting for every nova-api, nova-conductor and the VIP to answer")
        for name in CONTROLLERS:
            process.wait_until(lambda n=name: self.services.queue_consumers(f"conductor.{n}") > 0, timeout,
                               f"nova-conductor on {name}",
                               log_path=self.dir / name / "log" / "nova-conductor.log")
            process.wait_until(lambda n=name: http_status(f"http://{self.hosts[n]}:{NOVA_API_PORT}/") == 200,
                               timeout, f"nova-api on {name}", log_path=self.dir / name / "log" / "nova-api.log")
        process.wait_until(lambda: http_status(self.vip_url) == 200, 60, f"nova-api through the VIP {self.vip}")

    @property
    def vip_url(self):
        return f"http://{self.vip}:{NOVA_API_PORT}/"

    # --- service backends ----------------------------------------------------
    def backend(self):
        return self._state().get("backend", "systemd")

    def use_backend(self, backend, log=print):
        """Run nova-conductor and nova-api as systemd units or as kolla-style containers; True if that changed."""
        if backend not in ("systemd", "kolla"):
            raise process.LabError(f"unknown backend {backend!r}: systemd or kolla")
        changed = False
        for name in CONTROLLERS:
            if backend == "kolla":
                changed |= self._kolla_in(name)
            else:
                changed |= self._systemd_in(name)
        state = self._state()
        state["backend"] = backend
        self._save(state)
        if changed:
            log(f"controllers now run nova-conductor and nova-api as {backend} services")
            self.wait_healthy(log)
        return changed

    def _systemd_in(self, name):
        removed = self._remove_kolla_containers(name)
        inactive = [unit for unit in UNITS
                    if self.exec(name, "systemctl", "is-active", unit, check=False).stdout.strip() != "active"]
        self.exec(name, "systemctl", "enable", "--now", *UNITS)
        return bool(removed or inactive)

    def _remove_kolla_containers(self, name, attempts=3):
        """Names of the kolla-style containers removed (killed at once: this is the lab switching backends).

        podman can fail a forced rm whose container stops on its own at the same moment ("container state
        improper: stopped"); the next attempt finds it stopped and removes it.
        """
        removed = []
        for attempt in range(1, attempts + 1):
            result = self.exec(name, "podman", "rm", "--force", "--time", "0", "--ignore", *KOLLA_CONTAINERS,
                               check=attempt == attempts)
            removed += result.stdout.split()
            if result.returncode == 0:
                break
            time.sleep(1)
        return removed

    def _kolla_in(self, name):
        changed = False
        for unit in UNITS:
            if self.exec(name, "systemctl", "is-enabled", unit, check=False).stdout.strip() != "disabled":
                self.exec(name, "systemctl", "disable", "--now", unit)
                changed = True
        for container, argv in zip(KOLLA_CONTAINERS, (self._conductor_argv(), self._api_argv(name))):
            running = self.exec(name, "podman", "inspect", "--format", "{{.State.Running}}", container, check=False)
            if running.returncode:
                self.exec(name, "podman", "run", "--detach", "--name", container, *self._kolla_options(), *argv)
                changed = True
            elif running.stdout.strip() != "true":
                self.exec(name, "podman", "start", container)
                changed = True
        return changed

    def _kolla_options(self):
        return ["--network", "host", "--cgroups", "disabled",
                "--env", "OS_NOVA_DISABLE_EVENTLET_PATCHING=1",
                "--env", "OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf;nova-api.conf",
                "--volume", f"{self.venv}:{self.venv}:ro", "--volume", f"{PYTHON_PREFIX}:{PYTHON_PREFIX}:ro",
                "--volume", "/etc/nova:/etc/nova:ro", "--volume", f"{KOLLA_LOG_DIR}:{KOLLA_LOG_DIR}",
                "--volume", "/var/log/nova:/var/log/nova", "--volume", "/var/lib/nova:/var/lib/nova",
                # no image: the controller's own root, under an overlay that the container's writes go to
                "--rootfs", "/:O"]

    def _conductor_argv(self):
        return [f"{self.venv}/bin/nova-conductor", "--config-file", "/etc/nova/nova.conf",
                "--log-file", f"{KOLLA_LOG_DIR}/nova-conductor.log"]

    def _api_argv(self, name):
        return [f"{self.venv}/bin/gunicorn", "--no-control-socket", "--workers", "1", "--timeout", "120",
                "--bind", f"{self.hosts[name]}:{NOVA_API_PORT}", "--error-logfile", f"{KOLLA_LOG_DIR}/nova-api.log",
                "--chdir", "/etc/nova", "nova_api_wsgi:application"]

    def hang_conductors(self):
        """SIGSTOP every conductor: it keeps its RabbitMQ consumers but answers nothing."""
        for name in CONTROLLERS:
            if self.backend() == "kolla":
                # `podman kill` would stop only the container's PID 1, not its worker; both retitle themselves
                self.exec(name, "pkill", "--signal", "STOP", "--full", "^nova-conductor: ")
            else:
                self.exec(name, "systemctl", "kill", "--signal=SIGSTOP", "nova-conductor")

    # --- fault injection -----------------------------------------------------
    def cut_db(self):
        """Close every DB connection the controllers hold (the MariaDB forwarder goes away)."""
        state = self._state()
        process.stop(state["forwarders"].get("mariadb"))

    def restore_db(self):
        state = self._state()
        if not process.alive(state["forwarders"].get("mariadb")):
            state["forwarders"]["mariadb"] = self._forwarder("mariadb")
            self._save(state)

    # --- inventory -----------------------------------------------------------
    def write_inventory(self):
        path = self.cfg.path("inventory.yml")
        path.parent.mkdir(parents=True, exist_ok=True)
        user, password = RABBIT_USER
        controllers = {name: {"ansible_host": ip, "conductor_recovery_api_address": ip}
                       for name, ip in self.hosts.items()}
        inventory = {
            "all": {
                "vars": {
                    "conductor_recovery_vip": self.vip,
                    "conductor_recovery_rabbitmq_login": {
                        "login_host": "127.0.0.1", "login_port": self.cfg.port("rabbitmq_management"),
                        "login_user": user, "login_password": password},
                    "conductor_recovery_db_login": {
                        "login_host": "127.0.0.1", "login_port": self.cfg.port("mariadb"),
                        "login_user": "ops", "login_password": DB_USERS["ops"]},
                    "conductor_recovery_transport_url": self.services.cfg.transport_url(),
                    "conductor_recovery_nova_api_port": NOVA_API_PORT,
                    "conductor_recovery_report_dir": str(self.cfg.path("reports")),
                    "conductor_recovery_archive_dir": str(self.cfg.path("archives")),
                },
                "children": {
                    "controllers": {
                        "hosts": controllers,
                        # over SSH, as Ansible reaches a real cloud's controllers (molecule uses podman exec)
                        "vars": {"ansible_connection": "ssh", "ansible_user": "root",
                                 "ansible_ssh_private_key_file": str(self.ssh_key),
                                 "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
                                                            " -o LogLevel=ERROR",
                                 "ansible_ssh_pipelining": True,
                                 "ansible_python_interpreter": "/usr/bin/python3"},
                    },
                },
            },
        }
        path.write_text(json.dumps(inventory, indent=2))
        # The same variables as group_vars, linked into molecule's inventory (extensions/molecule).
        group_vars = self.cfg.path("group_vars")
        group_vars.mkdir(parents=True, exist_ok=True)
        (group_vars / "all.json").write_text(json.dumps(inventory["all"]["vars"], indent=2))
        return path

    def run_runbook(self, extra_vars, **run_kwargs):
        """ansible-playbook playbooks/recover_conductor.yml on this lab, as an operator runs it."""
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(self.cfg.repo_root / ".build" / "collections"))
        argv = [str(self.cfg.venv_bin / "ansible-playbook"), "-i", str(self.write_inventory()),
                str(self.cfg.repo_root / "playbooks" / "recover_conductor.yml"), "-e", json.dumps(extra_vars)]
        return subprocess.run(argv, env=env, check=False, **run_kwargs)

    def latest_report(self):
        """The newest report recover_conductor.yml wrote on this lab."""
        reports = sorted(self.cfg.path("reports").glob("conductor-recovery-*.json"))
        if not reports:
            raise process.LabError(f"no conductor-recovery report in {self.cfg.path('reports')}")
        return json.loads(reports[-1].read_text())

    # --- down ----------------------------------------------------------------
    def down(self, log=print, services=True):
        for name in self.running():
            self.podman("rm", "-f", "-t", "5", name)
            log(f"removed container {name}")
        for name in CONTROLLERS:   # stopped but labelled containers of ours
            inspect = self.podman("container", "inspect", "--format", "{{index .Config.Labels \"" + LABEL + "\"}}",
                                  name, check=False)
            if inspect.returncode == 0 and inspect.stdout.strip() == str(self.cfg.state_dir):
                self.podman("rm", "-f", name)
        if self.podman("network", "exists", self.network, check=False).returncode == 0:
            self.podman("network", "rm", self.network)
            log(f"removed network {self.network}")
        for service, pid in self._state()["forwarders"].items():
            if process.stop(pid):
                log(f"stopped forwarder {service}")
        self.state_file.unlink(missing_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        if services:
            self.services.down(log=log)

    def status(self):
        return {
            "containers": self.running(),
            "vip": self.vip,
            "vip_answers": http_status(self.vip_url) == 200,
            "forwarders": {name: process.alive(pid) for name, pid in self._state()["forwarders"].items()},
            "services": self.services.status()["up"],
        }


def http_status(url, timeout=3):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None

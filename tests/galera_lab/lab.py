"""Three MariaDB + galera-4 nodes gal1..gal3: podman containers with systemd as PID 1 on their own network.

gal1 bootstraps the cluster (galera_new_cluster), gal2 and gal3 join it by rsync SST. Each node also holds
what the invariant check of the galera_tuning role reads on a controller: an haproxy configuration with a
Galera `listen mariadb` section (served by a running haproxy on 127.0.0.1:13306, every node a writer as in
seed 002), a nova.conf and a placement.conf. The modules log in as root through the
socket, with the password in /root/.my.cnf, as a deployment tool leaves it. Everything is found again by
name and label, and `down` removes it all. No service lab is needed.
"""
import json
import shutil
import subprocess
import time

from tests.controller_lab import host
from tests.lab import process
from tests.lab.config import LabConfig

from . import image

LABEL = "opsctl.galera-lab"
NODES = ("gal1", "gal2", "gal3")
CLUSTER_NAME = "opsctl_galera_lab"
# Lab-only password of the MariaDB root and ops users (never used outside the lab's network).
ROOT_PASSWORD = "galera-lab-secret"
# A login to every node with every privilege, as an AWX database credential names one (ops_account()).
OPS_USER = "ops"
DROPIN_DIR = "/etc/mysql/mariadb.conf.d"

GALERA_CNF = """\
# Written by tests/galera_lab: this node's Galera settings.
[mysqld]
bind-address = 0.0.0.0
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
# small: three nodes share one test machine
innodb_buffer_pool_size = 64M
performance_schema = OFF
skip_name_resolve = ON

[galera]
wsrep_on = ON
wsrep_provider = /usr/lib/galera/libgalera_smm.so
wsrep_cluster_name = {cluster}
wsrep_cluster_address = gcomm://{addresses}
wsrep_node_address = {ip}
wsrep_node_name = {name}
wsrep_sst_method = rsync
wsrep_provider_options = "gcache.size=64M"
"""

MY_CNF = """\
[client]
user = root
password = {password}
socket = /run/mysqld/mysqld.sock
"""

# Seed 002's entrance to the cluster: the timeouts it asks for (90m), and every node a writer (no server is
# `backup`), as its three controllers were; the haproxy_balance role makes it kolla-ansible's single writer. haproxy
# runs on every node, as on a controller that also runs Galera.
HAPROXY_CFG = """\
global
    maxconn 4000
    stats socket /run/haproxy/admin.sock mode 600 level admin

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s

listen mariadb
    mode tcp
    bind 127.0.0.1:13306
    option clitcpka
    option srvtcpka
    timeout client 90m
    timeout server 90m
{servers}
"""

# The Debian unit bind-mounts /dev/log, which a container without syslog lacks.
HAPROXY_DROPIN = """\
[Service]
BindReadOnlyPaths=
RuntimeDirectory=haproxy
"""
HAPROXY_PORT = 13306
# The account the `writes` action connects with through haproxy (lab-only password, from the nodes' addresses).
WRITER = "writer_demo"

NOVA_CONF = """\
[DEFAULT]
host = {name}

[api_database]
connection = mysql+pymysql://nova:nova@127.0.0.1:13306/nova_api

[database]
connection = mysql+pymysql://nova:nova@127.0.0.1:13306/nova
# connection_recycle_time unset: oslo.db's default, 3600 s
"""

# An operator's earlier tuning, as seed 003 found it: idle pooled connections closed under nova after 10 min.
OPS_CNF = """\
# Operator note: tuned by hand in 2023, see ticket OPS-1234.
[mysqld]
wait_timeout = 600   # closes pooled connections under nova (seed 003)
innodb_lock_wait_timeout = 20
"""

PLACEMENT_CONF = """\
[placement_database]
connection = mysql+pymysql://placement:placement@127.0.0.1:13306/placement
connection_recycle_time = 3000
"""


class GaleraLab:
    def __init__(self, cfg=None):
        self.cfg = cfg or LabConfig.from_env()
        self.dir = self.cfg.path("galera")
        third = 20 + (self.cfg.port_base // 100) % 200
        # 10.90.x: the controller lab of the same port base has 10.89.x
        self.subnet = f"10.90.{third}.0/24"
        self.gateway = f"10.90.{third}.1"
        self.network = f"opsgal{self.cfg.port_base}"
        self.hosts = {name: f"10.90.{third}.{11 + index}" for index, name in enumerate(NODES)}

    # --- podman --------------------------------------------------------------
    @staticmethod
    def podman(*args, check=True, stdin=None):
        result = subprocess.run(["podman", *args], capture_output=True, text=True, check=False, input=stdin)
        if check and result.returncode:
            raise process.LabError(f"podman {' '.join(args[:3])}: {result.stderr.strip()[-1500:]}")
        return result

    def exec(self, name, *argv, check=True, stdin=None):
        return self.podman("exec", "-i", name, *argv, check=check, stdin=stdin)

    def sql(self, name, statement, check=True):
        """One statement through the node's socket, as root (password from /root/.my.cnf): tab-separated rows."""
        return self.exec(name, "mariadb", "--batch", "--skip-column-names", "-e", statement, check=check).stdout

    def running(self):
        out = self.podman("ps", "--filter", f"label={LABEL}={self.cfg.state_dir}", "--format", "{{.Names}}",
                          check=False).stdout
        return sorted(out.split())

    # --- state of the cluster ------------------------------------------------
    def wsrep(self, name):
        """The node's wsrep status variables (lower-case names), or {} when it does not answer."""
        result = self.exec(name, "mariadb", "--batch", "--skip-column-names", "-e",
                           "SHOW GLOBAL STATUS LIKE 'wsrep_%'", check=False)
        if result.returncode:
            return {}
        return dict(line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line)

    def node_ok(self, name, size=len(NODES)):
        status = self.wsrep(name)
        return (status.get("wsrep_cluster_status") == "Primary" and status.get("wsrep_local_state_comment") == "Synced"
                and status.get("wsrep_cluster_size") == str(size))

    def healthy(self):
        return self.running() == sorted(NODES) and all(self.node_ok(name) for name in NODES)

    # --- up ------------------------------------------------------------------
    def up(self, log=print):
        started = time.monotonic()
        if self.healthy():
            log(f"galera lab already up: {', '.join(NODES)} Primary and Synced")
            return False
        # Half a cluster cannot be trusted to bootstrap again from what it left: start over.
        self.down(log=lambda *_: None)
        host.apply(log)
        image.build(log)
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.podman("network", "exists", self.network, check=False).returncode:
            self.podman("network", "create", "--subnet", self.subnet, "--gateway", self.gateway,
                        "--label", f"{LABEL}={self.cfg.state_dir}", self.network)
        for name in NODES:
            self._container(name, log)
        for name in NODES:
            self._wait_systemd(name)
            self._write_files(name)
        log("bootstrapping the cluster on gal1 (galera_new_cluster)")
        self.exec(NODES[0], "galera_new_cluster")
        self._wait(NODES[0], 1)
        self._accounts()
        for index, name in enumerate(NODES[1:], start=2):
            log(f"starting {name}: joins by rsync SST")
            self.exec(name, "systemctl", "start", "mariadb")
            self._wait(name, index)
        for name in NODES:
            self._wait(name, len(NODES))
        for name in NODES:
            self.exec(name, "systemctl", "daemon-reload")
            self.exec(name, "systemctl", "unmask", "haproxy")
            self.exec(name, "systemctl", "enable", "haproxy")
            self.exec(name, "systemctl", "restart", "haproxy")
        log(f"galera lab up in {time.monotonic() - started:.0f}s: {', '.join(f'{n} {ip}' for n, ip in self.hosts.items())}")
        self.write_inventory()
        return True

    def _container(self, name, log):
        log(f"starting container {name} ({self.hosts[name]})")
        self.podman(
            "run", "-d", "--name", name, "--hostname", name, "--label", f"{LABEL}={self.cfg.state_dir}",
            "--network", self.network, "--ip", self.hosts[name], "--systemd=always", "--privileged",
            image.IMAGE, "/sbin/init")

    def _wait_systemd(self, name):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = self.exec(name, "systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.5)
        raise process.LabError(f"{name}: systemd did not finish booting in 60s")

    def haproxy_cfg(self):
        """Seed 002's haproxy.cfg, as `up` writes it on every node: every node a writer."""
        servers = "\n".join(f"    server {other} {ip}:3306 check inter 2000 rise 2 fall 5"
                            for other, ip in self.hosts.items())
        return HAPROXY_CFG.format(servers=servers)

    def multi_writer(self):
        """Seed 002's haproxy.cfg back on every node, haproxy restarted on it (after a fix made one writer)."""
        for name in NODES:
            self.exec(name, "sh", "-c", "cat > /etc/haproxy/haproxy.cfg && chmod 0644 /etc/haproxy/haproxy.cfg",
                      stdin=self.haproxy_cfg())
            self.exec(name, "systemctl", "restart", "haproxy")

    def ops_account(self):
        """OPS_USER with ROOT_PASSWORD and every privilege (SET GLOBAL needs them), from any address and through the
        socket (@localhost: an anonymous ''@localhost would otherwise take a socket login), made on gal1 and
        replicated to the others; kept when it exists."""
        self.sql(NODES[0], "; ".join(
            f"CREATE USER IF NOT EXISTS '{OPS_USER}'@'{host}' IDENTIFIED BY '{ROOT_PASSWORD}'; "
            f"GRANT ALL PRIVILEGES ON *.* TO '{OPS_USER}'@'{host}'" for host in ("%", "localhost")))

    def _write_files(self, name):
        addresses = ",".join(self.hosts.values())
        files = {
            f"{DROPIN_DIR}/60-galera.cnf": GALERA_CNF.format(cluster=CLUSTER_NAME, addresses=addresses,
                                                             ip=self.hosts[name], name=name),
            f"{DROPIN_DIR}/99-openstack-ops.cnf": OPS_CNF,
            "/root/.my.cnf": MY_CNF.format(password=ROOT_PASSWORD),
            "/etc/haproxy/haproxy.cfg": self.haproxy_cfg(),
            "/etc/systemd/system/haproxy.service.d/lab.conf": HAPROXY_DROPIN,
            "/etc/nova/nova.conf": NOVA_CONF.format(name=name),
            "/etc/placement/placement.conf": PLACEMENT_CONF,
        }
        for path, text in files.items():
            self.exec(name, "sh", "-c", f"mkdir -p \"$(dirname {path})\" && cat > {path} && chmod 0644 {path}",
                      stdin=text)
        self.exec(name, "chmod", "0600", "/root/.my.cnf")

    def _accounts(self):
        """root gets a password (so PyMySQL logs in through /root/.my.cnf); replicated to the joiners by SST."""
        self.exec(NODES[0], "mariadb", "--no-defaults", "-uroot", "--socket=/run/mysqld/mysqld.sock", "-e",
                  f"ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password "
                  f"USING PASSWORD('{ROOT_PASSWORD}')")

    def _wait(self, name, size, timeout=120):
        def ready():
            status = self.wsrep(name)
            return (status.get("wsrep_local_state_comment") == "Synced"
                    and int(status.get("wsrep_cluster_size") or 0) >= size)
        try:
            process.wait_until(ready, timeout, f"{name} Synced in a cluster of {size}")
        except process.LabError as error:
            journal = self.exec(name, "journalctl", "-u", "mariadb", "--no-pager", "-n", "30", check=False).stdout
            raise process.LabError(f"{error}\n--- journalctl -u mariadb on {name} ---\n{journal}") from error

    # --- inventory -----------------------------------------------------------
    def write_inventory(self):
        path = self.cfg.path("galera-inventory.yml")
        path.parent.mkdir(parents=True, exist_ok=True)
        inventory = {"all": {"children": {"galera": {
            "hosts": {name: {} for name in NODES},
            "vars": {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"},
        }}}}
        path.write_text(json.dumps(inventory, indent=2))
        return path

    # --- down ----------------------------------------------------------------
    def down(self, log=print):
        for name in NODES:
            inspect = self.podman("container", "inspect", "--format", "{{index .Config.Labels \"" + LABEL + "\"}}",
                                  name, check=False)
            if inspect.returncode == 0 and inspect.stdout.strip() == str(self.cfg.state_dir):
                self.podman("rm", "-f", "-t", "5", name)
                log(f"removed container {name}")
        if self.podman("network", "exists", self.network, check=False).returncode == 0:
            self.podman("network", "rm", self.network)
            log(f"removed network {self.network}")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.cfg.path("galera-inventory.yml").unlink(missing_ok=True)

    def status(self):
        nodes = {}
        for name in NODES:
            status = self.wsrep(name) if name in self.running() else {}
            nodes[name] = {key: status.get(key) for key in (
                "wsrep_cluster_status", "wsrep_local_state_comment", "wsrep_cluster_size", "wsrep_ready")}
        return {"containers": self.running(), "network": self.network, "nodes": nodes, "healthy": self.healthy()}

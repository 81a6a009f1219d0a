"""Nova's databases made by the real nova-manage, and real nova-conductor processes."""
import os

from . import process
from .config import CELL_VHOSTS, CONTROLLERS

# The sections every lab's nova.conf has (the controller lab's too): databases, one conductor worker, locks,
# Placement through the admin token, no RabbitMQ heartbeat thread.
NOVA_CONF_SECTIONS = """\
[api_database]
connection = {api_db}

[database]
connection = {cell1_db}

[conductor]
workers = 1

[oslo_concurrency]
lock_path = {lock_path}

[placement]
auth_type = admin_token
endpoint = {placement}
token = admin

[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0
"""

NOVA_CONF = """\
[DEFAULT]
transport_url = {transport_url}
state_path = {state_path}
rpc_ping_enabled = true
use_stderr = false

""" + NOVA_CONF_SECTIONS

CONTROLLER_CONF = """\
[DEFAULT]
host = {host}
log_file = {log}
"""


class Nova:
    name = "nova"

    def __init__(self, cfg):
        self.cfg = cfg
        self.dir = cfg.path("nova")
        self.conf = self.dir / "nova.conf"

    @property
    def env(self):
        return dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING="1")

    def conductor_log(self, host):
        return self.cfg.path("logs", f"nova-conductor-{host}.log")

    def prepare(self):
        """Write nova.conf and build nova_api, cell0 and both cells with nova-manage."""
        (self.dir / "lock").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(NOVA_CONF.format(
            transport_url=self.cfg.transport_url(), state_path=self.dir, lock_path=self.dir / "lock",
            api_db=self.cfg.db_url("nova_api"), cell1_db=self.cfg.db_url("nova_cell1"),
            placement=self.cfg.placement_endpoint))
        for host in CONTROLLERS:
            (self.dir / f"{host}.conf").write_text(
                CONTROLLER_CONF.format(host=host, log=self.conductor_log(host)))
        self.manage("api_db", "sync")
        self.manage("cell_v2", "map_cell0", "--database_connection", self.cfg.db_url("nova_cell0"))
        for cell, vhost in CELL_VHOSTS.items():
            self.manage("cell_v2", "create_cell", "--name", cell, "--verbose",
                        "--database_connection", self.cfg.db_url(f"nova_{cell}"),
                        "--transport-url", self.cfg.transport_url(vhost))
        # `db sync` migrates cell0 and the [database] cell (cell1); cell2 needs its own run.
        self.manage("db", "sync")
        cell2_conf = self.dir / "cell2.conf"
        cell2_conf.write_text(f"[database]\nconnection = {self.cfg.db_url('nova_cell2')}\n")
        self.manage("db", "sync", "--local_cell", extra_conf=cell2_conf)

    def manage(self, *args, extra_conf=None, conf=None):
        """nova-manage with this lab's nova.conf (or conf, another lab's), then extra_conf if given."""
        argv = [self.cfg.bin("nova-manage"), "--config-file", conf or self.conf]
        if extra_conf:
            argv += ["--config-file", extra_conf]
        return process.run_tool([*argv, *args], env=self.env)

    def start_conductor(self, host):
        log = self.cfg.path("logs", f"nova-conductor-{host}.out")
        pid = process.spawn(
            [self.cfg.bin("nova-conductor"), "--config-file", str(self.conf),
             "--config-file", str(self.dir / f"{host}.conf")], log, env=self.env)
        return pid, log

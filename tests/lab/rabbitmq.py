"""RabbitMQ from Debian's packages with the management plugin, on a private node and epmd."""
import base64
import json
import os
import subprocess
import urllib.error
import urllib.request
from urllib.parse import quote

from . import process
from .config import CELL_VHOSTS, RABBIT_USER

RABBIT_BIN = "/usr/lib/rabbitmq/bin"

RABBITMQ_CONF = """\
listeners.tcp.default = 127.0.0.1:{amqp}
management.tcp.ip = 127.0.0.1
management.tcp.port = {management}
loopback_users = none
default_user = {user}
default_pass = {password}
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
log.file.level = info
"""


class RabbitMQ:
    name = "rabbitmq"

    def __init__(self, cfg):
        self.cfg = cfg
        self.dir = cfg.path("rabbitmq")
        self.log = cfg.path("logs", "rabbitmq.log")
        self.epmd_log = cfg.path("logs", "epmd.log")

    @property
    def env(self):
        """The environment both the server and rabbitmqctl need to find this node."""
        env = dict(os.environ)
        env.update({
            "HOME": str(self.dir),   # the Erlang cookie lives here
            "RABBITMQ_NODENAME": f"opslab{self.cfg.port_base}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.cfg.port("amqp")),
            "RABBITMQ_DIST_PORT": str(self.cfg.port("rabbitmq_dist")),
            "ERL_EPMD_PORT": str(self.cfg.port("epmd")),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.cfg.path("logs")),
            "RABBITMQ_LOGS": str(self.log),
            "RABBITMQ_PID_FILE": str(self.dir / "rabbitmq.pid"),
        })
        return env

    def start(self):
        self._write_config()
        epmd = process.spawn(
            ["epmd", "-address", "127.0.0.1", "-port", str(self.cfg.port("epmd"))],
            self.epmd_log)
        process.wait_until(lambda: process.port_open(self.cfg.port("epmd")), 10,
                           "epmd", pid=epmd, log_path=self.epmd_log)
        server = process.spawn([f"{RABBIT_BIN}/rabbitmq-server"], self.cfg.path("logs", "rabbitmq.out"),
                               env=self.env)
        process.wait_until(self.answers, 90, "RabbitMQ", pid=server,
                           log_path=self.cfg.path("logs", "rabbitmq.out"))
        for vhost in CELL_VHOSTS.values():
            if vhost:
                self.add_vhost(vhost)
        return {"epmd": epmd, "rabbitmq": server}

    def _write_config(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        user, password = RABBIT_USER
        (self.dir / "rabbitmq.conf").write_text(RABBITMQ_CONF.format(
            amqp=self.cfg.port("amqp"), management=self.cfg.port("rabbitmq_management"),
            user=user, password=password))
        (self.dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.dir / "rabbitmq-env.conf").write_text("")

    def api(self, path, method="GET", body=None):
        """Call the management API as the lab's admin user; returns decoded JSON (or None)."""
        user, password = RABBIT_USER
        url = f"http://127.0.0.1:{self.cfg.port('rabbitmq_management')}/api/{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def add_vhost(self, vhost):
        self.api(f"vhosts/{quote(vhost, safe='')}", "PUT", {})
        self.api(f"permissions/{quote(vhost, safe='')}/{RABBIT_USER[0]}", "PUT",
                 {"configure": ".*", "write": ".*", "read": ".*"})

    def answers(self):
        try:
            return bool(self.api("overview"))
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def ctl(self, *args, timeout=60):
        """rabbitmqctl against this node (used by tests of the CLI backend)."""
        return subprocess.run([f"{RABBIT_BIN}/rabbitmqctl", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=True).stdout

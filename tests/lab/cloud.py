"""The cloud profile of the service lab: a small OpenStack whose incidents happen through nova's own API.

Keystone (fernet), Glance (file store), Placement and nova-api behind keystonemiddleware, nova-scheduler, a super
conductor and one conductor per cell, and three nova-compute services with nova's fake virt driver (cmp1, cmp2 in
cell1; cmp3 in cell2), all on loopback, each process tracked by PID. No Neutron and no Cinder: servers are booted
with `networks: none` (compute API microversion >= 2.37) and without volumes.

Each service logs to hosts/<host>/var/log/kolla/<project>/<service>.log under the lab's directory, laid out as
kolla lays out a real cloud, in nova's context format (request id, global request id, user, project).
"""
import json
import os
import shutil
import time
import urllib.error
import urllib.request

from . import process
from .config import LabConfig
from .glance import Glance
from .keystone import ADMIN, MEMBER, REGION, Keystone
from .lab import Lab
from .mariadb import MariaDB
from .neutron import Neutron
from .nova import Nova
from .placement import Placement
from .rabbitmq import RabbitMQ

# The cells and the hosts of each; the API-level services (and cell1's conductor) run on ctl1.
CLOUD_CELLS = {"cell1": {"vhost": "cell1", "conductor": "ctl1", "computes": ("cmp1", "cmp2", "cmp3")},
               "cell2": {"vhost": "cell2", "conductor": "ctl2", "computes": ("cmp4",)}}
COMPUTES = tuple(host for cell in CLOUD_CELLS.values() for host in cell["computes"])
API_HOST = "ctl1"
# Flavors sized against a fake compute (MediumFakeDriver: 10 VCPU, 8192 MB, reserved 0): four m1.lab fill one,
# one m1.host does.
FLAVORS = {"m1.tiny": {"vcpus": 1, "ram": 512, "disk": 1}, "m1.lab": {"vcpus": 1, "ram": 2048, "disk": 1},
           "m1.large": {"vcpus": 10, "ram": 4096, "disk": 512}, "m1.host": {"vcpus": 1, "ram": 8192, "disk": 1}}
# Every nova process but nova-api: name -> (binary, host, log name, cell whose database and vhost it uses).
NOVA_PROCESSES = {
    "nova-super-conductor": ("nova-conductor", API_HOST, "nova-super-conductor", None),
    **{f"nova-conductor-{name}": ("nova-conductor", cell["conductor"], "nova-conductor", name)
       for name, cell in CLOUD_CELLS.items()},
    "nova-scheduler": ("nova-scheduler", API_HOST, "nova-scheduler", None),
    **{f"nova-compute-{host}": ("nova-compute", host, "nova-compute", name)
       for name, cell in CLOUD_CELLS.items() for host in cell["computes"]},
}

SERVICE_USERS = {"nova": "nova-lab-secret", "placement": "placement-lab-secret", "glance": "glance-lab-secret",
                 "neutron": "neutron-lab-secret"}

AUTHTOKEN = """\
[keystone_authtoken]
www_authenticate_uri = {auth}
auth_url = {auth}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = {user}
password = {password}
service_token_roles_required = true
"""

SERVICE_AUTH = """\
auth_type = password
auth_url = {auth}
project_domain_name = Default
user_domain_name = Default
project_name = service
username = nova
password = {password}
region_name = {region}
"""

PLACEMENT_CONF = """\
[DEFAULT]
log_file = {log}

[api]
auth_strategy = keystone

[placement_database]
connection = {connection}

{authtoken}
"""

NOVA_CONF = """\
[DEFAULT]
transport_url = {transport_url}
rpc_ping_enabled = true
use_stderr = false
debug = true
reserved_host_memory_mb = 0
compute_driver = fake.MediumFakeDriver

[api_database]
connection = {api_db}

[database]
connection = {cell0_db}

[api]
auth_strategy = keystone

[wsgi]
api_paste_config = {paste}

[conductor]
workers = 1

[scheduler]
workers = 1

[oslo_concurrency]
lock_path = {lock_path}

[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0

[placement]
{service_auth}
[service_user]
send_service_user_token = true
{service_auth}
[glance]
region_name = {region}

[neutron]
{service_auth}
{authtoken}
"""

CELL_CONF = """\
[DEFAULT]
transport_url = {transport_url}

[database]
connection = {db}
"""

HOST_CONF = """\
[DEFAULT]
host = {host}
state_path = {state_path}
log_file = {log}
"""

CLOUDS_YAML = """\
clouds:
{entries}"""

CLOUD_ENTRY = """\
  {name}:
    region_name: {region}
    identity_api_version: 3
    auth:
      auth_url: {auth}
      username: {user}
      password: {password}
      project_name: {project}
      user_domain_name: Default
      project_domain_name: Default
"""


def cloud_config():
    """The cloud lab's own directory and ports, so it never collides with the light lab."""
    return LabConfig.from_env(dir_var="OPS_CLOUD_LAB_DIR", default_dir=".lab-cloud",
                              port_var="OPS_CLOUD_LAB_PORT_BASE", default_port_base=30600)


class CloudPlacement(Placement):
    """The same real Placement service, behind keystonemiddleware instead of noauth2."""

    def __init__(self, cfg, service_log, authtoken, token):
        super().__init__(cfg)
        self.log = cfg.path("logs", "placement.out")   # gunicorn's own output; the service logs to service_log
        self.service_log = service_log
        self.authtoken = authtoken
        self.token = token

    def prepare(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self.service_log.parent.mkdir(parents=True, exist_ok=True)
        (self.dir / "placement.conf").write_text(PLACEMENT_CONF.format(
            log=self.service_log, connection=self.cfg.db_url("placement", user="placement"),
            authtoken=self.authtoken))
        self.sync()

    def start(self, record):  # pylint: disable=arguments-differ
        pid = process.spawn(
            [self.cfg.bin("gunicorn"), "--no-control-socket", "--workers", "2",
             "--bind", f"127.0.0.1:{self.cfg.port('placement')}", "placement.wsgi.api:application"],
            self.log, env=self.env)
        record(self.name, pid)
        process.wait_until(self.answers, 60, "Placement", pid=pid, log_path=self.log)

    def request(self, method, path, body=None, microversion="1.39"):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.cfg.placement_endpoint + path, data=data, method=method)
        for header, value in (("X-Auth-Token", self.token()), ("Accept", "application/json"),
                              ("OpenStack-API-Version", f"placement {microversion}"),
                              ("Content-Type", "application/json")):
            request.add_header(header, value)
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else {}


class CloudLab(Lab):
    """`python -m tests.lab up --profile cloud` / the `cloud` pytest fixture of tests/scenarios."""

    def __init__(self, cfg=None):  # pylint: disable=super-init-not-called
        self.cfg = cfg or cloud_config()
        self.mariadb = MariaDB(self.cfg)
        self.rabbitmq = RabbitMQ(self.cfg)
        self.state_file = self.cfg.path("state.json")
        self.baseline = self.cfg.path("baseline.sql")
        self.nova_dir = self.cfg.path("nova")
        self.keystone = Keystone(self.cfg, self.log_path(API_HOST, "keystone", "keystone"))
        self.glance = Glance(self.cfg, self.log_path(API_HOST, "glance", "glance-api"))
        self.neutron = Neutron(self.cfg, self.log_path(API_HOST, "neutron", "neutron-server"))
        self.placement = CloudPlacement(self.cfg, self.log_path(API_HOST, "placement", "placement-api"),
                                        self.authtoken("placement"), self.admin_token)
        self._token = None

    # --- layout ---------------------------------------------------------------------------------------------
    def log_path(self, host, project, service):
        return self.cfg.path("hosts", host, "var", "log", "kolla", project, f"{service}.log")

    @property
    def auth_url(self):
        return self.keystone.url

    @property
    def nova_api_url(self):
        return f"http://127.0.0.1:{self.cfg.port('nova_api')}/v2.1"

    @property
    def clouds_yaml(self):
        return self.cfg.path("clouds.yaml")

    @property
    def image_id(self):
        """The image every scenario boots (uploaded to Glance by `up`)."""
        return json.loads(self.cfg.path("cloud.json").read_text())["image"]

    def authtoken(self, user):
        return AUTHTOKEN.format(auth=self.auth_url, user=user, password=SERVICE_USERS[user])

    def admin_token(self):
        if self._token is None or time.monotonic() - self._token[1] > 1800:
            self._token = (self.keystone.token(), time.monotonic())
        return self._token[0]

    def is_up(self):
        return bool(self.pids) and not self.dead(conductors=True) and self.clouds_yaml.exists()

    @property
    def env(self):
        return dict(os.environ, OS_NOVA_CONFIG_DIR=str(self.nova_dir))

    # --- start ----------------------------------------------------------------------------------------------
    label = "cloud lab"
    restart_hint = "`make lab-down PROFILE=cloud`, then `make lab-up PROFILE=cloud`"

    def _revive(self, log):
        """A cloud lab with a dead process is not up (is_up counts every process), so nothing to revive."""

    def _start_all(self, log):
        env = dict(os.environ)
        log("starting MariaDB and RabbitMQ")
        self._record("mariadb", self.mariadb.start())
        for name, pid in self.rabbitmq.start().items():
            self._record(name, pid)
        for cell in CLOUD_CELLS.values():
            self.rabbitmq.add_vhost(cell["vhost"])
        log("Keystone: schema, fernet keys, bootstrap; gunicorn")
        self.keystone.prepare()
        self.keystone.start(env, self._record)
        self.keystone.register(
            services={"glance": ("image", self.glance.url), "placement": ("placement", self.cfg.placement_endpoint),
                      "nova": ("compute", self.nova_api_url), "neutron": ("network", self.neutron.url)},
            # Service users hold `service` as well as `admin`: keystonemiddleware refuses a service token
            # (nova's calls to Neutron carry one) whose user lacks it.
            users={**{user: (password, "service", ("admin", "service")) for user, password in SERVICE_USERS.items()},
                   MEMBER[0]: (MEMBER[1], MEMBER[0], ("member",))})
        log("Placement, Glance and Neutron's API behind keystonemiddleware")
        self.placement.prepare()
        self.placement.start(self._record)
        self.glance.prepare(self.authtoken("glance"))
        self.glance.start(env, self._record)
        image = self.glance.upload(self.admin_token())
        self.neutron.prepare(self.authtoken("neutron"))
        self.neutron.start(env, self._record, self.admin_token)
        log("nova: api_db, cell0, cell1, cell2 with nova-manage")
        self._prepare_nova()
        log("nova: conductors, scheduler, nova-api, computes")
        self._start_nova()
        self._write_clouds_yaml()
        self.cfg.path("cloud.json").write_text(json.dumps({"image": image}, indent=2))

    def _prepare_nova(self):
        self.nova_dir.mkdir(parents=True, exist_ok=True)
        (self.nova_dir / "lock").mkdir(exist_ok=True)
        shutil.copy(self.cfg.venv_bin.parent / "etc" / "nova" / "api-paste.ini", self.nova_dir)
        service_auth = SERVICE_AUTH.format(auth=self.auth_url, password=SERVICE_USERS["nova"], region=REGION)
        (self.nova_dir / "nova.conf").write_text(NOVA_CONF.format(
            transport_url=self.cfg.transport_url(), api_db=self.cfg.db_url("nova_api"),
            cell0_db=self.cfg.db_url("nova_cell0"), paste=self.nova_dir / "api-paste.ini",
            lock_path=self.nova_dir / "lock", service_auth=service_auth, region=REGION,
            authtoken=self.authtoken("nova")))
        for name, cell in CLOUD_CELLS.items():
            (self.nova_dir / f"{name}.conf").write_text(CELL_CONF.format(
                transport_url=self.cfg.transport_url(cell["vhost"]), db=self.cfg.db_url(f"nova_{name}")))
        manage = self.nova_manage
        manage("api_db", "sync")
        manage("cell_v2", "map_cell0", "--database_connection", self.cfg.db_url("nova_cell0"))
        for name, cell in CLOUD_CELLS.items():
            manage("cell_v2", "create_cell", "--name", name, "--verbose",
                   "--database_connection", self.cfg.db_url(f"nova_{name}"),
                   "--transport-url", self.cfg.transport_url(cell["vhost"]))
            manage("db", "sync", "--local_cell", conf=f"{name}.conf")
        manage("db", "sync", "--local_cell")   # cell0, the [database] of the API-level services

    def nova_manage(self, *args, conf=None):
        return Nova(self.cfg).manage(*args, conf=self.nova_dir / "nova.conf",
                                     extra_conf=self.nova_dir / conf if conf else None)

    def _host_conf(self, host, service):
        state = self.cfg.path("hosts", host, "var", "lib", "nova")
        state.mkdir(parents=True, exist_ok=True)
        log = self.log_path(host, "nova", service)
        log.parent.mkdir(parents=True, exist_ok=True)
        path = self.nova_dir / f"{host}-{service}.conf"
        path.write_text(HOST_CONF.format(host=host, state_path=state, log=log))
        return path

    @property
    def kolla_config_dir(self):
        """Where the lab keeps kolla-ansible's node_custom_config overrides (nova.conf, nova/<service>.conf)."""
        return self.cfg.path("etc", "kolla", "config")

    def _nova(self, name, extra_conf=()):
        binary, host, service, cell = NOVA_PROCESSES[name]
        argv = [self.cfg.bin(binary), "--config-file", str(self.nova_dir / "nova.conf")]
        if cell:
            argv += ["--config-file", str(self.nova_dir / f"{cell}.conf")]
        argv += ["--config-file", str(self._host_conf(host, service))]
        for conf in extra_conf:
            argv += ["--config-file", str(conf)]
        pid = process.spawn(argv, self.cfg.path("logs", f"{name}.out"), env=self.env)
        self._record(name, pid)
        return pid

    def reconfigure(self, name):
        """What `kolla-ansible reconfigure` does for one nova process: restart it with the overrides merged in.

        kolla renders a service's nova.conf from its template, then node_custom_config's nova.conf, then
        nova/<service>.conf; here they are the same files given as later --config-file arguments.
        """
        service = NOVA_PROCESSES[name][2]
        overrides = [path for path in (self.kolla_config_dir / "nova.conf",
                                       self.kolla_config_dir / "nova" / f"{service}.conf") if path.exists()]
        process.stop(self.pids[name])
        if NOVA_PROCESSES[name][0] == "nova-scheduler":
            self.wait_consumers("scheduler", 0)
        pid = self._nova(name, overrides)
        if NOVA_PROCESSES[name][0] == "nova-scheduler":
            # the restarted scheduler consumes its queue on the API-level vhost once it is ready
            process.wait_until(lambda: self.queue_consumers("scheduler") > 0, 120, name, pid=pid,
                               log_path=self.cfg.path("logs", f"{name}.out"))
        return overrides

    def _start_nova(self):
        self.kolla_config_dir.joinpath("nova").mkdir(parents=True, exist_ok=True)
        for name in NOVA_PROCESSES:
            if not name.startswith("nova-compute"):
                self._nova(name)
        api_conf = self._host_conf(API_HOST, "nova-api")
        out = self.cfg.path("logs", "nova-api.out")
        pid = process.spawn_gunicorn(self.cfg.venv_bin, "nova.wsgi.osapi_compute:application",
                                     self.cfg.port("nova_api"), self.nova_dir, out,
                                     dict(self.env, OS_NOVA_CONFIG_FILES=f"api-paste.ini;nova.conf;{api_conf.name}"),
                                     threads=4)
        self._record("nova-api", pid)
        for name in NOVA_PROCESSES:
            if name.startswith("nova-compute"):
                self._nova(name)
        process.wait_until(self._api_answers, 120, "nova-api", pid=pid, log_path=out)
        process.wait_until(lambda: len(self._providers()) == len(COMPUTES), 180,
                           f"{len(COMPUTES)} compute resource providers in Placement",
                           log_path=self.cfg.path("logs", "nova-compute-cmp1.out"))
        self.nova_manage("cell_v2", "discover_hosts", "--verbose")
        for name, spec in FLAVORS.items():
            self.compute("POST", "/flavors", {"flavor": {"name": name, "id": name, **spec}})
        # The scenarios boot more servers than nova's default quotas allow (10 instances, 20 cores).
        for project in self.keystone.project_ids(("admin", MEMBER[0])):
            self.compute("PUT", f"/os-quota-sets/{project}",
                         {"quota_set": {"instances": -1, "cores": -1, "ram": -1}})

    def _providers(self):
        try:
            return self.placement.request("GET", "/resource_providers")["resource_providers"]
        except (urllib.error.URLError, OSError):
            return []

    def _api_answers(self):
        try:
            self.compute("GET", "/servers")
            return True
        except (urllib.error.URLError, OSError):
            return False

    def compute(self, method, path, body=None, microversion="2.95", token=None):
        """One compute API call (as admin unless a token is given); returns decoded JSON or {}."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.nova_api_url + path, data=data, method=method, headers={
            "X-Auth-Token": token or self.admin_token(), "Content-Type": "application/json",
            "OpenStack-API-Version": f"compute {microversion}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = response.read()
        return json.loads(payload) if payload else {}

    def _write_clouds_yaml(self):
        entries = "".join(CLOUD_ENTRY.format(name=name, region=REGION, auth=self.auth_url, user=user[0],
                                             password=user[1], project=project)
                          for name, user, project in (("opslab-admin", ADMIN, "admin"),
                                                      ("opslab-member", MEMBER, MEMBER[0])))
        self.clouds_yaml.write_text(CLOUDS_YAML.format(entries=entries))

    def status(self):
        status = super().status()
        status["clouds_yaml"] = str(self.clouds_yaml)
        status["logs"] = str(self.cfg.path("hosts"))
        return status

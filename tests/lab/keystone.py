"""Keystone (PyPI keystone) with fernet tokens in the lab's MariaDB, under gunicorn, for the cloud profile."""
import json
import urllib.request

from . import process

KEYSTONE_CONF = """\
[DEFAULT]
log_file = {log}
debug = false

[database]
connection = {connection}

[token]
provider = fernet

[fernet_tokens]
key_repository = {keys}/fernet

[fernet_receipts]
key_repository = {keys}/fernet

[credential]
key_repository = {keys}/credential
"""

REGION = "RegionOne"
ADMIN = ("admin", "admin-lab-secret")      # the bootstrap admin, project admin
MEMBER = ("demo", "demo-lab-secret")       # a member of project demo


class Keystone:
    name = "keystone"

    def __init__(self, cfg, log):
        self.cfg = cfg
        self.dir = cfg.path("keystone")
        self.conf = self.dir / "keystone.conf"
        self.log = log

    @property
    def url(self):
        return f"http://127.0.0.1:{self.cfg.port('keystone')}/v3"

    @property
    def env(self):
        return {"OS_KEYSTONE_CONFIG_FILES": str(self.conf)}

    def prepare(self):
        """keystone.conf, the schema, fernet and credential keys, then `keystone-manage bootstrap`."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(KEYSTONE_CONF.format(
            log=self.log, connection=self.cfg.db_url("keystone", user="keystone"), keys=self.dir))
        self.manage("db_sync")
        for keys in ("fernet_setup", "credential_setup"):
            self.manage(keys, "--keystone-user", "root", "--keystone-group", "root")
        self.manage("bootstrap", "--bootstrap-password", ADMIN[1],
                    "--bootstrap-admin-url", self.url, "--bootstrap-public-url", self.url,
                    "--bootstrap-internal-url", self.url, "--bootstrap-region-id", REGION)

    def manage(self, *args):
        process.run_tool([self.cfg.bin("keystone-manage"), "--config-file", self.conf, *args])

    def start(self, env, record):
        """Start the service, record its PID at once (so a failed start is still stopped), wait for it."""
        out = self.log.with_suffix(".out")
        pid = process.spawn_gunicorn(self.cfg.venv_bin, "keystone.wsgi.api:application", self.cfg.port("keystone"),
                                     self.dir, out, dict(env, **self.env), workers=2)
        record(self.name, pid)
        process.wait_until(self.answers, 60, "Keystone", pid=pid, log_path=out)

    def answers(self):
        return process.answers(self.url)

    # --- the cloud's identity data, through keystone's own API ----------------------------------------------
    def token(self, user=ADMIN, project="admin"):
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user[0], "domain": {"id": "default"}, "password": user[1]}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        request = urllib.request.Request(f"{self.url}/auth/tokens", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers["X-Subject-Token"]

    def project_ids(self, names):
        projects = {p["name"]: p["id"] for p in _Api(self.url, self.token()).get("projects")["projects"]}
        return [projects[name] for name in names]

    def register(self, services, users):
        """services: {name: (type, url)}; users: {name: (password, project, roles)}."""
        api = _Api(self.url, self.token())
        projects = {p["name"]: p["id"] for p in api.get("projects")["projects"]}
        for project in {project for _password, project, _roles in users.values()} - set(projects):
            projects[project] = api.post("projects", {"project": {"name": project, "domain_id": "default"}})[
                "project"]["id"]
        roles = {r["name"]: r["id"] for r in api.get("roles")["roles"]}
        for name, (password, project, user_roles) in users.items():
            user = api.post("users", {"user": {"name": name, "password": password, "domain_id": "default",
                                               "default_project_id": projects[project]}})["user"]
            for role in user_roles:
                api.put(f"projects/{projects[project]}/users/{user['id']}/roles/{roles[role]}")
        for name, (kind, url) in services.items():
            service = api.post("services", {"service": {"name": name, "type": kind}})["service"]
            for interface in ("public", "internal", "admin"):
                api.post("endpoints", {"endpoint": {"service_id": service["id"], "interface": interface,
                                                    "url": url, "region_id": REGION}})


class _Api:
    def __init__(self, url, token):
        self.url = url
        self.token = token

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/{path}", data=data, method=method,
                                         headers={"X-Auth-Token": self.token, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else {}

    def get(self, path):
        return self._call("GET", path)

    def post(self, path, body):
        return self._call("POST", path, body)

    def put(self, path):
        return self._call("PUT", path)

"""The real OpenStack Placement service (PyPI openstack-placement) under gunicorn, noauth2."""
import json
import os
import urllib.error
import urllib.request

from . import process

PLACEMENT_CONF = """\
[DEFAULT]
debug = false

[api]
auth_strategy = noauth2

[placement_database]
connection = {connection}
"""

CLOUDS_YAML = """\
clouds:
  opslab:
    auth_type: admin_token
    auth:
      endpoint: {endpoint}
      token: admin
"""


# The port of a capped Placement (start_capped) is this far above the lab's port base, outside PORT_OFFSETS:
# the lab does not own it, the test that starts it stops it.
CAPPED_PORT_OFFSET = 40


class Placement:
    name = "placement"

    def __init__(self, cfg):
        self.cfg = cfg
        self.dir = cfg.path("placement")
        self.log = cfg.path("logs", "placement.log")

    @property
    def env(self):
        return dict(os.environ, OS_PLACEMENT_CONFIG_DIR=str(self.dir))

    def prepare(self):
        """Write the config and clouds.yaml, create the schema (placement-manage db sync)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "placement.conf").write_text(
            PLACEMENT_CONF.format(connection=self.cfg.db_url("placement", user="placement")))
        self.cfg.path("clouds.yaml").write_text(CLOUDS_YAML.format(endpoint=self.cfg.placement_endpoint))
        self.sync()

    def sync(self):
        process.run_tool([self.cfg.bin("placement-manage"), "--config-file", self.dir / "placement.conf", "db", "sync"])

    def start(self):
        pid = process.spawn(
            [self.cfg.bin("gunicorn"), "--no-control-socket", "--workers", "2",
             "--bind", f"127.0.0.1:{self.cfg.port('placement')}",
             "placement.wsgi.api:application"],
            self.log, env=self.env)
        process.wait_until(self.answers, 60, "Placement", pid=pid, log_path=self.log)
        return pid

    def answers(self):
        try:
            return "versions" in self.request("GET", "/")
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def request(self, method, path, body=None, microversion="1.39"):
        """One Placement API call as the noauth2 admin; returns decoded JSON or {}."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.cfg.placement_endpoint + path, data=data, method=method)
        request.add_header("X-Auth-Token", "admin")
        request.add_header("OpenStack-API-Version", f"placement {microversion}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else {}

    # --- an older Placement: the same service and database, fewer microversions ---------------------------
    def capped_endpoint(self):
        return f"http://127.0.0.1:{self.cfg.port_base + CAPPED_PORT_OFFSET}"

    def start_capped(self, max_version):
        """A second gunicorn of this Placement (same database) serving microversions up to ``max_version`` only.

        It answers like an older release (tests/lab/placement_capped.py); the caller stops it by its PID
        (process.stop). Returns (pid, endpoint).
        """
        endpoint = self.capped_endpoint()
        log = self.cfg.path("logs", f"placement-capped-{max_version}.log")
        pid = process.spawn(
            [self.cfg.bin("gunicorn"), "--no-control-socket", "--workers", "1",
             "--bind", endpoint.rsplit("/", 1)[1],
             "--pythonpath", str(self.cfg.repo_root), "tests.lab.placement_capped:application"],
            log, env=dict(self.env, OPS_LAB_PLACEMENT_MAX_MICROVERSION=max_version))
        try:
            process.wait_until(lambda: self._version_document(endpoint) is not None, 60,
                               f"Placement capped at {max_version}", pid=pid, log_path=log)
        except BaseException:
            process.stop(pid)
            raise
        return pid, endpoint

    @staticmethod
    def _version_document(endpoint):
        try:
            with urllib.request.urlopen(endpoint + "/", timeout=5) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None

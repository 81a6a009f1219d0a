"""Glance (PyPI glance) with the file store, behind keystonemiddleware, under gunicorn, for the cloud profile."""
import json
import shutil
import urllib.request

from . import process

GLANCE_CONF = """\
[DEFAULT]
log_file = {log}
enabled_backends = file:file

[database]
connection = {connection}

[paste_deploy]
flavor = keystone
config_file = {dir}/glance-api-paste.ini

[glance_store]
default_backend = file

[file]
filesystem_store_datadir = {dir}/images

[os_glance_staging_store]
filesystem_store_datadir = {dir}/staging

[os_glance_tasks_store]
filesystem_store_datadir = {dir}/tasks

[oslo_concurrency]
lock_path = {dir}/lock

{authtoken}
"""

# A tiny raw disk: the fake virt driver never reads it, but Glance stores and serves it like any image.
IMAGE_NAME = "cirros-lab"
IMAGE_BYTES = b"\0" * 1024 * 1024


class Glance:
    name = "glance"

    def __init__(self, cfg, log):
        self.cfg = cfg
        self.dir = cfg.path("glance")
        self.log = log

    @property
    def url(self):
        return f"http://127.0.0.1:{self.cfg.port('glance')}"

    @property
    def env(self):
        return {"OS_GLANCE_CONFIG_DIR": str(self.dir)}

    def prepare(self, authtoken):
        for sub in ("images", "staging", "tasks", "lock"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.cfg.venv_bin.parent / "etc" / "glance" / "glance-api-paste.ini", self.dir)
        (self.dir / "glance-api.conf").write_text(GLANCE_CONF.format(
            log=self.log, connection=self.cfg.db_url("glance", user="glance"), dir=self.dir, authtoken=authtoken))
        process.run_tool([self.cfg.bin("glance-manage"), "--config-file", self.dir / "glance-api.conf", "db_sync"])

    def start(self, env, record):
        """Start the service, record its PID at once (so a failed start is still stopped), wait for it."""
        out = self.log.with_suffix(".out")
        pid = process.spawn(
            [self.cfg.bin("gunicorn"), "--no-control-socket", "--workers", "1", "--timeout", "120",
             "--bind", f"127.0.0.1:{self.cfg.port('glance')}", "glance.wsgi.api:application"],
            out, env=dict(env, **self.env))
        record(self.name, pid)
        process.wait_until(self.answers, 90, "Glance", pid=pid, log_path=out)

    def answers(self):
        return process.answers(f"{self.url}/versions")

    def upload(self, token):
        """Create the lab's public image and upload its bytes; returns the image id."""
        def call(method, path, body=None, content_type="application/json"):
            request = urllib.request.Request(f"{self.url}{path}", data=body, method=method, headers={
                "X-Auth-Token": token, "Content-Type": content_type})
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = response.read()
            return json.loads(payload) if payload else {}

        image = call("POST", "/v2/images", json.dumps({
            "name": IMAGE_NAME, "disk_format": "raw", "container_format": "bare",
            "visibility": "public"}).encode())
        call("PUT", f"/v2/images/{image['id']}/file", IMAGE_BYTES, "application/octet-stream")
        return image["id"]

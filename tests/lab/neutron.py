"""Neutron's API (PyPI neutron, ML2 with no mechanism driver), for the cloud profile.

nova-api and nova-compute ask Neutron about every server even when it was booted with `networks: none` (the
security groups in `server show`, the ports to release on delete and migrate), so the cloud needs a real network
API; no agent runs and no network is created.
"""

from . import process

NEUTRON_CONF = """\
[DEFAULT]
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
log_file = {log}
api_paste_config = {paste}
transport_url = {transport_url}
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false

[database]
connection = {connection}

[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers =
extension_drivers = port_security

[oslo_concurrency]
lock_path = {dir}/lock

{authtoken}
"""


class Neutron:
    name = "neutron"

    def __init__(self, cfg, log):
        self.cfg = cfg
        self.dir = cfg.path("neutron")
        self.conf = self.dir / "neutron.conf"
        self.log = log

    @property
    def url(self):
        return f"http://127.0.0.1:{self.cfg.port('neutron')}"

    def prepare(self, authtoken):
        (self.dir / "lock").mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(NEUTRON_CONF.format(
            log=self.log, paste=self.cfg.venv_bin.parent / "etc" / "neutron" / "api-paste.ini",
            transport_url=self.cfg.transport_url(), connection=self.cfg.db_url("neutron", user="neutron"),
            dir=self.dir, authtoken=authtoken))
        process.run_tool([self.cfg.bin("neutron-db-manage"), "--config-file", self.conf, "upgrade", "heads"])

    def start(self, env, record, token):
        """Start the API, record its PID at once (so a failed start is still stopped), wait for it.

        The wait lists networks: neutron 29 on SQLAlchemy 2.1 reads `Port.port_forwardings`, a backref that exists
        only once the ORM mappers are configured, which the first query does; a worker whose first request lists
        ports answers 500 (AttributeError) until then. With one worker, listing networks first settles it.
        """
        out = self.log.with_suffix(".out")
        pid = process.spawn_gunicorn(self.cfg.venv_bin, "neutron.wsgi.api:application", self.cfg.port("neutron"),
                                     self.dir, out, dict(env, OS_NEUTRON_CONFIG_FILES=str(self.conf),
                                                         OS_NEUTRON_CONFIG_DIR=str(self.dir)))
        record(self.name, pid)
        process.wait_until(lambda: self.answers(token()), 90, "Neutron", pid=pid, log_path=out)

    def answers(self, token):
        return process.answers(f"{self.url}/v2.0/networks", headers={"X-Auth-Token": token})

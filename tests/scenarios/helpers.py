"""What the scenarios on the cloud lab share: the compute API as an operator and a tenant use it, and a trace over
every host's logs. The fixtures that hand them out are in conftest.py (test files import from here, never from
conftest).
"""
import json
import time
import urllib.error

from tests.integration.ansible_runner import run_playbook
from tests.lab import process
from tests.lab.cloud import API_HOST, CLOUD_CELLS, COMPUTES
from tests.lab.config import DB_USERS, REPO_ROOT
from tests.lab.keystone import MEMBER

# every host of the cloud lab whose kolla log directory a trace reads, the API host first
HOSTS = (API_HOST, *sorted({cell["conductor"] for cell in CLOUD_CELLS.values()} - {API_HOST}), *COMPUTES)


class Cloud:
    """What an operator and a tenant do through the compute API, and what the tests read back."""

    def __init__(self, lab):
        self.lab = lab
        self._member = None

    # --- tokens and calls ---------------------------------------------------------------------------------
    def member_token(self):
        if self._member is None:
            self._member = self.lab.keystone.token(MEMBER, MEMBER[0])
        return self._member

    def admin(self, method, path, body=None):
        return self.lab.compute(method, path, body)

    def member(self, method, path, body=None):
        return self.lab.compute(method, path, body, token=self.member_token())

    def status_of(self, server_id, as_admin=False):
        """(HTTP status, server) of GET /servers/<id>."""
        try:
            call = self.admin if as_admin else self.member
            return 200, call("GET", f"/servers/{server_id}")["server"]
        except urllib.error.HTTPError as err:
            return err.code, None

    # --- servers ------------------------------------------------------------------------------------------
    def boot(self, name, flavor, host=None):
        """Boot one server as the member (as admin when a host is forced); returns its id."""
        body = {"server": {"name": name, "flavorRef": flavor, "imageRef": self.lab.image_id, "networks": "none"}}
        if host:
            body["server"]["availability_zone"] = f"nova:{host}"
            return self.admin("POST", "/servers", body)["server"]["id"]
        return self.member("POST", "/servers", body)["server"]["id"]

    def wait(self, server_ids, statuses=("ACTIVE",), timeout=120):
        """Wait until every server has left BUILD (or a migration's states); returns {id: server}."""
        servers = {}

        def settled():
            for server_id in server_ids:
                _code, server = self.status_of(server_id, as_admin=True)
                servers[server_id] = server
            return all(server and server["status"] in (*statuses, "ERROR") and not server.get(
                "OS-EXT-STS:task_state") for server in servers.values())

        process.wait_until(settled, timeout, f"servers {', '.join(server_ids)} to settle")
        return servers

    def servers(self):
        return self.admin("GET", "/servers/detail?all_tenants=1")["servers"]

    def require_empty(self):
        left = [server["id"] for server in self.servers()]
        assert not left, f"the cloud lab still holds servers from an earlier run: {left}"

    def delete_all(self):
        ids = [server["id"] for server in self.servers()]
        for server_id in ids:
            self.admin("DELETE", f"/servers/{server_id}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.servers():
            time.sleep(0.5)
        assert not self.servers(), "servers left after the scenario's clean-up"

    def forget_allocations(self, consumer):
        """Remove a consumer's allocations from Placement if it still has any."""
        try:
            self.lab.placement.request("DELETE", f"/allocations/{consumer}")
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise

    # --- what the collection's runbooks are given ---------------------------------------------------------
    def nova_db(self):
        return dict(login_host="127.0.0.1", login_port=self.lab.cfg.port("mariadb"), login_user="ops",
                    login_password=DB_USERS["ops"])

    def sql(self, statements, database):
        return self.lab.mariadb.sql(statements, database)


def trace(cloud, tmp_path, terms):
    """trace_request.yml over every lab host's kolla log directory; returns (rc, report, the debug summary)."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("".join(
        f"{host} ansible_connection=local log_search_roots=\"['{cloud.lab.cfg.path('hosts', host, 'var', 'log', 'kolla')}']\"\n"
        for host in HOSTS))
    report_path = tmp_path / "trace.json"
    rc, out = run_playbook(REPO_ROOT / "playbooks" / "trace_request.yml", dict(
        trace_request_terms=terms, trace_request_report_path=str(report_path)), inventory=str(inventory))
    lines = [line for play in out["plays"] for task in play["tasks"] if task["name"].startswith(
        "Report | what the operator") for result in task["hosts"].values() for line in result.get("msg", [])]
    return rc, json.loads(report_path.read_text()), lines

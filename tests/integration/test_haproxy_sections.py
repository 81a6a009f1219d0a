"""haproxy_sections on real haproxy configurations, checked by Debian's haproxy, and on a running haproxy whose
clients all land on one backend server under `balance source` until the module switches it to roundrobin."""
import collections
import http.server
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from tests.integration.ansible_runner import run_module

CONFIG = """\
# seed 002: balance source sends one client to one server
global
    stats socket {socket} mode 600 level admin

defaults
    mode http
    balance source   # kept from the old deployment
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend api
    bind 127.0.0.1:{port}
    default_backend cinder_api_back

backend cinder_api_back
    # three cinder-api servers
{servers}

backend nova_api_back
    balance source
{servers}

backend horizon_back
    balance leastconn
{servers}

listen mariadb
    bind 127.0.0.1:{db_port}
    mode tcp
    timeout client 3600s
    server db1 127.0.0.1:9 backup
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Backend(http.server.BaseHTTPRequestHandler):
    def do_GET(self):   # noqa: N802 (http.server's name)
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def backends():
    """Three real HTTP servers that answer with their own name."""
    servers = []
    for name in ("api1", "api2", "api3"):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
        server.name = name
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield {server.name: server.server_address[1] for server in servers}
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def config(tmp_path, backends):
    path = tmp_path / "haproxy.cfg"
    servers = "\n".join(f"    server {name} 127.0.0.1:{port}" for name, port in backends.items())
    path.write_text(CONFIG.format(socket=tmp_path / "admin.sock", port=free_port(), db_port=free_port(),
                                  servers=servers))
    return path


def sections(result):
    return {section["name"]: section for section in result["sections"]}


def test_balance_source_becomes_roundrobin_and_nothing_else_changes(config):
    before = config.read_text()
    result = run_module("haproxy_sections", dict(path=str(config), sections=["_api_back$"], balance="roundrobin"),
                        diff=True)

    assert result["changed"] is True and result["changed_sections"] == ["cinder_api_back", "nova_api_back"], result
    by_name = sections(result)
    assert by_name["cinder_api_back"]["inherited"] is True and by_name["cinder_api_back"]["balance_before"] == "source"
    assert by_name["nova_api_back"]["inherited"] is False
    after = config.read_text()
    # nova_api_back's own line rewritten; cinder_api_back, which inherited source, gets its own line under the header
    assert after == before.replace("\nbackend nova_api_back\n    balance source\n",
                                   "\nbackend nova_api_back\n    balance roundrobin\n").replace(
        "\nbackend cinder_api_back\n", "\nbackend cinder_api_back\n    balance roundrobin\n")
    assert "balance source   # kept from the old deployment" in after   # the defaults are not the module's business
    assert result["diff"]["after"] == after
    assert open(result["backup_file"], encoding="utf-8").read() == before
    assert subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, check=False).returncode == 0

    again = run_module("haproxy_sections", dict(path=str(config), sections=["_api_back$"], balance="roundrobin"))
    assert again["changed"] is False and again["changed_sections"] == [], again


def test_replace_leaves_a_section_balanced_otherwise_alone(config):
    result = run_module("haproxy_sections", dict(path=str(config), sections=["^horizon"], balance="roundrobin"))
    assert result["changed"] is False and sections(result)["horizon_back"]["balance"] == "leastconn", result

    forced = run_module("haproxy_sections", dict(path=str(config), sections=["^horizon"], balance="roundrobin",
                                                 replace=[]))
    assert forced["changed"] is True and "balance roundrobin" in config.read_text().split("backend horizon_back")[1]


def test_galera_timeouts_are_rewritten_or_added(config):
    result = run_module("haproxy_sections", dict(path=str(config), sections=["^mariadb$"],
                                                 timeouts={"client": "90m", "server": "90m"}))

    assert result["changed"] is True, result
    entry = sections(result)["mariadb"]
    assert entry["timeouts_before"] == {"client": "3600s", "server": None}
    listen = config.read_text().split("listen mariadb\n")[1]
    assert listen.startswith("    timeout server 90m\n") and "    timeout client 90m\n" in listen
    assert "3600s" not in listen


def test_check_mode_plans_and_leaves_the_file(config):
    before = config.read_text()
    result = run_module("haproxy_sections", dict(path=str(config), sections=["_api_back$"], balance="roundrobin"),
                        check=True, diff=True)
    assert result["changed"] is True and "balance roundrobin" in result["diff"]["after"], result
    assert config.read_text() == before and "backup_file" not in result


def test_a_candidate_haproxy_refuses_changes_nothing(config):
    before = config.read_text()
    result = run_module("haproxy_sections", dict(path=str(config), sections=["^nova_api_back$"], balance="nonsense"))
    assert result.get("failed") is True and "fails its check" in result["msg"], result
    assert "unchanged" in result["msg"]
    assert config.read_text() == before
    assert [name for name in os.listdir(config.parent) if name.startswith(".haproxy_sections.")] == []


def test_require_match_false_accepts_services_the_cloud_does_not_run(config):
    result = run_module("haproxy_sections", dict(path=str(config), sections=["^swift_proxy", "^nova_api_back$"],
                                                 balance="roundrobin", require_match=False))
    assert result["changed_sections"] == ["nova_api_back"], result


def test_without_balance_or_timeouts_it_only_reads(config):
    before = config.read_text()
    result = run_module("haproxy_sections", dict(path=str(config), sections=["_api_back$"]), check=False, diff=True)

    assert result["changed"] is False and result["changed_sections"] == [] and config.read_text() == before
    assert result["defaults"] == [{"name": None, "balance": "source"}]
    by_name = {section["name"]: section for section in result["sections"]}
    assert (by_name["nova_api_back"]["balance_before"], by_name["nova_api_back"]["inherited"]) == ("source", False)
    assert (by_name["cinder_api_back"]["balance_before"], by_name["cinder_api_back"]["inherited"]) == ("source", True)
    assert not [name for name in os.listdir(config.parent) if name.startswith(config.name + ".")]   # no backup


@pytest.mark.parametrize("args, message", [
    (dict(sections=["^swift_proxy"], balance="roundrobin"), "no backend or listen section matches ^swift_proxy"),
    (dict(sections=["^nova_api_back$"], timeouts={"server": "ninety minutes"}), "is not an haproxy timeout"),
    (dict(sections=["(unclosed"], balance="roundrobin"), "is not a regular expression"),
])
def test_bad_input_is_refused_before_anything_is_touched(config, args, message):
    before = config.read_text()
    result = run_module("haproxy_sections", dict(args, path=str(config)))
    assert result.get("failed") is True and message in result["msg"], result
    assert config.read_text() == before


def test_one_client_spreads_over_every_server_after_the_fix_and_a_reload(config, backends):
    """A running haproxy (master-worker), reloaded with SIGUSR2 as `systemctl reload haproxy` does."""
    port = int(config.read_text().split("bind 127.0.0.1:")[1].split()[0])
    proc = subprocess.Popen(["haproxy", "-W", "-db", "-f", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        assert served_by(port, 9) == 1, "balance source: one client, one server"
        result = run_module("haproxy_sections", dict(path=str(config), sections=["^cinder_api_back$"],
                                                     balance="roundrobin"))
        assert result["changed"] is True, result
        proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 20
        while served_by(port, 9) != len(backends):
            assert time.monotonic() < deadline, "the reloaded haproxy still sends every request to one server"
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def served_by(port, requests):
    """How many different servers answered ``requests`` requests from this one client."""
    deadline = time.monotonic() + 15
    while True:
        try:
            names = collections.Counter(urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
                                        for _request in range(requests))
            return len(names)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

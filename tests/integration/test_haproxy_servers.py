"""haproxy_servers against a real haproxy (Debian's) started by the test, with its own admin socket."""
import shutil
import socket
import subprocess
import time

import pytest

from tests.integration.ansible_runner import run_module

CONFIG = """
global
    stats socket {socket} mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend api
    bind 127.0.0.1:{port}
    default_backend nova_api_back
backend nova_api_back
    server ctl1 127.0.0.1:{backend_port}
    server ctl2 127.0.0.1:{backend_port}
    server ctl3 127.0.0.1:{backend_port} check inter 500ms fall 1
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def haproxy(tmp_path):
    """A running haproxy; ctl3 has a health check against a port nobody listens on, so it is down."""
    if not shutil.which("haproxy"):
        pytest.fail("haproxy is not installed: make deps installs it")
    admin = tmp_path / "admin.sock"
    config = tmp_path / "haproxy.cfg"
    config.write_text(CONFIG.format(socket=admin, port=free_port(), backend_port=free_port()))
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while not admin.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"haproxy did not start: {proc.stdout.read().decode()}")
            time.sleep(0.1)
        time.sleep(1.5)   # ctl3's health check fails within inter 500ms, fall 1
        yield admin
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def admin_states(haproxy):
    return {server["name"]: server["admin"]
            for server in run_module("haproxy_servers", dict(socket=str(haproxy), backend="nova_api_back"))["servers"]}


def test_present_reports_every_server_and_its_health(haproxy):
    result = run_module("haproxy_servers", dict(socket=str(haproxy), backend="nova_api_back"))
    assert result["changed"] is False, result
    assert [server["name"] for server in result["servers"]] == ["ctl1", "ctl2", "ctl3"]
    by_name = {server["name"]: server for server in result["servers"]}
    assert by_name["ctl1"]["operational"] == "up" and by_name["ctl3"]["operational"] == "down"
    assert {server["admin"] for server in result["servers"]} == {"ready"}


def test_disable_puts_the_named_servers_in_maintenance_once(haproxy):
    args = dict(socket=str(haproxy), backend="nova_api_back", servers=["ctl1", "ctl2"], state="disabled")
    result = run_module("haproxy_servers", args, diff=True)
    assert result["changed"] is True and result["changed_servers"] == ["ctl1", "ctl2"], result
    assert "ctl1: ready" in result["diff"]["before"] and "ctl1: maint" in result["diff"]["after"]
    assert admin_states(haproxy) == {"ctl1": "maint", "ctl2": "maint", "ctl3": "ready"}

    again = run_module("haproxy_servers", args)
    assert again["changed"] is False and again["changed_servers"] == [], again


def test_enable_without_servers_lifts_every_forced_maintenance(haproxy):
    run_module("haproxy_servers", dict(socket=str(haproxy), backend="nova_api_back", state="disabled"))
    assert set(admin_states(haproxy).values()) == {"maint"}

    result = run_module("haproxy_servers", dict(socket=str(haproxy), backend="nova_api_back", state="enabled"))
    assert result["changed"] is True and result["changed_servers"] == ["ctl1", "ctl2", "ctl3"], result
    assert set(admin_states(haproxy).values()) == {"ready"}


def test_check_mode_plans_and_sends_nothing(haproxy):
    result = run_module("haproxy_servers", dict(socket=str(haproxy), backend="nova_api_back", state="disabled"),
                        check=True)
    assert result["changed"] is True and {server["admin"] for server in result["servers"]} == {"maint"}, result
    assert set(admin_states(haproxy).values()) == {"ready"}


def test_an_unknown_server_fails_before_anything_changes(haproxy):
    result = run_module("haproxy_servers", dict(socket=str(haproxy), backend="nova_api_back",
                                                servers=["ctl1", "ctl9"], state="disabled"))
    assert result.get("failed") is True
    assert "no server ctl9" in result["msg"] and "ctl1, ctl2, ctl3" in result["msg"], result
    assert admin_states(haproxy)["ctl1"] == "ready"


def test_an_unknown_backend_and_a_missing_socket_fail_clearly(haproxy, tmp_path):
    result = run_module("haproxy_servers", dict(socket=str(haproxy), backend="glance_api_back", state="disabled"))
    assert result.get("failed") is True and "no backend 'glance_api_back'" in result["msg"], result

    missing = tmp_path / "nowhere.sock"
    result = run_module("haproxy_servers", dict(socket=str(missing), backend="nova_api_back"))
    assert result.get("failed") is True and str(missing) in result["msg"], result

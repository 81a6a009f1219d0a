"""After haproxy_balance: nova_api_back balances round-robin on every controller, and one client spreads."""
import pytest
import testinfra

from tests.controller_lab import checks
from tests.controller_lab.lab import ControllerLab
from tests.lab.config import CONTROLLERS

LAB = ControllerLab()


@pytest.mark.parametrize("name", CONTROLLERS)
def test_nova_api_back_balances_round_robin_and_the_rest_is_kept(name):
    host = testinfra.get_host(f"podman://{name}")
    config = host.file("/etc/haproxy/haproxy.cfg").content_string
    section = config.split("\nbackend nova_api_back\n")[1]   # not the frontend's default_backend line
    assert section.startswith("    balance roundrobin\n")
    assert "balance source" not in config
    assert "option httpchk GET /" in section and "stats socket /run/haproxy/admin.sock" in config


@pytest.mark.parametrize("name", CONTROLLERS)
def test_the_source_configuration_was_backed_up(name):
    host = testinfra.get_host(f"podman://{name}")
    backups = host.run("grep -l 'balance source' /etc/haproxy/haproxy.cfg.*~").stdout.split()
    assert backups, "no backup holding the balance source configuration"


@pytest.mark.parametrize("name", CONTROLLERS)
def test_haproxy_runs_and_every_nova_api_server_is_up(name):
    host = testinfra.get_host(f"podman://{name}")
    assert host.service("haproxy").is_running
    state = host.run("echo 'show servers state nova_api_back' | socat stdio /run/haproxy/admin.sock").stdout
    rows = [line.split() for line in state.splitlines()[2:] if line.strip()]
    assert sorted(row[3] for row in rows) == sorted(CONTROLLERS)
    assert all(row[5] == "2" for row in rows), state   # srv_op_state 2: running


def test_one_client_now_reaches_every_nova_api():
    served = checks.served_by(LAB)
    assert sorted(name for name, count in served.items() if count) == sorted(CONTROLLERS), served

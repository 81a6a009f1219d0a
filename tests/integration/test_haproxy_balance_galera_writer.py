"""The haproxy_balance role through fix_haproxy_balance.yml: one Galera writer for every load balancer, or nothing.

Two load balancers (local hosts lb1 and lb2, each with its own haproxy.cfg) whose Galera sections list the nodes in
different orders would keep different writers: the run must stop before any file is touched and say how to choose
one. A writer no section has is refused the same way.
"""
import json

from tests.integration.ansible_runner import run_playbook
from tests.lab.config import REPO_ROOT

PLAYBOOK = REPO_ROOT / "playbooks" / "fix_haproxy_balance.yml"
PREFLIGHT = "openstack_ops.runbooks.haproxy_balance : "
SECTION = """\
listen mariadb
    mode tcp
    bind 127.0.0.1:13306
    timeout client 90m
    timeout server 90m
{servers}
"""


def servers(*names):
    return "\n".join(f"    server {name} 10.0.0.{11 + int(name[-1])}:3306 check inter 2000 rise 2 fall 5" for name in names)


def setup(tmp_path, first, second):
    configs = {}
    for host, order in (("lb1", first), ("lb2", second)):
        configs[host] = tmp_path / f"{host}.cfg"
        configs[host].write_text(SECTION.format(servers=servers(*order)))
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"haproxy": {"hosts": {
        host: {"ansible_connection": "local", "haproxy_balance_config": str(path)} for host, path in configs.items()}}}))
    return configs, str(inventory)


def failure(report):
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed"):
                    return task["name"], host, result
    return None


def unchanged(tmp_path, configs, texts):
    assert {host: path.read_text() for host, path in configs.items()} == texts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inventory.json", "lb1.cfg", "lb2.cfg"]


def test_load_balancers_that_would_keep_different_writers_are_refused_before_any_change(tmp_path):
    configs, inventory = setup(tmp_path, ("gal1", "gal2", "gal3"), ("gal2", "gal1", "gal3"))
    texts = {host: path.read_text() for host, path in configs.items()}

    rc, report = run_playbook(PLAYBOOK, dict(haproxy_balance_services=[]), inventory=inventory)

    assert rc == 2
    name, host, result = failure(report)
    assert (name, host) == (PREFLIGHT + "Every load balancer keeps the same Galera writer", "lb1")
    assert "would send Galera writes to different nodes" in result["msg"]
    assert 'lb1 {"mariadb": ["gal1"]}; lb2 {"mariadb": ["gal2"]}' in result["msg"]
    assert "Set haproxy_balance_galera_writer" in result["msg"] and "Nothing was changed" in result["msg"]
    unchanged(tmp_path, configs, texts)


def test_a_writer_no_section_has_is_refused_before_any_change(tmp_path):
    configs, inventory = setup(tmp_path, ("gal1", "gal2", "gal3"), ("gal1", "gal2", "gal3"))
    texts = {host: path.read_text() for host, path in configs.items()}

    rc, report = run_playbook(PLAYBOOK, dict(haproxy_balance_services=[], haproxy_balance_galera_writer="gal9"),
                              inventory=inventory)

    assert rc == 2
    name, _host, result = failure(report)
    assert name == PREFLIGHT + "The Galera writer every load balancer would keep"
    assert "has no server 'gal9' (its servers: gal1, gal2, gal3); nothing was changed" in json.dumps(result)
    unchanged(tmp_path, configs, texts)

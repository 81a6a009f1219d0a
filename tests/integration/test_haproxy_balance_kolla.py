"""haproxy_balance in kolla mode through fix_haproxy_balance.yml: the rendered files are read and never written;
the override goes to globals.yml, where kolla-ansible's next reconfigure reads it."""
import json
import pathlib

from tests.integration.ansible_runner import run_playbook
from tests.integration.test_report_html_browser import check_page

PLAYBOOK = pathlib.Path(__file__).resolve().parents[2] / "playbooks" / "fix_haproxy_balance.yml"
ROLE = "openstack_ops.runbooks.haproxy_balance : "
GLOBALS = """\
---
# kolla-ansible globals, as the operator keeps them
kolla_base_distro: "debian"
kolla_internal_vip_address: "10.0.0.250"

# Load balancer
#haproxy_defaults_balance: "roundrobin"
enable_haproxy: "yes"
"""
RENDERED_MAIN = """\
global
    daemon

defaults
    log global
    mode http
    option redispatch
    # set by haproxy_defaults_balance
    balance source
    maxconn 4000
"""
SERVICES = {
    "nova-api.cfg": "frontend nova_api_front\n    mode http\n    default_backend nova_api_back\n\n"
                    "backend nova_api_back\n    mode http\n    server ctl1 10.0.0.11:8774 check\n",
    "keystone.cfg": "backend keystone_internal_back\n    mode http\n    balance source\n"
                    "    server ctl1 10.0.0.11:5000 check\n",
    "horizon.cfg": "backend horizon_back\n    mode http\n    balance source\n    server ctl1 10.0.0.11:80 check\n",
    # as kolla-ansible renders it: the first node active, the others backup
    "mariadb.cfg": "listen mariadb\n    mode tcp\n    option srvtcpka\n"
                   "    server ctl1 10.0.0.11:3306 check port 3306 inter 2000 rise 2 fall 5\n"
                   "    server ctl2 10.0.0.12:3306 check port 3306 inter 2000 rise 2 fall 5 backup\n",
}


def kolla_tree(tmp_path, globals_text=GLOBALS, main=RENDERED_MAIN):
    (tmp_path / "haproxy" / "services.d").mkdir(parents=True)
    (tmp_path / "globals.yml").write_text(globals_text)
    (tmp_path / "haproxy" / "haproxy.cfg").write_text(main)
    for name, text in SERVICES.items():
        (tmp_path / "haproxy" / "services.d" / name).write_text(text)
    return tmp_path


def snapshot(root):
    return {path.relative_to(root): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def report_path(root):
    """Where run() has the playbook write its report: beside the kolla tree, not in it (snapshot reads the tree)."""
    return root.parent / f"{root.name}-report" / "fix-haproxy-balance.json"


def run(root, extra=None, **kwargs):
    extra = dict(extra or {}, haproxy_balance_hosts="localhost", haproxy_balance_mode="kolla",
                 haproxy_balance_kolla_globals=str(root / "globals.yml"),
                 haproxy_balance_kolla_rendered_dir=str(root / "haproxy"),
                 fix_haproxy_balance_report_path=str(report_path(root)))
    return run_playbook(PLAYBOOK, extra, **kwargs)


def task(report, name):
    return next(t for play in report["plays"] for t in play["tasks"] if t["name"] == ROLE + name)["hosts"]["localhost"]


def summary(report):
    return task(report, "Summary")["msg"]


def test_check_mode_shows_the_globals_line_and_changes_no_file(tmp_path):
    root = kolla_tree(tmp_path)
    before = snapshot(root)

    rc, report = run(root, check=True, diff=True)

    assert rc == 0
    assert snapshot(root) == before   # nothing written, no backup
    override = task(report, f"Set haproxy_defaults_balance in {root / 'globals.yml'}")
    assert override["changed"] is True
    assert override["diff"][0]["after"] == GLOBALS.replace(
        '#haproxy_defaults_balance: "roundrobin"', 'haproxy_defaults_balance: "roundrobin"')
    assert summary(report)[1] == f'planned: haproxy_defaults_balance: "roundrobin" in {root / "globals.yml"}'


def test_a_run_writes_one_line_with_a_backup_names_own_source_backends_and_says_what_to_run(tmp_path):
    root = kolla_tree(tmp_path)
    rendered = {path: text for path, text in snapshot(root).items() if path.parts[0] == "haproxy"}

    rc, report = run(root)

    assert rc == 0
    assert (root / "globals.yml").read_text() == GLOBALS.replace('#haproxy_defaults_balance: "roundrobin"',
                                                                 'haproxy_defaults_balance: "roundrobin"')
    backups = [path for path in root.iterdir() if path.name.startswith("globals.yml.") and path.name.endswith("~")]
    assert len(backups) == 1 and backups[0].read_text() == GLOBALS
    assert {path: text for path, text in snapshot(root).items() if path.parts[0] == "haproxy"} == rendered
    lines = summary(report)
    assert lines[0] == "rendered defaults: balance source; globals.yml: (not set)"
    assert lines[2] == f"backup: {backups[0]}"
    # keystone is an API service and carries its own line; horizon is not in haproxy_balance_services
    assert lines[3].endswith(": keystone_internal_back")
    assert lines[4].startswith("next: kolla-ansible reconfigure -i <your inventory> -t loadbalancer")
    # the run's report: the globals.yml line before and after, what was read, and its page in a browser
    written = json.loads(report_path(root).read_text())
    assert written["result"] == "changed" and written["check_mode"] is False and written["mode"] == "kolla"
    (host,) = written["hosts"]
    assert host["settings"] == [dict(section="globals.yml", option="haproxy_defaults_balance",
                                     path=str(root / "globals.yml"), before=None, after="roundrobin", changed=True,
                                     skipped=False, services=["kolla-ansible reconfigure -t loadbalancer"])]
    assert host["read"]["rendered defaults balance"] == "source" and host["backup_file"] == str(backups[0])
    assert host["read"]["API backends with their own balance source (not changed)"] == ["keystone_internal_back"]
    assert written["next"].startswith("kolla-ansible reconfigure -i <your inventory> -t loadbalancer")
    page = check_page(report_path(root).with_suffix(".html"), written, "tuning", "lab-fix_haproxy_balance-kolla")
    assert page.one(id="verdict")["text"] == "1 setting(s) changed on 1 of 1 host(s), 0 service(s) restarted"

    rc, again = run(root)
    assert rc == 0 and task(again, f"Set haproxy_defaults_balance in {root / 'globals.yml'}")["changed"] is False
    # writing the report again is not a change (molecule's idempotence check counts it)
    assert all(not t["hosts"]["localhost"].get("changed") for play in again["plays"] for t in play["tasks"]
               if t["name"].startswith("Report |")), [t["name"] for play in again["plays"] for t in play["tasks"]]
    assert json.loads(report_path(root).read_text())["result"] == "unchanged"
    assert summary(again)[4] == "nothing to reconfigure"
    assert len([path for path in root.iterdir() if path.name.endswith("~")]) == 1


def test_keystone_with_federation_keeps_its_source_and_is_not_named_as_left_over(tmp_path):
    """The same rule as plain mode: with haproxy_balance_keystone_federation, keystone keeps balance source."""
    root = kolla_tree(tmp_path)

    rc, report = run(root, check=True, extra={"haproxy_balance_keystone_federation": True})
    _rc, default = run(root, check=True)

    assert rc == 0
    assert summary(report)[3].endswith(": none") and "keystone_internal_back" not in summary(report)[3]
    assert summary(report)[5] == "kept on balance source by choice: keystone (haproxy_balance_keystone_federation)"
    assert summary(default)[3].endswith(": keystone_internal_back")
    assert summary(default)[5] == "kept on balance source by choice: none"


def test_globals_that_ask_for_source_are_switched_even_before_kolla_renders_it(tmp_path):
    root = kolla_tree(tmp_path, globals_text=GLOBALS + "haproxy_defaults_balance: 'source'\n",
                      main=RENDERED_MAIN.replace("balance source", "balance roundrobin"))
    rc, report = run(root)
    assert rc == 0
    assert (root / "globals.yml").read_text().splitlines()[-1] == 'haproxy_defaults_balance: "roundrobin"'
    assert '#haproxy_defaults_balance: "roundrobin"' in (root / "globals.yml").read_text()   # a comment stays


def test_a_cloud_already_on_roundrobin_is_left_alone(tmp_path):
    root = kolla_tree(tmp_path, main=RENDERED_MAIN.replace("balance source", "balance roundrobin"))
    before = snapshot(root)
    rc, report = run(root)
    assert rc == 0 and snapshot(root) == before
    assert summary(report)[1] == "globals.yml: nothing to change"


def test_a_missing_globals_file_fails_naming_it_and_nothing_is_written(tmp_path):
    root = kolla_tree(tmp_path)
    (root / "globals.yml").unlink()
    before = snapshot(root)
    rc, report = run(root)
    assert rc == 2
    failed = task(report, f"Read {root / 'globals.yml'}")
    assert failed["failed"] is True and str(root / "globals.yml") in failed["msg"]
    assert snapshot(root) == before


def test_rendered_galera_sections_with_several_writers_are_named_and_not_written(tmp_path):
    root = kolla_tree(tmp_path)
    _rc, single = run(root, check=True)
    mariadb = root / "haproxy" / "services.d" / "mariadb.cfg"
    mariadb.write_text(mariadb.read_text().replace(" backup\n", "\n"))
    before = snapshot(root)

    rc, multi = run(root)

    assert rc == 0
    assert summary(single)[-1].endswith("services.d/): none")
    assert summary(multi)[-1].endswith("services.d/): mariadb")
    assert task(multi, "Read the Galera writers of the rendered files (kolla-ansible renders one active server, "
                       "the others backup)")["changed"] is False
    rendered = {path: text for path, text in snapshot(root).items() if path.parts[0] == "haproxy"}
    assert rendered == {path: text for path, text in before.items() if path.parts[0] == "haproxy"}

"""The tune_galera and fix_haproxy_balance approval workflows of extensions/awx/controller/runbooks.yml, run the way
AWX runs them (tests/awx_jobs.py) on gal1..gal3: plan (check + diff) -> approval -> run -> report, each job node given
the survey answers and the earlier nodes' artifacts, the plan changing nothing, a denied approval reaching no change.

This file CHANGES the cluster (wait_timeout, haproxy.cfg, new backups of both files): it must run after
test_galera.py, which reads what converge and side_effect left. Molecule's testinfra verifier passes the verify
files to pytest sorted by name, so keep this file's name after test_galera.py.

Each job is the private data dir AWX writes (env/extravars with the survey answers and artifacts `!unsafe`, the
machine credential's `-u root`, the database credential's extra vars file, an inventory script, --check / --diff),
run by ansible-runner WITHOUT process isolation: the ansible-playbook of this virtualenv and the repository's
collection, against the lab's inventory ($OPS_LAB_DIR/galera-inventory.yml, whose hosts keep their
containers.podman.podman connection). What AWX does that this does not: it runs the job in the execution
environment's container, from which the podman connection to the nodes cannot be used; the reports the runbooks
write on the job's host (/var/tmp/openstack_ops, these templates set no report directory) land on this host.
"""
import pytest
import yaml

from tests.awx_jobs import Jobs, run_workflow, survey_answers
from tests.galera_lab import writes
from tests.galera_lab.lab import DROPIN_DIR, NODES, OPS_USER, ROOT_PASSWORD, GaleraLab

LAB = GaleraLab()
OPTION_FILE = f"{DROPIN_DIR}/99-openstack-ops.cnf"
HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"
TUNE_GALERA = "openstack_ops tune_galera"
FIX_HAPROXY = "openstack_ops fix_haproxy_balance"
# converge's wait_timeout is 5000; a new value must keep the lab's order connection_recycle_time 3600 (nova.conf,
# oslo.db's default; placement.conf says 3000) < wait_timeout < haproxy's timeout server 90m (5400 s). wait_timeout
# is dynamic: SET GLOBAL and the option file, no restart.
RUN_WAIT_TIMEOUT = 4800
DENIED_WAIT_TIMEOUT = 4500


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """The credentials the two templates take, as an operator would enter them for this cluster: the machine
    credential's user root (the podman connection's `podman exec --user root`) and a database login every node
    accepts, from any address or through its socket (OPS_USER, which GaleraLab.ops_account() makes when missing)."""
    LAB.ops_account()
    logins = {
        "openstack_ops machine": {"username": "root"},
        # the template logs in to each node at its own inventory name (ansible_host | default(inventory_hostname))
        "openstack_ops database": {"login_host": LAB.hosts[NODES[0]], "login_port": "3306", "login_user": OPS_USER,
                                   "login_password": ROOT_PASSWORD},
    }
    inventory = yaml.safe_load(LAB.cfg.path("galera-inventory.yml").read_text())
    return Jobs(tmp_path_factory.mktemp("awx-galera"), logins, inventory=inventory)


def galera_state(name):
    """What tune_galera could change on a node: the running wait_timeout, the option file and the files beside it (a
    backup adds one), MariaDB's start time (a restart changes it)."""
    return {
        "wait_timeout": LAB.sql(name, "SELECT @@GLOBAL.wait_timeout").strip(),
        "option_file": LAB.exec(name, "sha256sum", OPTION_FILE).stdout.split()[0],
        "files": sorted(LAB.exec(name, "ls", DROPIN_DIR).stdout.split()),
        "started": LAB.exec(name, "systemctl", "show", "--property=ExecMainStartTimestamp", "--value",
                            "mariadb").stdout.strip(),
    }


def cluster(state):
    return {name: state(name) for name in NODES}


def test_tune_galera_workflow_plan_approve_run_report(jobs):
    """A survey answer of a new wait_timeout: the plan node (check + diff) sets it nowhere and writes no file; after
    the approval the run node sets it on every node, in the option file (backed up) and at runtime, restarting
    none; the report node gets the plan's and the run's artifacts."""
    before = cluster(galera_state)
    assert {state["wait_timeout"] for state in before.values()} == {"5000"}, before

    def between(identifier, job):
        if identifier == "plan":
            assert job.status == "successful", job.why()
            assert cluster(galera_state) == before
            assert jobs.report(job.artifacts["openstack_ops_plan"])["result"] == "planned"

    answers = survey_answers(TUNE_GALERA, galera_tuning_wait_timeout=RUN_WAIT_TIMEOUT)
    nodes = run_workflow(jobs, "openstack_ops tune_galera", 9101, answers=answers, after=between)
    assert list(nodes) == ["plan", "approve", "run", "report"] and nodes["approve"] == "approved"
    plan, run, report = nodes["plan"], nodes["run"], nodes["report"]

    # only wait_timeout differs from the survey's defaults and the role's (as converge left every node)
    each = {"result": "ok", "changed": 1, "restart": 0}
    assert set(plan.artifacts) == {"openstack_ops_plan"}
    planned = plan.artifacts["openstack_ops_plan"]
    assert planned["runbook"] == "tune_galera" and planned["result"] == "ok" and planned["check_mode"] is True
    assert planned["hosts"] == {name: each for name in NODES}, planned

    assert run.status == "successful", run.why()
    assert set(run.artifacts) == {"openstack_ops_run"}    # its own summary; the plan's reached it as extra vars
    done = run.artifacts["openstack_ops_run"]
    assert done["runbook"] == "tune_galera" and done["result"] == "ok" and done["check_mode"] is False
    assert done["hosts"] == {name: each for name in NODES}, done
    written = jobs.report(done)
    assert written["check_mode"] is False and written["result"] == "changed"
    assert {host["host"]: host["changed_settings"] for host in written["hosts"]} == {
        name: ["wait_timeout"] for name in NODES}

    after = cluster(galera_state)
    for name in NODES:
        assert after[name]["wait_timeout"] == str(RUN_WAIT_TIMEOUT), after[name]
        assert after[name]["started"] == before[name]["started"]       # set at runtime, not restarted
        assert after[name]["option_file"] != before[name]["option_file"]
        new = set(after[name]["files"]) - set(before[name]["files"])
        assert len(new) == 1 and next(iter(new)).endswith("~"), new   # the option file's backup
        text = LAB.exec(name, "cat", OPTION_FILE).stdout
        assert f"wait_timeout = {RUN_WAIT_TIMEOUT}   # closes pooled connections under nova (seed 003)\n" in text

    assert report.status == "successful", report.why()
    assert report.artifacts["openstack_ops_workflow"] == {
        "runbook": "tune_galera", "result": "ok", "planned": planned["hosts"], "done": done["hosts"],
        "report": done["report"]}


def test_tune_galera_workflow_denied_changes_nothing(jobs):
    """Another wait_timeout, planned, then the approval denied: nothing runs after it, and no node changed."""
    before = cluster(galera_state)
    answers = survey_answers(TUNE_GALERA, galera_tuning_wait_timeout=DENIED_WAIT_TIMEOUT)
    nodes = run_workflow(jobs, "openstack_ops tune_galera", 9111, answers=answers, approve=False)
    assert list(nodes) == ["plan", "approve"] and nodes["approve"] == "denied"
    plan = nodes["plan"]
    assert plan.status == "successful", plan.why()
    planned = plan.artifacts["openstack_ops_plan"]
    assert planned["check_mode"] is True and planned["result"] == "ok"
    assert all(host["changed"] == 1 for host in planned["hosts"].values()), planned
    assert cluster(galera_state) == before


def haproxy_state(name):
    """haproxy.cfg's checksum and its backups (name ending in ~) on a node."""
    listing = LAB.exec(name, "sh", "-c", f"ls {HAPROXY_CFG}.*~ 2>/dev/null || true").stdout
    return {"file": LAB.exec(name, "sha256sum", HAPROXY_CFG).stdout.split()[0], "backups": sorted(listing.split())}


def galera_servers(name):
    """The server lines of the node's haproxy.cfg (only its Galera section has any): (name, backup) each."""
    lines = [line.split() for line in LAB.exec(name, "cat", HAPROXY_CFG).stdout.splitlines()]
    return [(words[1], "backup" in words) for words in lines if words[:1] == ["server"]]


def writers(result):
    return sorted(name for name, count in result["commits"].items() if count > 0)


def test_fix_haproxy_balance_workflow_plan_approve_run_report(jobs):
    """single_writer.yml left gal1 the only writer; seed 002's haproxy.cfg (every node a writer) is put back on every
    node first. The plan node (check + diff) changes no file and reloads no haproxy (writes still land on every
    node); after the approval the run node makes gal1 the writer on every node, the others backup (the old file
    backed up), and every write through any node's haproxy lands on gal1; the report node gets both summaries.

    The survey's inventory group defaults to haproxy; this cluster's load balancers are the galera group, so the
    survey is answered galera. The lab's haproxy carries only Galera (no API sections), which an operator says in the
    inventory (haproxy_balance_services: [] on the group): the survey does not ask it."""
    LAB.multi_writer()
    assert all(galera_servers(name) == [(node, False) for node in NODES] for name in NODES)
    assert writers(writes.run(LAB, 12, NODES[0])) == list(NODES)
    before = cluster(haproxy_state)

    def between(identifier, job):
        if identifier == "plan":
            assert job.status == "successful", job.why()
            assert cluster(haproxy_state) == before
            spread = writes.run(LAB, 12, NODES[0])
            assert writers(spread) == list(NODES), spread      # the running haproxy still sends writes to all three

    inventory = yaml.safe_load(yaml.safe_dump(jobs.inventory))
    inventory["all"]["children"]["galera"]["vars"]["haproxy_balance_services"] = []
    answers = survey_answers(FIX_HAPROXY, haproxy_balance_hosts="galera")
    nodes = run_workflow(jobs, "openstack_ops fix_haproxy_balance", 9201, answers=answers, inventory=inventory,
                         after=between)
    assert list(nodes) == ["plan", "approve", "run", "report"] and nodes["approve"] == "approved"
    plan, run, report = nodes["plan"], nodes["run"], nodes["report"]

    each = {"result": "ok", "changed": 1}      # one section changed (or planned): listen mariadb
    assert set(plan.artifacts) == {"openstack_ops_plan"}
    planned = plan.artifacts["openstack_ops_plan"]
    assert planned["runbook"] == "fix_haproxy_balance" and planned["result"] == "ok" and planned["check_mode"] is True
    assert planned["hosts"] == {name: each for name in NODES}, planned

    assert run.status == "successful", run.why()
    assert set(run.artifacts) == {"openstack_ops_run"}
    done = run.artifacts["openstack_ops_run"]
    assert done["runbook"] == "fix_haproxy_balance" and done["result"] == "ok" and done["check_mode"] is False
    assert done["hosts"] == {name: each for name in NODES}, done
    written = jobs.report(done)
    assert written["check_mode"] is False and written["result"] == "changed"
    assert [host["host"] for host in written["hosts"]] == list(NODES)

    after = cluster(haproxy_state)
    for name in NODES:
        assert galera_servers(name) == [("gal1", False), ("gal2", True), ("gal3", True)]
        assert after[name]["file"] != before[name]["file"]
        new = set(after[name]["backups"]) - set(before[name]["backups"])
        assert any(LAB.exec(name, "cat", path).stdout == LAB.haproxy_cfg() for path in new), new
    for via in NODES:
        result = writes.run(LAB, 3, via)
        assert result["commits"] == {"gal1": 3, "gal2": 0, "gal3": 0}, result
        assert result["served"] == {"gal1": 3} and result["last_read_rows"] == result["rows"], result

    assert report.status == "successful", report.why()
    assert report.artifacts["openstack_ops_workflow"] == {
        "runbook": "fix_haproxy_balance", "result": "ok", "planned": planned["hosts"], "done": done["hosts"],
        "report": done["report"]}

"""Every job template of extensions/awx/controller/runbooks.yml that the service lab can serve, run inside the
execution environment the way AWX runs a job (test_awx_ee.py runs audit_placement the same way), and the approval
workflows chained node by node with the artifacts each job really leaves.

A job is the private data dir AWX writes (tests/awx_jobs.py): env/extravars (the template's own extra vars trusted,
survey defaults and answers and the artifacts of earlier workflow nodes `!unsafe`), the credentials injected as their
types say (the database / RabbitMQ / transport URL types' extra vars files passed with `-e @`, AWX's OpenStack
credential as a clouds.yaml whose cloud is devstack, the machine credential's `-u root`), an inventory script,
`--check` for check jobs, `--diff` when the template asks; run by ansible-runner with podman process isolation in the
image `make ee` builds, every host reached with a local connection inside it. The job's persistent directory
/var/lib/openstack_ops (what the README says to expose to jobs, AWX_ISOLATION_SHOW_PATHS) is a host directory mounted
into the container, as AWX mounts the paths it shows: reports and backups are read there.

The read-only jobs run two at a time (they only read the lab); the ones that write run one after the other.
Not run here, because the light lab has no host for them: fix_haproxy_balance (a haproxy host with its service and
admin socket), tune_galera (a Galera cluster), tune_nova (nova hosts with systemd units and nova.conf). The galera
molecule scenario's verify (extensions/molecule/galera/verify/test_workflows_awx.py) runs the fix_haproxy_balance and
tune_galera workflows on its three Galera nodes with the same private data dirs, but without process isolation (the
podman connection to the nodes cannot be used from inside the container), and the nova_conf scenario's
(extensions/molecule/nova_conf/verify/test_workflows_awx.py) the tune_nova workflow on the controllers ctl1..ctl3 the
same way: LAUNCHED_BY_MOLECULE. NOT_SERVABLE names any template no lab serves (none today)."""
import concurrent.futures
import json

import pytest
import yaml

from tests.awx_jobs import PERSISTENT, ROOT, TEMPLATES, Jobs, run_workflow
from tests.ee import image
from tests.integration.test_placement_allocation import compute_hosts, new_uuid, post_allocations
from tests.lab import NovaSeed, PlacementSeed
from tests.lab import process
from tests.lab.config import CONTROLLERS, DB_USERS, RABBIT_USER

UNSAFE = "req-{{ 7*7 }}"
# the templates whose jobs the tests below launch (audit_placement: test_awx_ee.py), the ones the verify files of
# molecule scenarios launch on their own labs (outside the execution environment), and the ones nothing launches
LAUNCHED = {f"openstack_ops {name}" for name in (
    "audit_placement", "check_cells", "triage_instance", "diagnose_novalidhost", "checkup", "inventory_db_connections",
    "trace_request", "clean_placement", "check_cells repair", "backup_databases", "restore_databases",
    "recover_conductor", "workflow report")}
LAUNCHED_BY_MOLECULE = {
    "openstack_ops fix_haproxy_balance": "extensions/molecule/galera/verify/test_workflows_awx.py",
    "openstack_ops tune_galera": "extensions/molecule/galera/verify/test_workflows_awx.py",
    "openstack_ops tune_nova": "extensions/molecule/nova_conf/verify/test_workflows_awx.py"}
NOT_SERVABLE = set()


@pytest.fixture(scope="module")
def ee():
    return image.build()


@pytest.fixture(scope="module")
def seeded(lab):
    """The lab as after `up`, then one incident of each kind the jobs look for: a compute node with an orphan
    allocation (Placement), instances whose mappings were deleted by hand and an instance in ERROR (cells, triage)."""
    lab.reset()
    for host in CONTROLLERS:
        if not process.alive(lab.pids[f"nova-conductor-{host}"]):
            lab.start_conductor(host)
    nova_seed = NovaSeed(lab)
    rps = compute_hosts(nova_seed, PlacementSeed(lab), ["cmp1"])
    orphan = new_uuid()
    post_allocations(lab, {orphan: {rps["cmp1"]: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}})
    created = nova_seed.apply({"instances": [
        {"cell": "cell1", "host": "cmp1", "project_id": "p-ok", "user_id": "u1", "name": "healthy"},
        {"cell": "cell1", "host": "cmp1", "project_id": "p-vanish", "user_id": "u2", "name": "vanished",
         "created_at": "2020-01-01T00:00:00"},
        {"cell": "cell0", "project_id": "p-fail", "user_id": "u3", "name": "failed-build", "vm_state": "error"}]})
    uuids = {name: item["uuid"] for name, item in zip(["healthy", "vanished", "failed-build"], created["instances"])}
    lab.mariadb.sql(f"DELETE FROM instance_mappings WHERE instance_uuid = '{uuids['vanished']}'", "nova_api")
    return {"rp": rps["cmp1"], "orphan": orphan, **uuids}


def logins(lab):
    """The credentials the templates take, with the service lab's values, as an operator enters them in AWX."""
    port = lab.cfg.port
    clouds = yaml.safe_load(lab.cfg.path("clouds.yaml").read_text())
    return {
        "openstack_ops machine": {"username": "root"},
        "openstack_ops database": {"login_host": "127.0.0.1", "login_port": str(port("mariadb")), "login_user": "ops",
                                   "login_password": DB_USERS["ops"]},
        "openstack_ops rabbitmq": {"login_host": "127.0.0.1", "login_port": str(port("rabbitmq_management")),
                                   "login_user": RABBIT_USER[0], "login_password": RABBIT_USER[1]},
        "openstack_ops transport URL": {"transport_url": lab.cfg.transport_url()},
        "openstack_ops cloud": {"clouds": {"devstack": clouds["clouds"]["opslab"]}},
    }


@pytest.fixture(scope="module")
def jobs(lab, ee, tmp_path_factory):
    return Jobs(tmp_path_factory.mktemp("awx-jobs"), logins(lab), image=ee)


def rows(lab, query, database="nova_api"):
    return [line.split("\t") for line in lab.mariadb.sql(query, database).splitlines()]


def mapping_count(lab):
    return int(rows(lab, "SELECT COUNT(*) FROM instance_mappings")[0][0])


@pytest.fixture(scope="module")
def read_only(jobs, seeded, lab):
    """The read-only templates' jobs, two at a time, each with its survey defaults (and the answers a person must
    give); trace_request is asked for a request id holding Jinja, which must reach the runbook as written."""
    logs = lab.cfg.path("logs")
    db_node = {"db1": {"ansible_host": "127.0.0.1"}}
    launches = {
        "check_cells": (8101, "openstack_ops check_cells", {}, None, ()),
        "triage_instance": (8102, "openstack_ops triage_instance", {}, None, ()),
        "diagnose_novalidhost": (8103, "openstack_ops diagnose_novalidhost",
                                 {"diagnose_novalidhost_resources": "VCPU:1,MEMORY_MB:512,DISK_GB:1"}, None, ()),
        "checkup": (8104, "openstack_ops checkup", {}, None, ()),
        "inventory_db_connections": (8105, "openstack_ops inventory_db_connections", {}, {"galera": db_node}, ()),
        "trace_request": (8106, "openstack_ops trace_request", {"trace_request_terms": UNSAFE},
                          {"ungrouped": {"localhost": {"log_search_roots": ["/srv/lab-logs"]}}},
                          (f"{logs}:/srv/lab-logs:ro,Z",)),
    }
    before = mapping_count(lab)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(jobs.run, job_id, template, answers=answers, groups=groups, mounts=mounts)
                   for name, (job_id, template, answers, groups, mounts) in launches.items()}
        done = {name: future.result() for name, future in futures.items()}
    assert mapping_count(lab) == before       # nothing read-only wrote a mapping
    return done


def test_every_template_is_run_here_or_named_as_not_servable():
    """A template added later fails here until a job of it runs in this module (or test_awx_ee.py), in a molecule
    scenario's verify file (named in LAUNCHED_BY_MOLECULE, which must launch it), or it is named as one no lab
    serves."""
    elsewhere = set(LAUNCHED_BY_MOLECULE)
    assert LAUNCHED | elsewhere | NOT_SERVABLE == set(TEMPLATES)
    assert not LAUNCHED & elsewhere and not LAUNCHED & NOT_SERVABLE and not elsewhere & NOT_SERVABLE
    for template, path in LAUNCHED_BY_MOLECULE.items():
        assert f"run_workflow(jobs, {template!r}" in (ROOT / path).read_text().replace('"', "'"), (template, path)


def test_check_cells_audit_job(read_only, jobs, seeded):
    job = read_only["check_cells"]
    assert job.status == "successful", job.why()
    summary = job.artifacts["openstack_ops_run"]
    assert summary["runbook"] == "check_cells" and summary["result"] == "ok" and summary["check_mode"] is False
    assert summary["report"] == f"{PERSISTENT}/reports/job-8101/cells-report.json"
    report = jobs.report(summary)
    assert report["before"]["summary"]["instance_without_mapping"] == 1 == summary["counts"]["repairable"]
    assert seeded["vanished"] in json.dumps(report["before"]["findings"])
    assert job.changed() and all(task.startswith("Report |") for task in job.changed()), job.changed()


def test_triage_instance_job(read_only, jobs, seeded):
    job = read_only["triage_instance"]
    assert job.status == "successful", job.why()
    summary = job.artifacts["openstack_ops_run"]
    assert summary["runbook"] == "triage_instance" and summary["report"].startswith(f"{PERSISTENT}/reports/job-8102/")
    assert seeded["failed-build"] in summary["unhealthy"] and seeded["healthy"] not in summary["unhealthy"]
    assert seeded["failed-build"] in json.dumps(jobs.report(summary))


def test_diagnose_novalidhost_job(read_only, jobs, seeded):
    job = read_only["diagnose_novalidhost"]
    assert job.status == "successful", job.why()
    summary = job.artifacts["openstack_ops_run"]
    assert summary["runbook"] == "diagnose_novalidhost" and summary["result"] == "ok"
    assert summary["counts"]["fits"] >= 1
    # the report must outlive the job: under the persistent directory, not beside the playbook AWX deletes
    assert summary["report"] == f"{PERSISTENT}/reports/job-8103/novalidhost.json", summary["report"]
    assert seeded["rp"] in json.dumps(jobs.report(summary))


def test_checkup_job(read_only, jobs):
    job = read_only["checkup"]
    summary = job.artifacts["openstack_ops_run"]
    assert summary["runbook"] == "checkup" and summary["report"] == f"{PERSISTENT}/reports/checkup/checkup.json"
    report = jobs.report(summary)
    assert summary["result"] == "findings" and report["summary"]["findings"]     # the orphan, the lost mapping
    # the survey's default gate (high): the job fails exactly when the report says the gate failed
    assert (job.status == "failed") == bool(report["summary"]["gate_failed"]), job.why()
    # the template names no conductors to ping (its extra vars say to name them) and the job's inventory has no
    # galera, haproxy or nova group: those checks are "not run", never passed; every controller-side check ran
    host_checks = {"galera_state", "timeout_order", "db_connections", "haproxy_galera_writers",
                   "haproxy_balance_source", "block_device_wait", "scheduler_spread", "stale_config"}
    assert set(report["summary"]["not_run"]) == {"conductors_ping"} | host_checks, report["summary"]
    assert summary["counts"]["not_run"] == 1 + len(host_checks)


def test_inventory_db_connections_job(read_only, jobs):
    job = read_only["inventory_db_connections"]
    assert job.status == "successful", job.why()
    summary = job.artifacts["openstack_ops_run"]
    assert summary["runbook"] == "inventory_db_connections" and summary["result"] == "ok"
    assert summary["counts"]["nodes"] == 1 and summary["counts"]["failed_nodes"] == 0
    assert summary["counts"]["connections"] >= 1          # at least the job's own login
    assert summary["report"] == f"{PERSISTENT}/reports/job-8105/db-connections.json"
    assert "db1" in jobs.report(summary)["nodes"]


def test_trace_request_job_never_renders_the_survey_answer(read_only, jobs):
    job = read_only["trace_request"]
    assert job.status == "successful", job.why()
    summary = job.artifacts["openstack_ops_run"]
    assert summary["runbook"] == "trace_request" and summary["result"] == "not_found"
    assert summary["report"] == f"{PERSISTENT}/reports/job-8106/trace-request.json", summary["report"]
    text = jobs.host_path(summary["report"]).read_text()
    assert json.dumps(UNSAFE)[1:-1] in text and "req-49" not in text


def allocations(lab, consumer):
    return lab.placement.request("GET", f"/allocations/{consumer}")["allocations"]


def test_clean_placement_workflow_plan_approve_run_report(read_only, jobs, seeded, lab):
    """plan (check + diff) -> approve -> run -> report: the plan finds the orphan and leaves it and writes no backup;
    the run, given the plan's artifacts, backs it up and removes it; the report node gets both summaries."""
    assert read_only    # the read-only jobs have seen the orphan first

    def between(identifier, _job):
        if identifier == "plan":
            assert allocations(lab, seeded["orphan"]) != {}
            assert not (jobs.persistent / "backups" / "placement").exists()

    nodes = run_workflow(jobs, "openstack_ops clean_placement", 8201, after=between)
    assert list(nodes) == ["plan", "approve", "run", "report"]
    plan, run, report = nodes["plan"], nodes["run"], nodes["report"]

    assert plan.status == "successful", plan.why()
    assert set(plan.artifacts) == {"openstack_ops_plan"}
    planned = plan.artifacts["openstack_ops_plan"]
    assert planned["check_mode"] is True and planned["result"] == "ok" and planned["counts"]["changes"] == 1
    assert jobs.report(planned)["check_mode"] is True

    assert run.status == "successful", run.why()
    assert set(run.artifacts) == {"openstack_ops_run"}    # its own summary; the plan's reached it as extra vars
    done = run.artifacts["openstack_ops_run"]
    assert done["check_mode"] is False and done["counts"] == {"changes": 1, "restored": 0, "backups": 1}
    assert allocations(lab, seeded["orphan"]) == {}
    backups = [path for path in (jobs.persistent / "backups" / "placement").rglob("*") if path.is_file()]
    assert any(seeded["orphan"] in path.read_text() for path in backups), backups

    assert report.status == "successful", report.why()
    workflow = report.artifacts["openstack_ops_workflow"]
    assert workflow == {"runbook": "clean_placement", "result": "ok", "planned": planned["counts"],
                        "done": done["counts"], "report": done["report"]}


def test_check_cells_repair_workflow(read_only, jobs, seeded, lab):
    """The repair's plan writes no mapping and no backup; after approval the run backs nova_api up and maps the
    instance whose mapping was deleted; the report node says ok."""
    assert read_only
    before = mapping_count(lab)

    def between(identifier, _job):
        if identifier == "plan":
            assert mapping_count(lab) == before
            assert not (jobs.persistent / "backups" / "nova_api").exists()

    nodes = run_workflow(jobs, "openstack_ops check_cells repair", 8221, after=between,
                         answers={"check_cells_repair": ["missing_instance_mappings"]})
    assert list(nodes) == ["plan", "approve", "run", "report"]
    plan, run, report = nodes["plan"], nodes["run"], nodes["report"]
    assert plan.status == "successful", plan.why()
    planned = plan.artifacts["openstack_ops_plan"]
    assert planned["check_mode"] is True and planned["counts"]["repairable"] == 1

    assert run.status == "successful", run.why()
    done = run.artifacts["openstack_ops_run"]
    assert done["counts"]["repairs"] == 1 and done["counts"]["findings_after"] == 0
    assert mapping_count(lab) == before + 1
    assert seeded["vanished"] in [row[0] for row in rows(lab, "SELECT instance_uuid FROM instance_mappings")]
    assert list((jobs.persistent / "backups" / "nova_api").iterdir())
    assert report.status == "successful", report.why()
    assert report.artifacts["openstack_ops_workflow"]["result"] == "ok"


def test_backup_then_restore_plan_denied(read_only, jobs, lab):
    """backup_databases for real (the lab takes it: a dump), then the restore workflow for that backup: its plan
    node (check mode) verifies the backup and restores nothing; the approval is denied, so nothing runs after it.
    The restore itself is not run here: it replaces the databases under the lab's running nova-conductors and
    Placement, which the runbook says to stop first."""
    assert read_only
    # the lab's cell1 database is nova_cell1, where a deployment usually has nova: named in the inventory
    db_hosts = {"db": {"db1": {"ansible_host": "127.0.0.1", "db_backup_dir": f"{PERSISTENT}/backups/db",
                               "db_backup_databases": ["nova_api", "nova_cell0", "nova_cell1", "placement"]}}}
    backup = jobs.run(8301, "openstack_ops backup_databases", groups=db_hosts)
    assert backup.status == "successful", backup.why()
    taken = backup.artifacts["openstack_ops_run"]
    assert taken["result"] == "ok" and taken["counts"]["databases"] == 4 and taken["backup"]
    assert taken["report"].startswith(f"{PERSISTENT}/backups/db/")
    assert json.loads(jobs.host_path(taken["report"]).read_text())

    before = rows(lab, "SELECT instance_uuid, cell_id FROM instance_mappings ORDER BY instance_uuid")
    nodes = run_workflow(jobs, "openstack_ops restore_databases", 8302, approve=False, groups=db_hosts, answers={
        "db_backup_restore_id": taken["backup"], "db_backup_restore_confirm": taken["backup"]})
    assert list(nodes) == ["plan", "approve"] and nodes["approve"] == "denied"
    plan = nodes["plan"]
    assert plan.status == "successful", plan.why()
    planned = plan.artifacts["openstack_ops_plan"]
    assert planned["check_mode"] is True and planned["result"] == "ok", planned
    assert rows(lab, "SELECT instance_uuid, cell_id FROM instance_mappings ORDER BY instance_uuid") == before


def test_recover_conductor_plan(read_only, jobs, lab):
    """The recovery's plan node (check + diff) with the lab's broker, database and transport URL: one controller
    (a local connection, so it holds the loopback VIP). It runs no nova-conductor of its own (the container has no
    systemd unit), so the plan finds nothing to recover; it must say so in its artifacts and report and stop no
    conductor of the lab."""
    assert read_only
    nodes = run_workflow(jobs, "openstack_ops recover_conductor", 8401, approve=False,
                         groups={"controllers": {"ctl1": {}}}, answers={"conductor_recovery_vip": "127.0.0.1"})
    assert list(nodes) == ["plan", "approve"]
    plan = nodes["plan"]
    assert plan.status == "successful", plan.why()
    planned = plan.artifacts["openstack_ops_plan"]
    assert planned["check_mode"] is True and planned["result"] == "nothing to recover" and planned["failure"] is None
    assert planned["vip_holder"] == "ctl1"
    assert planned["report"].startswith(f"{PERSISTENT}/reports/job-8401/conductor-recovery-")
    assert jobs.report(planned)["result"] == "nothing to recover"
    assert all(process.alive(lab.pids[f"nova-conductor-{host}"]) for host in CONTROLLERS)

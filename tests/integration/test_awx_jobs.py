"""Every job template of extensions/awx/controller/runbooks.yml that the service lab can serve, run inside the
execution environment the way AWX runs a job (test_awx_ee.py runs audit_placement the same way), and the approval
workflows chained node by node with the artifacts each job really leaves.

A job is the private data dir AWX writes: env/extravars (the template's own extra vars trusted, survey defaults and
answers and the artifacts of earlier workflow nodes `!unsafe`), the credentials injected as their types say (the
database / RabbitMQ / transport URL types' extra vars files passed with `-e @`, AWX's OpenStack credential as a
clouds.yaml whose cloud is devstack), an inventory script, `-u root`, `--check` for check jobs, `--diff` when the
template asks; run by ansible-runner with podman process isolation in the image `make ee` builds. The job's
persistent directory /var/lib/openstack_ops (what the README says to expose to jobs, AWX_ISOLATION_SHOW_PATHS) is a
host directory mounted into the container, as AWX mounts the paths it shows: reports and backups are read there.

The read-only jobs run two at a time (they only read the lab); the ones that write run one after the other.
Not run here, because the light lab has no host for them: fix_haproxy_balance (a haproxy host with its service and
admin socket), tune_galera (a Galera cluster), tune_nova (nova hosts with systemd units and nova.conf); the controller
lab of molecule serves those runbooks outside AWX."""
import concurrent.futures
import json
import stat

import pytest
import yaml

import ansible_runner
from tests.ee import image
from tests.integration.test_placement_allocation import compute_hosts, new_uuid, post_allocations
from tests.lab import NovaSeed, PlacementSeed
from tests.lab import process
from tests.lab.config import CONTROLLERS, DB_USERS, RABBIT_USER
from tests.unit.extensions.awx.awx_rules import (extravars_yaml, inject_extra_vars, launch_extra_vars,
                                                 load_definitions, plain)

AWX = image.ROOT / "extensions" / "awx"
DEFINITIONS = plain(load_definitions(AWX / "controller" / "runbooks.yml"))
TEMPLATES = {t["name"]: t for t in DEFINITIONS["controller_templates"]}
WORKFLOWS = {w["name"]: w for w in DEFINITIONS["controller_workflows"]}
TYPES = {t["name"]: t for t in plain(load_definitions(AWX / "controller" / "credential_types.yml"))[
    "controller_credential_types"]}
PERSISTENT = "/var/lib/openstack_ops"
SECRETS = (DB_USERS["ops"], RABBIT_USER[1])
UNSAFE = "req-{{ 7*7 }}"
PYTHON = "/usr/bin/python3"
# the templates whose jobs the tests below launch (audit_placement: test_awx_ee.py), and the ones they cannot
LAUNCHED = {f"openstack_ops {name}" for name in (
    "audit_placement", "check_cells", "triage_instance", "diagnose_novalidhost", "checkup", "inventory_db_connections",
    "trace_request", "clean_placement", "check_cells repair", "backup_databases", "restore_databases",
    "recover_conductor", "workflow report")}
NOT_SERVABLE = {"openstack_ops fix_haproxy_balance", "openstack_ops tune_galera", "openstack_ops tune_nova"}


@pytest.fixture(scope="module")
def ee():
    return image.build()


class Jobs:
    """Launches jobs of the templates as AWX would, into one persistent directory (the job host's
    /var/lib/openstack_ops)."""

    def __init__(self, lab, tag, root):
        self.lab, self.tag, self.root = lab, tag, root
        self.persistent = root / "persistent"
        self.persistent.mkdir()

    def credentials(self, template):
        """The extra vars files and environment of the template's credentials, as AWX injects them."""
        port = self.lab.cfg.port
        files, env = {}, {}
        if "openstack_ops database" in template["credentials"]:
            files["database"] = inject_extra_vars(TYPES["openstack_ops MariaDB login"], {
                "login_host": "127.0.0.1", "login_port": str(port("mariadb")), "login_user": "ops",
                "login_password": DB_USERS["ops"]})
        if "openstack_ops rabbitmq" in template["credentials"]:
            files["rabbitmq"] = inject_extra_vars(TYPES["openstack_ops RabbitMQ management login"], {
                "login_host": "127.0.0.1", "login_port": str(port("rabbitmq_management")),
                "login_user": RABBIT_USER[0], "login_password": RABBIT_USER[1]})
        if "openstack_ops transport URL" in template["credentials"]:
            files["transport"] = inject_extra_vars(TYPES["openstack_ops nova transport URL"], {
                "transport_url": self.lab.cfg.transport_url()})
        if "openstack_ops cloud" in template["credentials"]:
            clouds = yaml.safe_load(self.lab.cfg.path("clouds.yaml").read_text())
            env["OS_CLIENT_CONFIG_FILE"] = "/runner/env/tmp_clouds"
            files["clouds"] = {"clouds": {"devstack": clouds["clouds"]["opslab"]}}
        return files, env

    def run(self, job_id, template_name, job_type="run", answers=None, artifacts=None, groups=None, mounts=()):
        """One job; returns (status, rc, events, artifacts). groups: the inventory's {group: {host: hostvars}}
        (localhost alone when not given); every host is reached with a local connection inside the container."""
        template = TEMPLATES[template_name]
        assert job_type == "run" or template.get("ask_job_type_on_launch"), "AWX refuses a check job here"
        data = self.root / f"job-{job_id}"
        trusted = dict(template.get("extra_vars") or {})
        extra_vars = launch_extra_vars(template, answers)
        extra_vars.update(artifacts or {})     # a workflow node: the ancestors' artifacts, untrusted
        extra_vars.update(awx_job_id=job_id, awx_job_template_name=template_name,
                          awx_job_launch_type="workflow" if artifacts is not None else "manual")
        (data / "env").mkdir(parents=True)
        (data / "env" / "extravars").write_text(extravars_yaml(extra_vars, trusted=trusted))
        files, envvars = self.credentials(template)
        cmdline = (["--check"] if job_type == "check" else []) + ["-u", "root"] + (
            ["--diff"] if template["diff_mode"] else [])
        for name, content in files.items():
            path = data / "env" / f"tmp_{name}"
            path.write_text(yaml.safe_dump(content) if name == "clouds" else extravars_yaml(content))
            path.chmod(0o400)
            if name != "clouds":
                cmdline += ["-e", f"@/runner/env/tmp_{name}"]

        local = {"ansible_connection": "local", "ansible_python_interpreter": PYTHON}
        groups = groups or {"ungrouped": {"localhost": {}}}
        inventory = {"all": {"children": sorted(groups)}, "_meta": {"hostvars": {}}}
        for group, hosts in groups.items():
            inventory[group] = {"hosts": sorted(hosts)}
            for host, hostvars in hosts.items():
                inventory["_meta"]["hostvars"][host] = dict(local, **hostvars)
        script = data / "inventory" / "hosts"
        script.parent.mkdir()
        script.write_text(f"#! {PYTHON}\nimport json\nprint(json.dumps({inventory!r}))\n")
        script.chmod(stat.S_IRWXU)
        playbook = data / "project" / template["playbook"]
        playbook.parent.mkdir(parents=True)
        playbook.write_text((image.ROOT / template["playbook"]).read_text())

        result = ansible_runner.run(
            private_data_dir=str(data), playbook=template["playbook"], ident=str(job_id), quiet=True,
            cmdline=" ".join(cmdline), envvars=dict(envvars, ANSIBLE_FORCE_COLOR="False"),
            process_isolation=True, process_isolation_executable="podman", container_image=self.tag,
            container_options=["--user=root", "--network=host"],
            container_volume_mounts=[f"{self.persistent}:{PERSISTENT}:Z", *mounts])
        events = list(result.events)
        text = json.dumps(events)
        for secret in SECRETS:
            assert secret not in text, f"{template_name}: a secret is in the job's events"
        stats = [e for e in events if e["event"] == "playbook_on_stats"]
        return Job(result.status, result.rc, events, stats[0]["event_data"].get("artifact_data", {}) if stats else {},
                   result.stdout.read()[-4000:])

    def host_path(self, path):
        """The host's copy of a file the job wrote under the persistent directory."""
        assert path.startswith(PERSISTENT + "/"), path
        return self.persistent / path[len(PERSISTENT) + 1:]

    def report(self, summary):
        return json.loads(self.host_path(summary["report"]).read_text())


class Job:
    def __init__(self, status, rc, events, artifacts, tail):
        self.status, self.rc, self.events, self.artifacts, self.tail = status, rc, events, artifacts, tail

    def failures(self):
        return {e["event_data"]["task"]: e["event_data"]["res"].get("msg")
                for e in self.events if e["event"] == "runner_on_failed"}

    def changed(self):
        return [e["event_data"]["task"] for e in self.events
                if e["event"] == "runner_on_ok" and e["event_data"]["res"].get("changed")]

    def why(self):
        return f"status {self.status} rc {self.rc}: {self.failures()}\n{self.tail}"


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


@pytest.fixture(scope="module")
def jobs(lab, ee, tmp_path_factory):
    return Jobs(lab, ee, tmp_path_factory.mktemp("awx-jobs"))


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
    """A template added later fails here until a job of it runs in this module (or test_awx_ee.py) or it is named as
    one the light lab cannot serve."""
    assert LAUNCHED | NOT_SERVABLE == set(TEMPLATES) and not LAUNCHED & NOT_SERVABLE


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


def run_workflow(jobs, name, first_id, answers=None, approve=True, stop_before=(), groups=None, after=None):
    """A workflow job as AWX runs it: from its root node along success/failure/always edges, each job node launched
    with the workflow's survey answers and its ancestors' artifacts (WorkflowJobNode.get_job_kwargs), approval nodes
    approved (or denied: AWX then follows their failure and always edges). stop_before: identifiers not launched;
    after(identifier, job): called after each job node (to look at the lab between nodes).
    Returns {identifier: Job} in the order run."""
    nodes = {node["identifier"]: node for node in WORKFLOWS[name]["workflow_nodes"]}
    targets = {edge["identifier"] for node in nodes.values() for edges in node.get("related", {}).values()
               for edge in edges}
    [current] = [identifier for identifier in nodes if identifier not in targets]
    done, artifacts, pending, job_id = {}, {}, [current], first_id
    while pending:
        identifier = pending.pop(0)
        if identifier in stop_before:
            continue
        node = nodes[identifier]
        ujt = node["unified_job_template"]
        if ujt["type"] == "workflow_approval":
            ok = approve
            done[identifier] = "approved" if ok else "denied"
        else:
            template = TEMPLATES[ujt["name"]]
            job = jobs.run(job_id, ujt["name"], node.get("job_type", template["job_type"]), answers=answers,
                           artifacts=dict(artifacts), groups=groups)
            job_id += 1
            done[identifier] = job
            ok = job.status == "successful"
            artifacts.update(job.artifacts)
            if after:
                after(identifier, job)
        related = node.get("related", {})
        pending += [edge["identifier"] for edge in related.get("success_nodes" if ok else "failure_nodes", [])]
        pending += [edge["identifier"] for edge in related.get("always_nodes", [])]
    return done


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

"""The tune_nova approval workflow of extensions/awx/controller/runbooks.yml, run the way AWX runs it
(tests/awx_jobs.py) on ctl1..ctl3: plan (check + diff) -> approval -> run -> report, each job node given the survey
answers and the earlier nodes' artifacts, the plan changing nothing, the transport URL's password in no job event.

This file CHANGES the controllers (nova.conf, restarts): it must run after test_tuned.py and
test_checkup_stale_config.py, which read what converge and side_effect left. Molecule's testinfra verifier passes
the verify files to pytest sorted by name, so keep this file's name after theirs.

side_effect left ctl1's pool_timeout at 45 (its interrupted run); the survey's defaults and the role's pool
(pool_timeout 30) are what the workflow runs, so the plan names ctl1's pool_timeout and the run puts it back to 30,
restarting ctl1's nova-api and nova-conductor. The survey's scheduler and compute settings are read by no service on
these controllers and are skipped (nova_conf_tuning_skip_unread).

Each job runs WITHOUT process isolation, against molecule's inventory of the controllers (their
containers.podman.podman connection, which a job in the execution environment's container could not use), with the
variables an operator keeps in the inventory for this lab (nova's interpreter, the nova-api URL, the settle time:
vars/main.yml) and the lab's group_vars; the machine credential gives `-u root`, the transport URL credential the
lab's URL. What AWX does that this does not: tests/awx_jobs.py's docstring.
"""
import configparser
import json

import testinfra

from tests.awx_jobs import Jobs, run_workflow, survey_answers
from tests.controller_lab.lab import NOVA_API_PORT, ControllerLab
from tests.lab.config import CONTROLLERS

LAB = ControllerLab()
TUNE_NOVA = "openstack_ops tune_nova"


def host(name):
    return testinfra.get_host(f"podman://{name}")


def state(name):
    """What tune_nova could change on a controller: nova.conf and its backups, and the main process of nova-api and
    nova-conductor (a restart changes it)."""
    node = host(name)
    return {"file": node.run("sha256sum /etc/nova/nova.conf").stdout.split()[0],
            "backups": sorted(node.run("ls /etc/nova").stdout.split()),
            "pids": {unit: node.run(f"systemctl show --property=MainPID --value {unit}").stdout.strip()
                     for unit in ("nova-api", "nova-conductor")}}


def controllers():
    return {name: state(name) for name in CONTROLLERS}


def pool_timeouts(name):
    parser = configparser.ConfigParser(interpolation=None, strict=False, default_section="no defaults")
    parser.read_string(host(name).file("/etc/nova/nova.conf").content_string)
    return {section: parser[section].get("pool_timeout") for section in ("database", "api_database")}


def test_tune_nova_workflow_plan_approve_run_report(tmp_path):
    lab_vars = json.loads(LAB.cfg.path("group_vars", "all.json").read_text())
    inventory = {"all": {"vars": dict(
        lab_vars, nova_conf_tuning_nova_python=str(LAB.cfg.venv_bin / "python"), nova_conf_tuning_settle=3,
        nova_conf_tuning_api_url=f"http://{{{{ inventory_hostname }}}}:{NOVA_API_PORT}/"),
        "children": {"controllers": {
            "hosts": {name: {} for name in CONTROLLERS},
            "vars": {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"},
        }}}}
    jobs = Jobs(tmp_path, {"openstack_ops machine": {"username": "root"},
                           "openstack_ops transport URL": {"transport_url": lab_vars["conductor_recovery_transport_url"]}},
                inventory=inventory)
    assert jobs.secrets, "the transport URL's password is checked against every job's events"
    assert pool_timeouts("ctl1") == {"database": "45", "api_database": "45"}
    before = controllers()

    def between(identifier, job):
        if identifier == "plan":
            assert job.status == "successful", job.why()
            assert controllers() == before

    answers = survey_answers(TUNE_NOVA, nova_conf_tuning_hosts="controllers")
    nodes = run_workflow(jobs, "openstack_ops tune_nova", 9301, answers=answers, after=between)
    assert list(nodes) == ["plan", "approve", "run", "report"] and nodes["approve"] == "approved"
    plan, run, report = nodes["plan"], nodes["run"], nodes["report"]

    planned = plan.artifacts["openstack_ops_plan"]
    assert planned["runbook"] == "tune_nova" and planned["check_mode"] is True and planned["result"] == "ok", planned
    assert set(planned["hosts"]) == set(CONTROLLERS) and planned["hosts"]["ctl1"]["changed"] >= 1, planned

    assert run.status == "successful", run.why()
    done = run.artifacts["openstack_ops_run"]
    assert done["runbook"] == "tune_nova" and done["check_mode"] is False and done["result"] == "ok", done
    assert done["hosts"]["ctl1"]["changed"] == planned["hosts"]["ctl1"]["changed"], (planned, done)
    assert pool_timeouts("ctl1") == {"database": "30", "api_database": "30"}
    after = controllers()
    assert after["ctl1"]["file"] != before["ctl1"]["file"]
    assert len(set(after["ctl1"]["backups"]) - set(before["ctl1"]["backups"])) == 1
    assert all(after["ctl1"]["pids"][unit] != before["ctl1"]["pids"][unit] for unit in ("nova-api", "nova-conductor"))
    assert all(host(name).service(unit).is_running for name in CONTROLLERS for unit in ("nova-api", "nova-conductor"))

    assert report.status == "successful", report.why()
    assert report.artifacts["openstack_ops_workflow"]["planned"] == planned["hosts"]
    assert report.artifacts["openstack_ops_workflow"]["done"] == done["hosts"]

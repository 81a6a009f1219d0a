"""The execution environment `make ee` builds (tests/ee/image.py, the same code; built once per machine, reused by
tag): every module of the collection imports in it and the executables bindep.txt brings are there, and a job
template runs inside it the way AWX runs one: the private data dir AWX would write (the template's extra vars and
survey defaults, the database credential's extra vars file, AWX's OpenStack credential as a clouds.yaml whose cloud
is devstack) through ansible-runner with podman process isolation, against the service lab's Placement and MariaDB
(the container shares the host's network to reach the lab's loopback ports). Needs podman and debootstrap
(tests/bootstrap.sh demo) and root."""
import json
import subprocess

import pytest
import yaml

import ansible_runner
from tests.ee import image
from tests.integration.test_dependency_files import IMPORT_ALL, third_party_imports
from tests.integration.test_placement_allocation import compute_hosts, new_uuid, post_allocations
from tests.lab.config import DB_USERS
from tests.unit.extensions.awx.awx_rules import (extravars_yaml, inject_extra_vars, launch_extra_vars,
                                                 load_definitions, plain)

AWX = image.ROOT / "extensions" / "awx"
COLLECTION = "/usr/share/ansible/collections/ansible_collections/openstack_ops/runbooks"
# what bindep.txt's packages are there for (db_backup/db_restore, haproxy_sections, conductor_recovery)
EXECUTABLES = ("mariadb-dump", "mariadb", "haproxy", "ip")


@pytest.fixture(scope="module")
def ee():
    return image.build()


def in_image(tag, *argv):
    # PYTHONPATH: the collections directory, as Ansible puts it before a module's imports
    return subprocess.run(["podman", "run", "--rm", "--user=root", "--network=none",
                           "--env=PYTHONPATH=/usr/share/ansible/collections", tag, *argv],
                          capture_output=True, text=True, timeout=300, check=False)


def test_every_module_imports_and_finds_its_executables_in_the_image(ee):
    libraries = sorted(third_party_imports())
    done = in_image(ee, "python3", "-c", IMPORT_ALL, COLLECTION, json.dumps(libraries))
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"failed": {}, "import_errors": {}}
    found = in_image(ee, "sh", "-c", "for x in " + " ".join(EXECUTABLES) + "; do command -v $x || echo missing $x; done;"
                     " ansible-runner --version; ansible-playbook --version | head -1;"
                     f" python3 -c 'import json; print(json.load(open(\"{COLLECTION}/MANIFEST.json\"))"
                     "[\"collection_info\"][\"version\"])'")
    assert found.returncode == 0, found.stderr[-3000:]
    assert "missing" not in found.stdout, found.stdout
    definition = image.definition()["dependencies"]
    assert definition["ansible_runner"]["package_pip"].split("==")[1] in found.stdout
    assert f"[core {definition['ansible_core']['package_pip'].split('==')[1]}]" in found.stdout
    assert yaml.safe_load((image.ROOT / "galaxy.yml").read_text())["version"] in found.stdout.splitlines()[-1]


def test_audit_placement_job_runs_inside_the_image(ee, clean_lab, placement_seed, nova_seed, tmp_path):
    lab = clean_lab
    rps = compute_hosts(nova_seed, placement_seed, ["compute1"])
    post_allocations(lab, {new_uuid(): {rps["compute1"]: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}})

    templates = {t["name"]: t for t in plain(load_definitions(AWX / "controller" / "runbooks.yml"))["controller_templates"]}
    types = {t["name"]: t for t in plain(load_definitions(AWX / "controller" / "credential_types.yml"))[
        "controller_credential_types"]}
    template = templates["openstack_ops audit_placement"]
    data = tmp_path / "job"
    # the job's report directory, here inside the private data dir (mounted at /runner) so the test can read it
    trusted = dict(template["extra_vars"], openstack_ops_report_dir="/runner/reports/job-{{ awx_job_id }}")
    extra_vars = launch_extra_vars(dict(template, extra_vars=trusted))
    extra_vars.update(awx_job_id=7001, awx_job_template_name=template["name"], awx_job_launch_type="manual")
    (data / "env").mkdir(parents=True)
    (data / "env" / "extravars").write_text(extravars_yaml(extra_vars, trusted=trusted))
    database = inject_extra_vars(types["openstack_ops MariaDB login"], {
        "login_host": "127.0.0.1", "login_port": str(lab.cfg.port("mariadb")), "login_user": "ops",
        "login_password": DB_USERS["ops"]})
    (data / "env" / "tmp_database").write_text(extravars_yaml(database))
    # AWX's OpenStack credential: a clouds.yaml whose cloud is devstack (here the lab's)
    clouds = yaml.safe_load(lab.cfg.path("clouds.yaml").read_text())
    (data / "env" / "tmp_clouds").write_text(yaml.safe_dump({"clouds": {"devstack": clouds["clouds"]["opslab"]}}))
    (data / "inventory").mkdir()
    (data / "inventory" / "hosts").write_text(
        "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n")
    playbook = data / "project" / template["playbook"]
    playbook.parent.mkdir(parents=True)
    playbook.write_text((image.ROOT / template["playbook"]).read_text())

    result = ansible_runner.run(
        private_data_dir=str(data), playbook=template["playbook"], ident="7001", quiet=True,
        cmdline="-u root -e @/runner/env/tmp_database",
        envvars={"OS_CLIENT_CONFIG_FILE": "/runner/env/tmp_clouds", "ANSIBLE_FORCE_COLOR": "False"},
        process_isolation=True, process_isolation_executable="podman", container_image=ee,
        container_options=["--user=root", "--network=host"])
    events = list(result.events)
    failed = [e["event_data"].get("res", {}).get("msg") for e in events if e["event"] == "runner_on_failed"]
    assert result.status == "successful" and result.rc == 0, (failed, result.stdout.read()[-3000:])
    assert DB_USERS["ops"] not in json.dumps(events)

    stats = [e for e in events if e["event"] == "playbook_on_stats"][0]["event_data"]["artifact_data"]
    summary = stats["openstack_ops_run"]
    assert summary["runbook"] == "audit_placement" and summary["result"] == "ok"
    assert summary["counts"]["allocations"]["orphan"] == 1
    report = data / "reports" / "job-7001" / "placement-audit.json"
    assert summary["report"] == "/runner/reports/job-7001/placement-audit.json"
    audit = json.loads(report.read_text())
    assert audit["summary"]["allocations"]["orphan"] == 1
    assert rps["compute1"] in report.read_text()

"""Jobs and approval workflows of extensions/awx/controller/runbooks.yml, run the way AWX runs them; used by
tests/integration/test_awx_jobs.py (the service lab) and the molecule scenarios' verify files (the Galera lab).

A job is the private data dir AWX writes: env/extravars (the template's own extra vars trusted, survey defaults and
answers and the artifacts of earlier workflow nodes `!unsafe`), the credentials injected as their types say (the
database / RabbitMQ / transport URL types' extra vars files passed with `-e @`, AWX's OpenStack credential as a
clouds.yaml whose cloud is devstack, the machine credential's user as `-u`), an inventory script, `--check` for check
jobs, `--diff` when the template asks; run by ansible-runner.

Two ways to run it:
- in the execution environment (Jobs(..., image=tag)): ansible-runner with podman process isolation in the image
  `make ee` builds, as AWX does; the persistent directory /var/lib/openstack_ops (AWX_ISOLATION_SHOW_PATHS) is a host
  directory mounted into the container, and the hosts a test names (groups) are reached with a local connection in it;
- without process isolation (image=None): the same private data dir, run by the host's ansible-runner with the
  ansible-playbook of this virtualenv and the repository's collection (.build/collections) against a static inventory
  whose hosts keep their own connection (the Galera lab's containers.podman.podman, which a job inside the container
  could not use). What AWX does that this does not: the container, its image's Python, collections and the paths
  it mounts, and a clean environment (this process's, molecule's ANSIBLE_CONFIG in a verify, reaches the job); a
  job's files (reports) are written on this host.
"""
import json
import os
import pathlib
import stat
import sys

import yaml

import ansible_runner
from tests.unit.extensions.awx.awx_rules import (answer_errors, extravars_yaml, inject_extra_vars,
                                                 launch_extra_vars, load_definitions, plain)

ROOT = pathlib.Path(__file__).resolve().parents[1]
AWX = ROOT / "extensions" / "awx"
DEFINITIONS = plain(load_definitions(AWX / "controller" / "runbooks.yml"))
TEMPLATES = {t["name"]: t for t in DEFINITIONS["controller_templates"]}
WORKFLOWS = {w["name"]: w for w in DEFINITIONS["controller_workflows"]}
TYPES = {t["name"]: t for t in plain(load_definitions(AWX / "controller" / "credential_types.yml"))[
    "controller_credential_types"]}
# The credentials the templates name (README, "AWX / AAP") whose type is one of credential_types.yml: injected as
# extra vars files. "openstack_ops machine" (AWX's Machine type) gives -u; "openstack_ops cloud" a clouds.yaml.
CREDENTIAL_TYPES = {"openstack_ops database": "openstack_ops MariaDB login",
                    "openstack_ops rabbitmq": "openstack_ops RabbitMQ management login",
                    "openstack_ops transport URL": "openstack_ops nova transport URL"}
PERSISTENT = "/var/lib/openstack_ops"
PYTHON = "/usr/bin/python3"
# Without process isolation: this virtualenv's ansible-playbook and the collection tests/bootstrap.sh links.
BIN = pathlib.Path(sys.executable).parent
COLLECTIONS = ROOT / ".build" / "collections"


def script_inventory(source):
    """What AWX's inventory script prints for a static inventory in Ansible's YAML shape ({all: {children: {group:
    {hosts: {host: vars}, vars: {...}, children: {...}}}}}): every group with its hosts, children and vars, every
    host's own vars under _meta.hostvars. Connection vars stay as the inventory gives them."""
    script = {"_meta": {"hostvars": {}}}

    def walk(name, group):
        group = group or {}
        entry = script.setdefault(name, {"hosts": [], "children": [], "vars": {}})
        for host, hostvars in (group.get("hosts") or {}).items():
            if host not in entry["hosts"]:
                entry["hosts"].append(host)
            script["_meta"]["hostvars"].setdefault(host, {}).update(hostvars or {})
        entry["vars"].update(group.get("vars") or {})
        for child, subgroup in (group.get("children") or {}).items():
            if child not in entry["children"]:
                entry["children"].append(child)
            walk(child, subgroup)

    walk("all", source.get("all"))
    return script


def local_inventory(groups):
    """The script's output for {group: {host: hostvars}}: every host reached with a local connection (inside the
    execution environment)."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": PYTHON}
    inventory = {"all": {"children": sorted(groups)}, "_meta": {"hostvars": {}}}
    for group, hosts in groups.items():
        inventory[group] = {"hosts": sorted(hosts)}
        for host, hostvars in hosts.items():
            inventory["_meta"]["hostvars"][host] = dict(local, **hostvars)
    return inventory


class Jobs:
    """Launches jobs of the templates as AWX would.

    credentials: the inputs of each credential the templates may take, by the name the templates give it
    ({"openstack_ops database": {"login_host": ..., ...}, "openstack_ops machine": {"username": "root"},
    "openstack_ops cloud": {"clouds": {...}}}); a template's credential missing here fails the launch, as AWX
    refuses a template whose credential is gone. image: the execution environment's tag (podman process isolation,
    every host local inside it), or None for no process isolation. inventory: a static inventory (Ansible's YAML
    shape) used for every job not given groups; its hosts keep their own connection vars."""

    def __init__(self, root, credentials, image=None, inventory=None):
        self.root, self.logins, self.image, self.inventory = root, credentials, image, inventory
        self.persistent = root / "persistent"     # mounted as /var/lib/openstack_ops (process isolation only)
        if image:
            self.persistent.mkdir()
        # the values of the credential types' secret fields must never reach a job's events
        self.secrets = [str(inputs[field["id"]]) for name, inputs in credentials.items() if name in CREDENTIAL_TYPES
                        for field in TYPES[CREDENTIAL_TYPES[name]]["inputs"]["fields"]
                        if field.get("secret") and inputs.get(field["id"])]

    def credentials(self, template):
        """The extra vars files, environment and -u of the template's credentials, as AWX injects them."""
        files, env, user = {}, {}, []
        for name in template["credentials"]:
            assert name in self.logins, f"{template['name']}: no credential {name} to launch it with"
            if name in CREDENTIAL_TYPES:
                # env/tmp_database, tmp_rabbitmq, tmp_transport
                files[name.split()[1]] = inject_extra_vars(TYPES[CREDENTIAL_TYPES[name]], self.logins[name])
            elif name == "openstack_ops cloud":
                env["OS_CLIENT_CONFIG_FILE"] = "tmp_clouds"     # made a path by run()
                files["clouds"] = self.logins[name]
            elif name == "openstack_ops machine":
                user = ["-u", self.logins[name]["username"]]
            else:
                raise AssertionError(f"{template['name']}: credential {name} of no known type")
        return files, env, user

    def run(self, job_id, template_name, job_type="run", answers=None, artifacts=None, groups=None, mounts=(),
            inventory=None):
        """One job; returns a Job. groups: the inventory's {group: {host: hostvars}}, every host reached with a local
        connection (inside the container); else inventory (Ansible's YAML shape), else the Jobs' inventory, else
        localhost alone. mounts: more container volumes (process isolation only)."""
        template = TEMPLATES[template_name]
        assert job_type == "run" or template.get("ask_job_type_on_launch"), "AWX refuses a check job here"
        data = self.root / f"job-{job_id}"
        env_dir = "/runner/env" if self.image else str(data / "env")
        trusted = dict(template.get("extra_vars") or {})
        extra_vars = launch_extra_vars(template, answers)
        extra_vars.update(artifacts or {})     # a workflow node: the ancestors' artifacts, untrusted
        extra_vars.update(awx_job_id=job_id, awx_job_template_name=template_name,
                          awx_job_launch_type="workflow" if artifacts is not None else "manual")
        (data / "env").mkdir(parents=True)
        (data / "env" / "extravars").write_text(extravars_yaml(extra_vars, trusted=trusted))
        files, envvars, user = self.credentials(template)
        if "OS_CLIENT_CONFIG_FILE" in envvars:
            envvars["OS_CLIENT_CONFIG_FILE"] = f"{env_dir}/tmp_clouds"
        cmdline = (["--check"] if job_type == "check" else []) + user + (["--diff"] if template["diff_mode"] else [])
        for name, content in files.items():
            path = data / "env" / f"tmp_{name}"
            path.write_text(yaml.safe_dump(content) if name == "clouds" else extravars_yaml(content))
            path.chmod(0o400)
            if name != "clouds":
                cmdline += ["-e", f"@{env_dir}/tmp_{name}"]

        if groups:
            script_data = local_inventory(groups)
        elif inventory or self.inventory:
            script_data = script_inventory(inventory or self.inventory)
        else:
            script_data = local_inventory({"ungrouped": {"localhost": {}}})
        script = data / "inventory" / "hosts"
        script.parent.mkdir()
        interpreter = PYTHON if self.image else sys.executable
        script.write_text(f"#! {interpreter}\nimport json\nprint(json.dumps({script_data!r}))\n")
        script.chmod(stat.S_IRWXU)
        playbook = data / "project" / template["playbook"]
        playbook.parent.mkdir(parents=True)
        playbook.write_text((ROOT / template["playbook"]).read_text())

        envvars["ANSIBLE_FORCE_COLOR"] = "False"
        if self.image:
            isolation = dict(
                process_isolation=True, process_isolation_executable="podman", container_image=self.image,
                container_options=["--user=root", "--network=host"],
                container_volume_mounts=[f"{self.persistent}:{PERSISTENT}:Z", *mounts])
        else:
            assert not mounts, "mounts are container volumes"
            isolation = dict(process_isolation=False)
            envvars.update(PATH=f"{BIN}:{os.environ.get('PATH', '')}", ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS))
        result = ansible_runner.run(
            private_data_dir=str(data), playbook=template["playbook"], ident=str(job_id), quiet=True,
            cmdline=" ".join(cmdline), envvars=envvars, **isolation)
        events = list(result.events)
        text = json.dumps(events)
        for secret in self.secrets:
            assert secret not in text, f"{template_name}: a secret is in the job's events"
        stats = [e for e in events if e["event"] == "playbook_on_stats"]
        return Job(result.status, result.rc, events, stats[0]["event_data"].get("artifact_data", {}) if stats else {},
                   result.stdout.read()[-4000:])

    def host_path(self, path):
        """This host's copy of a file a job wrote: under the mounted persistent directory with process isolation,
        the path itself without."""
        if not self.image:
            return pathlib.Path(path)
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


def survey_answers(workflow, **answers):
    """Answers to the workflow's survey, each one AWX accepts at launch (checked as AWX checks them)."""
    questions = {question["variable"]: question for question in WORKFLOWS[workflow]["survey_spec"]["spec"]}
    for variable, value in answers.items():
        assert variable in questions, f"{workflow}: its survey asks no {variable}"
        assert not answer_errors(questions[variable], value), answer_errors(questions[variable], value)
    return answers


def run_workflow(jobs, name, first_id, answers=None, approve=True, stop_before=(), groups=None, after=None,
                 inventory=None):
    """A workflow job as AWX runs it: from its root node along success/failure/always edges, each job node launched
    with the workflow's survey answers and its ancestors' artifacts (WorkflowJobNode.get_job_kwargs), approval nodes
    approved (or denied: AWX then follows their failure and always edges). stop_before: identifiers not launched;
    after(identifier, job): called after each job node (to look at the lab between nodes); groups, inventory: as
    Jobs.run takes them. Returns {identifier: Job, or "approved" / "denied"} in the order run."""
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
                           artifacts=dict(artifacts), groups=groups, inventory=inventory)
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

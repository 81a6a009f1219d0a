# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Job templates run the way AWX runs them, with no AWX and no lab: the private data dir AWX writes (extra vars with
the survey's values and earlier nodes' artifacts !unsafe, credentials injected as their types say, an inventory
script, the command line of a check or run job) streamed through ansible-runner transmit | worker | process, AWX's
own path minus receptor and the container. clean_placement meets closed ports: it must fail the way the runbook
says, leave its report and its artifacts, and never render the Jinja of a survey answer."""

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from .awx_rules import extravars_yaml, inject_extra_vars, launch_extra_vars, load_definitions, plain, repo_root

ROOT = repo_root()
AWX = ROOT / 'extensions' / 'awx'
TEMPLATES = {t['name']: t for t in plain(load_definitions(AWX / 'controller' / 'runbooks.yml'))['controller_templates']}
TYPES = {t['name']: t for t in plain(load_definitions(AWX / 'controller' / 'credential_types.yml'))['controller_credential_types']}
PASSWORD = 'a-long-dummy-password'


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write(path, text, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def run_job(tmp_path, job_id, template_name, job_type, answers=None, artifacts=None, port=None):
    """Write the private data dir of a job AWX would launch from this template (as a workflow node: the earlier
    nodes' artifacts join the extra vars), run it through transmit | worker | process, return its artifacts dir and
    events."""
    template = TEMPLATES[template_name]
    # the job's persistent directory, here under tmp_path; still the template's own Jinja, which AWX renders
    trusted = dict(template.get('extra_vars') or {})
    if 'openstack_ops_report_dir' in trusted:
        trusted['openstack_ops_report_dir'] = f'{tmp_path}/reports/job-{{{{ awx_job_id }}}}'
    template = dict(template, extra_vars=trusted)
    job, worker = tmp_path / f'job{job_id}', tmp_path / f'worker{job_id}'
    extra_vars = launch_extra_vars(template, answers)
    extra_vars.update(artifacts or {})
    extra_vars.update(awx_job_id=job_id, awx_job_template_name=template_name, awx_job_launch_type='workflow')
    write(job / 'env' / 'extravars', extravars_yaml(extra_vars, trusted=trusted))

    cmdline = (['--check'] if job_type == 'check' else []) + ['-u', 'root'] + (['--diff'] if template['diff_mode'] else [])
    envvars = {'ANSIBLE_COLLECTIONS_PATH': str(ROOT.parents[2]), 'ANSIBLE_FORCE_COLOR': 'False'}
    if 'openstack_ops database' in template['credentials']:
        # the type's extra vars file, every string !unsafe, passed with -e @ (CredentialType.inject_credential)
        database = inject_extra_vars(TYPES['openstack_ops MariaDB login'],
                                     {'login_host': '127.0.0.1', 'login_port': str(port), 'login_user': 'nova',
                                      'login_password': PASSWORD})
        write(job / 'env' / 'tmp_database', extravars_yaml(database), mode=0o400)
        cmdline += ['-e', f'@{worker}/env/tmp_database']
    if 'openstack_ops cloud' in template['credentials']:
        # AWX's OpenStack credential: a clouds.yaml whose cloud is devstack, and OS_CLIENT_CONFIG_FILE
        clouds = {'clouds': {'devstack': {'auth': {'auth_url': f'http://127.0.0.1:{port}/v3', 'username': 'admin',
                                                   'password': PASSWORD, 'project_name': 'admin'}, 'verify': True}}}
        write(job / 'env' / 'tmp_clouds', yaml.safe_dump(clouds))
        envvars['OS_CLIENT_CONFIG_FILE'] = str(worker / 'env' / 'tmp_clouds')
    write(job / 'env' / 'envvars', yaml.safe_dump(envvars))
    write(job / 'env' / 'cmdline', ' '.join(cmdline))

    hostvars = {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}
    inventory = json.dumps({'all': {'hosts': ['localhost']}, '_meta': {'hostvars': hostvars}})
    write(job / 'inventory' / 'hosts', '#! /usr/bin/env python3\nprint(%r)\n' % inventory, mode=stat.S_IRWXU)
    playbook = Path(template['playbook'])
    (job / 'project' / playbook.parent).mkdir(parents=True)
    shutil.copy(ROOT / playbook, job / 'project' / playbook)

    runner = str(Path(sys.executable).with_name('ansible-runner'))
    env = dict(os.environ, PATH=f'{Path(sys.executable).parent}:{os.environ["PATH"]}')
    pipeline = (f'{runner} transmit {job} -p {playbook} --ident {job_id}'
                f' | {runner} worker --private-data-dir {worker}'
                f' | {runner} process {job} --ident {job_id}')
    done = subprocess.run(['bash', '-o', 'pipefail', '-c', pipeline], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    artifacts_dir = job / 'artifacts' / str(job_id)
    assert (artifacts_dir / 'status').exists(), done.stdout[-3000:] + done.stderr[-3000:]
    events = [json.loads(path.read_text()) for path in (artifacts_dir / 'job_events').glob('*.json')]
    events.sort(key=lambda event: event['counter'])
    assert PASSWORD not in json.dumps(events)
    return artifacts_dir, events


def job_artifacts(events):
    """What AWX keeps as the job's artifacts: the artifact_data of its playbook_on_stats event."""
    return [event for event in events if event['event'] == 'playbook_on_stats'][0]['event_data']['artifact_data']


def failures(events):
    return {event['event_data']['task']: event['event_data']['res']['msg']
            for event in events if event['event'] == 'runner_on_failed'}


def test_clean_placement_plan_job_through_ansible_runner(tmp_path):
    port = closed_port()
    answer = f'{tmp_path}/backups/{{{{ 7*7 }}}}'
    artifacts_dir, events = run_job(tmp_path, 4242, 'openstack_ops clean_placement', 'check',
                                    answers={'clean_placement_backup_dir': answer}, port=port)
    assert (artifacts_dir / 'status').read_text() == 'failed'
    assert (artifacts_dir / 'rc').read_text() == '2'
    failed = failures(events)
    clean = failed['Clean | back up, then remove the allocations of the chosen classes']
    assert str(port) in clean                                   # it went to the cloud's closed port
    said = failed['Say what state Placement is in']
    assert answer in said and f'{tmp_path}/backups/49' not in said   # the answer was passed on, not rendered

    # the artifacts AWX shows and hands the next workflow node
    artifacts = job_artifacts(events)
    summary = artifacts['openstack_ops_plan']
    report = tmp_path / 'reports' / 'job-4242' / 'placement-clean.json'
    assert summary['runbook'] == 'clean_placement' and summary['result'] == 'failed' and summary['check_mode'] is True
    assert summary['report'] == str(report) and summary['counts']['changes'] == 0
    assert str(port) in summary['failure']
    assert 'openstack_ops_run' not in artifacts
    assert json.loads(report.read_text())['check_mode'] is True
    assert not (tmp_path / 'backups').exists()                  # check mode wrote no backup


def test_approval_workflow_nodes_chained_by_their_artifacts(tmp_path):
    """plan -> (approval) -> run -> report of the clean_placement workflow, each node given the artifacts of the
    ones before it as AWX does (WorkflowJobNode.get_job_kwargs: ancestor artifacts join the extra vars, untrusted).
    The run meets the same closed ports, so the report node must fail and say why."""
    port = closed_port()
    plan_dir, plan_events = run_job(tmp_path, 5001, 'openstack_ops clean_placement', 'check', port=port)
    assert (plan_dir / 'status').read_text() == 'failed'   # AWX would stop here; the chain goes on to show the flow
    plan = job_artifacts(plan_events)
    run_dir, run_events = run_job(tmp_path, 5002, 'openstack_ops clean_placement', 'run', artifacts=plan, port=port)
    assert (run_dir / 'status').read_text() == 'failed'
    run = job_artifacts(run_events)
    assert set(run) == {'openstack_ops_run'}                     # the run's own summary, beside the plan's it was given
    assert run['openstack_ops_run']['check_mode'] is False and run['openstack_ops_run']['result'] == 'failed'
    assert run['openstack_ops_run']['report'] == f'{tmp_path}/reports/job-5002/placement-clean.json'

    ancestors = dict(plan, **run)
    report_dir, report_events = run_job(tmp_path, 5003, 'openstack_ops workflow report', 'run', artifacts=ancestors)
    assert (report_dir / 'status').read_text() == 'failed'
    assert 'The run\'s result is failed' in failures(report_events)['The run ended well']
    workflow = job_artifacts(report_events)['openstack_ops_workflow']
    assert workflow['runbook'] == 'clean_placement' and workflow['result'] == 'failed'
    assert workflow['planned'] == plan['openstack_ops_plan']['counts']
    assert workflow['report'] == run['openstack_ops_run']['report']

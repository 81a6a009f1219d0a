# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A job template run the way AWX runs it, with no AWX and no lab: the private data dir AWX writes (extra vars with
the survey's values !unsafe, credentials injected as their types say, an inventory script, the command line of a
check job) streamed through ansible-runner transmit | worker | process, AWX's own path minus receptor and the
container. The clean_placement plan node (check mode) meets closed ports: it must fail the way the runbook says,
leave its report and its artifacts, and never render the Jinja of a survey answer."""

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
JOB_ID = 4242


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write(path, text, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def test_clean_placement_plan_job_through_ansible_runner(tmp_path):
    templates = {t['name']: t for t in plain(load_definitions(AWX / 'controller' / 'runbooks.yml'))['controller_templates']}
    types = {t['name']: t for t in plain(load_definitions(AWX / 'controller' / 'credential_types.yml'))['controller_credential_types']}
    template = templates['openstack_ops clean_placement']
    # the job's persistent directory, here under tmp_path; still the template's own Jinja, which AWX renders
    template['extra_vars']['openstack_ops_report_dir'] = f'{tmp_path}/reports/job-{{{{ awx_job_id }}}}'

    job, worker = tmp_path / 'job', tmp_path / 'worker'
    port = closed_port()
    answer = f'{tmp_path}/backups/{{{{ 7*7 }}}}'
    extra_vars = launch_extra_vars(template, {'clean_placement_backup_dir': answer})
    extra_vars.update(awx_job_id=JOB_ID, awx_job_template_name=template['name'], awx_job_launch_type='workflow')
    write(job / 'env' / 'extravars', extravars_yaml(extra_vars, trusted=template['extra_vars']))

    # the credentials: the database type's extra vars file (every string !unsafe), AWX's OpenStack clouds.yaml
    database = inject_extra_vars(types['openstack_ops MariaDB login'],
                                 {'login_host': '127.0.0.1', 'login_port': str(port), 'login_user': 'nova',
                                  'login_password': 'a-long-dummy-password'})
    write(job / 'env' / 'tmp_database', extravars_yaml(database), mode=0o400)
    clouds = {'clouds': {'devstack': {'auth': {'auth_url': f'http://127.0.0.1:{port}/v3', 'username': 'admin',
                                               'password': 'a-long-dummy-password', 'project_name': 'admin'},
                                      'verify': True}}}
    write(job / 'env' / 'tmp_clouds', yaml.safe_dump(clouds))
    write(job / 'env' / 'envvars', yaml.safe_dump({
        'OS_CLIENT_CONFIG_FILE': str(worker / 'env' / 'tmp_clouds'),
        'ANSIBLE_COLLECTIONS_PATH': str(ROOT.parents[2]),
        'ANSIBLE_FORCE_COLOR': 'False'}))
    # a check job with diff mode (the workflow's plan node), as RunJob.build_args writes it
    write(job / 'env' / 'cmdline', f'--check -u root --diff -e @{worker}/env/tmp_database')

    hostvars = {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}
    inventory = json.dumps({'all': {'hosts': ['localhost']}, '_meta': {'hostvars': hostvars}})
    write(job / 'inventory' / 'hosts', '#! /usr/bin/env python3\nprint(%r)\n' % inventory, mode=stat.S_IRWXU)
    playbook = Path(template['playbook'])
    (job / 'project' / playbook.parent).mkdir(parents=True)
    shutil.copy(ROOT / playbook, job / 'project' / playbook)

    runner = str(Path(sys.executable).with_name('ansible-runner'))
    env = dict(os.environ, PATH=f'{Path(sys.executable).parent}:{os.environ["PATH"]}')
    pipeline = (f'{runner} transmit {job} -p {playbook} --ident {JOB_ID}'
                f' | {runner} worker --private-data-dir {worker}'
                f' | {runner} process {job} --ident {JOB_ID}')
    done = subprocess.run(['bash', '-o', 'pipefail', '-c', pipeline], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    artifacts = job / 'artifacts' / str(JOB_ID)
    assert (artifacts / 'status').read_text() == 'failed', done.stdout[-3000:] + done.stderr[-3000:]
    assert (artifacts / 'rc').read_text() == '2'

    events = [json.loads(path.read_text()) for path in (artifacts / 'job_events').glob('*.json')]
    events.sort(key=lambda event: event['counter'])
    failed = [event['event_data'] for event in events if event['event'] == 'runner_on_failed']
    clean = [data for data in failed if data['task'] == 'Clean | back up, then remove the allocations of the chosen classes']
    assert clean and 'devstack' not in clean[0]['res']['msg']
    assert str(port) in json.dumps(clean[0]['res']), clean[0]['res']['msg']     # it went to the cloud's closed port
    said = [data for data in failed if data['task'] == 'Say what state Placement is in']
    assert said, [data['task'] for data in failed]
    message = said[0]['res']['msg']
    assert answer in message and f'{tmp_path}/backups/49' not in message     # the answer was passed on, not rendered
    assert 'a-long-dummy-password' not in json.dumps(events)

    # the artifacts AWX shows and hands the next workflow node
    stats = [event for event in events if event['event'] == 'playbook_on_stats'][0]['event_data']
    summary = stats['artifact_data']['openstack_ops_plan']
    report = tmp_path / 'reports' / f'job-{JOB_ID}' / 'placement-clean.json'
    assert summary['runbook'] == 'clean_placement' and summary['result'] == 'failed' and summary['check_mode'] is True
    assert summary['report'] == str(report) and summary['counts']['changes'] == 0
    assert 'openstack_ops_run' not in stats['artifact_data']
    assert json.loads(report.read_text())['check_mode'] is True
    assert not (tmp_path / 'backups').exists()     # check mode wrote no backup

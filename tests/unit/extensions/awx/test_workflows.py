# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The approval workflows as graphs, whatever their shape: every node names a template that exists, every job node
that changes something is reached only through an approved approval node, and a denied or timed-out approval (AWX
then follows the approval node's failure and always edges) leads to no such node. AWX runs the graph as
awx/main/scheduler/dag_workflow.py does: a node's success_nodes after it succeeded, failure_nodes after it failed
(a denied or expired approval is failed), always_nodes in both cases.

The artifacts that flow along the edges (openstack_ops_plan from the plan, openstack_ops_run from the run, which the
report node reads) are checked here against the runbooks' set_stats and, with the jobs really run and chained,
in tests/integration/test_awx_jobs.py."""

import copy
import re

import pytest
import yaml

from .awx_rules import load_definitions, plain, repo_root

ROOT = repo_root()
AWX = ROOT / 'extensions' / 'awx'
DEFINITIONS = plain(load_definitions(AWX / 'controller' / 'runbooks.yml'))
TEMPLATES = {template['name']: template for template in DEFINITIONS['controller_templates']}
WORKFLOWS = DEFINITIONS['controller_workflows']
EDGES = ('success_nodes', 'failure_nodes', 'always_nodes')


def job_type(node):
    return node.get('job_type', TEMPLATES[node['unified_job_template']['name']]['job_type'])


def is_approval(node):
    return node['unified_job_template']['type'] == 'workflow_approval'


def is_destructive(node):
    """A job that may change something: a template that asks the job type at launch (the runbooks that change
    something, listed in test_definitions.py) launched as a run, not a check."""
    if is_approval(node):
        return False
    template = TEMPLATES[node['unified_job_template']['name']]
    return bool(template.get('ask_job_type_on_launch')) and job_type(node) == 'run'


def reached_without_approval(nodes, starts):
    """Every node AWX may run from `starts` on without any approval node being approved: every edge is followed
    except the success edges out of approval nodes."""
    seen, pending = set(), list(starts)
    while pending:
        identifier = pending.pop()
        if identifier in seen:
            continue
        seen.add(identifier)
        node = nodes[identifier]
        for edge in EDGES:
            if edge == 'success_nodes' and is_approval(node):
                continue
            pending += [target['identifier'] for target in node.get('related', {}).get(edge, [])]
    return seen


def workflow_errors(workflow):
    errors = []
    nodes = {node['identifier']: node for node in workflow['workflow_nodes']}
    if len(nodes) != len(workflow['workflow_nodes']):
        errors.append('two nodes share an identifier')
    targets = set()
    for identifier, node in nodes.items():
        ujt = node['unified_job_template']
        if ujt['type'] == 'workflow_approval':
            if not ujt.get('timeout', 0) > 0:
                errors.append(f'{identifier}: an approval without a timeout waits forever')
        elif ujt['type'] != 'job_template' or ujt['name'] not in TEMPLATES:
            errors.append(f'{identifier}: {ujt.get("type")} {ujt.get("name")!r} is not a job template defined here')
            continue
        else:
            template = TEMPLATES[ujt['name']]
            # a node's prompts count only when its template asks for them at launch; otherwise AWX ignores them
            # and a plan node meant as a check would run for real
            for option, ask in (('job_type', 'ask_job_type_on_launch'), ('diff_mode', 'ask_diff_mode_on_launch')):
                if option in node and node[option] != template[option] and not template.get(ask):
                    errors.append(f'{identifier}: {option} {node[option]} ignored, the template does not ask it')
        for edge in EDGES:
            for target in node.get('related', {}).get(edge, []):
                if target['identifier'] not in nodes:
                    errors.append(f'{identifier}: {edge} names no node {target["identifier"]}')
                targets.add(target['identifier'])
    if errors:
        return errors
    roots = [identifier for identifier in nodes if identifier not in targets]
    if not roots:
        errors.append('no root node (a cycle)')
    for identifier in sorted(reached_without_approval(nodes, roots)):
        if is_destructive(nodes[identifier]):
            errors.append(f'{identifier}: runs for real with no approval before it')
    for identifier, node in nodes.items():
        if is_approval(node):
            refused = [target['identifier'] for edge in ('failure_nodes', 'always_nodes')
                       for target in node.get('related', {}).get(edge, [])]
            for reached in sorted(reached_without_approval(nodes, refused)):
                if is_destructive(nodes[reached]):
                    errors.append(f'{identifier} denied or timed out: {reached} still runs for real')
    if not any(is_destructive(node) for node in nodes.values()):
        errors.append('no node runs the change: the workflow approves nothing')
    return errors


@pytest.mark.parametrize('workflow', WORKFLOWS, ids=lambda workflow: workflow['name'])
def test_workflow_graph(workflow):
    assert not workflow_errors(workflow)


def mutated(change):
    workflow = copy.deepcopy(next(w for w in WORKFLOWS if w['name'] == 'openstack_ops clean_placement'))
    change({node['identifier']: node for node in workflow['workflow_nodes']})
    return workflow_errors(workflow)


def test_graph_checks_refuse_what_they_are_for():
    def approval_skipped(nodes):
        nodes['plan']['related'] = {'success_nodes': [{'identifier': 'run'}]}

    def denial_runs(nodes):
        nodes['approve']['related']['failure_nodes'] = [{'identifier': 'run'}]

    def timeout_reaches_it_later(nodes):
        nodes['approve']['related']['always_nodes'] = [{'identifier': 'report'}]
        nodes['report']['related'] = {'success_nodes': [{'identifier': 'run'}]}

    def plan_runs_for_real(nodes):
        nodes['plan']['job_type'] = 'run'

    def unknown_template(nodes):
        nodes['report']['unified_job_template']['name'] = 'openstack_ops no such report'

    def no_timeout(nodes):
        del nodes['approve']['unified_job_template']['timeout']

    def plan_failure_runs(nodes):
        nodes['plan']['related']['failure_nodes'] = [{'identifier': 'run'}]

    assert 'run: runs for real with no approval before it' in mutated(approval_skipped)
    assert 'approve denied or timed out: run still runs for real' in mutated(denial_runs)
    assert 'approve denied or timed out: run still runs for real' in mutated(timeout_reaches_it_later)
    assert 'plan: runs for real with no approval before it' in mutated(plan_runs_for_real)
    assert any('not a job template defined here' in error for error in mutated(unknown_template))
    assert any('without a timeout' in error for error in mutated(no_timeout))
    assert 'run: runs for real with no approval before it' in mutated(plan_failure_runs)


def test_a_prompt_the_template_does_not_ask_is_refused():
    workflow = copy.deepcopy(WORKFLOWS[0])
    name = workflow['workflow_nodes'][0]['unified_job_template']['name']
    saved = TEMPLATES[name]
    TEMPLATES[name] = dict(saved, ask_job_type_on_launch=False)
    try:
        assert any('job_type check ignored' in error for error in workflow_errors(workflow))
    finally:
        TEMPLATES[name] = saved


def summary_keys(runbook):
    """The set_stats keys a runbook leaves: openstack_ops_plan in check mode, openstack_ops_run otherwise."""
    text = (ROOT / 'playbooks' / f'{runbook}.yml').read_text()
    keys = set()
    if re.search(r"'openstack_ops_plan' if ansible_check_mode else 'openstack_ops_run'", text):
        keys = {'openstack_ops_plan', 'openstack_ops_run'}
    return keys


def test_each_node_gets_the_artifacts_its_successor_reads():
    """The report node reads openstack_ops_plan and openstack_ops_run (its play's vars); the plan node's runbook
    leaves the first in check mode and the run node's the second."""
    report = yaml.safe_load((AWX / 'workflow_report.yml').read_text())[0]
    assert set(report['vars']) == {'openstack_ops_plan', 'openstack_ops_run'}
    for workflow in WORKFLOWS:
        nodes = {node['identifier']: node for node in workflow['workflow_nodes']}
        for identifier, node in nodes.items():
            if is_approval(node) or node['unified_job_template']['name'] == 'openstack_ops workflow report':
                continue
            runbook = TEMPLATES[node['unified_job_template']['name']]['playbook'].rsplit('/', 1)[1][:-4]
            want = 'openstack_ops_plan' if job_type(node) == 'check' else 'openstack_ops_run'
            assert want in summary_keys(runbook), (workflow['name'], identifier, runbook)

# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
name: checkup_job_results
short_description: The check-up's controller checks as the report reads them, from their background jobs
version_added: 0.1.0
description:
  - Takes the jobs C(checkup.yml) started for its controller checks (C(async) with C(poll) 0) and the result of the
    C(ansible.builtin.async_status) task that waited for them, and returns each check's module result, the input of
    its sibling C(openstack_ops.runbooks.checkup_report).
  - A launch with no job id (skipped because the check was not selected, or failed) is the check's result as it is.
  - "A job that is no module result is a failed result saying why, never a launch result read as the module's: not
    collected (the wait did not run or failed), still running when the wait ended (C(no result after waiting <bound +
    10> s)), stopped by async_wrapper at its bound (C(no result within <bound> s (checkup_check_timeout): the check
    was stopped); a ping's bound is C(checkup_ping_timeout + 60)), or a module that died before answering (C(MODULE
    FAILURE:) and the last line of its stderr)."
  - C(conductors_ping) is a dict of results by controller; with no controller in O(conductors) it is skipped, and
    with controllers but no ping job it failed with the launch task's message.
options:
  _input:
    description:
      - The jobs, each a dict with C(key) (unique, the wait's loop label), C(check) (the check id), C(job) (the
        launch task's registered result, or its loop item's for a ping), C(bound) (the seconds given to C(async))
        and, for V(conductors_ping), C(server) (the controller).
    type: list
    elements: dict
    required: true
  collected:
    description: The registered result of the C(async_status) task looped over the jobs (each item is its job).
    type: dict
  conductors:
    description: The controllers whose conductor is pinged (C(checkup_conductors)).
    type: list
    elements: str
    default: []
  pings:
    description: The registered result of the ping launch task (its C(msg) says why no ping started).
    type: dict
'''

EXAMPLES = r'''
- name: The report from the controller checks' jobs
  ansible.builtin.set_fact:
    checkup: >-
      {{ checkup__jobs | openstack_ops.runbooks.checkup_job_results(collected=checkup__collected,
         conductors=checkup_conductors, pings=checkup__ping_jobs) | openstack_ops.runbooks.checkup_report }}
'''

RETURN = r'''
_value:
  description: Each check's module result by check id; C(conductors_ping) by controller.
  type: dict
'''

from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import checkup


def checkup_job_results(jobs, collected=None, conductors=(), pings=None):
    return checkup.job_results(jobs, collected=collected, conductors=conductors, pings=pings)


class FilterModule:
    def filters(self):
        return dict(checkup_job_results=checkup_job_results)

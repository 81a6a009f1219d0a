# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
name: log_trace_terms
short_description: The ids in log records that the next round of a trace searches for
version_added: 0.1.0
description:
  - Takes the records C(openstack_ops.runbooks.log_search) returned (from every host) and returns the request ids,
    global request ids and instance UUIDs in them that are not in O(searched), in time order, at most O(limit).
  - Its sibling C(openstack_ops.runbooks.log_trace_report) merges the records into one timeline and summarises it.
options:
  _input:
    description: The records.
    type: list
    elements: dict
    required: true
  searched:
    description: The ids already searched for.
    type: list
    elements: str
    default: []
  follow:
    description:
      - What to follow. V(request_id), V(global_request_id), V(instance) (UUIDs in C([instance:]) and after
        C(Instance) or C(/servers/)), V(uuid) (any other UUID in a message), V(message_request_id) (request ids
        quoted in a message, such as another service's).
    type: list
    elements: str
    default: [request_id, global_request_id, instance]
  limit:
    description: The most ids returned.
    type: int
    default: 50
'''

EXAMPLES = r'''
- name: The ids of the next round
  ansible.builtin.set_fact:
    next_terms: "{{ records | openstack_ops.runbooks.log_trace_terms(searched=searched) }}"
'''

RETURN = r'''
_value:
  description: The ids to search for next.
  type: list
  elements: str
'''

from ansible_collections.openstack_ops.runbooks.plugins.plugin_utils import log_trace


def log_trace_terms(records, searched=(), follow=log_trace.FOLLOW, limit=50):
    return log_trace.next_terms(records, searched, tuple(follow), int(limit))


class FilterModule:
    def filters(self):
        return dict(log_trace_terms=log_trace_terms)

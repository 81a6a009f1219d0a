"""No playbook or role task changes the mode of a directory that already exists.

A report or archive directory is often one an operator names (openstack_ops_report_dir=/tmp, a home directory): a
`file: state=directory mode=0750` on it would chmod /tmp to 0750 and break every other user of it (MariaDB could no
longer write its temporary files: found on the lab). So a directory task sets a mode only when the directory is
missing: `mode: "{{ omit if <path> | expanduser is directory else '0750' }}"` for the controller (the file module
expands `~`, the `directory` test does not), or the same on a stat's `isdir` for a delegated host.
"""
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
FILES = sorted([*ROOT.glob("playbooks/*.yml"), *ROOT.glob("roles/*/tasks/*.yml")])


def tasks(node):
    """Every task (a mapping with a module) in a play list, a task list, or blocks of either."""
    if isinstance(node, list):
        for item in node:
            yield from tasks(item)
    elif isinstance(node, dict):
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            yield from tasks(node.get(key))
        yield node


def directory_tasks(path):
    for task in tasks(yaml.safe_load(path.read_text())):
        for module in ("ansible.builtin.file", "file"):
            args = task.get(module)
            if isinstance(args, dict) and args.get("state") == "directory":
                yield task.get("name"), args


def test_there_are_directory_tasks_to_check():
    assert sum(len(list(directory_tasks(path))) for path in FILES) >= 12


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_directory_task_sets_its_mode_only_on_a_directory_it_makes(path):
    for name, args in directory_tasks(path):
        mode = str(args.get("mode", ""))
        guarded = mode.startswith("{{ omit if ") and ("| expanduser is directory" in mode or "stat.isdir" in mode)
        assert not mode or guarded, f"{path.name}: {name!r} sets mode {mode!r} on a directory that may exist already"

"""The one command line of the three labs: `python -m tests.<lab> ACTION [ARGS]`.

Each lab's __main__ names its lab class and its actions beyond up/down/status; this runs the one asked for,
prints what it returns (JSON for dicts and lists), and turns a lab failure into a message and exit code 2.
`status` exits 3 when the lab is not in working order, so a script can wait on it.
"""
import argparse
import json
import sys

from .process import LabError


def run(prog, doc, make_lab, actions=None, healthy=lambda status: status.get("up"), argv=None):
    """Parse argv, build the lab with make_lab() and run the action.

    actions maps an extra action's name to a function(lab, args) whose return value is printed (None prints
    nothing; an int is the exit code).
    """
    actions = dict(actions or {})
    parser = argparse.ArgumentParser(prog=prog, description=doc)
    parser.add_argument("action", choices=("up", "down", "status", *actions))
    parser.add_argument("args", nargs="*", help="arguments of the action, where it takes some")
    parser.add_argument("--timeout", type=float, default=600, help="for actions that wait")
    args = parser.parse_args(argv)
    lab = make_lab()
    try:
        if args.action == "up":
            lab.up()
        elif args.action == "down":
            lab.down()
        elif args.action == "status":
            status = lab.status()
            print(json.dumps(status, indent=2))
            return 0 if healthy(status) else 3
        else:
            out = actions[args.action](lab, args)
            if isinstance(out, int) and not isinstance(out, bool):
                return out
            if isinstance(out, (dict, list)):
                print(json.dumps(out, indent=2))
            elif out is not None:
                print(out)
    except (LabError, RuntimeError, ValueError) as err:
        print(f"{prog.rsplit('.', 1)[-1].replace('_', ' ')} {args.action}: {err}", file=sys.stderr)
        return 2
    return 0

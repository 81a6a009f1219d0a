"""`python -m tests.lab up|down|status|reset`: the lab for a person at a shell (see README)."""
import argparse
import json
import sys

from .lab import Lab
from .process import LabError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.lab", description=__doc__)
    parser.add_argument("action", choices=("up", "down", "status", "reset"))
    args = parser.parse_args(argv)
    lab = Lab()
    try:
        if args.action == "up":
            lab.up()
        elif args.action == "down":
            lab.down()
        elif args.action == "reset":
            lab.reset()
        else:
            status = lab.status()
            print(json.dumps(status, indent=2))
            return 0 if status["up"] else 3
    except LabError as err:
        print(f"lab {args.action}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m tests.galera_lab up|down|status|inventory`: the three-node Galera lab (gal1..gal3)."""
import argparse
import json
import sys

from tests.lab.process import LabError

from .lab import GaleraLab


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.galera_lab", description=__doc__)
    parser.add_argument("action", choices=("up", "down", "status", "inventory"))
    args = parser.parse_args(argv)
    lab = GaleraLab()
    try:
        if args.action == "up":
            lab.up()
        elif args.action == "down":
            lab.down()
        elif args.action == "inventory":
            print(lab.write_inventory())
        else:
            status = lab.status()
            print(json.dumps(status, indent=2))
            return 0 if status["healthy"] else 3
    except (LabError, RuntimeError) as err:
        print(f"galera lab {args.action}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m tests.galera_lab up|down|status|inventory|watch OUT STOP_FILE`: the three-node Galera lab (gal1..gal3)."""
import argparse
import json
import sys

from tests.lab.process import LabError

from .lab import GaleraLab


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.galera_lab", description=__doc__)
    parser.add_argument("action", choices=("up", "down", "status", "inventory", "watch"))
    parser.add_argument("paths", nargs="*", help="watch: the JSON-lines file to write, and the file that stops it")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    lab = GaleraLab()
    try:
        if args.action == "up":
            lab.up()
        elif args.action == "down":
            lab.down()
        elif args.action == "watch":
            from . import watch  # pylint: disable=import-outside-toplevel
            if len(args.paths) != 2:
                parser.error("watch needs OUT and STOP_FILE")
            print(f"{watch.run(*args.paths, timeout=args.timeout)} samples")
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

"""`python -m tests.galera_lab up|down|status|inventory|watch OUT STOP_FILE|writes N [NODE]`: the Galera lab (gal1..gal3)."""
import sys

from tests.lab.cli import run

from .lab import GaleraLab


def _watch(lab, args):
    """Record every node's wsrep state into OUT (JSON lines) until STOP_FILE exists."""
    from . import watch  # pylint: disable=import-outside-toplevel
    if len(args.args) != 2:
        raise ValueError("watch needs OUT and STOP_FILE")
    return f"{watch.run(*args.args, timeout=args.timeout)} samples"


def _writes(lab, args):
    """N writes through NODE's haproxy, one connection each: which node served each, and each node's commits."""
    from . import writes  # pylint: disable=import-outside-toplevel
    if not 1 <= len(args.args) <= 2 or not args.args[0].isdigit():
        raise ValueError("writes needs N and optionally NODE")
    return writes.run(lab, int(args.args[0]), *args.args[1:])


def main(argv=None):
    return run("python -m tests.galera_lab", __doc__, GaleraLab,
               {"inventory": lambda lab, args: lab.write_inventory(), "watch": _watch, "writes": _writes},
               healthy=lambda status: status["healthy"], argv=argv)


if __name__ == "__main__":
    sys.exit(main())

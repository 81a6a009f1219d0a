"""`python -m tests.lab up|down|status|reset`: the service lab for a person at a shell (see README)."""
import sys

from .cli import run
from .lab import Lab


def main(argv=None):
    return run("python -m tests.lab", __doc__, Lab, {"reset": lambda lab, args: lab.reset()}, argv=argv)


if __name__ == "__main__":
    sys.exit(main())

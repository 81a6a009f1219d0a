"""`python -m tests.lab up|down|status|reset`: the service lab for a person at a shell (see README).

OPS_LAB_PROFILE=cloud (`make lab-up PROFILE=cloud`) works on the cloud profile instead (tests/lab/cloud.py).
"""
import os
import sys

from .cli import run
from .lab import Lab


def main(argv=None):
    if os.environ.get("OPS_LAB_PROFILE", "light") == "cloud":
        from .cloud import CloudLab  # pylint: disable=import-outside-toplevel
        return run("python -m tests.lab", __doc__, CloudLab, argv=argv)
    return run("python -m tests.lab", __doc__, Lab, {"reset": lambda lab, args: lab.reset()}, argv=argv)


if __name__ == "__main__":
    sys.exit(main())

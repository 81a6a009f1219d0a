"""`python -m tests.controller_lab up|down|status|break|demo|...`: the podman controller lab (see README)."""
import sys

from tests.lab.cli import run

from .lab import ControllerLab


def _break(lab, args):
    from . import fault  # pylint: disable=import-outside-toplevel
    return fault.break_like_the_incident(lab)


def _spread(lab, args):
    """Which nova-api served 9 requests from one client through the VIP."""
    from . import checks  # pylint: disable=import-outside-toplevel
    return checks.served_by(lab)


def _reset_config(lab, args):
    """Each controller's nova.conf as the lab wrote it (nothing restarted)."""
    for name in lab.hosts:
        lab.reset_config(name)


def _demo(lab, args):
    from . import demo  # pylint: disable=import-outside-toplevel
    return demo.run(lab)


ACTIONS = {
    "break": _break,
    "demo": _demo,
    # needs nothing running: ports and paths come from the config
    "inventory": lambda lab, args: lab.write_inventory(),
    # how the controllers run nova-conductor and nova-api
    "systemd": lambda lab, args: "changed" if lab.use_backend("systemd") else "unchanged",
    "kolla": lambda lab, args: "changed" if lab.use_backend("kolla") else "unchanged",
    "spread": _spread,
    "reset-config": _reset_config,
}


def main(argv=None):
    return run("python -m tests.controller_lab", __doc__, ControllerLab, ACTIONS,
               healthy=lambda status: status["vip_answers"], argv=argv)


if __name__ == "__main__":
    sys.exit(main())

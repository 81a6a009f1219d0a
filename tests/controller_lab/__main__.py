"""`python -m tests.controller_lab up|down|status|break|demo|...`: the podman controller lab (see README)."""
import argparse
import json
import sys

from tests.lab.process import LabError

from .lab import ControllerLab


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.controller_lab", description=__doc__)
    parser.add_argument("action", choices=("up", "down", "status", "break", "demo", "inventory", "systemd", "kolla",
                                           "spread", "reset-config"))
    args = parser.parse_args(argv)
    lab = ControllerLab()
    try:
        if args.action == "up":
            lab.up()
        elif args.action == "down":
            lab.down()
        elif args.action == "break":
            from . import fault  # pylint: disable=import-outside-toplevel
            print(json.dumps(fault.break_like_the_incident(lab), indent=2))
        elif args.action in ("systemd", "kolla"):   # how the controllers run nova-conductor and nova-api
            print("changed" if lab.use_backend(args.action) else "unchanged")
        elif args.action == "spread":   # which nova-api served 9 requests from one client through the VIP
            from . import checks  # pylint: disable=import-outside-toplevel
            print(json.dumps(checks.served_by(lab)))
        elif args.action == "reset-config":   # each controller's nova.conf as the lab wrote it (nothing restarted)
            for name in lab.hosts:
                lab.reset_config(name)
        elif args.action == "inventory":   # needs nothing running: ports and paths come from the config
            print(lab.write_inventory())
        elif args.action == "demo":
            from . import demo  # pylint: disable=import-outside-toplevel
            return demo.run(lab)
        else:
            status = lab.status()
            print(json.dumps(status, indent=2))
            return 0 if status["vip_answers"] else 3
    except (LabError, RuntimeError) as err:
        print(f"controller lab {args.action}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The service lab: start, inspect, reset and stop every real service, tracked by PID."""
import contextlib
import json
import shutil
import time
import urllib.parse

from . import process
from .config import CONTROLLERS, LabConfig
from .mariadb import MariaDB
from .nova import Nova
from .placement import Placement
from .rabbitmq import RabbitMQ

# Binaries the lab runs, and the Debian package that ships each.
REQUIRED_TOOLS = {
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "mariadb-dump": "mariadb-client",
    "/usr/lib/rabbitmq/bin/rabbitmq-server": "rabbitmq-server",
    "epmd": "erlang-base",
}


@contextlib.contextmanager
def session(lab):
    """A lab for one test session: started unless it is already up (`make lab-up`), and then stopped by the
    session that started it, with no process or port left behind."""
    owned = not lab.is_up()
    if owned:
        lab.up()
    try:
        yield lab
    finally:
        if owned:
            pids = dict(lab.pids)
            lab.down()
            alive = [name for name, pid in pids.items() if process.alive(pid)]
            listening = [name for name, port in lab.cfg.ports.items() if process.port_open(port)]
            assert not alive and not listening, f"lab-down left processes {alive} / ports {listening}"


class Lab:
    def __init__(self, cfg=None):
        self.cfg = cfg or LabConfig.from_env()
        self.mariadb = MariaDB(self.cfg)
        self.rabbitmq = RabbitMQ(self.cfg)
        self.placement = Placement(self.cfg)
        self.nova = Nova(self.cfg)
        self.state_file = self.cfg.path("state.json")
        self.baseline = self.cfg.path("baseline.sql")

    # --- state ---------------------------------------------------------------
    def _state(self):
        if not self.state_file.exists():
            return {"pids": {}}
        return json.loads(self.state_file.read_text())

    def _record(self, name, pid):
        state = self._state()
        state["pids"][name] = pid
        state["ports"] = self.cfg.ports
        self.state_file.write_text(json.dumps(state, indent=2))

    @property
    def pids(self):
        return self._state()["pids"]

    def dead(self, conductors=True):
        return sorted(name for name, pid in self.pids.items()
                      if not process.alive(pid) and (conductors or not name.startswith("nova-conductor")))

    def is_up(self):
        """The services are up; a conductor a test stopped on purpose does not count against it."""
        return bool(self.pids) and not self.dead(conductors=False) and self.baseline.exists()

    # --- up / down -----------------------------------------------------------
    label = "lab"
    restart_hint = "`make lab-down`, then `make lab-up`"

    def up(self, log=print):
        """Start everything; a lab that is already fully up is left as it is."""
        if self.is_up():
            self._revive(log)
            log(f"{self.label} already up in {self.cfg.state_dir}")
            return False
        if any(process.alive(pid) for pid in self.pids.values()):
            raise process.LabError(
                f"the {self.label} in {self.cfg.state_dir} is half-started: not running: "
                f"{', '.join(self.dead()) or 'baseline dump missing'}. Run {self.restart_hint}.")
        check_tools()
        self._wipe()
        process.require_free(self.cfg.ports)
        self.cfg.path("logs").mkdir(parents=True)
        started = time.monotonic()
        try:
            self._start_all(log)
        except BaseException:
            log(f"{self.label} start failed; stopping what was started")
            self.down(log=lambda _msg: None, keep_logs=True)
            raise
        log(f"{self.label} up in {time.monotonic() - started:.0f}s: {self.cfg.state_dir}")
        return True

    def _revive(self, log):
        """Restart the conductors a test stopped on purpose."""
        for host in CONTROLLERS:
            if f"nova-conductor-{host}" in self.dead():
                log(f"restarting nova-conductor on {host}")
                self.start_conductor(host)

    def _start_all(self, log):
        log("starting MariaDB")
        self._record("mariadb", self.mariadb.start())
        log("starting RabbitMQ (epmd, node, management plugin)")
        for name, pid in self.rabbitmq.start().items():
            self._record(name, pid)
        log("creating the placement schema and starting Placement under gunicorn")
        self.placement.prepare()
        self._record("placement", self.placement.start())
        log("building nova_api, cell0, cell1 and cell2 with nova-manage")
        self.nova.prepare()
        log(f"starting nova-conductor on {', '.join(CONTROLLERS)}")
        for host in CONTROLLERS:
            self.start_conductor(host, wait=False)
        for host in CONTROLLERS:
            self.wait_conductor(host)
        self.mariadb.dump(self.baseline)

    def down(self, log=print, keep_logs=False):
        """Stop every process the state file knows, newest first, and remove the state."""
        stopped = []
        for name, pid in reversed(list(self.pids.items())):
            if process.stop(pid):
                stopped.append(name)
        leftover = sorted(name for name, pid in self.pids.items() if process.alive(pid))
        if leftover:
            raise process.LabError(f"could not stop: {', '.join(leftover)}")
        self._wipe(keep_logs=keep_logs)
        log(f"lab down: stopped {', '.join(stopped) or 'nothing'}")
        return stopped

    def _wipe(self, keep_logs=False):
        if not self.cfg.state_dir.exists():
            return
        for child in self.cfg.state_dir.iterdir():
            if keep_logs and child.name == "logs":
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()

    # --- conductors ----------------------------------------------------------
    def start_conductor(self, host, wait=True):
        pid, _log = self.nova.start_conductor(host)
        self._record(f"nova-conductor-{host}", pid)
        if wait:
            self.wait_conductor(host)
        return pid

    def wait_conductor(self, host, timeout=120):
        pid = self.pids[f"nova-conductor-{host}"]
        process.wait_until(lambda: self.queue_consumers(f"conductor.{host}") > 0, timeout,
                           f"nova-conductor on {host}", pid=pid,
                           log_path=self.cfg.path("logs", f"nova-conductor-{host}.out"))

    def stop_conductor(self, host):
        return process.stop(self.pids[f"nova-conductor-{host}"])

    def wait_consumers(self, queue, count, timeout=30):
        """The management API's consumer counts trail a process exit by a moment."""
        process.wait_until(lambda: self.queue_consumers(queue) == count, timeout,
                           f"{count} consumer(s) on queue {queue}")

    def queue_consumers(self, queue, vhost="/"):
        try:
            info = self.rabbitmq.api(
                f"queues/{urllib.parse.quote(vhost, safe='')}/{urllib.parse.quote(queue, safe='')}")
        except OSError:
            return 0
        return info.get("consumers", 0)

    # --- per-test reset ------------------------------------------------------
    def reset(self):
        """Put every lab database back to the state right after `up` (≈ 1 s)."""
        self.mariadb.restore(self.baseline)

    # --- status --------------------------------------------------------------
    def status(self):
        pids = self.pids
        return {
            "state_dir": str(self.cfg.state_dir),
            "processes": {name: {"pid": pid, "alive": process.alive(pid)} for name, pid in pids.items()},
            "ports": {name: {"port": port, "listening": process.port_open(port)}
                      for name, port in self.cfg.ports.items()},
            "up": self.is_up(),
        }


def check_tools():
    missing = sorted({package for tool, package in REQUIRED_TOOLS.items() if not shutil.which(tool)})
    if missing:
        raise process.LabError(
            f"missing Debian package(s): {' '.join(missing)}. "
            f"Install with: apt-get install -y {' '.join(missing)} (or run `make deps`).")

"""What a recovered controller lab looks like, read from the real services (make demo, molecule verify)."""
import hashlib
import pathlib
import subprocess
import sys
import time

from tests.lab.config import CONTROLLERS

from .lab import http_status

PATTERNS = ("^reply_", "^cinder", "^conductor", "^compute")

# A hung conductor keeps its consumer registered and its unit "active": only an RPC round trip shows it.
PING = """
import sys
import oslo_messaging
from oslo_config import cfg
cfg.CONF([], project="lab-ping")
transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=sys.argv[1])
target = oslo_messaging.Target(exchange="nova", topic="conductor", server=sys.argv[2])
print(oslo_messaging.get_rpc_client(transport, target, timeout=5).call({}, "oslo_rpc_server_ping"))
"""


def answers_ping(lab, host):
    return subprocess.run([sys.executable, "-c", PING, lab.services.cfg.transport_url(), host],
                          capture_output=True, timeout=60, check=False).returncode == 0


def eventually(probe, done, settle=15):
    """probe() once done(value) holds, or its last value after settle seconds.

    RabbitMQ's management API refreshes queue counts every ~5 s, so a count read right after a change lags.
    """
    deadline = time.monotonic() + settle
    while True:
        value = probe()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(1)


def stale_messages(lab):
    """Messages queued on the runbook's patterns."""
    queues = [queue for queue in lab.services.rabbitmq.api("queues")
              if any(queue["name"].startswith(prefix.lstrip("^")) for prefix in PATTERNS)]
    return sum(queue.get("messages") or 0 for queue in queues)


def archive_problems(archive):
    """Why a purge archive (rabbitmq_purge's `archive` result) is not sound; empty when it is."""
    path = pathlib.Path(archive["path"])
    if not path.is_file():
        return [f"{path} is missing"]
    problems = []
    lines = path.read_bytes().splitlines()
    if len(lines) != archive["messages"]:
        problems.append(f"{path} holds {len(lines)} messages, the result says {archive['messages']}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != archive["sha256"]:
        problems.append(f"{path} has SHA-256 {digest}, the result says {archive['sha256']}")
    if pathlib.Path(archive["checksum_path"]).read_text().split()[0] != digest:
        problems.append(f"{archive['checksum_path']} does not hold the archive's SHA-256")
    return problems


def snapshot(lab, broken, settle=15):
    """The lab's state as an operator sees it; `broken` says which way the lagging queue counts should settle."""
    return {
        "stale_messages": eventually(lambda: stale_messages(lab), lambda total: (total > 0) == broken, settle),
        "conductors_answering_rpc": sorted(host for host in CONTROLLERS if answers_ping(lab, host)),
        "conductor_consumers": lab.services.queue_consumers("conductor"),
        "nova_api_via_vip": http_status(lab.vip_url),
        "conductors": {name: lab.exec(name, "systemctl", "is-active", "nova-conductor", check=False).stdout.strip()
                       for name in CONTROLLERS},
    }


def served_by(lab, requests=9):
    """{nova-api server: requests it served} for ``requests`` requests from this one client through the VIP.

    Read from the session counters (stot) of the VIP holder's haproxy; health checks do not count there.
    """
    holder = next(name for name in CONTROLLERS
                  if lab.vip in lab.exec(name, "ip", "-o", "addr", "show", "dev", "eth0").stdout)

    def sessions():
        csv = lab.exec(holder, "sh", "-c", "echo 'show stat' | socat stdio /run/haproxy/admin.sock").stdout
        header = csv.splitlines()[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","))) for line in csv.splitlines()[1:] if line]
        return {row["svname"]: int(row["stot"]) for row in rows
                if row["pxname"] == "nova_api_back" and row["svname"] in CONTROLLERS}

    before = sessions()
    for _request in range(requests):
        http_status(lab.vip_url)
    after = sessions()
    return {name: after[name] - before.get(name, 0) for name in after}

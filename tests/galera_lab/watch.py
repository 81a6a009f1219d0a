"""Record the cluster's state every half second while something (a rolling restart) runs.

`python -m tests.galera_lab watch OUT STOP_FILE` writes one JSON line per sample to OUT until STOP_FILE exists
(or --timeout), each with every node's wsrep status or null when the node did not answer. The nodes are read
in parallel through `podman exec`, as root on their sockets.
"""
import json
import pathlib
import subprocess
import time

from .lab import NODES

QUERY = ("SHOW GLOBAL STATUS WHERE Variable_name IN "
         "('wsrep_cluster_status', 'wsrep_local_state_comment', 'wsrep_cluster_size', 'wsrep_ready')")


def sample():
    procs = {name: subprocess.Popen(  # pylint: disable=consider-using-with
        ["podman", "exec", name, "mariadb", "--batch", "--skip-column-names", "--connect-timeout=2", "-e", QUERY],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for name in NODES}
    nodes = {}
    for name, proc in procs.items():
        try:
            out = proc.communicate(timeout=5)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            out = ""
        status = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line) if proc.returncode == 0 else {}
        nodes[name] = status or None
    return {"t": round(time.time(), 2), "nodes": nodes}


def synced(status):
    return bool(status) and status.get("wsrep_cluster_status") == "Primary" \
        and status.get("wsrep_local_state_comment") == "Synced"


def away(entry):
    """Nodes that do not serve: not answering (restarting) or joining. A donor still serves reads and writes."""
    return [name for name, status in entry["nodes"].items()
            if not status or status.get("wsrep_local_state_comment") not in ("Synced", "Donor/Desynced")]


def judge(samples, size=len(NODES)):
    """The samples that break the rolling restart's promise, each with its reason.

    At every sample: at most one node is away (restarting or joining; while it starts it reports non-Primary until
    it joins); every other node is in the Primary component; at least one node is Primary and Synced, counting at
    least size - 1 members. A node briefly Donor/Desynced is allowed: it feeds the restarted node its missed
    write-sets by IST (measured by desynced_windows).
    """
    bad = []
    for entry in samples:
        serving = [status for name, status in entry["nodes"].items() if name not in away(entry)]
        healthy = [status for status in serving if synced(status)]
        if any(status.get("wsrep_cluster_status") != "Primary" for status in serving):
            bad.append(dict(entry, reason="a serving node outside the Primary component"))
        elif len(away(entry)) > 1:
            bad.append(dict(entry, reason=f"{', '.join(away(entry))} away at once"))
        elif not healthy:
            bad.append(dict(entry, reason="no node Primary and Synced"))
        elif any(int(status.get("wsrep_cluster_size") or 0) < size - 1 for status in healthy):
            bad.append(dict(entry, reason="a Synced node counts fewer members than expected"))
    return bad


def desynced_windows(samples, size=len(NODES)):
    """Lengths in seconds of the stretches with fewer than size - 1 nodes Primary and Synced."""
    windows, start = [], None
    for entry in samples:
        short = sum(synced(status) for status in entry["nodes"].values()) < size - 1
        if short and start is None:
            start = entry["t"]
        elif not short and start is not None:
            windows.append(round(entry["t"] - start, 2))
            start = None
    if start is not None:
        windows.append(round(samples[-1]["t"] - start, 2))
    return windows


def run(out, stop_file, interval=0.5, timeout=600):
    out, stop_file = pathlib.Path(out), pathlib.Path(stop_file)
    deadline = time.monotonic() + timeout
    count = 0
    with out.open("w", encoding="utf-8") as handle:
        while not stop_file.exists() and time.monotonic() < deadline:
            started = time.monotonic()
            handle.write(json.dumps(sample()) + "\n")
            handle.flush()
            count += 1
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return count

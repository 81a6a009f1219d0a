"""trace_request.yml across three hosts vs the seed's way: the same searches, one host after the other.

The hosts: three podman containers from the controller lab's image (tests/controller_lab/image.py), named
bench-ctl1..3, reached with Ansible's podman connection; each sees its share of benchmarks/log_corpus.py's logs
(BENCH_LOG_MB, default 1024 MiB in all) at /var/log/kolla, bind-mounted read-only: the lab's nova services are not
started, so nothing else competes for the CPU while the searches are timed.

Ours: `ansible-playbook openstack_ops.runbooks.trace_request -e trace_request_terms=<instance UUID>` (Ansible's
default forks, so the three hosts at once): round 1 finds the request ids and the global one, round 2 searches them,
nothing new turns up. The seed's way (seed 001, "no ELK, search the API nodes one by one"): for each round's terms,
one `LC_ALL=C grep -F` per host (and `gzip -dc | grep` for the rotated .gz), host after host, through the same
connection (`podman exec`); what the operator reads and types between the greps is not counted.
"""
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile

from benchmarks import bench_log_search, log_corpus
from benchmarks.harness import compare

NEEDS_LAB = False
REPO = pathlib.Path(__file__).resolve().parents[1]
LABEL = "opsctl.bench"
RUNS = 3


def _podman(*args, check=True):
    result = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
    if check and result.returncode:
        raise RuntimeError(f"podman {' '.join(args[:3])}: {result.stderr.strip()[-1500:]}")
    return result


def container(host):
    return f"bench-{host}"


def up(logs, state_dir):
    from tests.controller_lab import host, image  # pylint: disable=import-outside-toplevel
    host.apply()
    image.build()
    for name, root in logs["hosts"].items():
        _podman("rm", "-f", "--ignore", container(name), check=False)
        _podman("run", "-d", "--name", container(name), "--hostname", name, "--label", f"{LABEL}={state_dir}",
                "--network", "none", "-v", f"{root}:/var/log/kolla:ro", image.IMAGE, "sleep", "infinity")


def down(logs):
    for name in logs["hosts"]:
        _podman("rm", "-f", "-t", "0", "--ignore", container(name), check=False)


def inventory(logs, work):
    path = pathlib.Path(work, "inventory.ini")
    lines = ["[controllers]"] + [f"{name} ansible_host={container(name)}" for name in logs["hosts"]]
    lines += ["", "[controllers:vars]", "ansible_connection=containers.podman.podman",
              "ansible_python_interpreter=/usr/bin/python3"]
    path.write_text("\n".join(lines) + "\n")
    return path


def playbook(inventory_path, report):
    """One trace as an operator runs it; its report."""
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
                       ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="0")
    result = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory_path),
         "openstack_ops.runbooks.trace_request", "-e", json.dumps({
             "trace_request_terms": log_corpus.FIRST_ROUND, "trace_request_timezone": "UTC",
             "trace_request_report_path": str(report)})],
        capture_output=True, text=True, env=environment, check=False)
    if result.returncode:
        raise RuntimeError(f"trace_request.yml failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return json.loads(report.read_text())


def seed_way(logs, rounds):
    """Each round's terms, one grep per host, host after host: the lines found (a set, as the operator reads them)."""
    found = set()
    for terms in rounds:
        pattern = " ".join(f"-e {shlex.quote(term)}" for term in terms)
        command = (f"cd /var/log/kolla/nova && LC_ALL=C grep -a -F -h {pattern} -- *.log *.log.[0-9]; "
                   f"gzip -dc -- *.gz | LC_ALL=C grep -a -F {pattern}; true")
        for name in logs["hosts"]:
            output = _podman("exec", container(name), "sh", "-c", command).stdout
            found.update((name, line) for line in output.splitlines())
    return found


def run(_lab):
    size = bench_log_search.megabytes()
    logs = log_corpus.corpus(size)
    state_dir = os.environ.get("OPS_LAB_DIR", str(REPO / ".lab"))
    rounds = [log_corpus.FIRST_ROUND, log_corpus.SECOND_ROUND]
    with tempfile.TemporaryDirectory(prefix="bench-trace-") as work:
        try:
            up(logs, state_dir)
            hosts = inventory(logs, work)
            report_path = pathlib.Path(work, "trace-request.json")

            def same(report, lines):
                assert sorted(report["searched"]) == sorted(log_corpus.FIRST_ROUND + log_corpus.SECOND_ROUND), \
                    report["searched"]
                assert report["complete"] and report["rounds"] == 2, (report["complete"], report["rounds"])
                # the planted boot was placed on ctl3 (one scheduler choice; the conductor's line is no second one)
                assert report["summary"]["selected_hosts"] == ["ctl3"], report["summary"]["selected_hosts"]
                assert report["summary"]["records"] == len(lines), \
                    f"trace: {report['summary']['records']} records, the greps: {len(lines)} lines"

            record = compare("trace_request_3_hosts", size, lambda: playbook(hosts, report_path),
                             "seed 001's way: the same terms, one grep per host, host after host (podman exec)",
                             lambda: seed_way(logs, rounds), runs=RUNS, check=same)
            report = json.loads(report_path.read_text())
        finally:
            down(logs)
    record.update(
        hosts=list(logs["hosts"]), content_bytes=logs["bytes"], disk_bytes=logs["disk_bytes"],
        connection="containers.podman.podman (ansible), podman exec (the greps)",
        rounds=report["rounds"], terms_per_round=[len(terms) for terms in rounds],
        records=report["summary"]["records"], selected_hosts=report["summary"]["selected_hosts"],
        ours_over_peer=round(record["ours_s"] / record["peer_s"], 2), load_avg_1m=round(os.getloadavg()[0], 2),
        # the last run's time inside log_search (its files' seconds, both rounds) per host: the rest is Ansible's
        module_search_s={host: round(sum(stats.get("seconds") or 0 for stats in files), 3)
                         for host, files in sorted(report["files"].items())})
    return [record]

"""log_search vs the floor `LC_ALL=C grep -F` over the same files, and the module's peak memory.

The logs: benchmarks/log_corpus.py's nova logs of three hosts in their real formats (nova-api, -scheduler,
-conductor, -compute; rotated and gzipped files), BENCH_LOG_MB MiB uncompressed (default 1024; BENCH_LOG_MB=64
for a quick run), written once into a cache directory outside the repository.

Ours: the module run as trace_request.yml runs it on a host, as its own process (`python -m` of the module with
its arguments file, the way AnsiballZ runs it, without Ansible's connection): the three hosts' log trees as its
roots, the first round's term (the instance UUID) and the second round's five ids. The floor: one
`LC_ALL=C grep -F` over every plain file and one `gzip -dc ... | LC_ALL=C grep -F` over the gzipped ones, the same
terms. Both must find the same number of lines. log_search_python: the module with use_grep=false.

Peak memory (log_search_peak_memory): the maximum RSS of the module's process and its grep/gzip children
(GNU time's %M), on the smallest plain file, on the largest one and on the whole corpus, with grep and without;
bounded means the same figure whatever the size.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from benchmarks import log_corpus
from benchmarks.harness import compare

NEEDS_LAB = False
COLLECTIONS = pathlib.Path(__file__).resolve().parents[1] / ".build" / "collections"
MODULE = "ansible_collections.openstack_ops.runbooks.plugins.modules.log_search"
TIME = "/usr/bin/time"   # GNU time (Debian's `time` package)
FLOOR = "LC_ALL=C grep -F over the plain files + gzip -dc | LC_ALL=C grep -F over the .gz"


def megabytes():
    return int(os.environ.get("BENCH_LOG_MB", "1024"))


def run_module(args, measure_memory=False):
    """The module as its own process: (its result, seconds, max RSS in KiB of it and its grep/gzip children).

    The memory through GNU time (`-f %M`): a small process forks the module, so the figure is the module's and
    its children's; the benchmark's own RSS at fork time would count in an os.wait4 of a child forked from here.
    """
    with tempfile.TemporaryDirectory(prefix="bench-log-search-") as work:
        arguments, output = pathlib.Path(work, "args.json"), pathlib.Path(work, "out.json")
        memory = pathlib.Path(work, "rss")
        arguments.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        environment = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
        argv = [sys.executable, "-m", MODULE, str(arguments)]
        if measure_memory:
            argv = [TIME, "-f", "%M", "-o", str(memory)] + argv
        started = time.perf_counter()
        with open(output, "wb") as stream:
            code = subprocess.run(argv, stdout=stream, env=environment, check=False).returncode
        seconds = time.perf_counter() - started
        result = json.loads(output.read_text())
        rss = int(memory.read_text().split()[-1]) if measure_memory else None
    if code or result.get("failed"):
        raise RuntimeError(f"log_search failed: {result.get('msg')}")
    return result, seconds, rss


def module_args(logs, terms, use_grep=True, paths=None):
    args = {"terms": terms, "timezone": "UTC", "host": "bench", "max_records": 2000, "use_grep": use_grep}
    if paths:
        args.update(roots=[], paths=paths)
    else:
        args.update(roots=list(logs["hosts"].values()), projects=["nova"])
    return args


def grep_floor(files, terms):
    """Lines with a term, the fastest way the shell has: one grep for the plain files, one pipeline for the .gz."""
    pattern = [arg for term in terms for arg in ("-e", term)]
    environment = dict(os.environ, LC_ALL="C")
    plain = [path for path in files if not path.endswith(".gz")]
    packed = [path for path in files if path.endswith(".gz")]
    found = 0
    if plain:
        found += len(subprocess.run(["grep", "-a", "-F", "-h", *pattern, "--", *plain], capture_output=True,
                                    env=environment, check=False).stdout.splitlines())
    if packed:
        with subprocess.Popen(["gzip", "-dc", "--", *packed], stdout=subprocess.PIPE) as source:
            found += len(subprocess.run(["grep", "-a", "-F", *pattern], stdin=source.stdout, capture_output=True,
                                        env=environment, check=False).stdout.splitlines())
            source.stdout.close()
    return found


def _same(result, lines):
    assert result["matched"] == lines, f"log_search matched {result['matched']} records, grep {lines} lines"


def search_records(logs, size, runs):
    records = []
    for name, terms, use_grep in (("log_search_grep", log_corpus.FIRST_ROUND, True),
                                  ("log_search_grep_5_terms", log_corpus.SECOND_ROUND, True),
                                  ("log_search_python", log_corpus.FIRST_ROUND, False)):
        print(f"  {name}", flush=True)
        args = module_args(logs, terms, use_grep)
        record = compare(name, size, lambda args=args: run_module(args)[0], FLOOR,
                         lambda terms=terms: grep_floor(logs["files"], terms), runs=runs, check=_same)
        record.update(terms=len(terms), files=len(logs["files"]), content_bytes=logs["bytes"],
                      disk_bytes=logs["disk_bytes"], ours_over_peer=round(record["ours_s"] / record["peer_s"], 2),
                      target="within 2x of the floor (ours_over_peer <= 2)" if use_grep else None,
                      load_avg_1m=round(os.getloadavg()[0], 2))
        if use_grep:
            record["target_met"] = record["ours_over_peer"] <= 2
        records.append(record)
    return records


def memory_record(logs, size):
    """Peak RSS of the module (and its grep/gzip) on files from the smallest to the whole corpus."""
    plain = sorted((path for path in logs["files"] if not path.endswith(".gz")), key=os.path.getsize)
    smallest, largest = plain[0], plain[-1]
    cases = []
    for label, paths in (("smallest file", [smallest]), ("largest file", [largest]), ("whole corpus", None)):
        for use_grep in (True, False):
            result, seconds, rss = run_module(module_args(logs, log_corpus.FIRST_ROUND, use_grep, paths), True)
            cases.append({"what": label, "file": os.path.relpath(paths[0], logs["root"]) if paths else None,
                          "bytes": os.path.getsize(paths[0]) if paths else logs["bytes"],
                          "method": "grep" if use_grep else "python", "max_rss_kib": rss,
                          "seconds": round(seconds, 3), "records": result["matched"]})
    with tempfile.NamedTemporaryFile(prefix="bench-grep-rss-") as memory:
        started = time.perf_counter()
        subprocess.run([TIME, "-f", "%M", "-o", memory.name, "grep", "-a", "-F", "-e", log_corpus.INSTANCE, largest],
                       stdout=subprocess.DEVNULL, env=dict(os.environ, LC_ALL="C"), check=False)
        grep_seconds = time.perf_counter() - started
        grep_rss = int(pathlib.Path(memory.name).read_text().split()[-1])
    on_largest = next(case for case in cases if case["what"] == "largest file" and case["method"] == "grep")
    return {
        "name": "log_search_peak_memory", "n": size, "runs": 1,
        "ours_s": on_largest["seconds"], "peer": "LC_ALL=C grep -F on the largest file", "peer_s": round(grep_seconds, 3),
        "ratio": round(grep_seconds / on_largest["seconds"], 2) if on_largest["seconds"] else None,
        "largest_file": on_largest["file"], "largest_file_bytes": on_largest["bytes"],
        "ours_max_rss_kib": on_largest["max_rss_kib"], "peer_max_rss_kib": grep_rss,
        "max_rss_spread_kib": max(case["max_rss_kib"] for case in cases) - min(case["max_rss_kib"] for case in cases),
        "cases": cases,
    }


def run(_lab):
    size = megabytes()
    logs = log_corpus.corpus(size)
    print(f"  {len(logs['files'])} files, {logs['bytes'] / 2**20:.0f} MiB of lines ({logs['disk_bytes'] / 2**20:.0f} MiB "
          f"on disk) in {logs['root']}", flush=True)
    for path in logs["files"]:   # into the page cache before the first timing, for ours and the floor alike
        with open(path, "rb") as stream:
            while stream.read(1 << 24):
                pass
    return search_records(logs, size, runs=3) + [memory_record(logs, size)]

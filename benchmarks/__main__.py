"""`make bench [BENCH=name]`: run the benchmarks (every benchmarks/bench_*.py) on the service lab.

Each module has run(lab) -> list of records; the records go to benchmarks/results.json. The lab is brought up
only when a chosen benchmark needs it (NEEDS_LAB, true unless the module says otherwise).
"""
import importlib
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / ".build" / "collections"))

# pylint: disable=wrong-import-position
from benchmarks import harness
from tests.lab import Lab


def benchmarks(selected):
    names = sorted(path.stem for path in pathlib.Path(__file__).parent.glob("bench_*.py"))
    unknown = set(selected) - set(names)
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; known: {names}")
    return [importlib.import_module(f"benchmarks.{name}") for name in names if not selected or name in selected]


def main(selected):
    chosen = benchmarks(selected)
    # a benchmark with NEEDS_LAB = False brings its own data (the log search's generated logs)
    lab = Lab() if any(getattr(bench, "NEEDS_LAB", True) for bench in chosen) else None
    owned = lab.up() if lab else False
    try:
        records = []
        for bench in chosen:
            print(f"benchmark {bench.__name__.split('.')[-1]}", flush=True)
            if getattr(bench, "NEEDS_LAB", True):
                lab.reset()
            records.extend(bench.run(lab))
        harness.write(records)
    finally:
        if owned:
            lab.down()
    for record in records:
        print(json.dumps({k: record[k] for k in ("name", "n", "ours_s", "peer", "peer_s", "ratio", "runs")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`make bench`: run every benchmark on the service lab and write benchmarks/results.json."""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / ".build" / "collections"))

# pylint: disable=wrong-import-position
from benchmarks import bench_queue_listing, harness
from tests.lab import Lab

BENCHMARKS = (bench_queue_listing,)


def main():
    lab = Lab()
    owned = lab.up()
    try:
        records = []
        for bench in BENCHMARKS:
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
    sys.exit(main())

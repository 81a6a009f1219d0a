"""Side-by-side timing: the collection's way and the peer's way, same data, medians, ratios."""
import json
import pathlib
import statistics
import time

RESULTS = pathlib.Path(__file__).with_name("results.json")


def median_seconds(action, runs):
    samples = []
    for _run in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), samples


def compare(name, n, ours, peer_name, peer, runs=5, check=None):
    """Time ours() `runs` times, then peer() `runs` times; return one record with medians and ratio.

    check(ours_result, peer_result) guards the comparison: both must have seen the same data.
    """
    if check is not None:
        check(ours(), peer())
    ours_s, ours_samples = median_seconds(ours, runs)
    peer_s, peer_samples = median_seconds(peer, runs)
    return {
        "name": name, "n": n, "runs": runs,
        "ours_s": round(ours_s, 6), "peer": peer_name, "peer_s": round(peer_s, 6),
        "ratio": round(peer_s / ours_s, 2) if ours_s else None,
        "ours_samples": [round(s, 6) for s in ours_samples],
        "peer_samples": [round(s, 6) for s in peer_samples],
    }


def write(records):
    """Replace the records of the benchmarks that ran, keep the others'."""
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    names = {record["name"] for record in records}
    merged = [r for r in existing if r["name"] not in names] + records
    RESULTS.write_text(json.dumps(merged, indent=2) + "\n")
    return merged

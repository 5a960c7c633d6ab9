#!/usr/bin/env python3
"""Maps over time: how long comparing two maps takes once they exist (two
saved snapshots), beside comparing two periods (their maps and stage-entry
cohorts computed on the spot), discovery, loyalty and the map itself.

    python3 bench/over_time.py STORE [--bin target/release/wayfarer] [--runs 5]

STORE is a demo store, e.g. `wayfarer demo --customers 20000 --data STORE`
(about 1M events). The script saves the snapshots it compares (the months of
July and August 2026, replacing any of the same names), then times each
command as a whole process after one warm-up: median wall time and peak
memory (the process's own accounting, wait4).
"""

import argparse
import statistics
import sys

from explore import once  # one process, timed with its own accounting (wait4)

CASES = [
    ("map (all customers, JSON)", ["map", "--json"]),
    ("compare two snapshots", ["map", "--compare", "bench-2026-07", "--vs", "bench-2026-08", "--json"]),
    ("compare two periods", ["map", "--compare", "2026-07-01..2026-08-01", "--vs", "2026-08-01..2026-09-01", "--json"]),
    ("discovery", ["discovery", "--json"]),
    ("loyalty", ["loyalty", "--json"]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--bin", default="target/release/wayfarer")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    for name, frm, to in [("bench-2026-07", "2026-07-01", "2026-08-01"), ("bench-2026-08", "2026-08-01", "2026-09-01")]:
        snap = [a.bin, "map", "snapshot", "--data", a.store, "--name", name, "--from", frm, "--to", to, "--replace", "--quiet"]
        wall, _ = once(snap)
        print(f"  saved {name} in {wall:.2f} s", file=sys.stderr)
    results = {}
    for name, args in CASES:
        cmd = [a.bin, *args, "--data", a.store, "--quiet"]
        once(cmd)
        runs = [once(cmd) for _ in range(a.runs)]
        results[name] = (statistics.median(w for w, _ in runs), max(m for _, m in runs))
        print(f"  {name}: {results[name][0]:.3f} s", file=sys.stderr)
    print(f"| command | wall (median of {a.runs}) | peak MB |")
    print("|---|---|---|")
    for name, _ in CASES:
        wall, mem = results[name]
        print(f"| {name} | {wall:.3f} s | {mem:.0f} |")


if __name__ == "__main__":
    main()

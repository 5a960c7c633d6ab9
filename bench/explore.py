#!/usr/bin/env python3
"""Exploration speed: the transition graph, the step matrix, pattern matches
and a funnel's paths against `wayfarer paths` (and the plain funnel) on the
same store, as ratios in one run.

    python3 bench/explore.py STORE [--bin target/release/wayfarer] [--runs 3]

Each command runs as a whole process after one warm-up; the median wall
time and the peak memory (the process's own accounting, wait4) are
reported, with each command's ratio to its baseline. Make the store with,
e.g.:

    wayfarer simulate --clickstream --events 10M --bench /tmp/cs10m.parquet
    wayfarer import --data /tmp/cs10m /tmp/cs10m.parquet
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

PATTERN = "'Product Added' -> 'Checkout Started' -> [^Order Completed]* -> $"
FUNNEL = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]

CASES = [
    # (name, args, baseline name)
    ("paths", ["paths", "--json"], None),
    ("graph", ["paths", "--graph", "--json"], "paths"),
    ("step matrix", ["paths", "--step-matrix", "--json"], "paths"),
    ("step matrix, anchored", ["paths", "--step-matrix", "--anchor", "Product Added", "--json"], "paths"),
    ("match", ["paths", "--match", PATTERN, "--json"], "paths"),
    ("funnel", ["funnel", *FUNNEL, "--json"], None),
    ("funnel --after-drop 2", ["funnel", *FUNNEL, "--after-drop", "2", "--json"], "funnel"),
]


def once(cmd):
    started = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - started
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed: {err.strip()}")
    return wall, usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--bin", default="target/release/wayfarer")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    results = {}
    for name, args, _ in CASES:
        cmd = [a.bin, *args, "--data", a.store, "--quiet"]
        once(cmd)
        runs = [once(cmd) for _ in range(a.runs)]
        results[name] = (statistics.median(w for w, _ in runs), max(m for _, m in runs))
        print(f"  {name}: {results[name][0]:.2f} s", file=sys.stderr)
    print(f"| command | wall (median of {a.runs}) | peak MB | ratio to its baseline |")
    print("|---|---|---|---|")
    for name, _, base in CASES:
        wall, mem = results[name]
        ratio = f"{wall / results[base][0]:.2f}× {base}" if base else "baseline"
        print(f"| {name} | {wall:.2f} s | {mem:.0f} | {ratio} |")


if __name__ == "__main__":
    main()

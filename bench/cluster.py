"""Wayfarer on a Ballista cluster, on one machine: the overhead of the cluster.

Usage: python3 bench/cluster.py STORE [--runs N] [--out FILE]

STORE is a data directory already imported (e.g. the 10M clickstream:
`wayfarer simulate --clickstream --events 10M --bench cs.parquet` then
`wayfarer import --data STORE cs.parquet`). Needs a release build with the
`distributed` feature (cargo build --release --features distributed).

Runs Q1 (4-step funnel, 7-day window), Q2 (paths: consecutive-event
transitions) and the journey map (`map --json`) three ways, each in a fresh
process, N times (median wall time):

  embedded    the ordinary run, no cluster
  1 executor  a scheduler and one executor with 2 task slots
  2 executors a scheduler and two executors with 1 task slot each

The machine's cores are the same in all three: the point is what the
cluster costs (planning, scanning Parquet through DataFusion instead of the
hot files, shuffling rows, replaying the command on executors), not a
speed-up. Every answer must equal the embedded one, or the run fails.
"""

import argparse
import datetime
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAYFARER = ROOT / "target" / "release" / "wayfarer"
RESULTS = ROOT / "bench" / "results"
QUERIES = {
    "Q1 funnel": ["funnel", "Product Viewed", "Product Added", "Checkout Started", "Order Completed", "--window", "7d"],
    "Q2 paths": ["paths"],
    "map": ["map"],
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and executors; stop() kills them all."""

    def __init__(self, root, slots):
        self.tmp = tempfile.TemporaryDirectory()
        self.procs = []
        port = free_port()
        self.url = f"df://127.0.0.1:{port}"
        self.log = Path(self.tmp.name) / "scheduler.log"
        self.spawn(["cluster", "scheduler", "--bind", f"127.0.0.1:{port}"], self.log)
        for i, n in enumerate(slots):
            work = Path(self.tmp.name) / f"work-{i}"
            work.mkdir()
            self.spawn(["cluster", "executor", "--scheduler", self.url, "--port", str(free_port()),
                        "--grpc-port", str(free_port()), "--concurrent-tasks", str(n), "--work-dir", str(work),
                        "--data-root", str(root)], Path(self.tmp.name) / f"executor-{i}.log")
        want = f"executors: {len(slots)} registered"
        deadline = time.time() + 60
        while want not in self.log.read_text():
            if time.time() > deadline:
                self.stop()
                sys.exit(f"the executors did not register:\n{self.log.read_text()}")
            time.sleep(0.1)

    def spawn(self, args, log):
        f = open(log, "w")
        self.procs.append(subprocess.Popen([str(WAYFARER), *args], stdout=f, stderr=f))

    def stop(self):
        for p in self.procs:
            p.kill()
            p.wait()
        self.tmp.cleanup()


def timed(cmd):
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()
    store = Path(a.store).resolve()
    if not WAYFARER.exists():
        sys.exit("build first: cargo build --release --features distributed")
    setups = [("embedded", None), ("1 executor (2 slots)", [2]), ("2 executors (1 slot each)", [1, 1])]
    times = {q: {} for q in QUERIES}
    answers = {}
    for name, slots in setups:
        cluster = Cluster(store.parent, slots) if slots else None
        try:
            for q, args in QUERIES.items():
                cmd = [str(WAYFARER), *args, "--data", str(store), "--json", "--quiet"]
                if cluster:
                    cmd += ["--cluster", cluster.url]
                runs = []
                for _ in range(a.runs):
                    t, out = timed(cmd)
                    runs.append(t)
                    if q not in answers:
                        answers[q] = out
                    elif out != answers[q]:
                        sys.exit(f"{q} on {name}: the answer differs from the embedded run's")
                times[q][name] = statistics.median(runs)
                print(f"{q:10} {name:28} {times[q][name]:7.2f} s", flush=True)
        finally:
            if cluster:
                cluster.stop()
    events = subprocess.run([str(WAYFARER), "sessions", "--data", str(store), "--json", "--quiet"],
                            check=True, capture_output=True, text=True).stdout
    import json
    n = json.loads(events)["events"]
    lines = [
        f"# Wayfarer on a Ballista cluster, one machine ({datetime.datetime.now():%Y-%m-%d %H:%M})",
        "",
        f"Store: {store.name}, {n:,} events. Machine: {os.cpu_count()} cores, {platform.machine()}. "
        f"Median of {a.runs} runs, each a fresh process; every answer equal to the embedded run's.",
        "",
        "| query | " + " | ".join(s for s, _ in setups) + " | 1 executor ÷ embedded | 2 executors ÷ 1 executor |",
        "|---|" + "---:|" * (len(setups) + 2),
    ]
    for q in QUERIES:
        t = [times[q][s] for s, _ in setups]
        lines.append(f"| {q} | " + " | ".join(f"{x:.2f} s" for x in t) + f" | {t[1] / t[0]:.1f}× | {t[2] / t[1]:.2f}× |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(a.out) if a.out else RESULTS / f"{datetime.datetime.now():%Y-%m-%d-%H%M}-cluster-10M.md"
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

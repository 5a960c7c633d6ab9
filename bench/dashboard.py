"""Dashboard page times on the 1M-event demo: every page and export, first
request (cold: nothing cached since the server started) and the median and
worst of the next requests (warm), as the server reports them in its
`Server-Timing` header (time spent on the server, not on the network).
Writes bench/results/dashboard-<date>.md and dashboard-latest.md.

`--data DIR` times the same pages on a data directory of your own (for
example the 100M clickstream: `wayfarer simulate --clickstream --events 100M
--bench FILE`, then `wayfarer import --data DIR FILE`); the persona page
then shows the store's first persona, and the results go to
bench/results/dashboard-<label>-<date>.md (dashboard-latest.md stays the
demo's)."""

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "wayfarer")
DATA = os.path.join(ROOT, "bench", "data", "dashboard-demo")
WARM = 5

PAGES = [
    ("Journey map", "/"),
    ("Journey map, one persona", "/?persona=Deal+hunters"),
    ("Journey map, a date range", "/?from=2026-07-01&to=2026-09-01"),
    ("Journey map, a segment", "/?segment=first_channel%3APaid+Search"),
    ("Journey map, a cell's detail", "/?cell=Decision%7Cpain"),
    ("Funnels (empty builder)", "/funnels"),
    ("Funnel, 4 steps, weekly trend", "/funnels?step=Product+Viewed&step=Product+Added&step=Checkout+Started&step=Order+Completed&trend=week"),
    ("Funnel with breakdown", "/funnels?step=Product+Viewed&step=Order+Completed&breakdown=first_channel"),
    ("Paths (Sankey)", "/paths?from-event=Product+Viewed"),
    ("Retention", "/retention"),
    ("Attribution", "/attribution"),
    ("Lifetime value", "/clv"),
    ("Personas", "/personas"),
    ("Surveys", "/surveys"),
    ("Customers: search", "/customers?q=u-1"),
    ("Settings", "/settings"),
    ("Export: map PNG", "/export?format=png"),
    ("Export: map XLSX (all personas)", "/export?format=xlsx"),
    ("Export: funnel chart PNG", "/funnels/export?step=Product+Viewed&step=Order+Completed&format=png&chart=funnel"),
]


def run(*args):
    return subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="an existing data directory instead of the 1M-event demo")
    ap.add_argument("--label", default="own", help="names the results file of a --data run")
    args = ap.parse_args()
    own = args.data is not None
    data = os.path.abspath(args.data) if own else DATA
    pages = list(PAGES)
    if not own and not os.path.exists(os.path.join(DATA, "manifest.json")):
        print("building the 1M-event demo data …", file=sys.stderr)
        os.makedirs(DATA, exist_ok=True)
        run("demo", "--customers", "20000", "--seed", "42", "--quiet", "--data", DATA, "--out", os.path.join(DATA, "report.html"))
    events = int(re.search(r'"events_total":\s*(\d+)', open(os.path.join(data, "manifest.json")).read()).group(1))
    token = run("keys", "create", "--read", "--name", "bench-dashboard", "--quiet", "--data", data).strip()
    # --no-warm: the first request computes the page, so "cold" is the real compute time
    # (a default server computes the main pages in the background at start-up and after new data).
    server = subprocess.Popen([BIN, "serve", "--no-warm", "--bind", "127.0.0.1:0", "--data", data], stderr=subprocess.PIPE, text=True)
    try:
        addr = None
        for line in server.stderr:
            m = re.search(r"on http://(\S+)", line)
            if m:
                addr = m.group(1)
                break
        base = f"http://{addr}"

        def get(path):
            req = urllib.request.Request(base + path, headers={"Cookie": f"wayfarer_token={token}"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req) as r:
                r.read()
                timing = r.headers.get("server-timing", "")
            wall = (time.perf_counter() - t0) * 1000
            server_ms = float(re.search(r"dur=([\d.]+)", timing).group(1))
            return server_ms, wall

        def persona():
            # The store's own first persona (the demo's names are the demo's).
            req = urllib.request.Request(base + "/api/personas", headers={"Cookie": f"wayfarer_token={token}"})
            with urllib.request.urlopen(req) as r:
                found = re.search(r'"name":\s*"((?:[^"\\]|\\.)*)"', r.read().decode())
            return json.loads(f'"{found.group(1)}"') if found else None

        rows = []
        for name, path in pages:
            if own and path.startswith("/?persona="):
                chosen = persona()
                if chosen is None:
                    continue
                path = "/?" + urllib.parse.urlencode({"persona": chosen})
            cold = get(path)[0]
            warm = [get(path)[0] for _ in range(WARM)]
            rows.append((name, path, cold, statistics.median(warm), max(warm)))
            print(f"{name:40} cold {cold:8.1f} ms   warm median {statistics.median(warm):7.1f} ms   max {max(warm):7.1f} ms", file=sys.stderr)
        # The server's peak resident memory over all the pages (Linux).
        peak_mb = None
        try:
            for line in open(f"/proc/{server.pid}/status"):
                if line.startswith("VmHWM:"):
                    peak_mb = int(line.split()[1]) / 1024
        except OSError:
            pass
    finally:
        server.terminate()
        server.wait()
        run("keys", "revoke", "bench-dashboard", "--data", data)

    now = datetime.datetime.now(datetime.timezone.utc)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    described = (
        f"Data: {events:,} events (`{data}`, {args.label})"
        if own
        else f"Demo data: {events:,} events (20,000 customers, `wayfarer demo --customers 20000 --seed 42`)"
    )
    lines = [
        f"# Dashboard page times — {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"{described}; release build; "
        f"{os.cpu_count()} cores ({cpu}). Server time from the `Server-Timing` header: the request's time in the "
        f"server, from the session check to the last byte of the answer. *Cold* is the first request after the server "
        f"started with `--no-warm` (nothing cached: the time to compute the page); *warm* the median and worst of the "
        f"next {WARM}. By default `wayfarer serve` computes the home page and the model pages in the background at "
        f"start-up and again after new data is committed (at most every 10 s), showing the previous answer meanwhile, "
        f"so visitors get the warm times.",
        "",
        "| page | path | cold ms | warm median ms | warm max ms |",
        "|---|---|---:|---:|---:|",
    ]
    for name, path, cold, med, mx in rows:
        lines.append(f"| {name} | `{path}` | {cold:.1f} | {med:.1f} | {mx:.1f} |")
    if peak_mb is not None:
        lines += ["", f"The server's peak resident memory over these requests: {peak_mb:,.0f} MB."]
    over = [r for r in rows if r[3] >= 300]
    cold_over = [r for r in rows if r[2] >= 300]
    lines += [
        "",
        f"Warm pages and exports at or over 300 ms: {len(over)} of {len(rows)}"
        + (f" ({', '.join(r[0] for r in over)})" if over else "")
        + f". Cold at or over 300 ms: {len(cold_over)} ({', '.join(r[0] for r in cold_over)}).",
    ]
    text = "\n".join(lines) + "\n"
    out = os.path.join(ROOT, "bench", "results")
    stem = f"dashboard-{args.label}" if own else "dashboard"
    with open(os.path.join(out, f"{stem}-{now:%Y-%m-%d-%H%M}.md"), "w") as f:
        f.write(text)
    if not own:
        with open(os.path.join(out, "dashboard-latest.md"), "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()

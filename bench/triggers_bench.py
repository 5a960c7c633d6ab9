#!/usr/bin/env python3
"""Triggers at scale: the cost of evaluating 20 triggers over a store, what
recording their actions in the outbox costs, and webhook delivery
throughput to a local receiver.

    cargo build --release
    python3 bench/triggers_bench.py STORE

STORE is a scratch store (the script writes DIR/triggers.toml and the
outbox), e.g. `wayfarer simulate --clickstream --events 23M --bench f.parquet`
imported with `wayfarer import`. Prints a Markdown table.
"""
import http.server, json, subprocess, sys, threading, time
from pathlib import Path

store = Path(sys.argv[1])
wayfarer = Path(__file__).resolve().parent.parent / "target/release/wayfarer"
manifest = json.loads((store / "manifest.json").read_text())
events = [e for e in manifest["event_names"] if e][:12]


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/hook"

triggers = []
for i, e in enumerate(events):
    nxt = events[(i + 1) % len(events)]
    triggers.append(f'[[trigger]]\nname = "after {e}"\nwhen = "event {e}"\nwait = "1h"\nunless = "{nxt}"\n'
                    f'holdout = 0.1\ngoal = "{nxt}"\ngoal_within = "7d"\n')
for i, (a, b) in enumerate(zip(events, events[1:])):
    if len(triggers) >= 16:
        break
    triggers.append(f'[[trigger]]\nname = "{a} then {b}"\nwhen = "event \'{a}\' -> \'{b}\' within 1d"\nholdout = 0.2\n')
for s in ["Consideration", "Decision", "Purchase", "Retention"]:
    triggers.append(f'[[trigger]]\nname = "entered {s}"\nwhen = "enters stage \'{s}\'"\nif = "events >= 3"\n')
triggers = triggers[:20]
# One trigger acts at once and delivers webhooks (the rest wait, or record
# actions without one).
triggers[0] = f'[[trigger]]\nname = "on {events[0]}"\nwhen = "event {events[0]}"\nholdout = 0.1\nlimit = "1m"\n'
triggers[0] += f'[trigger.webhook]\nurl = "{url}"\nsecret = "a-long-random-signing-secret"\nbackoff = "0s"\n'
(store / "triggers.toml").write_text("\n".join(triggers))


def timed(*args):
    t = time.time()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", str(wayfarer), *args, "--data", str(store)], check=True,
                         capture_output=True, text=True)
    return time.time() - t, int(out.stderr.strip().splitlines()[-1]) / 1024, json.loads(out.stdout)


rows = []
# First evaluation: the triggers start now (nothing in the past acts), and
# every customer is decided once.
secs, rss, r = timed("triggers", "run", "--json")
rows.append(("first evaluation (every customer, triggers start)", sum(x["occurrences"] for x in r["triggers"]),
             sum(x["recorded"] for x in r["triggers"]), secs, rss))

# A commit of new events for existing customers, then the live evaluation.
subprocess.run([str(wayfarer), "segments", "create", "bench active", "--where", "events >= 30", "--replace", "--data",
                str(store)], capture_output=True, text=True, check=True)
customers = [m["customer_id"] for m in json.loads(subprocess.run(
    [str(wayfarer), "segments", "members", "bench active", "--json", "--data", str(store)],
    capture_output=True, text=True, check=True).stdout)]
subprocess.run([str(wayfarer), "segments", "delete", "bench active", "--data", str(store)], capture_output=True)


def commit(n, event):
    import random
    rng = random.Random(n)
    clock = time.time() + 1
    path = store.parent / f"commit-{n}.ndjson"
    with open(path, "w") as f:
        for i in range(n):
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(clock + i * 0.001)) + f".{i % 1000:03d}Z"
            f.write(json.dumps({"type": "track", "userId": rng.choice(customers), "event": event,
                                "timestamp": ts, "messageId": f"tb-{n}-{i}-{clock}"}) + "\n")
    subprocess.run([str(wayfarer), "import", "--data", str(store), str(path), "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    path.unlink()


for n in [1000, 10000]:
    commit(n, events[0])
    secs, rss, r = timed("triggers", "run", "--json")
    rows.append((f"after a commit of {n:,} events (incremental)", sum(x["occurrences"] for x in r["triggers"]),
                 sum(x["recorded"] for x in r["triggers"]), secs, rss))

pending = sum(1 for a in json.loads(subprocess.run([str(wayfarer), "actions", "log", "--state", "pending", "--json",
                                                    "--data", str(store)], capture_output=True, text=True,
                                                   check=True).stdout))
secs, rss, d = timed("actions", "deliver", "--json")
rows.append((f"deliver {pending:,} webhooks to a local receiver", pending, d["delivered"], secs, rss))
size = (store / "outbox" / "actions.ndjson").stat().st_size

print(f"store {store} · {len(triggers)} triggers · outbox {size / 1e6:.1f} MB\n")
print("| step | occurrences / due | recorded / delivered | seconds | peak RSS MB |")
print("|---|---:|---:|---:|---:|")
for what, a, b, s, m in rows:
    print(f"| {what} | {a:,} | {b:,} | {s:.2f} | {m:.0f} |")

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
# One trigger delivers webhooks (the rest record actions without one).
triggers[0] += f'[trigger.webhook]\nurl = "{url}"\nsecret = "a-long-random-signing-secret"\nbackoff = "0s"\n'
(store / "triggers.toml").write_text("\n".join(triggers))


def timed(*args):
    t = time.time()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", str(wayfarer), *args, "--data", str(store)], check=True,
                         capture_output=True, text=True)
    return time.time() - t, int(out.stderr.strip().splitlines()[-1]) / 1024, json.loads(out.stdout)


rows = []
secs, rss, r = timed("triggers", "run", "--since", "2000-01-01", "--json")
recorded = sum(x["recorded"] for x in r["triggers"])
occurrences = sum(x["occurrences"] for x in r["triggers"])
rows.append(("first run: evaluate and record (back-fill)", occurrences, recorded, secs, rss))
secs, rss, r = timed("triggers", "run", "--since", "2000-01-01", "--json")
rows.append(("second run: evaluate, nothing new", sum(x["occurrences"] for x in r["triggers"]),
             sum(x["recorded"] for x in r["triggers"]), secs, rss))
pending = sum(1 for a in json.loads(subprocess.run([str(wayfarer), "actions", "log", "--state", "pending", "--json",
                                                    "--data", str(store)], capture_output=True, text=True,
                                                   check=True).stdout))
secs, rss, d = timed("actions", "deliver", "--json")
rows.append((f"deliver {pending:,} webhooks to a local receiver", pending, d["delivered"], secs, rss))
size = (store / "outbox" / "actions.ndjson").stat().st_size

print(f"store {store} · {len(triggers)} triggers · outbox {size / 1e6:.0f} MB\n")
print("| step | occurrences / due | recorded / delivered | seconds | peak RSS MB | per second |")
print("|---|---:|---:|---:|---:|---:|")
for what, a, b, s, m in rows:
    print(f"| {what} | {a:,} | {b:,} | {s:.2f} | {m:.0f} | {b / s:,.0f} |")

#!/usr/bin/env python3
"""The cost of keeping 50 segments live: what a commit of new events costs
the membership refresh, incrementally and in full.

    cargo build --release
    python3 bench/segments_commit.py STORE [--events-per-commit 1000,10000,100000]

STORE is an imported store (e.g. made by `wayfarer simulate --clickstream
--events 23M --bench f.parquet` and `wayfarer import`); the script COPIES
NOTHING: it adds segments and events to STORE, so use a scratch copy.

Steps: save 50 segments that read only each customer's own events (did E for
30 event names, did E >= 3 for 10, stage >= S, favourite_channel = C), run
`wayfarer segments refresh` once (every customer decided), then for each
commit size import that many new events for existing customers (a Segment
NDJSON file) and time `segments refresh` (incremental). Last, one segment
with a recency window (`within 30d`) makes the next refresh decide everyone:
the cost without incrementality on the same store. Prints a Markdown table.
"""
import json, random, subprocess, sys, tempfile, time
from pathlib import Path

store = Path(sys.argv[1])
sizes = [1000, 10000, 100000]
if "--events-per-commit" in sys.argv:
    sizes = [int(x) for x in sys.argv[sys.argv.index("--events-per-commit") + 1].split(",")]
wayfarer = Path(__file__).resolve().parent.parent / "target/release/wayfarer"


def run(*args, parse=True):
    out = subprocess.run([str(wayfarer), *args, "--data", str(store)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout) if parse else out.stdout


def timed(*args):
    """Wall time and peak RSS (MB) of one command, with its JSON."""
    t = time.time()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", str(wayfarer), *args, "--data", str(store)], check=True,
                         capture_output=True, text=True)
    return time.time() - t, int(out.stderr.strip().splitlines()[-1]) / 1024, json.loads(out.stdout)


# Event names and channels the data holds (the manifest's dictionaries).
manifest = json.loads((store / "manifest.json").read_text())
event_names = [e for e in manifest["event_names"] if e][:30]
channels = [c for c in manifest["channels"] if c and c != "(none)"][:5]
stages = ["Consideration", "Decision", "Purchase", "Retention", "Advocacy"]

existing = {s["name"] for s in run("segments", "list", "--json")}
conditions = []
for e in event_names:
    conditions.append((f"did {e[:40]}", f"did '{e}'"))
for e in event_names[:10]:
    conditions.append((f"did {e[:40]} 3x", f"did '{e}' >= 3"))
for s in stages:
    conditions.append((f"reached {s}", f"stage >= '{s}'"))
for c in channels:
    conditions.append((f"favourite {c}", f"favourite_channel = '{c}'"))
conditions = conditions[:50]
for name, cond in conditions:
    safe = "".join(ch if ch.isalnum() or ch in " -_." else " " for ch in name).strip()
    if safe not in existing:
        run("segments", "create", safe, "--where", cond, "--json")

rows = []
secs, rss, r = timed("segments", "refresh", "--json")
rows.append(("first refresh (every customer)", "–", r["decided"], secs, rss, r["entered"], r["left"]))

# Existing customers to add events to: members of the broadest segment.
broad = max(run("segments", "list", "--json"), key=lambda s: s["customers"])["name"]
ids = [m["customer_id"] for m in run("segments", "members", broad, "--json")]
rng = random.Random(7)
clock = time.time()
for n in sizes:
    with tempfile.NamedTemporaryFile("w", suffix=".ndjson", delete=False) as f:
        for i in range(n):
            who = rng.choice(ids)
            clock += 0.001
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(clock)) + f".{int(clock * 1000) % 1000:03d}Z"
            f.write(json.dumps({"type": "track", "userId": who, "anonymousId": who, "event": rng.choice(event_names[:10]),
                                "timestamp": ts, "messageId": f"bench-{n}-{i}-{clock}"}) + "\n")
        path = f.name
    subprocess.run([str(wayfarer), "import", "--data", str(store), path, "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    Path(path).unlink()
    secs, rss, r = timed("segments", "refresh", "--json")
    assert r["incremental"], r
    rows.append((f"commit of {n:,} events", f"{n:,}", r["decided"], secs, rss, r["entered"], r["left"]))

run("segments", "create", "recent buyers", "--where", f"did '{event_names[0]}' within 30d", "--json")
secs, rss, r = timed("segments", "refresh", "--json")
rows.append(("definitions changed (every customer)", "–", r["decided"], secs, rss, r["entered"], r["left"]))

print(f"store {store} · {len(conditions)} segments\n")
print("| refresh | new events | customers decided | seconds | peak RSS MB | entered | left |")
print("|---|---:|---:|---:|---:|---:|---:|")
for what, n, decided, secs, rss, ent, left in rows:
    print(f"| {what} | {n} | {decided:,} | {secs:.2f} | {rss:.0f} | {ent:,} | {left:,} |")

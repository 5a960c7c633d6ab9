"""Wayfarer benchmark driver (run it through bench/run).

Generates the synthetic company at each size, writes its interaction events
as one Parquet file (event_id, customer_id, timestamp, event, revenue; the
identities already resolved), imports that file into a Wayfarer store, then
runs four journey queries on every engine:

  Q1  4-step funnel, 7-day window, ClickHouse windowFunnel default mode
      (Product Viewed -> Product Added -> Checkout Started -> Order Completed);
      answer: customers per furthest level, every customer counted.
  Q2  consecutive-event transitions over each customer's timeline (ties by
      event_id, i.e. file order); answer: count per (from, to).
  Q3  weekly cohort retention over 12 weeks: cohort = ISO week (Monday, UTC)
      of the first event; answer: customers active in week offsets 0..12.
  Q4  per-customer RFM summary over 'Order Completed': frequency = distinct
      purchase days - 1, recency = last - first purchase day, T = data end day
      - first purchase day, mean order value; answer: count and column sums.

  Q5  the journey map (`wayfarer map --json`, every lane, personas
      discovered), Wayfarer only: cold = the first map after an import (the
      saved persona fit removed before each run), warm = the next ones.
  IMP import of the Parquet file into a fresh store, Wayfarer only, with
      the events per second (each run starts with the page cache emptied,
      where the benchmark runs as root, and the file read back into it).
  IMPS the same events again under new event ids (the same customers' next
      events, events-more.parquet, made once) imported into a copy of the
      store that holds the first ones (copied before the timing), as an
      import into a store that already holds events.

Two shapes of data (--shapes): `company`, the synthetic company of the demo,
and `clickstream`, a heavy-tailed e-commerce clickstream (wayfarer simulate
--clickstream: Pareto sessions per customer, the heaviest with tens of
thousands of events, a Markov chain over 30 Segment e-commerce names, 8
channels, rows shuffled, many equal timestamps).

Wayfarer runs as the real CLI on its store (data already imported), a fresh
process per query, and as wayfarer-serve, its best mode: a running `wayfarer
serve` answering the query API over HTTP (each request opens the store and
computes its answer; the server keeps no answers). DuckDB, chdb and Polars
read the Parquet file, and duckdb-mem and chdb-mem (the peers' best mode)
query a table they loaded into memory before the timing. The targets table
holds Wayfarer's faster mode against the fastest peer in any mode. After the journey queries come the
model benchmarks M1 (BG/NBD + Gamma-Gamma on 1M customers, against
lifetimes) and M2 (Markov order-2 attribution on 1M paths, against
ChannelAttribution); see bench/models.py (`--no-models` skips them).
 Each (engine, query) runs in a fresh
process, REPS times; the table shows the median wall time, the peak resident
memory of that process, and each peer's time as a multiple of Wayfarer's.
All engines must return the same answers, or the run fails.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAYFARER = ROOT / "target" / "release" / "wayfarer"
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"
STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
WEEK_OFFSETS = 12
SIZES = {"1M": 1_000_000, "10M": 10_000_000, "50M": 50_000_000}
QUERIES = ["Q1", "Q2", "Q3", "Q4"]
WAYFARER_ONLY = ["Q5", "Q5w", "IMP", "IMPS"]
IMPORTS = ["IMP", "IMPS"]
SHAPES = ["company", "clickstream"]
ENGINES = ["wayfarer", "wayfarer-serve", "duckdb", "duckdb-mem", "chdb", "chdb-mem", "polars"]
# Each engine's best mode: the one held up against the targets.
BEST = {"wayfarer": ["wayfarer", "wayfarer-serve"], "peers": ["duckdb-mem", "chdb-mem", "polars"]}

sys.path.insert(0, str(Path(__file__).resolve().parent))
import models  # noqa: E402


# ----------------------------------------------------------------- data

def import_store(src, store):
    subprocess.run([str(WAYFARER), "import", "--data", str(store), str(src), "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)


def data_label(shape, size):
    return size if shape == "company" else f"{shape}-{size}"


def ensure_data(label, shape="company", size=None):
    size = size or label
    d = DATA / label
    d.mkdir(parents=True, exist_ok=True)
    parquet = d / "events.parquet"
    store = d / "store"
    if not parquet.exists():
        print(f"[{label}] generating the {shape} ...", flush=True)
        extra = ["--clickstream", "--days", "365"] if shape == "clickstream" else []
        subprocess.run([str(WAYFARER), "simulate", "--events", size, *extra, "--bench", str(parquet), "--quiet"],
                       check=True)
    if not (store / "manifest.json").exists():
        print(f"[{label}] importing into Wayfarer ...", flush=True)
        t = time.time()
        subprocess.run([str(WAYFARER), "import", "--data", str(store), str(parquet), "--quiet"], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"[{label}] imported in {time.time() - t:.1f}s", flush=True)
    config = store / "wayfarer.toml"
    if not config.exists():
        subprocess.run([str(WAYFARER), "config", "init", "--data", str(store)], check=True, stdout=subprocess.DEVNULL)
        # Every event counts as activity, as in the peers' SQL.
        text = config.read_text()
        lines = [("passive_events = []" if l.startswith("passive_events") else l) for l in text.splitlines()]
        config.write_text("\n".join(lines) + "\n")
    return parquet, store


# --------------------------------------------------------------- answers

def norm_q1(levels):
    return [int(x) for x in levels]


def norm_q2(rows):
    return {f"{a}\u2192{b}": int(n) for a, b, n in rows}


def norm_q3(rows):
    return {f"{c}+{int(o)}": int(n) for c, o, n in rows if int(n) > 0 and 0 <= int(o) <= WEEK_OFFSETS}


def norm_q4(row):
    n, f, rec, t, mov = row
    return [int(n), int(f), int(rec), int(t), round(float(mov), 4)]


# ---------------------------------------------------------------- engines

def more_events(parquet):
    """The events of `parquet` again with event ids past its largest (made
    once, beside it): the same customers' next events."""
    import polars as pl
    more = parquet.parent / "events-more.parquet"
    if not more.exists():
        lf = pl.scan_parquet(parquet)
        top = lf.select(pl.col("event_id").max()).collect().item()
        lf.with_columns(pl.col("event_id") + (top + 1)).sink_parquet(more)
    return more


class Import:
    """One timed import (IMP, IMPS): `prepare` (not timed) makes the target
    directory, a copy of the store for IMPS; the call imports and cleans up."""

    def __init__(self, store, into):
        self.store = Path(store)
        parquet = self.store.parent / "events.parquet"
        self.input_file = more_events(parquet) if into else parquet
        self.into = into
        self.tmp = None

    def prepare(self):
        import shutil
        import tempfile
        self.tmp = Path(tempfile.mkdtemp(dir=self.store.parent))
        if self.into:
            shutil.copytree(self.store, self.tmp / "s")

    def __call__(self):
        import shutil
        try:
            out = subprocess.run([str(WAYFARER), "import", "--data", str(self.tmp / "s"), str(self.input_file), "--json",
                                  "--quiet"], check=True, capture_output=True, text=True).stdout
            return json.loads(out)["accepted"]
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def wayfarer_query(q, store):
    base = [str(WAYFARER)]
    if q in ("Q5", "Q5w"):
        cmd = base + ["map", "--data", str(store), "--json", "--quiet"]
        cache = Path(store) / "cache"

        def run_map():
            if q == "Q5":
                for f in cache.glob("personas-*.json"):
                    f.unlink()
            j = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            return [s["customers"] for s in j["stages"]]
        if q == "Q5w":
            run_map()  # the warm runs follow one that saved the fit
        return run_map
    if q in IMPORTS:
        return Import(store, into=q == "IMPS")
    if q == "Q1":
        args = ["funnel", *STEPS, "--window", "7d"]
    elif q == "Q2":
        args = ["paths"]
    elif q == "Q3":
        args = ["retention", "--period", "week", "--periods", str(WEEK_OFFSETS)]
    else:
        args = ["rfm"]
    cmd = base + args + ["--data", str(store), "--json", "--quiet"]

    def run():
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        return norm_wayfarer(q, json.loads(out))
    return run


def norm_wayfarer(q, j):
    """The answer in Wayfarer's JSON (the CLI's and the query API's are the same)."""
    if q == "Q1":
        return norm_q1(j["level_counts"])
    if q == "Q2":
        return norm_q2([(t["from"], t["to"], t["count"]) for t in j["transitions"]])
    if q == "Q3":
        rows = []
        for c in j["cohorts"]:
            rows += [(c["cohort_start"], o, n) for o, n in enumerate(c["active"])]
        return norm_q3(rows)
    return norm_q4([j["customers"], j["sum_frequency"], j["sum_recency"], j["sum_t"], j["sum_mean_order_value"]])


SERVE = {}


def read_token(store):
    """A read token for the benchmark's server, made once per store (kept beside it)."""
    path = Path(store).parent / "read-token"
    if not path.exists():
        out = subprocess.run([str(WAYFARER), "keys", "create", "--read", "--name", "bench", "--data", str(store),
                              "--quiet"], check=True, capture_output=True, text=True).stdout
        path.write_text(next(w for w in out.split() if w.startswith("wfr_")))
    return path.read_text().strip()


def serve_query(q, store):
    """Wayfarer's best mode, as the peers' -mem modes are theirs: a running
    `wayfarer serve` answering the query API (the dashboard's and any
    client's way in). Each request opens the store and computes the answer
    (the server keeps no answers); the whole HTTP round trip is timed and
    the JSON parsed, as the CLI's is. Its peak is the server's."""
    import http.client
    import socket
    import urllib.parse
    token = read_token(store)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([str(WAYFARER), "serve", "--data", str(store), "--bind", f"127.0.0.1:{port}",
                             "--no-warm", "--no-snapshots", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    SERVE["proc"] = proc
    deadline = time.time() + 30
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            raise RuntimeError("wayfarer serve did not start")
        time.sleep(0.05)
    settle(proc.pid)
    if q == "Q1":
        params = [("step", s) for s in STEPS] + [("window", "7d")]
        path = "/api/funnel?" + urllib.parse.urlencode(params)
    elif q == "Q2":
        path = "/api/paths"
    elif q == "Q3":
        path = f"/api/retention?period=week&periods={WEEK_OFFSETS}"
    else:
        path = "/api/rfm"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Bearer {token}"}

    def run():
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"{path}: {r.status} {body[:300]!r}")
        return norm_wayfarer(q, json.loads(body))
    return run


def settle(pid, quiet_for=0.5, limit=120):
    """Waits until the server has finished its start-up work (its CPU time
    stops growing), as the peers' -mem modes load their data first."""
    def cpu():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    deadline = time.time() + limit
    last = cpu()
    while time.time() < deadline:
        time.sleep(quiet_for)
        now = cpu()
        if now - last <= 1:
            return
        last = now


def server_peak_kb():
    """The server's peak resident memory, then stops it."""
    proc = SERVE.pop("proc")
    kb = 0
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            kb = int(line.split()[1])
    proc.terminate()
    proc.wait()
    return kb


def duckdb_query(q, parquet, preload=False):
    import duckdb
    con = duckdb.connect()
    con.execute("SET threads = 2; SET TimeZone = 'UTC';")
    src = f"read_parquet('{parquet}')"
    if preload:
        # The peer's best mode: the events already in its own memory (loading is not timed).
        con.execute(f"CREATE TABLE events_mem AS SELECT * FROM {src}")
        src = "events_mem"
    w = "INTERVAL 7 DAY"
    if q == "Q1":
        s = STEPS
        sql = f"""
        WITH ev AS (SELECT customer_id c, timestamp ts, event FROM {src} WHERE event IN ('{s[0]}','{s[1]}','{s[2]}','{s[3]}')),
        a AS (SELECT c, ts FROM ev WHERE event = '{s[0]}'),
        b AS (SELECT c, ts FROM ev WHERE event = '{s[1]}'),
        c3 AS (SELECT c, ts FROM ev WHERE event = '{s[2]}'),
        d AS (SELECT c, ts FROM ev WHERE event = '{s[3]}'),
        ab AS (SELECT a.c, a.ts t1, b.ts t2 FROM a ASOF LEFT JOIN b ON a.c = b.c AND a.ts <= b.ts),
        abc AS (SELECT ab.c, t1, t2, c3.ts t3 FROM ab ASOF LEFT JOIN c3 ON ab.c = c3.c AND ab.t2 <= c3.ts),
        abcd AS (SELECT abc.c, t1, t2, t3, d.ts t4 FROM abc ASOF LEFT JOIN d ON abc.c = d.c AND abc.t3 <= d.ts),
        lv AS (SELECT c, max(CASE WHEN t2 IS NULL OR t2 > t1 + {w} THEN 1
                                  WHEN t3 IS NULL OR t3 > t1 + {w} THEN 2
                                  WHEN t4 IS NULL OR t4 > t1 + {w} THEN 3 ELSE 4 END) lvl FROM abcd GROUP BY c),
        allc AS (SELECT DISTINCT customer_id c FROM {src})
        SELECT coalesce(lvl, 0) l, count(*) FROM allc LEFT JOIN lv USING (c) GROUP BY l ORDER BY l"""

        def run():
            res = dict(con.execute(sql).fetchall())
            return norm_q1([res.get(i, 0) for i in range(len(STEPS) + 1)])
    elif q == "Q2":
        sql = f"""SELECT prev, event, count(*) FROM (
            SELECT event, lag(event) OVER (PARTITION BY customer_id ORDER BY timestamp, event_id) prev FROM {src})
            WHERE prev IS NOT NULL GROUP BY ALL"""

        def run():
            return norm_q2(con.execute(sql).fetchall())
    elif q == "Q3":
        sql = f"""WITH w AS (SELECT DISTINCT customer_id c, date_trunc('week', timestamp)::DATE wk FROM {src}),
            f AS (SELECT c, min(wk) cw FROM w GROUP BY c)
            SELECT strftime(cw, '%Y-%m-%d'), (wk - cw) // 7 AS off, count(*) FROM w JOIN f USING (c)
            WHERE (wk - cw) // 7 <= {WEEK_OFFSETS} GROUP BY ALL"""

        def run():
            return norm_q3(con.execute(sql).fetchall())
    else:
        sql = f"""WITH e AS (SELECT max(timestamp)::DATE d FROM {src}),
            p AS (SELECT customer_id c, timestamp::DATE d, coalesce(revenue, 0) r FROM {src} WHERE event = 'Order Completed'),
            per AS (SELECT c, count(DISTINCT d) - 1 f, max(d) - min(d) rec, (SELECT d FROM e) - min(d) t, avg(r) mov
                    FROM p GROUP BY c)
            SELECT count(*), sum(f), sum(rec), sum(t), sum(mov) FROM per"""

        def run():
            return norm_q4(con.execute(sql).fetchone())
    return run


def chdb_query(q, parquet, preload=False):
    from chdb import session
    sess = session.Session()
    src = f"file('{parquet}', Parquet)"
    settings = " SETTINGS max_threads = 2"
    if preload:
        # The peer's best mode: the events already in a Memory table (loading is not timed).
        sess.query(f"CREATE TABLE events_mem ENGINE = Memory AS SELECT * FROM {src}")
        src = "events_mem"
    if q == "Q1":
        conds = ", ".join(f"event = '{s}'" for s in STEPS)
        sql = f"""SELECT lvl, count() FROM (
            SELECT customer_id, windowFunnel({7 * 86400 * 1_000_000})(toUInt64(toUnixTimestamp64Micro(timestamp)), {conds}) lvl
            FROM {src} GROUP BY customer_id) GROUP BY lvl ORDER BY lvl""" + settings

        def run():
            res = {int(r[0]): int(r[1]) for r in rows(sess.query(sql, "JSONCompact"))}
            return norm_q1([res.get(i, 0) for i in range(len(STEPS) + 1)])
    elif q == "Q2":
        sql = f"""SELECT p.1, p.2, count() FROM (
            SELECT arraySort((e, k) -> k, groupArray(event), groupArray((timestamp, event_id))) AS evs
            FROM {src} GROUP BY customer_id)
            ARRAY JOIN arrayZip(arrayPopBack(evs), arrayPopFront(evs)) AS p GROUP BY p.1, p.2""" + settings

        def run():
            return norm_q2(rows(sess.query(sql, "JSONCompact")))
    elif q == "Q3":
        sql = f"""WITH w AS (SELECT DISTINCT customer_id c, toMonday(timestamp) wk FROM {src})
            SELECT toString(cw), intDiv(dateDiff('day', cw, wk), 7) AS off, count()
            FROM w JOIN (SELECT c, min(wk) cw FROM w GROUP BY c) f USING (c)
            WHERE off <= {WEEK_OFFSETS} GROUP BY cw, off""" + settings

        def run():
            return norm_q3(rows(sess.query(sql, "JSONCompact")))
    else:
        sql = f"""WITH (SELECT toDate(max(timestamp)) FROM {src}) AS e
            SELECT count(), sum(f), sum(rec), sum(t), sum(mov) FROM (
              SELECT customer_id, uniqExact(toDate(timestamp)) - 1 f,
                     dateDiff('day', min(toDate(timestamp)), max(toDate(timestamp))) rec,
                     dateDiff('day', min(toDate(timestamp)), e) t, avg(ifNull(revenue, 0)) mov
              FROM {src} WHERE event = 'Order Completed' GROUP BY customer_id)""" + settings

        def run():
            return norm_q4(rows(sess.query(sql, "JSONCompact"))[0])
    return run


def rows(res):
    return json.loads(res.bytes() if hasattr(res, "bytes") else str(res))["data"]


def polars_query(q, parquet):
    import polars as pl
    lf = pl.scan_parquet(parquet)
    week = datetime.timedelta(days=7)
    if q == "Q1":
        def run():
            ev = lf.filter(pl.col("event").is_in(STEPS)).select("customer_id", "timestamp", "event").collect()
            frames = [ev.filter(pl.col("event") == s).select("customer_id", pl.col("timestamp").alias(f"t{i + 1}")).sort(f"t{i + 1}")
                      for i, s in enumerate(STEPS)]
            ab = frames[0].join_asof(frames[1], left_on="t1", right_on="t2", by="customer_id", strategy="forward")
            abc = ab.filter(pl.col("t2").is_not_null()).sort("t2").join_asof(
                frames[2], left_on="t2", right_on="t3", by="customer_id", strategy="forward")
            abcd = abc.filter(pl.col("t3").is_not_null()).sort("t3").join_asof(
                frames[3], left_on="t3", right_on="t4", by="customer_id", strategy="forward")
            end = pl.col("t1") + week
            l1 = ab.select("customer_id", lvl=pl.when(pl.col("t2").is_null() | (pl.col("t2") > end)).then(1).otherwise(2))
            l2 = abc.select("customer_id", lvl=pl.when(pl.col("t2") > end).then(1)
                            .when(pl.col("t3").is_null() | (pl.col("t3") > end)).then(2).otherwise(3))
            l3 = abcd.select("customer_id", lvl=pl.when(pl.col("t2") > end).then(1).when(pl.col("t3") > end).then(2)
                             .when(pl.col("t4").is_null() | (pl.col("t4") > end)).then(3).otherwise(4))
            best = pl.concat([l1, l2, l3]).group_by("customer_id").agg(pl.col("lvl").max())
            total = lf.select(pl.col("customer_id").n_unique()).collect().item()
            counts = dict(best.group_by("lvl").len().iter_rows())
            levels = [total - sum(counts.values())] + [counts.get(i, 0) for i in range(1, len(STEPS) + 1)]
            return norm_q1(levels)
    elif q == "Q2":
        def run():
            df = (lf.select("customer_id", "timestamp", "event_id", "event")
                  .sort(["customer_id", "timestamp", "event_id"])
                  .with_columns(prev=pl.col("event").shift(1).over("customer_id"))
                  .filter(pl.col("prev").is_not_null())
                  .group_by(["prev", "event"]).len().collect())
            return norm_q2(df.iter_rows())
    elif q == "Q3":
        def run():
            w = lf.select(c=pl.col("customer_id"), wk=pl.col("timestamp").dt.truncate("1w").dt.date()).unique()
            f = w.group_by("c").agg(cw=pl.col("wk").min())
            df = (w.join(f, on="c").with_columns(off=(pl.col("wk") - pl.col("cw")).dt.total_days() // 7)
                  .filter(pl.col("off") <= WEEK_OFFSETS)
                  .group_by(["cw", "off"]).len().collect())
            return norm_q3((str(c), o, n) for c, o, n in df.iter_rows())
    else:
        def run():
            end = lf.select(pl.col("timestamp").max().dt.date()).collect().item()
            p = lf.filter(pl.col("event") == "Order Completed").with_columns(
                d=pl.col("timestamp").dt.date(), r=pl.col("revenue").fill_null(0.0))
            per = p.group_by("customer_id").agg(
                f=pl.col("d").n_unique() - 1,
                rec=(pl.col("d").max() - pl.col("d").min()).dt.total_days(),
                t=(pl.lit(end) - pl.col("d").min()).dt.total_days(),
                mov=pl.col("r").mean())
            s = per.select(pl.len(), pl.col("f").sum(), pl.col("rec").sum(), pl.col("t").sum(), pl.col("mov").sum()).collect()
            return norm_q4(s.row(0))
    return run


def fresh_page_cache(input_file):
    """Empties the page cache (root only; elsewhere a no-op) and reads
    `input_file` back into it."""
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        return
    with open(input_file, "rb") as f:
        while f.read(1 << 24):
            pass


def worker(engine, q, target, reps):
    """Runs one engine on one query in this (fresh) process."""
    if q in models.MODEL_ENGINES:
        run = models.make_model_worker(engine, q, target, WAYFARER)
    else:
        make = {"wayfarer": wayfarer_query, "wayfarer-serve": serve_query,
                "duckdb": duckdb_query, "chdb": chdb_query, "polars": polars_query,
                "duckdb-mem": lambda q, t: duckdb_query(q, t, preload=True),
                "chdb-mem": lambda q, t: chdb_query(q, t, preload=True)}[engine]
        run = make(q, target)
    times, answer = [], None
    for _ in range(reps):
        if q in IMPORTS:
            run.prepare()
            # What earlier runs wrote is on disk first (not timed): its
            # write-back would otherwise compete with this run's writes.
            # Where permitted (root), the page cache is emptied and the
            # input read once, so each run starts from the same memory
            # state: with a full page cache, reclaiming it during the
            # import doubled the kernel's share of some runs.
            os.sync()
            fresh_page_cache(run.input_file)
        t = time.perf_counter()
        answer = run()
        times.append(time.perf_counter() - t)
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # Wayfarer runs as child processes: its peak is theirs, not this driver's.
    # (The -mem engines' peak includes the events they hold in memory.)
    peak_kb = server_peak_kb() if engine == "wayfarer-serve" else child_kb if engine == "wayfarer" else self_kb
    print(json.dumps({"times": times, "peak_kb": peak_kb, "answer": answer}))


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1M,10M")
    ap.add_argument("--shapes", default="company", help="data shapes: company, clickstream (comma-separated)")
    ap.add_argument("--big", action="store_true", help="also run 50M events")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--no-models", action="store_true", help="skip the model benchmarks M1 and M2")
    ap.add_argument("--queries", default=",".join(QUERIES), help="journey queries to run (default: all)")
    ap.add_argument("--model-reps", type=int, default=3)
    ap.add_argument("--worker", nargs=4, metavar=("ENGINE", "QUERY", "TARGET", "REPS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.worker[0], a.worker[1], a.worker[2], int(a.worker[3]))
        return
    sizes = [s.strip() for s in a.sizes.split(",") if s.strip()]
    if a.big and "50M" not in sizes:
        sizes.append("50M")
    engines = [e.strip() for e in a.engines.split(",")]
    results = []
    failures = []
    shapes = [x.strip() for x in a.shapes.split(",") if x.strip()]
    for bad in set(shapes) - set(SHAPES):
        sys.exit(f"--shapes: no shape '{bad}' (shapes: {', '.join(SHAPES)})")
    for shape, size in [(sh, sz) for sh in shapes for sz in sizes]:
        label = data_label(shape, size)
        parquet, store = ensure_data(label, shape, size)
        rows_in = parquet_rows(parquet)
        for q in [q.strip() for q in a.queries.split(",") if q.strip()]:
            answers = {}
            for engine in (["wayfarer"] if q in WAYFARER_ONLY else engines):
                if engine not in engines:
                    continue
                target = store if engine.startswith("wayfarer") else parquet
                r = run_worker(engine, q, target, a.reps, label, failures)
                if r is None:
                    continue
                answers[engine] = r["answer"]
                results.append({"size": label, "rows": rows_in, "query": q, "engine": engine, "shape": shape,
                                "median_s": statistics.median(r["times"]), "min_s": min(r["times"]),
                                "peak_mb": r["peak_kb"] / 1024})
            ref = answers.get("wayfarer")
            for engine, ans in answers.items():
                if ans != ref:
                    failures.append(f"{label} {q}: {engine} disagrees with wayfarer\n  wayfarer: {short(ref)}\n  {engine}: {short(ans)}")
    if not a.no_models:
        targets = models.ensure_models_data(WAYFARER, import_store)
        for q, engines_q in models.MODEL_ENGINES.items():
            answers = {}
            for engine in engines_q:
                r = run_worker(engine, q, targets[q][engine], a.model_reps, "1M", failures)
                if r is None:
                    continue
                answers[engine] = r["answer"]
                results.append({"size": "1M", "rows": None, "query": q, "engine": engine,
                                "median_s": statistics.median(r["times"]), "min_s": min(r["times"]),
                                "peak_mb": r["peak_kb"] / 1024, "model": True})
            ref = answers.get("wayfarer")
            for engine, ans in answers.items():
                if engine == "wayfarer" or ref is None:
                    continue
                why = models.disagreement(q, ref, ans)
                diff = models.max_difference(q, ref, ans)
                for row in results:
                    if row["query"] == q and row["engine"] == engine:
                        row["difference"] = diff
                if why:
                    failures.append(f"{q}: {engine} disagrees with wayfarer: {why}")
    report = render(results, failures, a.reps, a.model_reps)
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    tags = [s for s in shapes if s != "company"] + sizes + ([] if a.no_models else ["models"])
    name = RESULTS / f"{datetime.datetime.now().strftime('%Y-%m-%d-%H%M')}-{'-'.join(tags)}.md"
    name.write_text(report)
    (RESULTS / "latest.md").write_text(report)
    print(f"written to {name}")
    if failures:
        sys.exit(1)


def run_worker(engine, q, target, reps, label, failures):
    """Runs one (engine, query) in a fresh process; None (and a failure noted) if it fails."""
    out = subprocess.run([sys.executable, __file__, "--worker", engine, q, str(target), str(reps)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        failures.append(f"{label} {q} {engine}: failed\n{out.stderr[-2000:]}")
        print(f"[{label}] {q} {engine}: FAILED", flush=True)
        return None
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"[{label}] {q} {engine:9s} median {statistics.median(r['times']):8.3f}s  "
          f"peak {r['peak_kb'] / 1024:8.1f} MB", flush=True)
    return r


def short(x):
    s = json.dumps(x, sort_keys=True)
    return s if len(s) < 600 else s[:600] + "..."


def parquet_rows(path):
    try:
        import polars as pl
        return pl.scan_parquet(path).select(pl.len()).collect().item()
    except Exception:  # noqa: BLE001 - only for the report
        return None


def render(results, failures, reps, model_reps):
    lines = ["# Wayfarer benchmark", ""]
    lines.append(f"{datetime.datetime.now().isoformat(timespec='seconds')} · {platform.machine()} · "
                 f"{os.cpu_count()} cores · median of {reps} runs · each engine limited to 2 threads")
    versions = engine_versions()
    lines.append("Engines: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    lines.append("")
    journey = [r for r in results if not r.get("model")]
    modelled = [r for r in results if r.get("model")]
    targets = target_rows(journey)
    if targets:
        lines.append("Targets (DESIGN §8): Wayfarer's best mode (CLI, or the running server's query API) against the "
                     "fastest peer in any mode (≥ 10×), and Wayfarer's peak memory in that mode against every peer's "
                     "lowest (below).")
        lines.append("")
        lines.append("| shape | events | query | Wayfarer s (mode) | fastest peer s (engine) | ratio | ≥ 10× "
                     "| Wayfarer peak MB | lowest peer peak MB | memory below |")
        lines.append("|---|---:|---|---:|---:|---:|---|---:|---:|---|")
        lines.extend(targets)
        lines.append("")
    lines.append("| shape | events | query | engine | median s | peak MB | × Wayfarer CLI | × Wayfarer server | events/s |")
    lines.append("|---|---:|---|---|---:|---:|---:|---:|---:|")

    def times(r, engine):
        base = next((x for x in journey if x["size"] == r["size"] and x["query"] == r["query"] and x["engine"] == engine),
                    None)
        return f"{r['median_s'] / base['median_s']:.1f}" if base and base["median_s"] > 0 else ""
    for r in journey:
        rows = f"{r['rows']:,}" if r["rows"] else r["size"]
        rate = f"{r['rows'] / r['median_s']:,.0f}" if r["query"] in IMPORTS and r["rows"] and r["median_s"] > 0 else ""
        lines.append(f"| {r.get('shape', 'company')} | {rows} | {r['query']} | {r['engine']} | {r['median_s']:.3f} | "
                     f"{r['peak_mb']:.0f} | {times(r, 'wayfarer')} | {times(r, 'wayfarer-serve')} | {rate} |")
    if modelled:
        lines.append("")
        lines.append(f"Models (median of {model_reps} runs; see bench/models.py): M1 = BG/NBD + Gamma-Gamma fit on "
                     f"1,000,000 customers (Wayfarer from raw purchases; lifetimes from Parquet, summary + fits), "
                     f"M2 = Markov order-2 attribution on 1,000,000 paths (Wayfarer from raw touches, exact; "
                     f"ChannelAttribution on the aggregated paths, simulated; ca+paths = the same after building the paths from the raw events with pandas). Difference: largest relative "
                     f"parameter difference (M1) or absolute conversion-share difference (M2) from Wayfarer.")
        lines.append("")
        lines.append("| query | engine | median s | peak MB | × Wayfarer time | difference |")
        lines.append("|---|---|---:|---:|---:|---:|")
        for r in modelled:
            base = next(x for x in modelled if x["query"] == r["query"] and x["engine"] == "wayfarer")
            ratio = r["median_s"] / base["median_s"] if base["median_s"] > 0 else float("nan")
            diff = f"{r['difference']:.2g}" if "difference" in r else "–"
            lines.append(f"| {r['query']} | {r['engine']} | {r['median_s']:.3f} | {r['peak_mb']:.0f} | {ratio:.1f} | {diff} |")
    lines.append("")
    lines.append("Answers: " + ("all engines agree." if not failures else "MISMATCHES OR FAILURES:"))
    for f in failures:
        lines.append("")
        lines.append("    " + f.replace("\n", "\n    "))
    lines.append("")
    return "\n".join(lines)


def target_rows(journey):
    """Per (data, query) both Wayfarer and a peer answered: the target check."""
    out = []
    keys = []
    for r in journey:
        if (r["size"], r["query"]) not in keys:
            keys.append((r["size"], r["query"]))
    for size, q in keys:
        rs = [r for r in journey if r["size"] == size and r["query"] == q]
        ours = [r for r in rs if r["engine"] in BEST["wayfarer"]]
        peers = [r for r in rs if not r["engine"].startswith("wayfarer")]
        if not ours or not peers:
            continue
        best = min(ours, key=lambda r: r["median_s"])
        fastest = min(peers, key=lambda r: r["median_s"])
        leanest = min(peers, key=lambda r: r["peak_mb"])
        ratio = fastest["median_s"] / best["median_s"] if best["median_s"] > 0 else float("nan")
        mode = "server" if best["engine"] == "wayfarer-serve" else "CLI"
        rows = f"{best['rows']:,}" if best["rows"] else size
        out.append(f"| {best.get('shape', 'company')} | {rows} | {q} | {best['median_s']:.3f} ({mode}) | "
                   f"{fastest['median_s']:.3f} ({fastest['engine']}) | {ratio:.1f} | {'yes' if ratio >= 10 else 'NO'} | "
                   f"{best['peak_mb']:.0f} | {leanest['peak_mb']:.0f} ({leanest['engine']}) | "
                   f"{'yes' if best['peak_mb'] < leanest['peak_mb'] else 'NO'} |")
    return out


def engine_versions():
    v = {}
    try:
        v["wayfarer"] = subprocess.run([str(WAYFARER), "--version"], capture_output=True, text=True).stdout.strip().split()[-1]
    except Exception:  # noqa: BLE001
        pass
    from importlib.metadata import PackageNotFoundError, version
    for pkg in ["duckdb", "chdb", "polars", "lifetimes", "ChannelAttribution"]:
        try:
            v[pkg] = version(pkg)
        except PackageNotFoundError:
            v[pkg] = "missing"
    return v


if __name__ == "__main__":
    main()

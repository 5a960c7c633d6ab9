#!/usr/bin/env python3
"""Generate the windowFunnel conformance fixture for `wayfarer-engine`.

Writes crates/wayfarer-engine/tests/fixtures/window_funnel.json: a JSON array
of cases

    {"name", "mode", "window_seconds", "steps", "events", "expected"[, "note"]}

where `mode` is one of "default", "strict_order", "strict_deduplication",
"strict_increase"; `events` is a list of {"customer", "ts", "event"} in the
order the rows were inserted into ClickHouse (deliberately unsorted in many
cases); `expected` maps every customer that has at least one row to the level
ClickHouse's `windowFunnel` returned for it (0 included). Hand-made cases
carry an extra human-readable "note" (serde ignores unknown fields).

The expected levels come from the real ClickHouse engine, embedded in chdb.
Run it inside a throwaway virtualenv:

    python3 -m venv /tmp/chdb-venv
    /tmp/chdb-venv/bin/pip install chdb
    /tmp/chdb-venv/bin/python scripts/gen_funnel_fixtures.py

The committed fixture was produced with chdb 4.4.0 (chdb-core 26.9.0,
ClickHouse `SELECT version()` = 26.9.2.1) under Python 3.11. The script is
deterministic (fixed seed, no wall clock), so rerunning it with the same
chdb gives a byte-identical file.

How each case is evaluated:

* Each case's rows go into a Memory table `cases(case_id, seq, customer,
  ts UInt64, event String)` (truncated between cases), in one INSERT, rows
  in the fixture's order.
* The timestamp column is UInt64 seconds. A plain unsigned integer is what
  our engine stores (epoch seconds), it has no time zone, and for windowFunnel
  the window unit is simply "one unit of the timestamp column" -- for
  DateTime that is also one second. Every case is ALSO evaluated with
  `toDateTime(ts)` to prove DateTime gives identical results.
* The fixture's level is taken from
      SELECT customer, windowFunnel(W[, 'MODE'])(ts, event = 'A', ...) AS level
      FROM cases WHERE case_id = N GROUP BY customer
  and cross-checked against four more variants of the same query: rows fed
  in reverse order, rows fed in a hashed (shuffled) order, the DateTime
  column, and a two-part -State/-Merge split (exercises the state merge and
  serialisation path). If the variants disagreed, the case would be
  input-order dependent: it would be left out of the fixture and written to
  window_funnel_order_dependent.json instead (for the four modes this never
  happens: ClickHouse sorts by the full (timestamp, condition index) pair,
  see docs/window-funnel.md).
* A pure-Python reference implementation of the algorithm described in
  docs/window-funnel.md (`reference_level` below) must agree with the engine
  on every case, or the script fails.

After the fixture is written, the script also checks the reference against
the engine on random cases for mode combinations and `allow_reentry` (not
written to the fixture; printed as a summary only).
"""

import json
import random
import sys
from importlib.metadata import version
from pathlib import Path

import chdb
from chdb import session

OUT_DIR = (
    Path(__file__).resolve().parent.parent
    / "crates"
    / "wayfarer-engine"
    / "tests"
    / "fixtures"
)
OUT = OUT_DIR / "window_funnel.json"
OUT_ORDER_DEPENDENT = OUT_DIR / "window_funnel_order_dependent.json"

MODES = ["default", "strict_order", "strict_deduplication", "strict_increase"]
SEED = 20240611
RANDOM_CASES_PER_MODE = 300


# --------------------------------------------------------------------------
# Reference implementation (mirrors docs/window-funnel.md)
# --------------------------------------------------------------------------
def reference_level(window, options, steps, rows):
    """Level ClickHouse's windowFunnel returns for ONE customer.

    window  -- non-negative int, same unit as ts
    options -- set of option strings: strict_order, strict_deduplication,
               strict_increase, allow_reentry ('default' == empty set)
    steps   -- list of event names; condition i (1-based) is event == steps[i-1]
    rows    -- iterable of (ts, event_name) in any order
    """
    strict_order = "strict_order" in options
    strict_dedup = "strict_deduplication" in options
    strict_increase = "strict_increase" in options
    allow_reentry = "allow_reentry" in options
    n = len(steps)

    # 1. collect: one entry per (row, condition that is true for the row);
    #    in strict_order a row that matches no condition becomes index 0.
    entries = []
    for ts, ev in rows:
        matched = False
        for i in range(n, 0, -1):
            if steps[i - 1] == ev:
                entries.append((ts, i))
                matched = True
        if strict_order and not matched:
            entries.append((ts, 0))

    # 2. early exits
    if not entries:
        return 0
    if not strict_order and n == 1:
        return 1

    # 3. sort by the full pair (timestamp, condition index)
    entries.sort()

    # 4. scan; level[k] = (first_ts of the chain, ts of the step-k event)
    level = [None] * n

    def reached():
        for k in range(n, 0, -1):
            if level[k - 1] is not None:
                return k
        return 0

    first_event = False
    for ts, cond in entries:
        idx = cond - 1
        if strict_order and idx == -1:
            if first_event:
                break
            continue
        if idx == 0:
            level[0] = (ts, ts)
            first_event = True
        elif strict_dedup and level[idx] is not None:
            return reached()
        elif strict_order and first_event and level[idx - 1] is None:
            if allow_reentry:
                continue
            return reached()  # == first unset level
        elif level[idx - 1] is not None:
            first, last = level[idx - 1]
            ok = ts <= first + window
            if strict_increase:
                ok = ok and last < ts
            if ok:
                level[idx] = (first, ts)
                if idx + 1 == n:
                    return n
    return reached()


def reference_case(case):
    opts = set() if case["mode"] == "default" else {case["mode"]}
    opts |= set(case.get("extra_options", []))
    by_customer = {}
    for e in case["events"]:
        by_customer.setdefault(e["customer"], []).append((e["ts"], e["event"]))
    return {
        c: reference_level(case["window_seconds"], opts, case["steps"], rows)
        for c, rows in by_customer.items()
    }


# --------------------------------------------------------------------------
# Engine evaluation
# --------------------------------------------------------------------------
class Engine:
    def __init__(self):
        self.s = session.Session()
        self.s.query(
            "CREATE TABLE cases (case_id UInt32, seq UInt32, customer String, "
            "ts UInt64, event String) ENGINE = Memory"
        )
        self.next_id = 1

    @staticmethod
    def _lit(s):
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def _json(self, sql):
        res = self.s.query(sql, "JSONCompact")
        return json.loads(res.bytes())["data"]

    def evaluate(self, case):
        """Returns (levels_from_the_canonical_query, {variant: levels})."""
        cid = self.next_id
        self.next_id += 1
        values = ",".join(
            f"({cid},{i},{self._lit(e['customer'])},{int(e['ts'])},{self._lit(e['event'])})"
            for i, e in enumerate(case["events"])
        )
        self.s.query("TRUNCATE TABLE cases")  # keep every scan tiny
        self.s.query(f"INSERT INTO cases VALUES {values}")

        params = [str(int(case["window_seconds"]))]
        if case["mode"] != "default":
            params.append(self._lit(case["mode"]))
        params += [self._lit(o) for o in case.get("extra_options", [])]
        params = ", ".join(params)
        conds = ", ".join(f"event = {self._lit(s)}" for s in case["steps"])
        fn = f"windowFunnel({params})"

        variants = {
            "inserted": f"SELECT customer, {fn}(ts, {conds}) FROM cases "
            f"WHERE case_id = {cid} GROUP BY customer",
            "reversed": f"SELECT customer, {fn}(ts, {conds}) FROM "
            f"(SELECT * FROM cases WHERE case_id = {cid} ORDER BY seq DESC) GROUP BY customer",
            "hashed": f"SELECT customer, {fn}(ts, {conds}) FROM "
            f"(SELECT * FROM cases WHERE case_id = {cid} ORDER BY cityHash64(seq, {cid})) "
            "GROUP BY customer",
            "datetime": f"SELECT customer, {fn}(toDateTime(ts), {conds}) FROM cases "
            f"WHERE case_id = {cid} GROUP BY customer",
            "state_merge": f"SELECT customer, {fn.replace('windowFunnel', 'windowFunnelMerge')}(st) "
            f"FROM (SELECT customer, seq % 2 AS part, "
            f"{fn.replace('windowFunnel', 'windowFunnelState')}(ts, {conds}) AS st "
            f"FROM cases WHERE case_id = {cid} GROUP BY customer, part) GROUP BY customer",
        }
        results = {}
        for name, sql in variants.items():
            results[name] = {c: int(l) for c, l in self._json(sql)}
        return results["inserted"], results


# --------------------------------------------------------------------------
# Hand-made cases
# --------------------------------------------------------------------------
def ev(customer, ts, event):
    return {"customer": customer, "ts": ts, "event": event}


def seq(customer, pairs):
    """pairs: 'A@1 B@2 X@2' -> events for one customer, in that order."""
    out = []
    for tok in pairs.split():
        name, ts = tok.split("@")
        out.append(ev(customer, int(ts), name))
    return out


def hand_scenarios():
    """(name, window, steps, events, note) -- evaluated in every mode."""
    S = []

    def add(name, window, steps, events, note):
        S.append((name, window, steps, events, note))

    ABC = ["A", "B", "C"]
    ABCD = ["A", "B", "C", "D"]

    # ties on the same second
    add("tie_steps_same_second", 10, ABC,
        seq("c1", "B@5 A@5 C@6") + seq("c2", "A@5 B@5 C@6") + seq("c3", "A@1 C@5 B@5")
        + seq("c4", "C@7 B@7 A@7"),
        "Equal timestamps are ordered by condition index, not by insertion: "
        "B@5 inserted before A@5 still counts as A then B. strict_increase rejects "
        "B at the same second as A.")
    add("tie_step_and_nonstep", 10, ABC,
        seq("c1", "A@1 B@2 X@2 C@3") + seq("c2", "A@1 X@2 B@2 C@3") + seq("c3", "A@1 B@2 C@3 X@3")
        + seq("c4", "X@1 A@1 B@2 C@3"),
        "A non-step row sorts BEFORE step rows with the same timestamp (index 0), "
        "so under strict_order X@2 interrupts before B@2 whatever the insertion order; "
        "X@3 tied with the last step C@3 also interrupts (level 2).")
    add("tie_two_rows_same_step", 10, ABC,
        seq("c1", "A@1 B@2 B@2 C@3") + seq("c2", "A@1 A@1 B@2"),
        "Two identical rows at the same second: a duplicate step under strict_deduplication.")

    # repeated steps in the funnel
    ABAC = ["A", "B", "A", "C"]
    add("repeated_step_ABAC", 20, ABAC,
        seq("c1", "A@1 B@2 A@3 C@4") + seq("c2", "A@1 B@2 C@3") + seq("c3", "A@1 A@2 B@3 A@4 C@5")
        + seq("c4", "A@1") + seq("c5", "B@1 A@2 C@3"),
        "Funnel A,B,A,C: one A row is entered twice (conditions 3 and 1). Under "
        "strict_order a lone A already returns 1 because its condition-3 entry "
        "jumps ahead of step 2.")
    add("repeated_step_ABAC_ties", 20, ABAC,
        seq("c1", "B@5 A@5 C@6") + seq("c2", "A@5 B@5 C@5"),
        "Funnel A,B,A,C with A and B at the same second: sorted entries are "
        "(5,1),(5,2),(5,3) so the single A row serves as step 1 AND step 3.")
    add("consecutive_repeated_step_AAB", 10, ["A", "A", "B"],
        seq("c1", "A@1") + seq("c2", "A@1 B@2") + seq("c3", "A@1 A@3 B@4") + seq("c4", "A@1 A@1 B@1"),
        "Funnel A,A,B: one A row satisfies both step 1 and step 2 (except in "
        "strict_increase, which needs a strictly later second A).")
    add("consecutive_repeated_step_AA", 10, ["A", "A"],
        seq("c1", "A@1") + seq("c2", "A@1 A@20") + seq("c3", "X@1"),
        "Two-step funnel A,A: a single A row reaches level 2 in default mode.")

    # window boundary
    add("window_boundary_exact", 10, ABC,
        seq("c1", "A@0 B@10") + seq("c2", "A@0 B@11") + seq("c3", "A@0 B@5 C@10") + seq("c4", "A@0 B@5 C@11"),
        "The check is ts <= first_step_ts + window (inclusive), measured from step 1, "
        "not from the previous step.")
    add("window_boundary_large_ts", 30, ABC,
        seq("c1", "A@100 B@115 C@130") + seq("c2", "A@100 B@115 C@131"),
        "Same boundary away from zero.")

    # restarts
    add("restart_gets_further", 10, ABC,
        seq("c1", "A@0 B@5 C@30 A@40 B@42 C@45"),
        "The first chain dies (C out of window); a later restart completes. "
        "(strict_deduplication: the second B is a duplicate of level 2 -> 2.)")
    add("restart_gets_less_far_max_kept", 10, ABCD,
        seq("c1", "A@0 B@2 C@4 A@50 B@52"),
        "The earlier chain reached 3, a later one only 2: the result is the max (3).")
    add("restart_reanchors_step1_only", 10, ABC,
        seq("c1", "A@0 B@5 A@8 C@12") + seq("c2", "A@0 A@8 B@12 C@15"),
        "A later A re-anchors level 1 only: level 2 keeps the first chain's start (0), "
        "so C@12 is out of window for c1; c2 starts over from A@8 and completes.")
    add("out_of_window_then_fresh_chain", 10, ["A", "B"],
        seq("c1", "A@0 B@20 A@30 B@35"),
        "An out-of-window step is skipped (not an interruption); a fresh A then works.")

    # interleaved customers, unsorted input
    inter = (seq("c1", "A@10 B@12 C@14") + seq("c2", "A@3 C@4 B@5") + seq("c3", "C@1 B@2 A@3")
             + seq("c4", "A@7 X@8 B@9 C@20"))
    rng = random.Random(7)
    rng.shuffle(inter)
    add("interleaved_customers_unsorted", 10, ABC, inter,
        "Four customers' rows shuffled together; each customer is evaluated independently.")

    # window 0
    add("window_zero", 0, ABC,
        seq("c1", "A@5 B@5 C@5") + seq("c2", "A@5 B@6") + seq("c3", "C@5 A@5 B@5 X@5") + seq("c4", "A@5"),
        "Window 0: every step must share step 1's second; strict_increase can never "
        "go past level 1.")

    # single event / no matches
    add("single_event", 10, ABC,
        seq("c1", "A@5") + seq("c2", "B@5") + seq("c3", "X@5"),
        "One row per customer: only a step-1 row gives level 1.")
    add("no_matching_events", 10, ABC,
        seq("c1", "X@1 Y@2 Z@3"),
        "Only non-step rows: level 0 (the customer still appears, GROUP BY keeps it).")
    add("single_step_funnel", 10, ["A"],
        seq("c1", "A@5") + seq("c2", "X@1 A@5") + seq("c3", "A@5 X@6") + seq("c4", "X@1 Y@2"),
        "One-step funnel: any matching row gives 1 (short-circuit outside strict_order).")

    # events before the first step 1
    add("events_before_first_step1", 10, ABC,
        seq("c1", "B@1 C@2 A@3 B@4 C@5") + seq("c2", "X@0 B@1 A@2 B@3 C@4") + seq("c3", "C@1 B@2 A@3"),
        "Steps 2..n and non-steps before the first step-1 row are ignored, also "
        "under strict_order (nothing has started yet).")

    # non-step events between steps
    add("nonstep_between_steps", 10, ABC,
        seq("c1", "A@1 X@2 B@3 C@4") + seq("c2", "A@1 B@2 X@3 C@4") + seq("c3", "A@1 B@2 C@3 X@4")
        + seq("c4", "A@1 X@2 A@3 B@4 C@5"),
        "strict_order stops at the first non-step row after any step-1 row "
        "(even if a later A would restart).")
    add("strict_order_skip_ahead", 10, ABCD,
        seq("c1", "A@1 C@2 B@3 D@4") + seq("c2", "A@1 B@2 D@3 C@4") + seq("c3", "A@1 B@2 B@3 C@4"),
        "strict_order returns as soon as a step arrives whose previous step was never "
        "reached (A,C -> 1; A,B,D -> 2). Repeating a reached step is fine.")

    # duplicate step events
    add("duplicate_step_events", 10, ABCD,
        seq("c1", "A@1 B@2 B@3 C@4") + seq("c2", "A@1 A@2 B@3 C@4") + seq("c3", "A@1 B@2 C@3 B@4 D@5")
        + seq("c4", "A@0 B@1 A@100 B@101 C@102"),
        "strict_deduplication stops (returning the level reached so far) at a step "
        "event whose level was already reached -- even by an older chain (c4). "
        "Repeated step-1 rows never count as duplicates.")
    add("duplicate_out_of_window", 5, ABC,
        seq("c1", "A@0 B@1 B@20 A@21 C@23 B@22") + seq("c2", "A@0 B@20 A@30 B@31 C@32"),
        "In strict_deduplication the duplicate check comes before the window check: "
        "c1's B@20 is out of A@0's window (default mode just skips it) but it still "
        "stops the scan at level 2. c2's out-of-window B@20 never set level 2, so "
        "B@31 is not a duplicate.")

    # equal timestamps between consecutive steps
    add("equal_ts_consecutive_steps", 10, ABC,
        seq("c1", "A@1 B@1 C@2") + seq("c2", "A@1 B@2 C@2") + seq("c3", "A@1 B@2 C@3")
        + seq("c4", "A@1 A@2 B@2 C@3"),
        "strict_increase needs step k's ts > step k-1's ts; default accepts equal ts.")
    add("strict_increase_overwrite", 10, ABC,
        seq("c1", "A@1 B@2 B@3 C@3") + seq("c2", "A@1 B@2 C@3 B@3"),
        "A later duplicate B overwrites level 2's last timestamp (2 -> 3), so C@3 "
        "is then not strictly after it: strict_increase gives 2 for both customers "
        "(entries sort (3,B) before (3,C) whatever the insertion order).")

    # 2..5 step funnels
    add("funnel_2_steps", 10, ["A", "B"],
        seq("c1", "A@0 B@3") + seq("c2", "B@0 A@3") + seq("c3", "A@0 X@1 B@2"), "Two steps.")
    add("funnel_3_steps", 10, ABC,
        seq("c1", "A@0 B@3 C@6") + seq("c2", "A@0 C@3 B@6"), "Three steps.")
    add("funnel_4_steps", 20, ABCD,
        seq("c1", "A@0 B@3 C@6 D@9") + seq("c2", "D@0 C@1 B@2 A@3") + seq("c3", "A@0 B@3 C@6 D@21"),
        "Four steps.")
    add("funnel_5_steps", 20, ["A", "B", "C", "D", "E"],
        seq("c1", "E@12 D@9 C@6 B@3 A@0") + seq("c2", "A@0 B@3 C@6 D@9 E@21")
        + seq("c3", "A@0 B@0 C@0 D@0 E@0") + seq("c4", "A@0 B@1 X@2 C@3 D@4 E@5"),
        "Five steps, c1 inserted in reverse.")
    return S


def hand_cases():
    cases = []
    for name, window, steps, events, note in hand_scenarios():
        for mode in MODES:
            cases.append({
                "name": f"{name}/{mode}",
                "mode": mode,
                "window_seconds": window,
                "steps": list(steps),
                "events": events,
                "note": note,
            })
    return cases


# --------------------------------------------------------------------------
# Random cases
# --------------------------------------------------------------------------
def random_events(rng, alphabet, steps, window):
    n_customers = rng.randint(1, 6)
    events = []
    per_customer = []
    for c in range(1, n_customers + 1):
        cust = f"c{c}"
        n = rng.randint(1, 25)
        t = rng.randint(0, 20)
        ptr = 0
        rows = []
        gaps = [0, 0, 0, 1, 1, 2, 3, 5, 8, 13, max(1, window), window + 1, 30]
        for _ in range(n):
            t += rng.choice(gaps)
            r = rng.random()
            if r < 0.55:  # follow the funnel
                name = steps[ptr % len(steps)]
                ptr = ptr + 1 if rng.random() < 0.85 else 0
            else:
                name = rng.choice(alphabet)
            rows.append(ev(cust, t, name))
        order = rng.random()
        if order < 0.3:
            rng.shuffle(rows)  # unsorted within the customer
        elif order < 0.4:
            rows.reverse()
        per_customer.append(rows)
    if len(per_customer) > 1 and rng.random() < 0.6:
        merged = [e for rows in per_customer for e in rows]
        rng.shuffle(merged)  # customers interleaved
        events = merged
    else:
        events = [e for rows in per_customer for e in rows]
    return events


def random_case(rng, mode, k):
    alphabet = list("ABCDEF"[: rng.randint(4, 6)])
    n_steps = rng.randint(2, 5)
    if rng.random() < 0.2:
        steps = [rng.choice(alphabet) for _ in range(n_steps)]  # repeats allowed
    else:
        steps = rng.sample(alphabet, min(n_steps, len(alphabet) - 1))
    r = rng.random()
    if r < 0.1:
        window = 0
    elif r < 0.5:
        window = rng.randint(1, 10)
    else:
        window = rng.randint(0, 50)
    return {
        "name": f"random/{mode}/{k:03d}",
        "mode": mode,
        "window_seconds": window,
        "steps": steps,
        "events": random_events(rng, alphabet, steps, window),
    }


def random_cases():
    rng = random.Random(SEED)
    out = []
    for mode in MODES:
        for k in range(RANDOM_CASES_PER_MODE):
            out.append(random_case(rng, mode, k))
    return out


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def dump_cases(cases):
    """Readable JSON: one case header per line, one event per line."""
    keys = ["name", "mode", "window_seconds", "steps", "note"]
    parts = []
    for case in cases:
        head = ", ".join(
            f"{json.dumps(k)}: {json.dumps(case[k])}" for k in keys if k in case
        )
        evs = ",\n".join("    " + json.dumps(e) for e in case["events"])
        exp = json.dumps(dict(sorted(case["expected"].items())))
        parts.append(
            "  {" + head + ",\n   \"events\": [\n" + evs + "\n   ],\n   \"expected\": " + exp + "}"
        )
    return "[\n" + ",\n".join(parts) + "\n]\n"


def main():
    eng = Engine()
    cases = hand_cases() + random_cases()
    kept, order_dependent = [], []
    mismatches = 0
    for case in cases:
        levels, variants = eng.evaluate(case)
        customers = {e["customer"] for e in case["events"]}
        assert set(levels) == customers, (case["name"], levels)
        if any(v != levels for v in variants.values()):
            case["expected_by_variant"] = variants
            order_dependent.append(case)
            print(f"ORDER-DEPENDENT: {case['name']}: {variants}", file=sys.stderr)
            continue
        ref = reference_case(case)
        if ref != levels:
            mismatches += 1
            print(f"MISMATCH {case['name']}: engine={levels} reference={ref}", file=sys.stderr)
        case["expected"] = levels
        kept.append(case)
    if mismatches:
        sys.exit(f"{mismatches} cases where the reference disagrees with ClickHouse")

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dump_cases(kept))
    if order_dependent:
        OUT_ORDER_DEPENDENT.write_text(json.dumps(order_dependent, indent=1) + "\n")
    elif OUT_ORDER_DEPENDENT.exists():
        OUT_ORDER_DEPENDENT.unlink()

    ch_version = json.loads(eng.s.query("SELECT version()", "JSONCompact").bytes())["data"][0][0]
    print(f"chdb {chdb.__version__} (chdb-core {version('chdb-core')}), ClickHouse {ch_version}")
    print(f"wrote {len(kept)} cases to {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}")
    for mode in MODES:
        hand = sum(1 for c in kept if c["mode"] == mode and not c["name"].startswith("random/"))
        rnd = sum(1 for c in kept if c["mode"] == mode and c["name"].startswith("random/"))
        print(f"  {mode:22s} {hand:3d} hand-made + {rnd:3d} random")
    print(f"order-dependent cases: {len(order_dependent)}")

    # ---- extra checks (not written): combinations of options --------------
    combos = [
        ["strict_order", "allow_reentry"],
        ["strict_deduplication", "strict_order"],
        ["strict_order", "strict_increase"],
        ["strict_deduplication", "strict_increase"],
        ["strict_deduplication", "strict_order", "strict_increase"],
        ["strict_deduplication", "strict_order", "allow_reentry"],
    ]
    rng = random.Random(SEED + 1)
    extra_ok = extra_bad = 0
    for combo in combos:
        for k in range(100):
            case = random_case(rng, combo[0], k)
            case["extra_options"] = combo[1:]
            levels, variants = eng.evaluate(case)
            if any(v != levels for v in variants.values()) or reference_case(case) != levels:
                extra_bad += 1
                print(f"EXTRA MISMATCH {combo}: engine={variants} ref={reference_case(case)}",
                      file=sys.stderr)
            else:
                extra_ok += 1
    print(f"extra option combinations: {extra_ok} agree, {extra_bad} disagree")
    if extra_bad:
        sys.exit(1)


if __name__ == "__main__":
    main()

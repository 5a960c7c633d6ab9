#!/usr/bin/env python3
"""Recommendations side by side: Wayfarer's `recommend --evaluate` and the
`implicit` package's item-item cosine and ALS on the same split and the
same protocol (train on product interactions before the split; score each
customer's new purchases after it; top 10 over the full catalogue with the
customer's own items left out; HR, NDCG and recall at 10).

    python3 -m venv /tmp/impl && /tmp/impl/bin/pip install implicit duckdb scipy
    /tmp/impl/bin/python bench/recommend.py STORE      # after cargo build --release
"""
import json, math, subprocess, sys, time
from pathlib import Path

import duckdb
import numpy as np
import scipy.sparse as sp
import implicit

store = Path(sys.argv[1])
wayfarer = Path(__file__).resolve().parent.parent / "target/release/wayfarer"
files = f"'{store}/segments/*/*.parquet'"
span = duckdb.sql(f"select epoch_us(min(timestamp)), epoch_us(max(timestamp)) from {files} where kind <> 'identify'").fetchall()[0]
split = span[0] + (span[1] - span[0]) // 5 * 4
rows = duckdb.sql(f"""
  select customer, epoch_us(timestamp) ts, json_extract_string(properties, '$.product_id') item, false bought
    from {files} where event in ('Product Viewed', 'Product Added') and json_extract_string(properties, '$.product_id') is not null
  union all
  select customer, epoch_us(timestamp), json_extract_string(p.value, '$.product_id'), true
    from {files}, json_each(json_extract(properties, '$.products')) p where event = 'Order Completed'
""").fetchall()
items = sorted({r[2] for r in rows})
idx = {it: i for i, it in enumerate(items)}
by = {}
for c, ts, it, bought in rows:
    by.setdefault(c, []).append((ts, idx[it], bought))
train_users, cases = [], []
for c, t in by.items():
    before = sorted({i for ts, i, _ in t if ts < split})
    bought_before = {i for ts, i, b in t if ts < split and b}
    after = sorted({i for ts, i, b in t if ts >= split and b and i not in bought_before})
    if before:
        train_users.append(before)
        if after:
            cases.append((len(train_users) - 1, before, after))
n_users, n_items = len(train_users), len(items)
X = sp.lil_matrix((n_users, n_items), dtype=np.float32)
for u, h in enumerate(train_users):
    for i in h:
        X[u, i] = 1.0
X = X.tocsr()

def metrics(recommend):
    hit = ndcg = recall = 0.0
    for u, before, truth in cases:
        top = recommend(u)
        hits = [r for r, i in enumerate(top) if i in truth]
        hit += bool(hits)
        ideal = sum(1 / math.log2(r + 2) for r in range(min(len(truth), 10)))
        ndcg += sum(1 / math.log2(r + 2) for r in hits) / ideal
        recall += len(hits) / max(min(len(truth), 10), 1)
    n = len(cases)
    return {"users": n, "hit_rate": hit / n, "ndcg": ndcg / n, "recall": recall / n}

out = []
for name, model in [("implicit item-item cosine", implicit.nearest_neighbours.CosineRecommender(K=n_items)),
                    ("implicit ALS", implicit.als.AlternatingLeastSquares(factors=32, iterations=15, random_state=7))]:
    t0 = time.perf_counter()
    model.fit(X, show_progress=False)
    secs = time.perf_counter() - t0
    ids, _ = model.recommend(np.array([u for u, _, _ in cases]), X[[u for u, _, _ in cases]], N=10, filter_already_liked_items=True)
    tops = {u: list(row) for (u, _, _), row in zip(cases, ids)}
    out.append({"model": name, **metrics(lambda u: tops[u]), "seconds_to_train": secs})
split_arg = duckdb.sql(f"select make_timestamp({split})::varchar").fetchall()[0][0].replace(" ", "T") + "Z"
w = json.loads(subprocess.run([str(wayfarer), "recommend", "--evaluate", "--split", split_arg, "--data", str(store), "--json"],
                              check=True, capture_output=True, text=True).stdout)
rows_out = [{"model": "wayfarer " + m["model"], "users": m["users"], "hit_rate": m["hit_rate"], "ndcg": m["ndcg"],
             "recall": m["recall"], "seconds_to_train": m["seconds_to_train"]} for m in w["models"]] + out
print(f"split {split_arg} · {n_items} items · {n_users} training customers · {len(cases)} test customers (wayfarer: {w['models'][0]['users']})\n")
print("| model | HR@10 | NDCG@10 | recall@10 | train s |\n|---|---:|---:|---:|---:|")
for r in rows_out:
    print(f"| {r['model']} | {r['hit_rate']:.3f} | {r['ndcg']:.3f} | {r['recall']:.3f} | {r['seconds_to_train']:.3f} |")

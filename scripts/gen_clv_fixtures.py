#!/usr/bin/env python3
"""Generate the CLV (BG/NBD + Gamma-Gamma) conformance fixtures for `wayfarer-models`.

Writes, under crates/wayfarer-models/tests/fixtures/:

* cdnow_transactions.csv -- Fader & Hardie's CDNOW 1/10th sample (2357
  customers who first bought in Jan-Mar 1997, every purchase to 1998-06-30),
  as distributed inside the Python `lifetimes` package
  (lifetimes/datasets/CDNOW_sample.txt), converted to our flat schema
  `customer_id,timestamp,event,revenue`: one row per line of the source file
  (same-day purchases stay separate rows; our RFM sums them per day),
  timestamp `YYYY-MM-DD`, event `Order Completed`, revenue = the dollar value
  exactly as written in the source file.
* cdnow_expected.json -- what `lifetimes` (and the published paper) say about
  that data: fitted BG/NBD and Gamma-Gamma parameters, log-likelihoods, RFM
  totals, per-customer predictions for 12 chosen customers, unconditional
  expectations, and 2F1 test cases. See `main()` for the exact structure and
  the "notes" array inside the JSON for the caveats.

Run it inside a throwaway virtualenv (lifetimes 0.11.3 is from 2020; it still
installs and runs on today's numpy/pandas/scipy, but the committed fixture was
made with pins close to its era; a run on the unpinned latest versions
(numpy 2.4, pandas 3.1, scipy 1.17, autograd 1.9) gave the same CSV and the
same JSON numbers to within 3e-12 relative):

    python3 -m venv /tmp/lt-venv
    /tmp/lt-venv/bin/pip install "lifetimes==0.11.3" "numpy<1.25" "pandas<2" \
        "scipy<1.12" "autograd<1.7" mpmath
    /tmp/lt-venv/bin/python scripts/gen_clv_fixtures.py

(Resolved, for the committed files: see "python_packages" in the JSON.)
The script is deterministic (no randomness, no wall clock): rerunning it with
the same package versions gives byte-identical files.

-----------------------------------------------------------------------------
How lifetimes 0.11.3 builds frequency / recency / T / monetary_value
(lifetimes/utils.py, summary_data_from_transaction_data and
_find_first_transactions), and how that differs from our spec
-----------------------------------------------------------------------------
1. Every transaction timestamp is floored to a pandas Period of `freq`
   (`df.set_index(date).to_period(freq).to_timestamp()`), i.e. replaced by the
   START of its period. For freq='W' the period is pandas' 'W' = 'W-SUN'
   (weeks Monday..Sunday), so each date becomes the Monday of its week.
   observation_period_end is floored the same way
   (`pd.to_datetime(end).to_period(freq).to_timestamp()`): 1997-09-30 (a
   Tuesday) becomes Monday 1997-09-29.
2. Rows are grouped by (period, customer); with a monetary column the values
   in one period are SUMMED, so a customer has one row per distinct PERIOD
   (per distinct week for 'W', per distinct day for 'D').
3. frequency = (number of distinct periods) - 1.
   recency   = (last period start - first period start) / np.timedelta64(1, freq)
   T         = (floored observation end - first period start) / np.timedelta64(1, freq)
   (then divided by freq_multiplier, default 1). For 'W' all three are
   therefore INTEGERS of weeks: it does NOT use days / 7.
4. monetary_value = mean, over the customer's periods other than the first,
   of the per-period sums (the first period's value is set to NaN and
   excluded); 0 when frequency == 0. For 'W' that is the mean of repeat
   WEEKS' totals. For freq='D' it is exactly our definition (mean of repeat
   purchase days' totals, same-day purchases summed).

Our spec (crates/wayfarer-engine/src/rfm.rs): frequency = distinct purchase
DAYS - 1; recency = (last - first purchase day) in days / 7; T = (calibration
end - first purchase day) in days / 7; monetary = mean of repeat purchase
days' totals. That equals lifetimes with freq='D' (divided by 7 for recency
and T), which the script checks, and equals the per-customer summary Fader &
Hardie publish (lifetimes' cdnow_customers_summary*.csv, x / t_x / T / zbar
rounded to 2 decimals), which the script also checks. With freq='W' lifetimes
gives different numbers: fewer repeat purchases (two purchase days in one
calendar week count once) and whole-week recency/T; the differences are
reported under "rfm_comparison" in the JSON.

-----------------------------------------------------------------------------
How lifetimes 0.11.3 fits and reports the BG/NBD log-likelihood
-----------------------------------------------------------------------------
BetaGeoFitter.fit rescales time before optimising: scale = 1 / max(T);
recency and T are multiplied by scale, the optimiser (scipy.optimize.minimize,
default method = BFGS since no bounds, tol=1e-7, x0 = 0.1 for each of
log r, log alpha, log a, log b) works on log-parameters, and alpha is divided
by scale afterwards. `_negative_log_likelihood_` is the MEAN negative
log-likelihood per customer in the SCALED time unit. Since
LL(alpha*s, t*s) = LL(alpha, t) - x*log(s) per customer, the total in weeks is
    LL_weeks = -n * _negative_log_likelihood_ + sum(x) * log(scale).
The JSON records the total log-likelihood recomputed directly in weeks
(eq. for the BG/NBD likelihood in Fader, Hardie & Lee 2005, section 7), and
checks it against that identity. The Gamma-Gamma fitter does not rescale;
its `_negative_log_likelihood_` is also a mean, and the JSON records the sum.

-----------------------------------------------------------------------------
How lifetimes 0.11.3 computes customer_lifetime_value (utils._customer_lifetime_value)
-----------------------------------------------------------------------------
GammaGammaFitter.customer_lifetime_value(model, frequency, recency, T,
monetary_value, time=12, discount_rate=0.01, freq='W'):
    m_adj  = conditional_expected_average_profit(frequency, monetary_value)
    factor = {"W": 4.345, "M": 1.0, "D": 30, "H": 720}[freq]  # model units per "month"
    clv = sum_{k=1..time} m_adj * ( E[X(k*factor) | x,t_x,T] - E[X((k-1)*factor) | x,t_x,T] )
                            / (1 + discount_rate) ** k
where E[X(t)|...] is model.predict = conditional_expected_number_of_purchases_up_to_time
and the loop variable is i = k*factor with exponent i/factor (= k up to float
rounding). So `time` is in MONTHS, each month is 4.345 weeks for freq='W'
(30 days for 'D'), and each month's expected purchases are discounted by one
more power of (1 + monthly rate). No margin is applied (the "profit" is the
spend). For freq='W', 12 months = 52.14 weeks. E[X(0)|...] = 0.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import hyp2f1, gammaln

import lifetimes
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.datasets import load_dataset, load_cdnow_summary, load_cdnow_summary_data_with_monetary_value
from lifetimes.utils import summary_data_from_transaction_data, calibration_and_holdout_data

try:
    import mpmath
except ImportError:  # optional cross-check of scipy's 2F1 values
    mpmath = None

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates" / "wayfarer-models" / "tests" / "fixtures"
OUT_CSV = FIXTURES / "cdnow_transactions.csv"
OUT_JSON = FIXTURES / "cdnow_expected.json"
OUT_README = FIXTURES / "CDNOW-README.md"

CAL_END = pd.Timestamp("1997-09-30")  # end of week 39, inclusive
OBS_END = pd.Timestamp("1998-06-30")  # end of the data, 39 more weeks
EVENT = "Order Completed"

# Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way": the CDNOW estimates.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}
# Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (note 025), same CDNOW
# calibration data (946 repeat customers).
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def load_raw() -> pd.DataFrame:
    """CDNOW_sample.txt: master id, sample id (1..2357), YYYYMMDD, #CDs, dollars.

    The SECOND column is the 1..2357 id Fader & Hardie use in their summary
    files (lifetimes' cdnow_customers_summary.csv "ID"); we use it as
    customer_id. The first column is the customer's id in the full CDNOW
    master file.
    """
    df = load_dataset(
        "CDNOW_sample.txt",
        header=None,
        sep=r"\s+",
        names=["master_id", "customer_id", "yyyymmdd", "cds", "value_text"],
        dtype={"master_id": np.int64, "customer_id": np.int64, "yyyymmdd": str, "cds": np.int64, "value_text": str},
    )
    df["date"] = pd.to_datetime(df["yyyymmdd"], format="%Y%m%d")
    df["value"] = df["value_text"].astype(float)
    return df


def our_rfm(tx: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """RFM per our spec, by hand: per-day totals, then counts and day spans."""
    tx = tx[tx["date"] <= end]
    days = tx.groupby(["customer_id", "date"], as_index=False)["value"].sum()
    days = days.sort_values(["customer_id", "date"])
    g = days.groupby("customer_id")
    first = g["date"].min()
    last = g["date"].max()
    n_days = g["date"].count()
    total = g["value"].sum()
    first_day_value = g["value"].first()
    out = pd.DataFrame(index=first.index)
    out["frequency"] = (n_days - 1).astype(int)
    out["recency"] = (last - first).dt.days / 7.0
    out["T"] = (end - first).dt.days / 7.0
    rep = total - first_day_value
    out["monetary"] = np.where(out["frequency"] > 0, rep / out["frequency"].clip(lower=1), 0.0)
    out["recency_days"] = (last - first).dt.days
    out["T_days"] = (end - first).dt.days
    return out


def bgnbd_loglik(r, alpha, a, b, x, tx, T):
    """Total BG/NBD log-likelihood (FHL 2005 section 7), in the data's time unit."""
    x = np.asarray(x, dtype=float)
    tx = np.asarray(tx, dtype=float)
    T = np.asarray(T, dtype=float)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(
        x > 0,
        np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + tx),
        -np.inf,
    )
    m = np.maximum(a3, a4)
    return float(np.sum(a1 + a2 + m + np.log(np.exp(a3 - m) + np.exp(a4 - m))))


def gg_loglik(p, q, v, x, m):
    """Total Gamma-Gamma log-likelihood (Fader & Hardie note 025, eq. 1a)."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    ll = (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + (p * x) * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )
    return float(ll.sum())


def fit_bgnbd(s: pd.DataFrame, label: str) -> tuple[BetaGeoFitter, dict]:
    bgf = BetaGeoFitter(penalizer_coef=0.0)
    bgf.fit(s["frequency"], s["recency"], s["T"])
    r, alpha, a, b = (float(bgf.params_[k]) for k in ("r", "alpha", "a", "b"))
    ll = bgnbd_loglik(r, alpha, a, b, s["frequency"], s["recency"], s["T"])
    n = len(s)
    scale = 1.0 / float(s["T"].max())
    ll_from_lifetimes = -n * float(bgf._negative_log_likelihood_) + float(s["frequency"].sum()) * math.log(scale)
    assert abs(ll - ll_from_lifetimes) < 1e-6 * abs(ll), (label, ll, ll_from_lifetimes)
    return bgf, {
        "r": r,
        "alpha": alpha,
        "a": a,
        "b": b,
        "log_likelihood": ll,
        "lifetimes_mean_neg_loglik_scaled": float(bgf._negative_log_likelihood_),
        "lifetimes_time_scale": scale,
    }


def hyp_case(a, b, c, z, source):
    a, b, c, z = float(a), float(b), float(c), float(z)
    v = float(hyp2f1(a, b, c, z))
    case = {"a": a, "b": b, "c": c, "z": z, "value": v, "source": source}
    if mpmath is not None:
        mpmath.mp.dps = 40
        ref = float(mpmath.hyp2f1(a, b, c, z))
        assert abs(v - ref) <= 1e-12 * abs(ref), (case, ref)
    return case


def choose_customers(s: pd.DataFrame) -> list[tuple[int, str]]:
    """12 customers, picked by fixed rules (ties broken by id)."""
    s = s.assign(gap=s["T"] - s["recency"]).reset_index()
    picked: list[tuple[int, str]] = []

    def take(df, k, why):
        for cid in df["customer_id"]:
            if len(picked) >= 12 or k == 0:
                break
            if cid not in [p for p, _ in picked]:
                picked.append((int(cid), why))
                k -= 1

    zero = s[s["frequency"] == 0]
    # frequency 0: the oldest, the youngest, and one in the middle
    take(zero.sort_values(["T", "customer_id"], ascending=[False, True]), 1, "frequency 0, oldest")
    take(zero.sort_values(["T", "customer_id"], ascending=[True, True]), 1, "frequency 0, youngest")
    mid_T = zero["T"].median()
    take(zero.assign(d=(zero["T"] - mid_T).abs()).sort_values(["d", "customer_id"]), 1, "frequency 0, median age")
    # high frequency: the top three
    take(s.sort_values(["frequency", "customer_id"], ascending=[False, True]), 3, "highest frequency")
    # long recency gap: several repeat purchases, then a long silence
    take(
        s[s["frequency"] >= 3].sort_values(["gap", "customer_id"], ascending=[False, True]),
        2,
        "frequency >= 3, longest gap since last purchase",
    )
    take(
        s[s["frequency"] == 1].sort_values(["gap", "customer_id"], ascending=[False, True]),
        1,
        "frequency 1, longest gap since last purchase",
    )
    # typical repeat buyers, bought recently
    take(
        s[s["frequency"].between(2, 4)].sort_values(["gap", "customer_id"], ascending=[True, True]),
        2,
        "frequency 2-4, bought in the last days of the calibration period",
    )
    take(s[s["frequency"] == 1].sort_values(["gap", "customer_id"]), 1, "frequency 1, bought recently")
    assert len(picked) == 12, picked
    return picked


def write_csv(raw: pd.DataFrame) -> None:
    lines = ["customer_id,timestamp,event,revenue"]
    for cid, ymd, val in zip(raw["customer_id"], raw["yyyymmdd"], raw["value_text"]):
        lines.append(f"{cid},{ymd[:4]}-{ymd[4:6]}-{ymd[6:]},{EVENT},{val}")
    OUT_CSV.write_text("\n".join(lines) + "\n")


README = """\
# CDNOW sample (CLV conformance data)

`cdnow_transactions.csv` is the CDNOW "1/10th sample" of Fader & Hardie:
2357 customers who made their first purchase at the online CD retailer
CDNOW in the first 12 weeks of 1997, with every purchase they made up to
30 June 1998 (6919 transaction lines). It is the data set used in
Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An
Alternative to the Pareto/NBD Model", Marketing Science 24(2), and in
Fader & Hardie's note on the Gamma-Gamma spend model. The copy used here
is `CDNOW_sample.txt` as distributed inside the Python `lifetimes` package
(version 0.11.3, MIT-licensed), converted by `scripts/gen_clv_fixtures.py`:

* `customer_id` = the sample's own id (1..2357, second column of the source
  file; the same id as in Fader & Hardie's published per-customer summary);
* `timestamp` = purchase date `YYYY-MM-DD` (the source has dates only);
* `event` = `Order Completed`;
* `revenue` = the dollar value of the line, as written in the source.

One row per source line: a customer's several purchases on one day stay
separate rows (our RFM sums them per day). Eight lines have revenue 0.00.

`cdnow_expected.json` holds what the reference implementation (`lifetimes`)
and the papers say about it, with the calibration period ending 1997-09-30
(39 weeks) and time in weeks: BG/NBD and Gamma-Gamma parameters and
log-likelihoods, RFM totals, predictions (expected purchases, P(alive),
expected spend, 12-month CLV) for 12 chosen customers, and hypergeometric
2F1 cases. The Rust BG/NBD and Gamma-Gamma code is tested against them.
Regenerate both files with the script (its header says how).
"""


def main() -> int:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    raw = load_raw()
    assert len(raw) == 6919 and raw["customer_id"].nunique() == 2357
    write_csv(raw)
    OUT_README.write_text(README)

    cal = raw[raw["date"] <= CAL_END]
    notes: list[str] = []

    # ---------------- (b) our-spec RFM --------------------------------------
    ours = our_rfm(raw, CAL_END)
    assert len(ours) == 2357

    # cross-check 1: lifetimes with freq='D' is our spec (recency, T in days)
    lt_day = summary_data_from_transaction_data(
        cal, "customer_id", "date", monetary_value_col="value", observation_period_end="1997-09-30", freq="D"
    ).sort_index()
    assert (lt_day.index == ours.index).all()
    assert (lt_day["frequency"].values == ours["frequency"].values).all()
    assert np.allclose(lt_day["recency"].values / 7.0, ours["recency"].values, rtol=0, atol=1e-12)
    assert np.allclose(lt_day["T"].values / 7.0, ours["T"].values, rtol=0, atol=1e-12)
    assert np.allclose(lt_day["monetary_value"].values, ours["monetary"].values, rtol=1e-12, atol=1e-9)

    # cross-check 2: Fader & Hardie's published summary (2 decimals)
    pub = load_cdnow_summary(index_col=[0]).sort_index()
    pubm = load_cdnow_summary_data_with_monetary_value().sort_index()
    assert (pub.index.values == ours.index.values).all()
    fh_freq_equal = bool((pub["frequency"].values == ours["frequency"].values).all())
    fh_rec_maxdiff = float(np.abs(pub["recency"].values - ours["recency"].values).max())
    fh_T_maxdiff = float(np.abs(pub["T"].values - ours["T"].values).max())
    fh_m_maxdiff = float(np.abs(pubm["monetary_value"].values - ours["monetary"].values).max())
    assert fh_freq_equal and fh_rec_maxdiff <= 0.005 + 1e-9 and fh_T_maxdiff <= 0.005 + 1e-9, (
        fh_freq_equal,
        fh_rec_maxdiff,
        fh_T_maxdiff,
    )

    # ---------------- (a) lifetimes' own freq='W' RFM ------------------------
    lt_w = summary_data_from_transaction_data(
        cal, "customer_id", "date", monetary_value_col="value", observation_period_end="1997-09-30", freq="W"
    ).sort_index()
    cal_hold = calibration_and_holdout_data(
        raw, "customer_id", "date", calibration_period_end="1997-09-30", observation_period_end="1998-06-30",
        freq="W", monetary_value_col="value",
    ).sort_index()
    assert np.array_equal(cal_hold["frequency_cal"].values, lt_w["frequency"].values)
    assert np.array_equal(cal_hold["T_cal"].values, lt_w["T"].values)

    diff_f = (lt_w["frequency"].values != ours["frequency"].values)
    rfm_comparison = {
        "ours_equals_lifetimes_freq_D_over_7": True,
        "ours_vs_fader_hardie_published_summary": {
            "frequency_identical": fh_freq_equal,
            "max_abs_diff_recency_weeks": fh_rec_maxdiff,
            "max_abs_diff_T_weeks": fh_T_maxdiff,
            "max_abs_diff_monetary_zbar": fh_m_maxdiff,
            "note": "published values are rounded to 2 decimals",
        },
        "lifetimes_W_vs_ours": {
            "customers_with_different_frequency": int(diff_f.sum()),
            "sum_frequency_ours": int(ours["frequency"].sum()),
            "sum_frequency_lifetimes_W": int(lt_w["frequency"].sum()),
            "repeat_customers_ours": int((ours["frequency"] > 0).sum()),
            "repeat_customers_lifetimes_W": int((lt_w["frequency"] > 0).sum()),
            "max_abs_diff_recency_weeks": float(np.abs(lt_w["recency"].values - ours["recency"].values).max()),
            "max_abs_diff_T_weeks": float(np.abs(lt_w["T"].values - ours["T"].values).max()),
            "mean_diff_T_weeks_lifetimes_minus_ours": float((lt_w["T"].values - ours["T"].values).mean()),
            "sum_recency_lifetimes_W": float(lt_w["recency"].sum()),
            "sum_T_lifetimes_W": float(lt_w["T"].sum()),
        },
    }

    # ---------------- BG/NBD fits -------------------------------------------
    bgf, bg_ours = fit_bgnbd(ours, "ours")
    _, bg_lt = fit_bgnbd(lt_w, "lifetimes_W")
    r, alpha, a, b = bg_ours["r"], bg_ours["alpha"], bg_ours["a"], bg_ours["b"]
    ll_at_published = bgnbd_loglik(
        PUBLISHED_BGNBD["r"], PUBLISHED_BGNBD["alpha"], PUBLISHED_BGNBD["a"], PUBLISHED_BGNBD["b"],
        ours["frequency"], ours["recency"], ours["T"],
    )
    for k in ("r", "alpha", "a", "b"):
        rel = abs(bg_ours[k] - PUBLISHED_BGNBD[k]) / PUBLISHED_BGNBD[k]
        assert rel < 5e-3, (k, bg_ours[k], PUBLISHED_BGNBD[k])
    assert abs(bg_ours["log_likelihood"] - PUBLISHED_BGNBD["log_likelihood"]) < 0.1
    # also the fit on Fader & Hardie's own (rounded) summary, for reference
    _, bg_fh = fit_bgnbd(pub, "fh_summary")

    # ---------------- Gamma-Gamma -------------------------------------------
    rep = ours[ours["frequency"] > 0]
    assert (rep["monetary"] > 0).all(), "GG needs positive monetary for every repeat customer"
    ggf = GammaGammaFitter(penalizer_coef=0.0)
    ggf.fit(rep["frequency"], rep["monetary"])
    p, q, v = (float(ggf.params_[k]) for k in ("p", "q", "v"))
    gg_ll = gg_loglik(p, q, v, rep["frequency"], rep["monetary"])
    assert abs(gg_ll + len(rep) * float(ggf._negative_log_likelihood_)) < 1e-6 * abs(gg_ll)
    for k in ("p", "q", "v"):
        assert abs(round(float(ggf.params_[k]), 2) - PUBLISHED_GG[k]) <= 0.02, (k, ggf.params_[k])
    rep_w = lt_w[lt_w["frequency"] > 0]
    gg_w = GammaGammaFitter().fit(rep_w["frequency"], rep_w["monetary_value"])
    gg_on_fh = GammaGammaFitter().fit(
        pubm.loc[pubm["frequency"] > 0, "frequency"], pubm.loc[pubm["frequency"] > 0, "monetary_value"]
    )

    # ---------------- per-customer predictions ------------------------------
    picks = choose_customers(ours)
    ids = [c for c, _ in picks]
    sel = ours.loc[ids]
    f_s, r_s, T_s, m_s = sel["frequency"], sel["recency"], sel["T"], sel["monetary"]
    e39 = bgf.conditional_expected_number_of_purchases_up_to_time(39, f_s, r_s, T_s)
    e52 = bgf.conditional_expected_number_of_purchases_up_to_time(52, f_s, r_s, T_s)
    palive = bgf.conditional_probability_alive(f_s.values, r_s.values, T_s.values)
    spend = ggf.conditional_expected_average_profit(f_s, m_s)
    clv = ggf.customer_lifetime_value(bgf, f_s, r_s, T_s, m_s, time=12, discount_rate=0.01, freq="W")

    # Independent re-implementation of the formulas written in the header /
    # notes, to prove that is what lifetimes computes.
    def cond_ex(t, x, tx, T):
        hyp_v = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        num = (a + b + x - 1) / (a - 1) * (1 - hyp_v * ((alpha + T) / (alpha + T + t)) ** (r + x))
        return num / (1 + (x > 0) * a / (b + max(x, 1) - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))

    for cid, e39_i, e52_i, pa_i, sp_i, clv_i in zip(ids, np.asarray(e39), np.asarray(e52), np.asarray(palive),
                                                    np.asarray(spend), np.asarray(clv)):
        x, tx, T, m = (float(sel.loc[cid, k]) for k in ("frequency", "recency", "T", "monetary"))
        assert math.isclose(cond_ex(39, x, tx, T), e39_i, rel_tol=1e-12)
        assert math.isclose(cond_ex(52, x, tx, T), e52_i, rel_tol=1e-12)
        pa = 1.0 if x == 0 else 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))
        assert math.isclose(pa, pa_i, rel_tol=1e-12)
        w = p * x / (p * x + q - 1)
        sp = (1 - w) * v * p / (q - 1) + w * m
        assert math.isclose(sp, sp_i, rel_tol=1e-12)
        c = sum(sp * (cond_ex(4.345 * k, x, tx, T) - cond_ex(4.345 * (k - 1), x, tx, T)) / 1.01 ** k
                for k in range(1, 13))
        assert math.isclose(c, clv_i, rel_tol=1e-10), (cid, c, clv_i)

    # holdout (1997-10-01..1998-06-30): actual repeat purchase days, our spec
    hold = raw[(raw["date"] > CAL_END) & (raw["date"] <= OBS_END)]
    hold_days = hold.groupby("customer_id")["date"].nunique().reindex(ours.index, fill_value=0)

    customers = []
    for (cid, why), e39_i, e52_i, pa_i, sp_i, clv_i in zip(
        picks, np.asarray(e39), np.asarray(e52), np.asarray(palive), np.asarray(spend), np.asarray(clv)
    ):
        row = ours.loc[cid]
        customers.append(
            {
                "customer_id": int(cid),
                "why": why,
                "frequency": int(row["frequency"]),
                "recency": float(row["recency"]),
                "T": float(row["T"]),
                "monetary": float(row["monetary"]),
                "recency_days": int(row["recency_days"]),
                "T_days": int(row["T_days"]),
                "expected_purchases_39": float(e39_i),
                "expected_purchases_52": float(e52_i),
                "p_alive": float(pa_i),
                "expected_average_spend": float(sp_i),
                "clv_12_months": float(clv_i),
                "holdout_purchase_days": int(hold_days.loc[cid]),
            }
        )

    # ---------------- 2F1 cases ---------------------------------------------
    hyp = []
    for c in customers:
        x, T = c["frequency"], c["T"]
        for t in (39.0, 52.0):
            hyp.append(hyp_case(r + x, b + x, a + b + x - 1, t / (alpha + T + t),
                                f"conditional E[X({t:g})] customer {c['customer_id']}"))
    for t in (0.0, 1.0, 4.345, 13.0, 39.0, 52.0, 78.0, 19.0 * alpha):
        hyp.append(hyp_case(r, b, a + b - 1, t / (alpha + t), f"unconditional E[X({t:g})]"))
    # a grid in z with the highest-frequency customer's (large) a, b, c and a zero-frequency one's
    top = max(customers, key=lambda c: c["frequency"])
    for x in (0, top["frequency"]):
        for z in (0.0, 0.05, 0.25, 0.5, 0.75, 0.9, 0.95):
            hyp.append(hyp_case(r + x, b + x, a + b + x - 1, z, f"grid x={x}"))
    zs = [h["z"] for h in hyp]
    assert min(zs) == 0.0 and max(zs) >= 0.95 - 1e-12 and len(hyp) >= 20

    # ---------------- unconditional -----------------------------------------
    unconditional = {
        f"expected_purchases_{t}": float(bgf.expected_number_of_purchases_up_to_time(t)) for t in (39, 52, 78)
    }
    # Fader, Hardie & Lee's tracking check: sum over customers of E[X(39) | history]
    # (holdout period is 39 weeks for everyone) vs actual repeat purchase days.
    e39_all = bgf.conditional_expected_number_of_purchases_up_to_time(
        39, ours["frequency"], ours["recency"], ours["T"])
    holdout = {
        "start": "1997-10-01",
        "end": "1998-06-30",
        "weeks": 39,
        "actual_repeat_purchase_days_total": int(hold_days.sum()),
        "expected_total_conditional_39": float(np.sum(e39_all)),
    }

    totals = {
        "customers": int(len(ours)),
        "sum_frequency": int(ours["frequency"].sum()),
        "sum_recency": float(ours["recency"].sum()),
        "sum_T": float(ours["T"].sum()),
        "sum_recency_days": int(ours["recency_days"].sum()),
        "sum_T_days": int(ours["T_days"].sum()),
        "repeat_customers": int((ours["frequency"] > 0).sum()),
        "sum_monetary_repeat_customers": float(rep["monetary"].sum()),
        "transaction_rows_total": int(len(raw)),
        "transaction_rows_calibration": int(len(cal)),
        "transaction_rows_on_calibration_end_day": int((raw["date"] == CAL_END).sum()),
        "customer_days_with_several_rows_calibration": int((cal.groupby(["customer_id", "date"]).size() > 1).sum()),
        "revenue_total_calibration": round(float(cal["value"].sum()), 2),
    }

    notes += [
        "Time unit is the week: recency = (last - first purchase day) in days / 7, T = (1997-09-30 - first "
        "purchase day) in days / 7, frequency = distinct purchase days - 1, monetary = mean of repeat purchase "
        "days' totals (same-day purchases summed). This is lifetimes' summary with freq='D' divided by 7, and "
        "it reproduces Fader & Hardie's published per-customer summary (rfm_comparison).",
        "The calibration period includes 1997-09-30 (rows dated that day count).",
        "bgnbd_lifetimes_rfm is the fit on lifetimes' own freq='W' summary, which floors every date (and the "
        "calibration end) to the Monday of its Monday-Sunday week, so frequency = distinct WEEKS - 1 and "
        "recency/T are whole weeks; it does NOT reproduce the published parameters. Do not test Rust against it "
        "except as a 'different input, different answer' case.",
        "log_likelihood values are TOTALS over customers, in weeks, recomputed from FHL (2005) section 7. "
        "lifetimes itself reports _negative_log_likelihood_ = MEAN negative LL in rescaled time (T/max T); "
        "total_weeks = -n * mean + sum(x) * log(scale), recorded as lifetimes_mean_neg_loglik_scaled and "
        "lifetimes_time_scale.",
        "bgnbd_our_rfm parameters come from lifetimes' BFGS with its default tol=1e-7 on log-parameters; "
        "they are a maximum to about 6 significant figures: compare parameters with a relative tolerance "
        "around 1e-4 and the log-likelihood to about 1e-3 absolute. log_likelihood_at_published is exact "
        "(a function evaluation) and can be compared to 1e-9 relative.",
        "gamma_gamma is fitted on the repeat customers only (frequency > 0) with x = frequency and "
        "m = monetary; log_likelihood is the total of Fader & Hardie note 025 eq. (1a) (which, as lifetimes "
        "implements it, is the density of the mean spend m, including the (p x) log x term).",
        "expected_average_spend = lifetimes' conditional_expected_average_profit: "
        "(1 - w) * v p / (q - 1) + w * m with w = p x / (p x + q - 1); for frequency 0 it is the population "
        "mean v p / (q - 1).",
        "clv_12_months = lifetimes GammaGammaFitter.customer_lifetime_value(bgf, x, t_x, T, m, time=12, "
        "discount_rate=0.01, freq='W') = sum_{k=1..12} spend * (E[X(4.345 k)] - E[X(4.345 (k-1))]) / 1.01^k, "
        "E[X(t)] the conditional expected purchases (BG/NBD eq. 10) with the bgnbd_our_rfm parameters, "
        "spend = expected_average_spend. A 'month' is 4.345 weeks, no margin.",
        "p_alive = lifetimes' conditional_probability_alive: 1 for frequency 0, else "
        "1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)).",
        "hyp2f1_cases come from scipy.special.hyp2f1 and were checked against mpmath (40 digits) to 1e-12 "
        "relative. The conditional cases use a = r + x, b = b + x, c = a + b + x - 1, z = t / (alpha + T + t); "
        "the unconditional a = r, b = b, c = a + b - 1, z = t / (alpha + t). lifetimes falls back to the Euler "
        "transformation 2F1(c-a, c-b; c; z) (1-z)^(c-a-b) only when 2F1 overflows, which none of these do.",
        "holdout: FHL (2005) compare the sum of conditional expectations over the 39-week holdout with actual "
        "repeat purchases; actual here counts distinct purchase days per customer in 1997-10-01..1998-06-30.",
    ]

    out = {
        "source": "CDNOW 1/10th sample (Fader & Hardie), CDNOW_sample.txt as distributed with the Python "
        "lifetimes package; fixtures/cdnow_transactions.csv",
        "lifetimes_version": lifetimes.__version__,
        "python_packages": {
            "python": ".".join(map(str, sys.version_info[:3])),
            **{k: importlib.metadata.version(k) for k in ("numpy", "pandas", "scipy", "autograd")},
            "mpmath": mpmath.__version__ if mpmath is not None else None,
        },
        "calibration_end": "1997-09-30",
        "unit": "week",
        "published": {
            "bgnbd": PUBLISHED_BGNBD,
            "bgnbd_source": "Fader, Hardie & Lee (2005), Marketing Science 24(2) 275-284, CDNOW sample, 39-week calibration",
            "gamma_gamma": PUBLISHED_GG,
            "gamma_gamma_source": "Fader & Hardie, 'The Gamma-Gamma Model of Monetary Value' (2013 note), same data",
        },
        "bgnbd_our_rfm": {**bg_ours, "log_likelihood_at_published": ll_at_published},
        "bgnbd_lifetimes_rfm": bg_lt,
        "bgnbd_fader_hardie_summary": {k: bg_fh[k] for k in ("r", "alpha", "a", "b", "log_likelihood")},
        "gamma_gamma": {
            "p": p,
            "q": q,
            "v": v,
            "log_likelihood": gg_ll,
            "customers": int(len(rep)),
            "lifetimes_mean_neg_loglik": float(ggf._negative_log_likelihood_),
            "fit_on_fader_hardie_summary": {k: float(gg_on_fh.params_[k]) for k in ("p", "q", "v")},
            "fit_on_lifetimes_W_summary": {
                **{k: float(gg_w.params_[k]) for k in ("p", "q", "v")},
                "customers": int(len(rep_w)),
                "note": "monetary = mean of repeat WEEKS' totals (lifetimes freq='W'); not our spec",
            },
        },
        "summary_totals": totals,
        "rfm_comparison": rfm_comparison,
        "customers": customers,
        "unconditional": unconditional,
        "holdout": holdout,
        "hyp2f1_cases": hyp,
        "notes": notes,
    }
    OUT_JSON.write_text(json.dumps(out, indent=1) + "\n")

    print(f"wrote {OUT_CSV.relative_to(ROOT)} ({len(raw)} rows), {OUT_JSON.relative_to(ROOT)}, "
          f"{OUT_README.relative_to(ROOT)}")
    print("BG/NBD ours      :", {k: round(bg_ours[k], 6) for k in ("r", "alpha", "a", "b", "log_likelihood")})
    print("BG/NBD lifetimesW:", {k: round(bg_lt[k], 6) for k in ("r", "alpha", "a", "b", "log_likelihood")})
    print("BG/NBD F&H summ. :", {k: round(bg_fh[k], 6) for k in ("r", "alpha", "a", "b", "log_likelihood")})
    print("LL at published  :", ll_at_published)
    print("GG               :", {"p": p, "q": q, "v": v, "ll": gg_ll})
    print("rfm_comparison   :", json.dumps(rfm_comparison, indent=1))
    print("totals           :", totals)
    print("holdout          :", holdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A small e-commerce clickstream with another tracking plan's names.

Writes crates/wayfarer/tests/fixtures/shop.csv and shop-truth.json: 1000
shoppers over 16 weeks, snake_case event names (landing_page_view,
product_view, add_to_cart, checkout_start, payment_info, purchase, ...),
an `acquisition_channel` column, a `platform` column, `order_value` instead
of `revenue`, rows in no particular order, and effects whose size is known:

- A payment incident: from INCIDENT_START for 21 days, a payment attempt
  ends in an order 23 % of the time instead of 62 %, and failed attempts
  log `payment_error`.
- `out_of_stock_error` (on a product page) is damaging: a shopper who hits
  it adds to cart with probability 0.08 instead of 0.45 in that session.
- `page_load_error` and `coupon_invalid` are harmless: they change nothing.

Only the standard library; the same seed gives the same file.
"""

import csv
import datetime as dt
import json
import os
import random

SEED = 20260105
SHOPPERS = 1000
START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
DAYS = 112
INCIDENT_START = dt.datetime(2026, 2, 23, tzinfo=dt.timezone.utc)
INCIDENT_DAYS = 21
PAY_OK, PAY_OK_INCIDENT = 0.62, 0.23
CART, CART_OUT_OF_STOCK = 0.45, 0.08
CHANNELS = [("organic_search", 35), ("paid_social", 25), ("email", 15), ("referral", 10), ("direct", 15)]
PLATFORMS = [("web", 60), ("ios", 25), ("android", 15)]

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "wayfarer", "tests", "fixtures")


def pick(r, weighted):
    names = [n for n, _ in weighted]
    return r.choices(names, weights=[w for _, w in weighted])[0]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    r = random.Random(SEED)
    rows = []
    truth = {"payment_attempts": {"before": 0, "before_ok": 0, "incident": 0, "incident_ok": 0}}

    def emit(user, t, name, url="", channel="", platform="", value=""):
        rows.append([user, iso(t), name, url, channel, platform, value])

    for i in range(SHOPPERS):
        user = f"s{i:04d}"
        channel = pick(r, CHANNELS)
        platform = pick(r, PLATFORMS)
        t = START + dt.timedelta(days=r.uniform(0, DAYS - 7), hours=r.uniform(7, 22))
        orders = 0
        sessions = 1 + min(int(r.expovariate(0.45)), 8)
        for s in range(sessions):
            if t >= START + dt.timedelta(days=DAYS):
                break
            # The first session is tagged with how the shopper arrived;
            # later ones are direct or email.
            ch = channel if s == 0 else r.choice(["direct", "email", channel])
            if ch == "email" and r.random() < 0.8:
                emit(user, t - dt.timedelta(hours=r.uniform(1, 30)), "email_sent", "", "email", "")
            emit(user, t, "landing_page_view", "/", ch, platform)
            t += dt.timedelta(seconds=r.uniform(5, 60))
            if r.random() < 0.10:
                emit(user, t, "page_load_error", "/", ch, platform)
                t += dt.timedelta(seconds=r.uniform(2, 20))
            if s == 0 and r.random() < 0.3:
                emit(user, t, "account_created", "/signup", ch, platform)
                t += dt.timedelta(seconds=r.uniform(20, 90))
            if r.random() < 0.35:
                emit(user, t, "search", "/search", ch, platform)
                t += dt.timedelta(seconds=r.uniform(5, 40))
            out_of_stock = False
            for _ in range(r.randint(1, 4)):
                product = r.randint(1, 40)
                emit(user, t, "product_view", f"/product/{product}", ch, platform)
                t += dt.timedelta(seconds=r.uniform(10, 120))
                if r.random() < 0.12:
                    emit(user, t, "out_of_stock_error", f"/product/{product}", ch, platform)
                    out_of_stock = True
                    t += dt.timedelta(seconds=r.uniform(2, 15))
            if r.random() >= (CART_OUT_OF_STOCK if out_of_stock else CART):
                t += dt.timedelta(days=r.uniform(2, 20), hours=r.uniform(-3, 3))
                continue
            emit(user, t, "add_to_cart", "/cart", ch, platform)
            t += dt.timedelta(seconds=r.uniform(5, 60))
            emit(user, t, "cart_view", "/cart", ch, platform)
            t += dt.timedelta(seconds=r.uniform(10, 120))
            if r.random() < 0.70:
                emit(user, t, "checkout_start", "/checkout", ch, platform)
                t += dt.timedelta(seconds=r.uniform(20, 90))
                if r.random() < 0.15:
                    emit(user, t, "coupon_invalid", "/checkout", ch, platform)
                    t += dt.timedelta(seconds=r.uniform(5, 30))
                if r.random() < 0.88:
                    emit(user, t, "shipping_info", "/checkout/shipping", ch, platform)
                    t += dt.timedelta(seconds=r.uniform(20, 120))
                    if r.random() < 0.90:
                        emit(user, t, "payment_info", "/checkout/payment", ch, platform)
                        t += dt.timedelta(seconds=r.uniform(10, 60))
                        incident = INCIDENT_START <= t < INCIDENT_START + dt.timedelta(days=INCIDENT_DAYS)
                        ok = r.random() < (PAY_OK_INCIDENT if incident else PAY_OK)
                        key = "incident" if incident else "before"
                        truth["payment_attempts"][key] += 1
                        truth["payment_attempts"][key + "_ok"] += int(ok)
                        if ok:
                            orders += 1
                            value = round(r.lognormvariate(4.0, 0.5), 2)
                            emit(user, t, "purchase", "/checkout/done", ch, platform, f"{value:.2f}")
                            if r.random() < 0.25:
                                later = t + dt.timedelta(days=r.uniform(3, 12))
                                rating = r.choice([3, 4, 5, 5, 5]) if not out_of_stock else r.choice([1, 2, 3])
                                emit(user, later, "review_submitted", f"/product/{product}", "direct", platform)
                                rows[-1][3] = f"/product/{product}?rating={rating}"
                            if orders >= 2 and r.random() < 0.3:
                                emit(user, t + dt.timedelta(days=r.uniform(1, 5)), "referral_sent", "/refer", "direct", platform)
                        elif incident:
                            emit(user, t, "payment_error", "/checkout/payment", ch, platform)
            t += dt.timedelta(days=r.uniform(2, 20), hours=r.uniform(-3, 3))

    end = START + dt.timedelta(days=DAYS)
    rows = [row for row in rows if iso(START) <= row[1] < iso(end)]
    r.shuffle(rows)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "shop.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["user_id", "event_time", "event_name", "page_url", "acquisition_channel", "platform", "order_value"])
        w.writerows(rows)
    truth.update(
        {
            "shoppers": SHOPPERS,
            "rows": len(rows),
            "incident": {"start": iso(INCIDENT_START), "days": INCIDENT_DAYS, "ok_before": PAY_OK, "ok_during": PAY_OK_INCIDENT},
            "damaging_friction": "out_of_stock_error",
            "harmless_friction": ["page_load_error", "coupon_invalid"],
        }
    )
    with open(os.path.join(OUT, "shop-truth.json"), "w") as f:
        json.dump(truth, f, indent=2)
        f.write("\n")
    print(f"wrote {len(rows)} rows; payment attempts {truth['payment_attempts']}")


if __name__ == "__main__":
    main()

"""Sends events to a Wayfarer server with Segment's official Python library
(segment-analytics-python), as a company's backend would.

    python segment_client.py HOST WRITE_KEY N

Sends, per customer i < N: identify (traits), page, track 'Product Viewed'
and track 'Order Completed' (revenue, currency, nested properties), every
message with a known messageId; half the customers through a client with
gzip on. Prints a JSON list of what it sent, one entry per customer
{"kind": "customer", "user", "ids": [4 messageIds], "order", "revenue", "qty"};
exits 1 if the library reports any error.
"""

import json
import sys

from segment.analytics.client import Client

host, write_key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
errors = []


def on_error(error, items):
    errors.append(f"{error!r} ({len(items)} messages)")


clients = [Client(write_key, host=host, on_error=on_error, gzip=g, upload_size=50, max_retries=2) for g in (False, True)]
sent = []
for i in range(n):
    c = clients[i % 2]
    user = f"py-user-{i}"
    c.identify(user, {"email": f"{user}@example.com", "plan": "pro" if i % 3 else "free"}, message_id=f"py-{i}-identify")
    c.page(user, "Shop", "Home", {"url": "https://shop.example.com/?utm_source=newsletter&utm_medium=email"},
           message_id=f"py-{i}-page")
    c.track(user, "Product Viewed", {"sku": f"sku-{i % 7}", "price": 10 + i}, message_id=f"py-{i}-viewed")
    props = {"revenue": round(19.99 + i, 2), "currency": "EUR", "products": [{"sku": f"sku-{i % 7}", "qty": 1 + i % 3}]}
    c.track(user, "Order Completed", props, message_id=f"py-{i}-order")
    ids = [f"py-{i}-{k}" for k in ("identify", "page", "viewed", "order")]
    sent.append({"kind": "customer", "user": user, "ids": ids, "order": f"py-{i}-order",
                 "revenue": props["revenue"], "qty": 1 + i % 3})
for c in clients:
    c.flush()
    c.join()
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(json.dumps(sent))

"""Sends events to a Wayfarer server with RudderStack's official Python SDK
(rudder-sdk-python), as a company's backend would.

    python rudder_client.py HOST WRITE_KEY N [big]

HOST is the server's base URL (http://127.0.0.1:PORT): the SDK posts every batch
to HOST + '/v1/batch', Basic auth WRITE_KEY:'' and, unless told otherwise, gzip.

Sends, per customer i < N: identify (traits), page, track 'Product Viewed'
and track 'Order Completed' (revenue, currency, nested products), every
message with a known messageId; half the customers through a client with
gzip on (the SDK's default), half with it off. Note that this SDK puts
identify traits in context.traits only, not in a top-level traits.

With `big`, it then also queues BIG_EVENTS (150) track 'Catalog Viewed' events of
~6.4 KB each (every one under 32 KB; random base64 so that gzip cannot shrink the
batch much) through a third client whose upload_size is exactly BIG_EVENTS. The SDK
(rudderstack/analytics/consumer.py) only cuts a batch at upload_size messages, after
upload_interval seconds, or at 4 MB, so it posts all of them in ONE request of
~1.0 MB of JSON (~730 KB gzipped). The script watches the SDK's own post() calls
and fails if that request was split or not over 500 KB of JSON.

The SDK counts only HTTP 200 as success (a 202/204 is retried, then reported), and
it retries a 4xx whose JSON body lacks "code" (KeyError in request.py); max_retries
is 2 here.

Prints a JSON list with one entry per customer
  {"kind": "customer", "user", "ids": [4 messageIds], "order", "revenue", "qty", "email", "plan"}
and, in big mode, one per big event {"kind": "big", "user", "ids": [id], "idx", "blob_len"}.
Exits 1, with the errors on stderr, if the SDK reports any error (on_error, or an
error it only logs, such as a message it dropped).
"""

import base64
import json
import logging
import random
import sys

import rudderstack.analytics.consumer as consumer_mod
from rudderstack.analytics.client import Client

host, write_key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else "normal"
if mode not in ("normal", "big"):
    sys.exit(f"unknown mode {mode!r} (expected: normal, big)")
BIG_EVENTS = 150
errors = []


def on_error(error, items):
    errors.append(f"{error!r} ({len(items)} messages: {[m.get('messageId') for m in items][:5]}...)")


class Collect(logging.Handler):
    """The SDK logs some failures without calling on_error (a dropped > 4 MB message)."""

    def emit(self, record):
        errors.append(f"sdk log: {record.getMessage()[:300]}")


logging.getLogger("rudderstack").addHandler(Collect(level=logging.ERROR))

# Observe (never change) what the consumer threads post: batch sizes in messages and JSON bytes.
posts = []
_real_post = consumer_mod.post


def observed_post(*args, **kwargs):
    batch = kwargs.get("batch", [])
    posts.append({"messages": len(batch), "json_bytes": len(json.dumps({"batch": batch}).encode()),
                  "gzip": kwargs.get("gzip")})
    return _real_post(*args, **kwargs)


consumer_mod.post = observed_post

clients = [Client(write_key, host=host, on_error=on_error, gzip=g, upload_size=50, max_retries=2) for g in (True, False)]
sent = []
for i in range(n):
    c = clients[i % 2]
    user = f"rudder-py-user-{i}"
    traits = {"email": f"{user}@example.com", "plan": "pro" if i % 3 else "free"}
    c.identify(user, traits, message_id=f"rpy-{i}-identify")
    c.page(user, "Shop", "Home", {"url": "https://shop.example.com/?utm_source=newsletter&utm_medium=email"},
           message_id=f"rpy-{i}-page")
    c.track(user, "Product Viewed", {"sku": f"sku-{i % 7}", "price": 10 + i}, message_id=f"rpy-{i}-viewed")
    props = {"revenue": round(19.99 + i, 2), "currency": "EUR", "products": [{"sku": f"sku-{i % 7}", "qty": 1 + i % 3}]}
    c.track(user, "Order Completed", props, message_id=f"rpy-{i}-order")
    sent.append({"kind": "customer", "user": user, "ids": [f"rpy-{i}-{k}" for k in ("identify", "page", "viewed", "order")],
                 "order": f"rpy-{i}-order", "revenue": props["revenue"], "qty": 1 + i % 3, **traits})
for c in clients:
    c.flush()

if mode == "big":
    normal_posts = len(posts)
    # The consumer thread starts collecting a batch as soon as the client exists; every
    # message queued within upload_interval (2 s) of that, up to upload_size, goes in it.
    big = Client(write_key, host=host, on_error=on_error, upload_size=BIG_EVENTS, upload_interval=2.0, max_retries=2)
    clients.append(big)
    rng = random.Random(42)
    for j in range(BIG_EVENTS):
        user = f"rudder-py-big-{j % max(n, 1)}"
        blob = base64.b64encode(rng.randbytes(4800)).decode()  # 6400 characters
        big.track(user, "Catalog Viewed", {"idx": j, "blob": blob}, message_id=f"rpy-big-{j}")
        sent.append({"kind": "big", "user": user, "ids": [f"rpy-big-{j}"], "idx": j, "blob_len": len(blob)})
    big.flush()
    big_posts = posts[normal_posts:]
    print(f"rudder_client.py: big-mode requests (messages, JSON bytes): {big_posts}", file=sys.stderr)
    if len(big_posts) != 1 or big_posts[0]["messages"] != BIG_EVENTS or big_posts[0]["json_bytes"] <= 500_000:
        if not errors:
            errors.append(f"the SDK did not post the {BIG_EVENTS} big events as one request over 500 KB: {big_posts}")
for c in clients:
    c.join()
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(json.dumps(sent))

/**
 * Sends events to a Wayfarer server with RudderStack's official Node SDK
 * (@rudderstack/rudder-sdk-node, installed by `npm ci` in ./node), as a company's backend would.
 *
 *     node rudder_client.mjs HOST WRITE_KEY N [normal|big-event]
 *
 * HOST is the server's base URL (http://127.0.0.1:PORT), given as the SDK's dataPlaneUrl:
 * the SDK posts to dataPlaneUrl + path, path defaulting to '/v1/batch' (so HOST must NOT
 * end in /v1/batch), Basic auth WRITE_KEY:'' and, by default, gzip.
 *
 * Sends, per customer i < N: identify (traits), page, track 'Product Viewed' and
 * track 'Order Completed' (revenue, currency, nested products), every message with a
 * known messageId; half the customers through a client with gzip on (the SDK's
 * default), half with it off. The SDK stamps originalTimestamp and sentAt, not timestamp.
 *
 * With `big-event`, customer floor(N/2) also sends one track 'Catalog Viewed' of ~40 KB
 * (messageId rnode-big-0). The SDK only logs that a message over 32 KB is too big
 * and sends it anyway, in a batch with up to 19 normal messages.
 *
 * The clients have an errorHandler and every call a callback, so each message the
 * SDK reports as failed is known. (Without an errorHandler the SDK rethrows a failed
 * flush as an unhandled promise rejection, which kills the process.) Retries: 2.
 *
 * Prints to stdout a JSON list with one entry per customer
 *   {"kind": "customer", "user", "ids": [4 messageIds], "order", "revenue", "qty", "email", "plan", "failed": [...]}
 * and, in big-event mode, {"kind": "big", "user", "ids": ["rnode-big-0"], "json_bytes", "failed": [...]},
 * "failed" listing those of its messageIds the SDK said were not delivered. Exits 1 if
 * the SDK reported any error, printing the errors on stderr (the SDK's own log lines
 * go to stderr too, cut to 300 characters).
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';

const require = createRequire(new URL('./node/package.json', import.meta.url));
const Analytics = require('@rudderstack/rudder-sdk-node');

const [host, writeKey, nArg, mode = 'normal'] = process.argv.slice(2);
const n = Number(nArg);
if (!host || !writeKey || !Number.isInteger(n) || !['normal', 'big-event'].includes(mode)) {
  console.error('usage: node rudder_client.mjs HOST WRITE_KEY N [normal|big-event]');
  process.exit(2);
}

// The SDK logs through console.info/warn/error; keep stdout for our JSON only.
const cut = (a) => (typeof a === 'string' ? a : a instanceof Error ? String(a) : JSON.stringify(a) ?? String(a)).slice(0, 300);
for (const level of ['log', 'info', 'debug', 'warn']) {
  console[level] = (...args) => process.stderr.write(args.map(cut).join(' ') + '\n');
}

const errors = [];
const failed = new Set();
const pending = [];

const clients = [true, false].map(
  (gzip) =>
    new Analytics(writeKey, {
      dataPlaneUrl: host,
      gzip,
      flushAt: 20,
      flushInterval: 200,
      retryCount: 2,
      errorHandler: (err) => {
        const status = err?.response?.status;
        errors.push(`errorHandler: ${status ? `HTTP ${status}` : err?.code ?? ''} ${err?.message ?? err}`);
      },
    }),
);

/** Calls client[method](message) with a callback that records whether the SDK delivered it. */
function send(client, method, message) {
  pending.push(
    new Promise((resolve) => {
      client[method](message, (err) => {
        if (err) {
          failed.add(message.messageId);
          errors.push(`${message.messageId}: ${err?.message ?? err}`);
        }
        resolve();
      });
    }),
  );
}

const sent = [];
const bigAt = Math.floor(n / 2);
for (let i = 0; i < n; i++) {
  const c = clients[i % 2];
  const userId = `rudder-node-user-${i}`;
  const traits = { email: `${userId}@example.com`, plan: i % 3 ? 'pro' : 'free' };
  const id = (k) => `rnode-${i}-${k}`;
  send(c, 'identify', { userId, traits, messageId: id('identify') });
  send(c, 'page', {
    userId,
    category: 'Shop',
    name: 'Home',
    properties: { url: 'https://shop.example.com/?utm_source=newsletter&utm_medium=email' },
    messageId: id('page'),
  });
  send(c, 'track', { userId, event: 'Product Viewed', properties: { sku: `sku-${i % 7}`, price: 10 + i }, messageId: id('viewed') });
  const qty = 1 + (i % 3);
  const revenue = Math.round((19.99 + i) * 100) / 100;
  const properties = { revenue, currency: 'EUR', products: [{ sku: `sku-${i % 7}`, qty }] };
  send(c, 'track', { userId, event: 'Order Completed', properties, messageId: id('order') });
  sent.push({ kind: 'customer', user: userId, ids: ['identify', 'page', 'viewed', 'order'].map(id), order: id('order'), revenue, qty, ...traits });
  if (mode === 'big-event' && i === bigAt) {
    const message = {
      userId,
      event: 'Catalog Viewed',
      properties: { blob: randomBytes(30000).toString('base64') }, // 40,000 characters
      messageId: 'rnode-big-0',
    };
    send(c, 'track', message);
    sent.push({ kind: 'big', user: userId, ids: [message.messageId], json_bytes: Buffer.byteLength(JSON.stringify(message)) });
  }
}

// flush() sends at most flushAt messages per call: keep flushing until every callback ran.
let settled = false;
const all = Promise.all(pending).then(() => (settled = true));
const deadline = Date.now() + 120_000;
while (!settled && Date.now() < deadline) {
  await Promise.all(clients.map((c) => c.flush()));
  await Promise.race([all, new Promise((r) => setTimeout(r, 100))]);
}
if (!settled) errors.push('timed out waiting for the SDK to deliver every message');

for (const s of sent) s.failed = s.ids.filter((id) => failed.has(id));
process.stdout.write(JSON.stringify(sent) + '\n');
if (errors.length) {
  process.stderr.write(errors.join('\n') + '\n');
  process.stderr.write(`failed messageIds: ${JSON.stringify([...failed])}\n`);
  process.exit(1);
}
process.exit(0);

/**
 * Sends events to a Wayfarer server with Segment's official Node library
 * (@segment/analytics-node, installed by `npm ci` in ./node), as a company's backend would.
 *
 *     node segment_client.mjs HOST WRITE_KEY N [normal|big-event]
 *
 * HOST is the server's base URL (http://127.0.0.1:PORT): the library posts to
 * new URL('/v1/batch', HOST) with Basic auth WRITE_KEY:'', the write key also in the
 * body, never gzip. It means to send batches of at most flushAt (here 15) events and
 * 480 KB, and to fail, without sending, any event over 32 KB; but its size estimate
 * (context-batch.ts: encodeURI(json).split(/%..|i/).length) counts only the letter 'i'
 * and escaped characters, so in practice neither size limit holds.
 *
 * Sends, per customer i < N: identify (traits), page, track 'Product Viewed' and
 * track 'Order Completed' (revenue, currency, nested products), every message with a
 * known messageId, then closeAndFlush(). The library stamps timestamp (not
 * originalTimestamp); the batch carries sentAt.
 *
 * With `big-event`, customer floor(N/2) also sends one track 'Catalog Viewed' of ~40 KB
 * (messageId snode-big-0, random base64, so few 'i's): the library sends it.
 *
 * Prints to stdout a JSON list with one entry per customer
 *   {"kind": "customer", "user", "ids": [4 messageIds], "order", "revenue", "qty", "email", "plan", "failed": [...]}
 * and, in big-event mode, {"kind": "big", "user", "ids": ["snode-big-0"], "json_bytes", "failed": [...]},
 * "failed" listing those of its messageIds the library said were not delivered. Exits 1
 * if the library reported any error (its 'error' event, or a failed call's callback),
 * printing the errors on stderr; every HTTP answer that was not 2xx is also noted on
 * stderr (retried ones too). maxRetries is 2.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';

const require = createRequire(new URL('./node/package.json', import.meta.url));
const { Analytics } = require('@segment/analytics-node');

const [host, writeKey, nArg, mode = 'normal'] = process.argv.slice(2);
const n = Number(nArg);
if (!host || !writeKey || !Number.isInteger(n) || !['normal', 'big-event'].includes(mode)) {
  console.error('usage: node segment_client.mjs HOST WRITE_KEY N [normal|big-event]');
  process.exit(2);
}

const errors = [];
const failed = new Set();
const analytics = new Analytics({ writeKey, host, flushAt: 15, flushInterval: 200, maxRetries: 2 });
analytics.on('error', (e) => {
  const id = e?.ctx?.event?.messageId;
  if (id) failed.add(id);
  errors.push(`error event: ${e?.code} ${id ?? ''} ${e?.reason?.message ?? e?.reason}`);
});
analytics.on('http_response', (r) => {
  // Not an error by itself: the library retries 5xx, 408, 410, 429 and 460.
  if (r.status < 200 || r.status >= 300) process.stderr.write(`segment_client.mjs: HTTP ${r.status} ${r.statusText} from ${r.url}\n`);
});

function callback(messageId) {
  return (err) => {
    if (err) {
      failed.add(messageId);
      errors.push(`${messageId}: ${err?.message ?? err}`);
    }
  };
}

const sent = [];
const bigAt = Math.floor(n / 2);
for (let i = 0; i < n; i++) {
  const userId = `segment-node-user-${i}`;
  const traits = { email: `${userId}@example.com`, plan: i % 3 ? 'pro' : 'free' };
  const id = (k) => `snode-${i}-${k}`;
  analytics.identify({ userId, traits, messageId: id('identify') }, callback(id('identify')));
  analytics.page(
    {
      userId,
      category: 'Shop',
      name: 'Home',
      properties: { url: 'https://shop.example.com/?utm_source=newsletter&utm_medium=email' },
      messageId: id('page'),
    },
    callback(id('page')),
  );
  analytics.track(
    { userId, event: 'Product Viewed', properties: { sku: `sku-${i % 7}`, price: 10 + i }, messageId: id('viewed') },
    callback(id('viewed')),
  );
  const qty = 1 + (i % 3);
  const revenue = Math.round((19.99 + i) * 100) / 100;
  const properties = { revenue, currency: 'EUR', products: [{ sku: `sku-${i % 7}`, qty }] };
  analytics.track({ userId, event: 'Order Completed', properties, messageId: id('order') }, callback(id('order')));
  sent.push({ kind: 'customer', user: userId, ids: ['identify', 'page', 'viewed', 'order'].map(id), order: id('order'), revenue, qty, ...traits });
  if (mode === 'big-event' && i === bigAt) {
    const message = {
      userId,
      event: 'Catalog Viewed',
      properties: { blob: randomBytes(30000).toString('base64') }, // 40,000 characters
      messageId: 'snode-big-0',
    };
    analytics.track(message, callback(message.messageId));
    sent.push({ kind: 'big', user: userId, ids: [message.messageId], json_bytes: Buffer.byteLength(JSON.stringify(message)) });
  }
}

// Resolves once every event was delivered or failed (or, after the timeout, aborts the rest).
await analytics.closeAndFlush({ timeout: 120_000 });

for (const s of sent) s.failed = s.ids.filter((id) => failed.has(id));
process.stdout.write(JSON.stringify(sent) + '\n');
if (errors.length) {
  process.stderr.write(errors.join('\n') + '\n');
  process.stderr.write(`failed messageIds: ${JSON.stringify([...failed])}\n`);
  process.exit(1);
}
process.exit(0);

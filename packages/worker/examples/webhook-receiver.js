// A webhook receiver for wa-worker that refuses forged and replayed deliveries (Node, no
// dependencies): `WEBHOOK_SECRET=... PORT=8080 node webhook-receiver.js`. The README shows this file;
// packages/worker/test/webhook-receiver-example.integration.test.ts runs it against real deliveries.
const crypto = require('node:crypto');
const http = require('node:http');

const secret = process.env.WEBHOOK_SECRET; // the worker's WHATSAPP_WEBHOOK_SECRET
const WINDOW_SECONDS = 300; // a delivery signed longer ago than this (or this far ahead) is refused
const seen = new Map(); // event id -> send time of its latest delivery, kept for the window

/** 'ok', or why the delivery is refused. */
function verify(headers, raw, now) {
  const t = Number(headers['x-webhook-timestamp']);
  const [, signedT, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(headers['x-webhook-signature'] ?? '') ?? [];
  if (!v1 || Number(signedT) !== t) return 'unsigned';
  const expected = crypto.createHmac('sha256', secret).update(`${t}.${raw}`).digest();
  if (!crypto.timingSafeEqual(expected, Buffer.from(v1, 'hex'))) return 'bad signature';
  if (Math.abs(now - t) > WINDOW_SECONDS) return 'too old';
  return 'ok';
}

function handle(event) {
  console.log('handled', event.id, event.event); // your application's work goes here
}

if (!secret) {
  console.error('WEBHOOK_SECRET is required');
  process.exit(2);
}
const server = http.createServer((request, response) => {
  const chunks = [];
  let size = 0;
  request.on('data', (chunk) => {
    size += chunk.length;
    if (size > 1024 * 1024) request.destroy(); // the worker's bodies stay under 64 KB
    else chunks.push(chunk);
  });
  request.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    const now = Math.floor(Date.now() / 1000);
    const verdict = verify(request.headers, raw, now);
    if (verdict !== 'ok') return void response.writeHead(401).end(verdict);
    const event = JSON.parse(raw);
    // Ids older than the window can go: a delivery that old is refused above anyway.
    for (const [id, t] of seen) {
      if (now - t <= WINDOW_SECONDS) break;
      seen.delete(id);
    }
    // A retry of an event already handled (its answer was lost) or a replay within the window:
    // answered 200 so the worker stops retrying, and not handled twice.
    const duplicate = seen.has(event.id);
    seen.delete(event.id);
    seen.set(event.id, Number(request.headers['x-webhook-timestamp']));
    if (!duplicate) handle(event);
    response.writeHead(200).end(duplicate ? 'duplicate' : 'ok');
  });
});
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', () => {
  console.log('listening on', server.address().port);
});

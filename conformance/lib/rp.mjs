// The relying party's own HTTP server on 127.0.0.1: it receives what the OP sends the client —
// authorization callbacks (query or form_post), post-logout redirects and back-channel logout
// POSTs — and records every request exactly as it arrived.

import http from 'node:http';

export async function startRp() {
  const records = [];
  const waiters = [];

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://127.0.0.1');
      const body = Buffer.concat(chunks).toString('utf8');
      const contentType = req.headers['content-type'] ?? null;
      const record = {
        index: records.length,
        time: Date.now(),
        method: req.method,
        path: url.pathname,
        rawUrl: req.url,
        query: url.searchParams,
        headers: req.headers,
        contentType,
        body,
        form: (contentType ?? '').split(';')[0].trim().toLowerCase() === 'application/x-www-form-urlencoded' ? new URLSearchParams(body) : null,
        tls: null, // plain http on loopback: no TLS to inspect
      };
      records.push(record);
      for (const w of [...waiters]) {
        if (w.predicate(record)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(record);
        }
      }
      const headers = { 'x-rp-record': String(record.index), 'content-type': 'text/html; charset=utf-8' };
      if (url.pathname === '/backchannel_logout') {
        res.writeHead(200, { ...headers, 'cache-control': 'no-store' });
        res.end();
        return;
      }
      res.writeHead(200, headers);
      res.end('<!doctype html><title>RP</title><p>received</p>');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;

  return {
    origin,
    records,
    record: (i) => records[i],
    /** Resolves with the first record (at or after `since`) matching `predicate`, or null after `ms`. */
    waitFor(predicate, ms, since = 0) {
      const existing = records.slice(since).find(predicate);
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve) => {
        const w = { predicate, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            resolve(null);
          }
        }, ms);
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

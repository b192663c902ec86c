// The upload body read past Node's HTTP parser: byte-exact with a slow consumer that pauses and a
// consumer that comes late, truncation seen as incomplete, and the cases left to the parser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { takeSocketBody } from './socket-body.js';

async function withServer(handler: (req: IncomingMessage, res: ServerResponse) => void, fn: (port: number) => Promise<void>): Promise<void> {
  const srv = createServer(handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try { await fn((srv.address() as AddressInfo).port); } finally { srv.closeAllConnections(); await new Promise((r) => srv.close(r)); }
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

test('a sized body arrives byte-exact through a consumer that pauses, and one that listens late', async () => {
  const body = Buffer.alloc(9_000_003);
  for (let i = 0; i + 4 <= body.length; i += 4096) body.writeUInt32LE(i, i);
  await withServer((req, res) => {
    setTimeout(() => { // the handler runs after the parser has read part of the body
      const b = takeSocketBody(req, Number(req.headers['content-length']));
      assert.ok(b, 'taken over');
      const h = createHash('md5');
      let n = 0, i = 0;
      setTimeout(() => {
        b.on('data', (c: Buffer) => { n += c.length; h.update(c); if (++i % 3 === 0) { b.pause(); setTimeout(() => b.resume(), 1); } });
        b.on('end', () => { res.setHeader('Connection', 'close'); res.end(JSON.stringify({ n, complete: b.complete, md5: h.digest('hex') })); });
      }, 30);
    }, 30);
  }, async (port) => {
    const r = await fetch(`http://127.0.0.1:${port}/`, { method: 'PUT', body });
    assert.deepEqual(await r.json(), { n: body.length, complete: true, md5: md5(body) });
    assert.equal(r.headers.get('connection'), 'close');
  });
});

test('a client that stops early gives an incomplete end; a chunked body is left to the parser', async () => {
  await withServer((req, res) => {
    const length = Number(req.headers['content-length'] ?? NaN);
    if (Number.isNaN(length)) {
      assert.equal(takeSocketBody(req, 10), null, 'chunked: not taken');
      let n = 0;
      req.on('data', (c: Buffer) => { n += c.length; });
      req.on('end', () => res.end(String(n)));
      return;
    }
    const b = takeSocketBody(req, length)!;
    let n = 0;
    b.on('data', (c: Buffer) => { n += c.length; });
    b.on('end', () => { assert.equal(b.complete, false); assert.equal(n, 1000); res.end(); });
  }, async (port) => {
    // 1,000 of the 5,000 announced bytes, then the client closes its side.
    await new Promise<void>((resolve) => {
      const req = request({ port, host: '127.0.0.1', method: 'PUT', headers: { 'Content-Length': '5000' } });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(Buffer.alloc(1000), () => setTimeout(() => req.socket?.end(), 20));
    });
    const chunked = await new Promise<string>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', method: 'PUT' }, (res) => { let t = ''; res.on('data', (c) => { t += c; }); res.on('end', () => resolve(t)); });
      req.on('error', reject);
      req.write(Buffer.alloc(700));
      req.end(Buffer.alloc(300));
    });
    assert.equal(chunked, '1000');
  });
});

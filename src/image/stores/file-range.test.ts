// FileRange: the same bytes as a stream, through the reused-buffer response path (chunked
// responses) and through sendfile(2) (Content-Length responses), also when the client reads slowly
// (so writes stay in flight while the next buffer is filled, and sendfile must wait for room).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Agent, createServer, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRange } from './file-range.js';
import { sendfileAddon, sendfileStats, setSendfileMode } from './sendfile.js';

const sha = (b: Buffer) => createHash('sha512').update(b).digest('hex');

test('FileRange: stream and sendTo give the exact bytes of a range, under backpressure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'file-range-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = randomBytes((5 << 20) + 12345);
  const file = join(dir, 'img');
  writeFileSync(file, data);

  const chunks: Buffer[] = [];
  for await (const c of new FileRange(await open(file, 'r'), 100, 3_000_099)) chunks.push(c as Buffer);
  assert.equal(sha(Buffer.concat(chunks)), sha(data.subarray(100, 3_000_100)));

  const server = createServer((req, res) => {
    const [s, e] = (req.url ?? '/0-').slice(1).split('-');
    void open(file, 'r').then((fh) => {
      res.writeHead(200);
      return new FileRange(fh, Number(s), e ? Number(e) : undefined).sendTo(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const fetchSlow = (path: string) => new Promise<Buffer>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        got.push(c);
        res.pause(); // a slow reader: the server's writes wait on the socket
        setTimeout(() => res.resume(), 1);
      });
      res.on('end', () => resolve(Buffer.concat(got)));
      res.on('error', reject);
    }).on('error', reject);
  });
  assert.equal(sha(await fetchSlow('/0-')), sha(data), 'whole file');
  assert.equal(sha(await fetchSlow('/1048570-4194310')), sha(data.subarray(1048570, 4194311)), 'a range across buffer boundaries');
});

test('sendTo through sendfile(2): byte-exact whole and ranged bodies on one keep-alive connection, slow and vanishing readers', async (t) => {
  assert.ok(sendfileAddon(), 'the monostack-sendfile addon is built (npm ci builds native/sendfile)');
  setSendfileMode('always'); // these clients are on loopback, which the default (auto) serves by copies
  const dir = mkdtempSync(join(tmpdir(), 'file-range-sf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = randomBytes((12 << 20) + 4321);
  const file = join(dir, 'img');
  writeFileSync(file, data);
  const failures: Error[] = [];
  let served = 0;
  // The client (here, in the same process) can see a body's end before the server's sendTo has
  // returned: wait for the server's side before reading the counters.
  const serverDone = async (n: number) => { while (served + failures.length < n) await new Promise((r) => setTimeout(r, 5)); };
  const server = createServer((req, res) => {
    const [s, e] = (req.url ?? '/0-').slice(1).split('-');
    const start = Number(s), end = e ? Number(e) : data.length - 1;
    void open(file, 'r').then((fh) => {
      // Content-Length framing, as the image API sends: the body goes through sendfile.
      res.writeHead(200, { 'Content-Length': String(end - start + 1) });
      return new FileRange(fh, start, e ? end : undefined).sendTo(res);
    }).then(() => { served++; }, (err: Error) => { failures.push(err); res.destroy(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const sockets = new Set<unknown>();
  const fetchBody = (path: string, slow = false) => new Promise<Buffer>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent }, (res) => {
      sockets.add(res.socket);
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        got.push(c);
        if (slow) { res.pause(); setTimeout(() => res.resume(), 2); } // the socket fills: sendfile must wait
      });
      res.on('end', () => resolve(Buffer.concat(got)));
      res.on('error', reject);
    }).on('error', reject);
  });

  const before = { ...sendfileStats };
  assert.equal(sha(await fetchBody('/0-')), sha(data), 'whole file');
  assert.equal(sha(await fetchBody('/1048570-9437190')), sha(data.subarray(1048570, 9437191)), 'a range');
  assert.equal(sha(await fetchBody('/3-70000')), sha(data.subarray(3, 70001)), 'a range just past the first write');
  assert.equal(sha(await fetchBody('/100-', true)), sha(data.subarray(100)), 'a slow reader, to the end of the file');
  assert.equal(sockets.size, 1, 'every response on the same keep-alive connection');
  await serverDone(4);
  assert.equal(sendfileStats.transfers - before.transfers, 4);
  assert.equal(sendfileStats.bytes - before.bytes, (data.length - (64 << 10)) + (9437191 - 1048570 - (64 << 10)) + (70001 - 3 - (64 << 10)) + (data.length - 100 - (64 << 10)));
  assert.deepEqual(failures, []);

  // A reader that goes away mid-body: the send fails, nothing crashes, the server serves on.
  await new Promise<void>((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/0-' }, (res) => {
      res.once('data', () => { req.destroy(); setTimeout(resolve, 200); });
    });
    req.on('error', () => undefined);
  });
  await serverDone(5);
  assert.equal(failures.length, 1);
  assert.match(String((failures[0] as NodeJS.ErrnoException).code), /^(EPIPE|ECONNRESET|ERR_STREAM_DESTROYED)$/, String((failures[0] as Error).stack));
  assert.equal(sha(await fetchBody('/5-')), sha(data.subarray(5)), 'after an aborted download');
  await serverDone(6);

  // Without the addon, the copy path gives the same bytes.
  setSendfileMode('never');
  try {
    const n = sendfileStats.transfers;
    assert.equal(sha(await fetchBody('/1048570-9437190')), sha(data.subarray(1048570, 9437191)));
    assert.equal(sendfileStats.transfers, n);
    // The default sends to a loopback client by copies too.
    setSendfileMode('auto');
    assert.equal(sha(await fetchBody('/5-')), sha(data.subarray(5)));
    assert.equal(sendfileStats.transfers, n);
  } finally {
    setSendfileMode('always');
  }
});

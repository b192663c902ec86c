// FileRange: the same bytes as a stream and through the reused-buffer response path, also when the
// client reads slowly (so writes stay in flight while the next buffer is filled).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRange } from './file-range.js';

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

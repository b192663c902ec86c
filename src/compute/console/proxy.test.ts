// The noVNC console proxy: static files (and no way out of the web root), websocket refusals before
// any backend connection, the relay against real sockets, and end to end against a real QEMU
// guest's VNC server: an RFB handshake through the proxy, and headless Chromium running noVNC
// against it up to a connected, non-blank screen.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { WebSocket } from 'ws';
import { run } from '../../common/exec.js';
import { projectRoot } from '../../common/testing/process.js';
import { startConsoleProxy, safeSegments, type ConsoleProxy, type ConsoleProxyOptions, type ConsoleTarget, type ProxyLog } from './proxy.js';

// ---- helpers ---------------------------------------------------------------------------------------

interface LogLine { level: string; obj: Record<string, unknown>; msg?: string }
function recordingLog(): ProxyLog & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg?: string) => { lines.push({ level, obj: obj as Record<string, unknown>, msg }); };
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

async function proxy(o: Partial<ConsoleProxyOptions> & Pick<ConsoleProxyOptions, 'resolve'>): Promise<ConsoleProxy & { log: ReturnType<typeof recordingLog> }> {
  const log = recordingLog();
  const p = await startConsoleProxy({ host: '127.0.0.1', port: 0, log, ...o });
  return Object.assign(p, { log });
}

/** A raw GET (node:http keeps the path as given; fetch() would normalise the dots away). */
function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: Buffer; headers: Record<string, unknown> }> {
  return new Promise((res, rej) => {
    const r = request({ host: '127.0.0.1', port, path, method, agent: false }, (resp) => {
      const chunks: Buffer[] = [];
      resp.on('data', (c: Buffer) => chunks.push(c));
      resp.on('end', () => res({ status: resp.statusCode ?? 0, type: String(resp.headers['content-type'] ?? ''), body: Buffer.concat(chunks), headers: resp.headers }));
    });
    r.on('error', rej);
    r.end();
  });
}

/** Opens a websocket; resolves with it when open, or with the HTTP status of a refused upgrade. */
function openWs(url: string, opts: { protocols?: string[]; origin?: string } = {}): Promise<{ ws?: WebSocket; r?: WsReader; status?: number; body?: string }> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, opts.protocols ?? ['binary'], { origin: opts.origin });
    // The reader listens from the start: the server's first bytes can come with the 101 response.
    const r = new WsReader(ws);
    ws.once('open', () => res({ ws, r }));
    ws.once('unexpected-response', (_req, resp) => {
      let body = '';
      resp.on('data', (c: Buffer) => { body += c.toString(); });
      resp.on('end', () => res({ status: resp.statusCode, body: body || String(resp.headers['x-refused'] ?? '') }));
    });
    ws.once('error', rej);
  });
}

/** Reads exact byte counts from a websocket's binary messages. */
class WsReader {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed: { code: number; reason: string } | null = null;
  constructor(ws: WebSocket) {
    ws.on('message', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; this.wake(); });
  }
  private wake() { for (const w of this.waiters.splice(0)) w(); }
  async read(n: number, timeoutMs = 10_000): Promise<Buffer> {
    const end = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`websocket closed (${this.closed.code} ${this.closed.reason}) with ${this.buf.length}/${n} bytes`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} bytes (have ${this.buf.length})`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, left).unref(); });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const end = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > end) throw new Error('websocket not closed');
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50).unref(); });
    }
    return this.closed;
  }
}

/** A real TCP (or unix socket) server standing in for a VNC server: a banner, then it echoes. */
async function bannerServer(listenOn: { port: 0 } | { path: string }): Promise<{ server: Server; target: ConsoleTarget; accepted: Socket[] }> {
  const accepted: Socket[] = [];
  const server = createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
    s.write('RFB 003.008\n');
    s.pipe(s);
  });
  await new Promise<void>((r) => ('path' in listenOn ? server.listen(listenOn.path, r) : server.listen(0, '127.0.0.1', r)));
  const a = server.address();
  const target: ConsoleTarget = 'path' in listenOn ? { path: listenOn.path } : { host: '127.0.0.1', port: typeof a === 'object' && a ? a.port : 0 };
  return { server, target, accepted };
}

const until = async (cond: () => boolean, timeoutMs = 5000, what = 'condition') => {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

// ---- static files ------------------------------------------------------------------------------

describe('console proxy: static files', () => {
  let p: ConsoleProxy & { log: ReturnType<typeof recordingLog> };
  before(async () => { p = await proxy({ resolve: async () => null }); });
  after(async () => { await p.close(); });

  test('serves the console page as vnc_auto.html, vnc_lite.html and vnc.html, and noVNC\'s modules', async () => {
    for (const page of ['/vnc_auto.html', '/vnc_lite.html', '/vnc.html', '/vnc_auto.html?path=%3Ftoken%3Dabc']) {
      const r = await get(p.port, page);
      assert.equal(r.status, 200, page);
      assert.equal(r.type, 'text/html; charset=utf-8');
      assert.match(r.body.toString(), /import RFB from '\.\/core\/rfb\.js'/);
      assert.equal(r.headers['referrer-policy'], 'no-referrer');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    }
    const rfb = await get(p.port, '/core/rfb.js');
    assert.equal(rfb.status, 200);
    assert.equal(rfb.type, 'text/javascript; charset=utf-8');
    assert.match(rfb.body.toString(), /export default class RFB/);
    // Every module rfb.js pulls in is served (the browser test depends on it too).
    const inflate = await get(p.port, '/vendor/pako/lib/zlib/inflate.js');
    assert.equal(inflate.status, 200);
    assert.equal(inflate.type, 'text/javascript; charset=utf-8');
    const head = await get(p.port, '/core/rfb.js', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(Number(head.headers['content-length']), rfb.body.length);
  });

  test('path traversal and anything outside app/, core/, vendor/ and the pages is 404', async () => {
    const attempts = [
      '/../../package.json', '/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/package.json', '/%2E%2E/package.json',
      '/core/../../../package.json', '/core/%2e%2e/%2e%2e/%2e%2e/package.json', '/core/..%2f..%2f..%2fpackage.json',
      '/core%2f..%2f..%2fpackage.json', '/core/%252e%252e/package.json', '/core/..%5c..%5cpackage.json', '/core\\..\\..\\package.json',
      '/core/rfb.js%00.html', '/core//rfb.js', '/./core/rfb.js', '/core/./rfb.js', '//etc/passwd', '/core/%2fetc%2fpasswd',
      '/package.json', '/lib/rfb.js', '/LICENSE.txt', '/README.md', '/core', '/core/', '/core/util', '/app/ui.js', '/vnc_auto.html/',
      '/core/%', '/core/%zz.js', '/', '/websockify', '/core/nothing.js', '/vendor/pako/LICENSE',
    ];
    for (const path of attempts) {
      const r = await get(p.port, path);
      assert.equal(r.status, 404, `${path} -> ${r.status}`);
      assert.doesNotMatch(r.body.toString(), /"name":|export default/, path);
    }
    assert.equal((await get(p.port, '/vnc_auto.html', 'POST')).status, 405);
    assert.equal((await get(p.port, '/core/rfb.js', 'DELETE')).status, 405);
  });

  test('safeSegments refuses dot segments, encoded separators and NULs', () => {
    assert.deepEqual(safeSegments('/core/rfb.js'), ['core', 'rfb.js']);
    for (const bad of ['/', '', 'core/rfb.js', '/a//b', '/a/./b', '/a/../b', '/a/%2e%2e/b', '/a%2fb', '/a%5cb', '/a%00b', '/%E0%A4%A']) {
      assert.equal(safeSegments(bad), null, bad);
    }
  });

  test('webDir: a full noVNC tree is served instead, and symbolic links out of it are not followed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'novnc-web-'));
    const outside = await mkdtemp(join(tmpdir(), 'novnc-outside-'));
    try {
      await mkdir(join(dir, 'app', 'images'), { recursive: true });
      await mkdir(join(dir, 'core'), { recursive: true });
      await writeFile(join(dir, 'vnc.html'), '<p>full ui</p>');
      await writeFile(join(dir, 'vnc_lite.html'), '<p>lite</p>');
      await writeFile(join(dir, 'app', 'ui.js'), 'export default 1;');
      await writeFile(join(dir, 'app', 'images', 'x.svg'), '<svg/>');
      await writeFile(join(dir, 'core', 'rfb.js'), 'export default 2;');
      await writeFile(join(outside, 'secret.js'), 'secret');
      await symlink(join(outside, 'secret.js'), join(dir, 'core', 'evil.js'));
      const w = await proxy({ resolve: async () => null, webDir: dir });
      try {
        assert.equal((await get(w.port, '/vnc.html')).body.toString(), '<p>full ui</p>');
        assert.equal((await get(w.port, '/vnc_auto.html')).body.toString(), '<p>lite</p>', 'vnc_auto.html is vnc_lite.html when the tree has none');
        const ui = await get(w.port, '/app/ui.js');
        assert.equal(ui.status, 200);
        assert.equal(ui.type, 'text/javascript; charset=utf-8');
        assert.equal((await get(w.port, '/app/images/x.svg')).type, 'image/svg+xml');
        assert.equal((await get(w.port, '/core/evil.js')).status, 404);
        assert.equal((await get(w.port, '/app/../../' + outside.split('/').pop() + '/secret.js')).status, 404);
        // The tree's own vnc_auto.html (Debian's is a link to vnc.html) wins.
        await symlink('vnc.html', join(dir, 'vnc_auto.html'));
        assert.equal((await get(w.port, '/vnc_auto.html')).body.toString(), '<p>full ui</p>');
      } finally { await w.close(); }
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(outside, { recursive: true, force: true });
    }
  });
});

// ---- websocket: refusals and relay --------------------------------------------------------------

describe('console proxy: websocket sessions', () => {
  let backend: Awaited<ReturnType<typeof bannerServer>>;
  const open: Array<{ close(): Promise<void> }> = [];
  before(async () => { backend = await bannerServer({ port: 0 }); });
  after(async () => { await new Promise((r) => backend.server.close(r)); });
  afterEach(async () => { for (const o of open.splice(0)) await o.close(); });

  test('a refused or missing token gets 403 and no backend connection is made', async () => {
    const asked: string[] = [];
    const p = await proxy({ resolve: async (t) => { asked.push(t); return t === 'good' ? backend.target : null; } });
    open.push(p);
    const before = backend.accepted.length;
    const bad = await openWs(`ws://127.0.0.1:${p.port}/?token=wrong-token`);
    assert.equal(bad.status, 403);
    assert.match(bad.body ?? '', /invalid or expired console token/); // in X-Refused: the body is empty, as websocket clients expect
    const none = await openWs(`ws://127.0.0.1:${p.port}/`);
    assert.equal(none.status, 403);
    const empty = await openWs(`ws://127.0.0.1:${p.port}/websockify?token=`);
    assert.equal(empty.status, 403);
    const long = await openWs(`ws://127.0.0.1:${p.port}/?token=${'x'.repeat(300)}`);
    assert.equal(long.status, 403);
    assert.deepEqual(asked, ['wrong-token'], 'resolve is asked only about a present, plausible token');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(backend.accepted.length, before, 'no backend connection for a refused token');
    assert.equal(p.connections, 0);
    const refusals = p.log.lines.filter((l) => l.msg === 'console connection refused');
    assert.equal(refusals.length, 4);
    assert.ok(refusals.every((l) => l.level === 'warn' && l.obj.status === 403));
    assert.ok(!JSON.stringify(p.log.lines).includes('wrong'), 'tokens are not logged');
    assert.match(String(refusals.find((l) => l.obj.token)?.obj.token), /^sha256:[0-9a-f]{12}$/);
  });

  test('wrong path, foreign Origin, unsupported subprotocol and the connection cap are refused before resolve', async () => {
    let asked = 0;
    const p = await proxy({ resolve: async () => { asked++; return backend.target; }, maxConnections: 1, allowedOrigins: ['dashboard.example'] });
    open.push(p);
    assert.equal((await openWs(`ws://127.0.0.1:${p.port}/other?token=good`)).status, 404);
    assert.equal((await openWs(`ws://127.0.0.1:${p.port}/?token=good`, { origin: 'http://evil.example' })).status, 403);
    assert.equal((await openWs(`ws://127.0.0.1:${p.port}/?token=good`, { origin: 'null' })).status, 403);
    assert.equal((await openWs(`ws://127.0.0.1:${p.port}/?token=good`, { protocols: ['base64'] })).status, 400);
    // A malformed handshake (no Sec-WebSocket-Key) is refused by the proxy itself, before resolve.
    const raw = await new Promise<string>((res, rej) => {
      const c = connect(p.port, '127.0.0.1', () => c.write('GET /?token=good HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n'));
      let got = '';
      c.on('data', (d) => { got += d.toString(); });
      c.on('close', () => res(got));
      c.on('error', rej);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.equal(asked, 0);
    // Same host as the Host header, or an allowed origin: accepted.
    const same = await openWs(`ws://127.0.0.1:${p.port}/?token=good`, { origin: `http://127.0.0.1:${p.port}` });
    assert.ok(same.ws, `same-origin refused: ${same.status}`);
    assert.equal(same.ws!.protocol, 'binary');
    // The cap: one live session, the next is 503.
    assert.equal((await openWs(`ws://127.0.0.1:${p.port}/?token=good`, { origin: 'https://dashboard.example' })).status, 503);
    same.ws!.close();
    await until(() => p.connections === 0, 3000, 'session end');
    const allowed = await openWs(`ws://127.0.0.1:${p.port}/?token=good`, { origin: 'https://dashboard.example' });
    assert.ok(allowed.ws, 'allowed origin accepted');
    allowed.ws!.terminate();
  });

  test('relays bytes both ways over TCP and unix sockets; without an offered subprotocol too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'console-sock-'));
    const unix = await bannerServer({ path: join(dir, 'vnc.sock') });
    try {
      const p = await proxy({ resolve: async (t) => (t === 'tcp' ? backend.target : t === 'unix' ? unix.target : null) });
      open.push(p);
      for (const [token, protocols] of [['tcp', ['binary']], ['unix', ['binary']], ['tcp', []]] as const) {
        const { ws, r } = await openWs(`ws://127.0.0.1:${p.port}/websockify?token=${token}`, { protocols: [...protocols] });
        assert.ok(ws && r);
        assert.equal(ws.protocol, protocols.length ? 'binary' : '');
        assert.equal((await r.read(12)).toString(), 'RFB 003.008\n');
        const big = Buffer.alloc(3 << 20);
        for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
        ws.send(big);
        assert.ok((await r.read(big.length)).equals(big), `${token}: 3 MiB echoed intact`);
        ws.close();
        await r.waitClosed();
      }
      await until(() => p.connections === 0, 3000, 'sessions to end');
      assert.equal(unix.accepted.length, 1);
    } finally {
      await new Promise((r) => unix.server.close(r));
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('either end closing closes the other', async () => {
    const p = await proxy({ resolve: async () => backend.target });
    open.push(p);
    // The VNC server goes away -> the websocket is closed.
    const a = await openWs(`ws://127.0.0.1:${p.port}/?token=t`);
    const ra = a.r!;
    await ra.read(12);
    backend.accepted[backend.accepted.length - 1].destroy();
    const closedA = await ra.waitClosed();
    assert.equal(closedA.reason, 'console closed');
    // The client goes away -> the VNC connection is closed.
    const b = await openWs(`ws://127.0.0.1:${p.port}/?token=t`);
    await b.r!.read(12);
    const server = backend.accepted[backend.accepted.length - 1];
    b.ws!.terminate();
    await until(() => server.destroyed || server.readableEnded, 3000, 'backend socket to close');
    await until(() => p.connections === 0, 3000, 'sessions to end');
  });

  test('an unreachable VNC server is 502; idle sessions are closed; close() ends live sessions', async () => {
    const dead = await bannerServer({ port: 0 });
    await new Promise((r) => dead.server.close(r)); // nothing listens there now
    const p = await proxy({ resolve: async (t) => (t === 'dead' ? dead.target : backend.target), idleTimeoutMs: 400 });
    const r502 = await openWs(`ws://127.0.0.1:${p.port}/?token=dead`);
    assert.equal(r502.status, 502);
    const idle = await openWs(`ws://127.0.0.1:${p.port}/?token=t`);
    const ri = idle.r!;
    await ri.read(12);
    const t0 = Date.now();
    const closed = await ri.waitClosed(3000);
    assert.equal(closed.reason, 'idle timeout');
    assert.ok(Date.now() - t0 >= 300, 'not before the idle timeout');
    const live = await openWs(`ws://127.0.0.1:${p.port}/?token=t`);
    const rl = live.r!;
    await rl.read(12);
    const server = backend.accepted[backend.accepted.length - 1];
    await p.close();
    assert.equal((await rl.waitClosed()).code, 1001);
    await until(() => server.destroyed || server.readableEnded, 3000, 'backend socket to close');
    await assert.rejects(get(p.port, '/vnc_auto.html'), /ECONNREFUSED/);
  });
});

// ---- real QEMU and Chromium ---------------------------------------------------------------------

const which = (cmd: string) => (process.env.PATH ?? '/usr/bin:/bin').split(':').map((d) => d && join(d, cmd)).find((f) => f && existsSync(f));
const QEMU = which('qemu-system-x86_64');
const CHROMIUM = existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined;

/** The test guest images (scripts/build-test-images.sh), built once into <repo>/.tmp/images. */
async function testImages(): Promise<{ vmlinuz: string; initrd: string }> {
  const repo = projectRoot(import.meta.url);
  const dir = join(repo, '.tmp', 'images');
  if (!existsSync(join(dir, 'SHA256SUMS'))) {
    const tmp = `${dir}.building-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await run('bash', [join(repo, 'scripts', 'build-test-images.sh'), tmp], { timeoutMs: 600_000 });
    try { await rename(tmp, dir); } catch { await rm(tmp, { recursive: true, force: true }); }
  }
  return { vmlinuz: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd') };
}

/** Decodes an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) to its pixels. */
function decodePng(png: Buffer): { width: number; height: number; channels: number; pixels: Buffer } {
  assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG');
  let off = 8, width = 0, height = 0, channels = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0); height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      assert.equal(data[12], 0, 'not interlaced');
      channels = ({ 2: 3, 6: 4 } as Record<number, number>)[data[9]];
      assert.ok(channels, `colour type ${data[9]}`);
    } else if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) { const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c); v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
      pixels[y * stride + x] = v & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

describe('console proxy: a real QEMU guest behind it', { skip: QEMU ? false : 'qemu-system-x86_64 is not installed' }, () => {
  let dir: string;
  let qemu: ChildProcess | undefined;
  let qemuStderr = '';
  let p: ConsoleProxy & { log: ReturnType<typeof recordingLog> };
  let vncSock: string;
  const token = 'tok-' + Math.random().toString(36).slice(2);

  before(async () => {
    const img = await testImages();
    dir = await mkdtemp(join(tmpdir(), 'console-qemu-'));
    vncSock = join(dir, 'vnc.sock');
    // console=tty0 as well, so that the VGA screen (what VNC shows) fills with the kernel's messages;
    // the last console= (ttyS0) stays /dev/console for the guest's init.
    const argv = ['-accel', 'tcg', '-display', 'none', '-vnc', `unix:${vncSock}`, '-m', '128', '-nodefaults', '-vga', 'std',
      '-kernel', img.vmlinuz, '-initrd', img.initrd, '-append', 'console=tty0 console=ttyS0', '-serial', `file:${join(dir, 'serial.log')}`,
      '-no-reboot'];
    qemu = spawn(QEMU!, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    qemu.stderr!.on('data', (d: Buffer) => { qemuStderr += d.toString(); });
    qemu.on('error', (e) => { qemuStderr += String(e); });
    await until(() => existsSync(vncSock) || qemu!.exitCode !== null, 15_000, 'QEMU\'s VNC socket');
    assert.ok(existsSync(vncSock), `QEMU exited (${qemu.exitCode}): ${qemuStderr}`);
    // The socket file appears at bind(); wait until QEMU really accepts on it.
    const end = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((res) => {
        const c = connect({ path: vncSock }, () => { c.destroy(); res(true); });
        c.on('error', () => res(false));
      });
      if (ok) break;
      assert.ok(Date.now() < end && qemu.exitCode === null, `QEMU does not accept VNC connections: ${qemuStderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    p = await proxy({ resolve: async (t) => (t === token ? { path: vncSock } : null) });
  });

  after(async () => {
    await p?.close();
    if (qemu && qemu.exitCode === null) {
      const exited = new Promise((r) => qemu!.once('exit', r));
      qemu.kill('SIGKILL');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('an RFB client through the proxy gets QEMU\'s RFB 003.008 banner and completes the handshake', async () => {
    const bad = await openWs(`ws://127.0.0.1:${p.port}/?token=not-${token}`);
    assert.equal(bad.status, 403);
    const { ws, r } = await openWs(`ws://127.0.0.1:${p.port}/?token=${encodeURIComponent(token)}`);
    assert.ok(ws && r);
    assert.equal((await r.read(12)).toString(), 'RFB 003.008\n');
    ws.send(Buffer.from('RFB 003.008\n'));
    const n = (await r.read(1))[0];
    assert.ok(n > 0, 'security types offered');
    const types = [...(await r.read(n))];
    assert.ok(types.includes(1), `security type None offered: ${types}`);
    ws.send(Buffer.from([1]));
    assert.equal((await r.read(4)).readUInt32BE(0), 0, 'SecurityResult OK');
    ws.send(Buffer.from([1])); // ClientInit, shared
    const init = await r.read(24);
    const [w, h, nameLen] = [init.readUInt16BE(0), init.readUInt16BE(2), init.readUInt32BE(20)];
    const name = (await r.read(nameLen)).toString();
    assert.ok(w >= 320 && h >= 200, `framebuffer ${w}x${h}`);
    assert.equal(name, 'QEMU');
    ws.close();
    await r.waitClosed();
  });

  test('noVNC in headless Chromium connects through the proxy and shows the guest\'s screen', { skip: CHROMIUM ? false : 'chromium is not installed (apt-get install chromium)' }, async () => {
    const { chromium } = await import('playwright-core');
    const profile = await mkdtemp(join(tmpdir(), 'console-chromium-'));
    const shot = join(dir, 'console.png');
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1024, height: 768 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await ctx.newPage();
      const consoleErrors: string[] = [];
      const consoleLines: string[] = [];
      page.on('pageerror', (e) => consoleErrors.push(String(e)));
      page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
      const url = `http://127.0.0.1:${p.port}/vnc_auto.html?path=${encodeURIComponent(`?token=${token}`)}`;
      const t0 = Date.now();
      await page.goto(url);
      await page.waitForSelector('html[data-state="connected"]', { state: 'attached', timeout: 20_000 }).catch(async (e) => {
        throw new Error(`not connected: state=${await page.getAttribute('html', 'data-state')} status=${await page.textContent('#noVNC_status')} ` +
          `errors=${consoleErrors} console=${consoleLines.join(' | ')} proxy=${JSON.stringify(p.log.lines.slice(-5))}`, { cause: e });
      });
      assert.match(await page.textContent('#noVNC_status') ?? '', /^Connected to QEMU/);
      console.log(`# noVNC connected ${Date.now() - t0} ms after the page was opened`);
      // The canvas takes the guest's size, and the guest's text console shows up on it.
      const canvas = page.locator('#screen canvas');
      const size = await canvas.evaluate((c: any) => [c.width, c.height] as [number, number]);
      assert.ok(size[0] >= 320 && size[1] >= 200, `canvas ${size}`);
      let pixels!: ReturnType<typeof decodePng>;
      let colours = 0, lit = 0;
      const end = Date.now() + 20_000;
      do {
        await canvas.screenshot({ path: shot });
        pixels = decodePng(await readFile(shot));
        const seen = new Set<number>();
        lit = 0;
        for (let i = 0; i < pixels.pixels.length; i += pixels.channels) {
          const v = (pixels.pixels[i] << 16) | (pixels.pixels[i + 1] << 8) | pixels.pixels[i + 2];
          seen.add(v);
          if (v !== 0) lit++;
        }
        colours = seen.size;
        if (colours >= 2 && lit > 200) break;
        await new Promise((r) => setTimeout(r, 500));
      } while (Date.now() < end);
      assert.equal(pixels.width, size[0]);
      assert.ok(colours >= 2 && lit > 200, `the screenshot shows something: ${colours} colours, ${lit} lit pixels of ${pixels.width}x${pixels.height}`);
      assert.ok((await stat(shot)).size > 1000);
      assert.deepEqual(consoleErrors, []);
      const opened = p.log.lines.filter((l) => l.msg === 'console session opened');
      assert.ok(opened.length >= 2, 'the browser\'s session went through the proxy');
      if (process.env.CONSOLE_SCREENSHOT) await writeFile(process.env.CONSOLE_SCREENSHOT, await readFile(shot));
      await page.close();
    } finally {
      await ctx.close();
      await rm(profile, { recursive: true, force: true });
    }
  });
});

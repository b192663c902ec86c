// One timed data transfer for bench/image/run.mjs, in a fresh process of its own: the benchmark
// process holds the 1 GiB image in memory (and autocannon), which makes every buffer it allocates
// dearer (V8 collects more often under external-memory pressure), so the clients and the plain read
// run here instead. Prints one JSON line: { seconds, bytes, cpuS, ... }, the clock started once the
// process is up (startup is not counted).
//
//   node transfer.mjs read FILE [HIGH_WATER_MARK]          fs.createReadStream, bytes counted
//   node transfer.mjs pread FILE                           1 MiB reads into one reused buffer, bytes counted
//   node transfer.mjs get  URL TOKEN                        GET, body counted and dropped
//   node transfer.mjs put  URL TOKEN FILE SIZE [SHOW_URL]   PUT the file as application/octet-stream;
//                                                          then GET SHOW_URL (the image, until active)
//
// The HTTP client is a plain socket — the leanest client Node has, so that its share of the two
// CPUs stays small: no HTTP parser or stream machinery on the data. An upload is sent from two
// reused 1 MiB buffers (one is refilled while the socket writes the other); a response is read into
// one reused 1 MiB buffer (the socket's `onread`) and only counted — the same sink as `pread`, the
// plain read the download is judged against. Fresh buffers per chunk (createReadStream, the
// socket's own 64 KiB reads) cost this machine more in page faults and GC than the copies
// themselves. A response is complete at its Content-Length, at the end of its chunks, or (Glance
// under uWSGI, which closes every connection) when the server closes the connection.

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { connect } from 'node:net';

const CHUNK = 1 << 20;
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

function rawRequest(url, method, headers, { file, size, countOnly = false } = {}) {
  const u = new URL(url);
  return new Promise((resolveReq, rejectReq) => {
    let settled = false;
    let head = null; // bytes before the end of the response headers
    let res = null;
    const onBytes = (c) => {
      if (!res) {
        head = head ? Buffer.concat([head, c]) : Buffer.from(c);
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        const [statusLine, ...hl] = head.subarray(0, i).toString('latin1').split('\r\n');
        const hs = Object.fromEntries(hl.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const status = Number(statusLine.split(' ')[1]);
        // Framing: Content-Length; else chunked; else (Glance under uWSGI may send neither) the close.
        const framing = hs['content-length'] !== undefined ? 'length' : /chunked/i.test(hs['transfer-encoding'] ?? '') ? 'chunked'
          : status === 204 || status === 304 || method === 'HEAD' ? 'none' : 'close';
        res = { status, headers: hs, bytes: 0, text: '', framing, length: framing === 'length' ? Number(hs['content-length']) : 0, chunk: { left: 0, line: '', crlf: 0 } };
        c = head.subarray(i + 4);
        head = null;
      }
      if (res.framing === 'chunked') { onChunked(c); return; }
      body(c);
      if (res.framing !== 'close' && res.bytes >= res.length) done(res);
    };
    const body = (c) => {
      res.bytes += c.length;
      if (!(countOnly && res.status === 200) && res.text.length < 1 << 20) res.text += c.toString('utf8');
    };
    // Transfer-Encoding: chunked — only the data is counted; trailers are not read.
    const onChunked = (c) => {
      const k = res.chunk;
      let o = 0;
      while (o < c.length) {
        if (k.crlf) { const n = Math.min(k.crlf, c.length - o); k.crlf -= n; o += n; continue; }
        if (k.left > 0) {
          const n = Math.min(k.left, c.length - o);
          body(c.subarray(o, o + n));
          k.left -= n; o += n;
          if (k.left === 0) k.crlf = 2;
          continue;
        }
        const nl = c.indexOf(10, o);
        k.line += c.subarray(o, nl < 0 ? c.length : nl + 1).toString('latin1');
        o = nl < 0 ? c.length : nl + 1;
        if (nl < 0) continue;
        const size = parseInt(k.line.trim().split(';')[0], 16);
        k.line = '';
        if (size === 0) { done(res); return; }
        k.left = size;
      }
    };
    const s = connect({ port: Number(u.port), host: u.hostname, onread: { buffer: Buffer.allocUnsafe(CHUNK), callback: (n, buf) => { onBytes(buf.subarray(0, n)); } } });
    const done = (v, e) => { if (settled) return; settled = true; s.destroy(); if (e) rejectReq(e); else resolveReq(v); };
    s.on('error', (e) => done(null, e));
    s.on('connect', () => {
      s.setNoDelay(true);
      const lines = [`${method} ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      if (file) lines.push(`Content-Length: ${size}`);
      s.write(lines.join('\r\n') + '\r\n\r\n');
      if (file) sendFile(s, file, size).catch((e) => done(null, e));
    });
    s.on('end', () => (res?.framing === 'close' ? done(res) : done(null, new Error(`${method} ${url}: connection closed before the response was complete`))));
  });
}

/** Writes size bytes of file to the socket from two reused buffers. */
async function sendFile(s, file, size) {
  const fh = await open(file, 'r');
  try {
    const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let pos = 0, i = 0, inFlight = null;
    while (pos < size) {
      const { bytesRead } = await fh.read(bufs[i], 0, Math.min(CHUNK, size - pos), pos);
      if (bytesRead === 0) throw new Error(`${file} is shorter than ${size} bytes`);
      pos += bytesRead;
      if (inFlight) await inFlight;
      const chunk = bufs[i].subarray(0, bytesRead);
      inFlight = new Promise((res, rej) => s.write(chunk, (e) => (e ? rej(e) : res())));
      i ^= 1;
    }
    if (inFlight) await inFlight;
  } finally {
    await fh.close();
  }
}

const [op, ...args] = process.argv.slice(2);
const c0 = process.cpuUsage();
const t0 = nowUs();
let out;
if (op === 'read') {
  const [file, hwm] = args;
  let n = 0;
  for await (const c of createReadStream(file, hwm ? { highWaterMark: Number(hwm) } : {})) n += c.length;
  out = { bytes: n };
} else if (op === 'pread') {
  const [file] = args;
  const fh = await open(file, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  let n = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, CHUNK, n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  await fh.close();
  out = { bytes: n };
} else if (op === 'get') {
  const [url, token] = args;
  const r = await rawRequest(url, 'GET', { 'X-Auth-Token': token }, { countOnly: true });
  out = { status: r.status, bytes: r.bytes, headers: r.headers, text: r.status === 200 ? undefined : r.text.slice(0, 2000) };
} else if (op === 'put') {
  const [url, token, file, size, showUrl] = args;
  const r = await rawRequest(url, 'PUT', { 'X-Auth-Token': token, 'Content-Type': 'application/octet-stream' }, { file, size: Number(size) });
  out = { status: r.status, text: r.text.slice(0, 2000), putSeconds: (nowUs() - t0) / 1e6 };
  if (showUrl && r.status === 204) {
    const s = await rawRequest(showUrl, 'GET', { 'X-Auth-Token': token, Accept: 'application/json' });
    out.image = s.status === 200 ? JSON.parse(s.text) : { status: s.status, text: s.text.slice(0, 2000) };
  }
} else {
  process.stderr.write('usage: transfer.mjs read FILE [HWM] | pread FILE | get URL TOKEN | put URL TOKEN FILE SIZE [SHOW_URL]\n');
  process.exit(2);
}
const t1 = nowUs();
const c = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ ...out, seconds: (t1 - t0) / 1e6, cpuS: (c.user + c.system) / 1e6, window: { startUs: t0, endUs: t1 } }) + '\n');
process.exit(0);

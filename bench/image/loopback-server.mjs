// The loopback limits of a download for bench/image/run.mjs: what any HTTP server on this machine
// can deliver to the download client (transfer.mjs get) over a loopback TCP connection, without an
// HTTP framework, token check or database — so the download is judged against what a socket can
// carry here, beside the plain read of the file (which has no socket in it at all).
//
//   node bench/image/loopback-server.mjs FILE
//   GET /file     the file: 1 MiB preads into two reused buffers, each written to the socket once
//                 the other is out (the copy a server without sendfile makes)
//   GET /memory   as many bytes as the file has, from one 1 MiB buffer written again and again
//                 (the socket's own ceiling: no file read, the source hot in the CPU's cache)
// Each response is `200` with Content-Length, then the connection closes. Prints `{"port":N}` once
// listening; exits on SIGTERM.

import { createServer } from 'node:net';
import { open } from 'node:fs/promises';

const CHUNK = 1 << 20;
const [file] = process.argv.slice(2);
if (!file) { process.stderr.write('usage: loopback-server.mjs FILE\n'); process.exit(2); }

const write = (sock, b) => new Promise((res, rej) => sock.write(b, (e) => (e ? rej(e) : res())));

async function sendFile(sock) {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    await write(sock, `HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
    const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let pos = 0, i = 0, inFlight = null;
    while (pos < size) {
      const { bytesRead } = await fh.read(bufs[i], 0, Math.min(CHUNK, size - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      if (inFlight) await inFlight;
      inFlight = write(sock, bufs[i].subarray(0, bytesRead));
      inFlight.catch(() => undefined);
      i ^= 1;
    }
    if (inFlight) await inFlight;
  } finally {
    await fh.close();
  }
}

async function sendMemory(sock) {
  const fh = await open(file, 'r');
  const size = (await fh.stat()).size;
  await fh.close();
  const buf = Buffer.alloc(CHUNK, 0x5a);
  await write(sock, `HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
  let sent = 0;
  while (sent < size) {
    const n = Math.min(CHUNK, size - sent);
    sent += n;
    if (!sock.write(n === CHUNK ? buf : buf.subarray(0, n))) await new Promise((r) => sock.once('drain', r));
  }
}

const server = createServer((sock) => {
  let head = '';
  const onData = (d) => {
    head += d.toString('latin1');
    if (!head.includes('\r\n\r\n')) return;
    sock.off('data', onData);
    const path = head.split(' ')[1];
    const send = path === '/file' ? sendFile : path === '/memory' ? sendMemory : null;
    if (!send) { sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'); return; }
    send(sock).then(() => sock.end(), () => sock.destroy());
  };
  sock.on('data', onData);
  sock.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.on('SIGTERM', () => { server.close(); process.exit(0); });

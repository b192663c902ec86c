// The noVNC console proxy (Nova's nova-novncproxy, port 6080): one HTTP server that serves the
// noVNC web client and relays websocket connections to instances' VNC servers.
//
//   GET /vnc_auto.html?path=%3Ftoken%3D<token>   the console page (also vnc_lite.html, vnc.html)
//   GET /core/..., /vendor/...                   noVNC's browser modules (npm @novnc/novnc)
//   GET /app/...                                 only with `webDir` (a full noVNC tree)
//   websocket upgrade of /?token=<token> or /websockify?token=<token>
//
// A websocket upgrade is checked in this order, each refusal answered with an HTTP status before
// the upgrade and logged: path (404), concurrent-connection cap (503), Origin (403, as Nova:
// a browser's Origin host must be this host or an allowed origin), subprotocol (400: as websockify,
// `binary` is chosen when offered, and a client offering only other protocols is refused), token
// (403: missing, or `resolve` answers null). Only then is the VNC server connected (502 when
// that fails), and only once it is connected is the upgrade completed; from there bytes are relayed
// both ways as binary messages, and either end closing closes the other. Idle sessions (no byte
// either way for `idleTimeoutMs`) are closed, and clients that stop answering pings are dropped.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { dirname, extname, join, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { CONSOLE_PAGE } from './page.js';

/** Where a console's VNC server listens: a unix socket (the qemu driver) or loopback TCP. */
export type ConsoleTarget = { path: string } | { host: string; port: number };

/** The logging the proxy needs (a pino Logger fits). */
export interface ProxyLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface ConsoleProxyOptions {
  host: string;
  /** 0 picks a free port (see the returned `port`). */
  port: number;
  log: ProxyLog;
  /** The VNC target a console token opens, or null to refuse it. Called before any backend connection. */
  resolve(token: string): Promise<ConsoleTarget | null>;
  /** A full noVNC web tree (e.g. Debian's novnc package, /usr/share/novnc) to serve instead of the built-in page and the npm modules. */
  webDir?: string;
  /** Hosts a browser's Origin may name besides the Host header's (Nova's [console] allowed_origins). */
  allowedOrigins?: string[];
  /** Concurrent websocket sessions (including those being set up); more are refused with 503. Default 100. */
  maxConnections?: number;
  /** A session with no byte either way for this long is closed. Default 30 minutes; 0 disables. */
  idleTimeoutMs?: number;
  /** Ping interval for detecting dead clients; a client that missed a whole interval is dropped. Default 30 s. */
  pingIntervalMs?: number;
  /** Limit for resolving the token and connecting to the VNC server. Default 10 s. */
  setupTimeoutMs?: number;
}

export interface ConsoleProxy {
  port: number;
  /** Stops listening and ends every live session; resolves once the server is closed. */
  close(): Promise<void>;
  /** Live websocket sessions plus those being set up. */
  readonly connections: number;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.oga': 'audio/ogg',
  '.ogg': 'audio/ogg',
  '.mp3': 'audio/mpeg',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
};

const PAGES = new Set(['vnc.html', 'vnc_lite.html', 'vnc_auto.html']);
const WS_PATHS = new Set(['/', '/websockify']);
const MAX_TOKEN_LEN = 256;
/** Backend bytes waiting in the websocket beyond this pause the VNC socket until they drain. */
const HIGH_WATER = 1 << 20;

/** The directory of the installed @novnc/novnc package (core/, vendor/). */
export function novncPackageDir(): string {
  return dirname(createRequire(import.meta.url).resolve('@novnc/novnc/package.json'));
}

/**
 * The path segments of a request path under a web root, or null when it could name anything outside
 * it: every segment must be non-empty, not `.`/`..` (before or after percent-decoding), and free of
 * NUL, backslash and slashes smuggled in encoded.
 */
export function safeSegments(pathname: string): string[] | null {
  if (!pathname.startsWith('/')) return null;
  const out: string[] = [];
  for (const raw of pathname.slice(1).split('/')) {
    let seg: string;
    try { seg = decodeURIComponent(raw); } catch { return null; }
    if (seg === '' || seg === '.' || seg === '..' || /[\\/\0]/.test(seg) || seg.startsWith('..')) return null;
    out.push(seg);
  }
  return out.length ? out : null;
}

function originHostname(origin: string): string | null {
  try {
    const u = new URL(origin);
    return u.hostname ? u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase() : null;
  } catch { return null; }
}

function hostHeaderName(host: string | undefined): string {
  if (!host) return '';
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  return h.split(':')[0];
}

/**
 * An HTTP answer on a socket that has not been upgraded, then the socket is ended. No body: a
 * websocket client must see the connection closed with nothing sent (what Nova's proxy does and
 * Tempest checks); the reason is in the log and a header.
 */
function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nX-Refused: ${reason.replace(/[^\x20-\x7e]/g, '')}\r\n` +
    'Content-Length: 0\r\n\r\n');
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** A loggable form of a token, never the token itself: the start of its sha256 (tokens.ts stores the whole). */
function tokenTag(token: string): string {
  return token ? `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 12)}` : '(none)';
}

interface Session {
  id: number;
  client: Duplex;
  ws?: WebSocket;
  backend?: Socket;
  lastActivity: number;
  alive: boolean;
  closed: boolean;
  bytesIn: number;   // client -> VNC
  bytesOut: number;  // VNC -> client
  started: number;
}

export async function startConsoleProxy(opts: ConsoleProxyOptions): Promise<ConsoleProxy> {
  const { log } = opts;
  const maxConnections = opts.maxConnections ?? 100;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 30 * 60_000;
  const pingIntervalMs = opts.pingIntervalMs ?? 30_000;
  const setupTimeoutMs = opts.setupTimeoutMs ?? 10_000;
  const allowedOrigins = new Set((opts.allowedOrigins ?? []).map((o) => o.toLowerCase()));

  // The web roots: with webDir everything comes from there; otherwise the built-in page and the npm modules.
  const webRoot = opts.webDir ? await realpath(opts.webDir) : null;
  const npmRoot = webRoot ? null : await realpath(novncPackageDir());
  const trees = webRoot ? new Set(['app', 'core', 'vendor']) : new Set(['core', 'vendor']);
  const root = (webRoot ?? npmRoot)!;

  const sessions = new Set<Session>();
  let nextId = 1;
  let closing = false;

  // ---- static files ------------------------------------------------------------------------------

  async function serveFile(req: IncomingMessage, res: ServerResponse, segs: string[]): Promise<void> {
    const type = TYPES[extname(segs[segs.length - 1]).toLowerCase()];
    if (!type) return sendText(res, 404, 'Not Found');
    const full = join(root, ...segs);
    if (!full.startsWith(root + sep)) return sendText(res, 404, 'Not Found');
    let real: string;
    try { real = await realpath(full); } catch { return sendText(res, 404, 'Not Found'); }
    // Symbolic links may point within the root (Debian's vnc_auto.html -> vnc.html), never outside it.
    if (!real.startsWith(root + sep)) return sendText(res, 404, 'Not Found');
    const st = await stat(real).catch(() => null);
    if (!st?.isFile()) return sendText(res, 404, 'Not Found');
    res.writeHead(200, { ...commonHeaders(), 'Content-Type': type, 'Content-Length': st.size, 'Last-Modified': st.mtime.toUTCString() });
    if (req.method === 'HEAD') { res.end(); return; }
    const stream = createReadStream(real);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  function commonHeaders(): Record<string, string> {
    // The token travels in the page's URL: never send it on as a Referer.
    return { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };
  }

  function sendText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
    const body = `${status} ${text}\n`;
    res.writeHead(status, { ...commonHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
    const rawPath = (req.url ?? '/').split('?')[0].split('#')[0];
    const segs = safeSegments(rawPath);
    if (!segs) return sendText(res, 404, 'Not Found');
    if (segs.length === 1 && PAGES.has(segs[0])) {
      if (!webRoot) {
        const body = Buffer.from(CONSOLE_PAGE);
        res.writeHead(200, { ...commonHeaders(), 'Content-Type': TYPES['.html'], 'Content-Length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      // A full tree: vnc_auto.html is the tree's own when it has one, else its vnc_lite.html.
      const name = segs[0] === 'vnc_auto.html' && !(await stat(join(webRoot, 'vnc_auto.html')).catch(() => null)) ? 'vnc_lite.html' : segs[0];
      return serveFile(req, res, [name]);
    }
    if (segs.length >= 2 && trees.has(segs[0])) return serveFile(req, res, segs);
    return sendText(res, 404, 'Not Found');
  }

  // ---- websocket sessions ------------------------------------------------------------------------

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 16 << 20,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
  });

  function endSession(s: Session, reason: string, code = 1000): void {
    if (s.closed) return;
    s.closed = true;
    sessions.delete(s);
    s.backend?.destroy();
    if (s.ws) {
      if (s.ws.readyState === s.ws.OPEN) s.ws.close(code, Buffer.from(reason).subarray(0, 120).toString());
      // A client that does not finish the closing handshake is cut off.
      setTimeout(() => s.ws?.terminate(), 2000).unref();
    } else {
      s.client.destroy();
    }
    log.info({ session: s.id, reason, bytesIn: s.bytesIn, bytesOut: s.bytesOut, ms: Date.now() - s.started }, 'console session closed');
  }

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => { /* the client went away; the session's handlers clean up */ });
    const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const refuse = (status: number, reason: string, extra: object = {}) => {
      log.warn({ peer, status, reason, ...extra }, 'console connection refused');
      refuseUpgrade(socket, status, reason);
    };
    if (closing) return refuse(503, 'proxy shutting down');
    if (!WS_PATHS.has(url.pathname)) return refuse(404, 'no websocket endpoint here');
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return refuse(400, 'not a websocket upgrade');
    // What ws itself would refuse later, refused before the token is looked up and the VNC server connected.
    if (req.method !== 'GET' || !/^[+/0-9A-Za-z]{22}==$/.test(String(req.headers['sec-websocket-key'] ?? '').trim()) ||
      !['8', '13'].includes(String(req.headers['sec-websocket-version'] ?? ''))) return refuse(400, 'bad websocket handshake');
    if (sessions.size >= maxConnections) return refuse(503, `too many console connections (${maxConnections})`);

    const origin = req.headers.origin;
    if (origin !== undefined) {
      const oh = originHostname(origin);
      if (!oh) return refuse(403, 'Origin header not valid');
      if (oh !== hostHeaderName(req.headers.host) && !allowedOrigins.has(oh)) return refuse(403, 'Origin header does not match this host', { origin });
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    if (offered.length && !offered.includes('binary')) return refuse(400, "client must support the 'binary' subprotocol", { offered });

    const token = url.searchParams.get('token') ?? '';
    if (!token) return refuse(403, 'no console token');
    if (token.length > MAX_TOKEN_LEN) return refuse(403, 'invalid console token');

    // From here the connection counts against the cap while its token and backend are looked up.
    const s: Session = { id: nextId++, client: socket, lastActivity: Date.now(), alive: true, closed: false, bytesIn: 0, bytesOut: 0, started: Date.now() };
    sessions.add(s);
    const abandon = () => { if (!s.ws) { s.closed = true; sessions.delete(s); s.backend?.destroy(); } };
    socket.once('close', abandon);
    const deadline = setTimeout(() => {
      if (s.ws || s.closed) return;
      sessions.delete(s); s.closed = true; s.backend?.destroy();
      refuse(504, 'console setup timed out', { session: s.id });
    }, setupTimeoutMs);
    deadline.unref();

    let target: ConsoleTarget | null;
    try {
      target = await opts.resolve(token);
    } catch (err) {
      clearTimeout(deadline);
      if (s.closed) return;
      sessions.delete(s); s.closed = true;
      log.error({ peer, session: s.id, err }, 'console token lookup failed');
      return refuseUpgrade(socket, 503, 'console token lookup failed');
    }
    if (s.closed) { clearTimeout(deadline); return; }
    if (!target) {
      clearTimeout(deadline);
      sessions.delete(s); s.closed = true;
      return refuse(403, 'invalid or expired console token', { session: s.id, token: tokenTag(token) });
    }

    const where = 'path' in target ? `unix:${target.path}` : `${target.host}:${target.port}`;
    const backend = 'path' in target ? connect({ path: target.path }) : connect({ host: target.host, port: target.port });
    s.backend = backend;
    backend.pause(); // the VNC server speaks first: keep its banner until the websocket is open
    backend.on('error', () => { /* reported through 'close' below or the session's handlers */ });
    let onConnect!: () => void, onClose!: () => void;
    try {
      await new Promise<void>((res, rej) => {
        onConnect = res;
        onClose = () => rej(new Error('connection failed'));
        backend.once('connect', onConnect);
        backend.once('close', onClose);
        backend.once('error', (err) => rej(err));
      });
    } catch (err) {
      clearTimeout(deadline);
      if (s.closed) return;
      sessions.delete(s); s.closed = true;
      return refuse(502, 'cannot reach the console', { session: s.id, target: where, err: (err as Error).message });
    } finally {
      backend.off('connect', onConnect).off('close', onClose);
    }
    clearTimeout(deadline);
    if (s.closed || socket.destroyed || closing) { backend.destroy(); abandon(); return; }
    backend.on('error', (err) => endSession(s, `console error: ${err.message}`, 1011));
    backend.on('close', () => endSession(s, 'console closed'));

    // `abandon` stays until the upgrade is done: if ws refuses the handshake it destroys the socket.
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.removeListener('close', abandon);
      s.ws = ws;
      s.lastActivity = Date.now();
      if (s.closed) { ws.terminate(); return; }
      log.info({ peer, session: s.id, target: where, protocol: ws.protocol || null, token: tokenTag(token) }, 'console session opened');
      relay(s, ws, backend);
    });
  }

  function relay(s: Session, ws: WebSocket, backend: Socket): void {
    let queued = 0; // bytes handed to ws.send and not yet written
    backend.on('data', (chunk: Buffer) => {
      s.lastActivity = Date.now();
      s.bytesOut += chunk.length;
      queued += chunk.length;
      ws.send(chunk, { binary: true }, () => {
        queued -= chunk.length;
        if (queued < HIGH_WATER && backend.isPaused() && !s.closed) backend.resume();
      });
      if (queued >= HIGH_WATER) backend.pause();
    });
    backend.on('end', () => endSession(s, 'console closed'));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) return endSession(s, 'text messages are not supported', 1003);
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      s.lastActivity = Date.now();
      s.bytesIn += buf.length;
      if (!backend.write(buf)) {
        ws.pause();
        backend.once('drain', () => { if (!s.closed) ws.resume(); });
      }
    });
    ws.on('pong', () => { s.alive = true; });
    ws.on('close', () => endSession(s, 'client closed'));
    ws.on('error', (err) => endSession(s, `client error: ${err.message}`, 1011));
    backend.resume();
  }

  // One timer for idle timeouts and pings.
  let lastPing = Date.now();
  const tick = Math.max(50, Math.min(5000, Math.floor((idleTimeoutMs || pingIntervalMs) / 4), Math.floor(pingIntervalMs / 4)));
  const sweeper = setInterval(() => {
    const now = Date.now();
    const ping = now - lastPing >= pingIntervalMs;
    if (ping) lastPing = now;
    for (const s of sessions) {
      if (!s.ws) continue;
      if (idleTimeoutMs > 0 && now - s.lastActivity >= idleTimeoutMs) { endSession(s, 'idle timeout'); continue; }
      if (ping) {
        if (!s.alive) { s.ws.terminate(); endSession(s, 'client stopped answering pings'); continue; }
        s.alive = false;
        s.ws.ping();
      }
    }
  }, tick);
  sweeper.unref();

  // ---- server ------------------------------------------------------------------------------------

  const server = createServer((req, res) => {
    onRequest(req, res).catch((err) => {
      log.error({ err, url: req.url }, 'console proxy request failed');
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error'); else res.destroy();
    });
  });
  server.on('upgrade', (req, socket, head) => {
    onUpgrade(req, socket, head).catch((err) => {
      log.error({ err, url: req.url }, 'console proxy upgrade failed');
      socket.destroy();
    });
  });
  server.on('clientError', (_err, socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'); else socket.destroy(); });

  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port, opts.host, () => { server.off('error', rej); res(); });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  log.info({ host: opts.host, port, web: webRoot ?? `built-in page + ${npmRoot}` }, 'console proxy listening');

  return {
    port,
    get connections() { return sessions.size; },
    close: async () => {
      closing = true;
      clearInterval(sweeper);
      const done = new Promise<void>((res) => server.close(() => res()));
      for (const s of [...sessions]) endSession(s, 'proxy shutting down', 1001);
      server.closeAllConnections();
      // Closing handshakes get a moment; then whatever is left is cut.
      await new Promise((r) => setTimeout(r, 50));
      for (const c of wss.clients) c.terminate();
      await done;
    },
  };
}

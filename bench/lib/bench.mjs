// Helpers shared by the benchmarks (bench/identity, image, compute, network run.mjs): starting server
// children on free loopback ports (a bench's baseline server, `monostack up`), JSON API calls, a
// project with a member user, autocannon runs with exact percentiles, waiting for the server (and
// optionally the machine) to be idle, CPU accounting from /proc, and the report's cells and tables.
// Everything logs to stderr as "[bench] ..." so stdout carries only the report.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';

export const log = (s) => process.stderr.write(`[bench] ${s}\n`);
/** The monotonic clock in microseconds (the clock of `node --cpu-prof` profiles). */
export const nowUs = () => Number(process.hrtime.bigint() / 1000n);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** This process's environment without any MONOSTACK_* variable (a server child then runs with the
 * default configuration), plus `extra`. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('MONOSTACK_')) delete env[k];
  return { ...env, ...extra };
}

/** Spawns a node child; resolves once `ready(line)` returns a value for a stdout line.
 * `env`: extra environment variables (on top of cleanEnv()). */
export function startChild(name, args, ready, { profileDir, env } = {}) {
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...nodeArgs, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((res, rej) => {
    let buf = '';
    let done = false;
    const timer = setTimeout(() => { if (!done) { done = true; child.kill('SIGKILL'); rej(new Error(`${name}: not ready after 120 s\n${stderr}`)); } }, 120_000);
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const v = done ? undefined : ready(line);
        if (v !== undefined) { done = true; clearTimeout(timer); res({ child, info: v, stop: () => stopChild(child) }); }
      }
    });
    child.once('exit', (code, sig) => {
      if (!done) { done = true; clearTimeout(timer); rej(new Error(`${name} exited (${code ?? sig}) before it was ready\n${stderr}`)); }
    });
  });
}

export function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => { clearTimeout(t); res(); });
    child.kill('SIGTERM');
  });
}

/** Exits (2) with a hint unless `build` holds a build (cli/main.js). */
export function requireBuild(build) {
  if (!existsSync(join(build, 'cli', 'main.js'))) {
    process.stderr.write(`no build at ${build} (expected cli/main.js): run \`npm run build\` or pass --build-dir\n`);
    process.exit(2);
  }
}

/** A bench's baseline-server.mjs (bench/lib/baseline.mjs) as a child on a free port, once it listens:
 * startChild's { child, info: port, stop } and `base`, its URL. */
export async function startBaseline(script, build, dataDir, { profileDir } = {}) {
  const b = await startChild('baseline', [script, '--build-dir', build, '--data-dir', dataDir],
    (line) => { try { return JSON.parse(line).port; } catch { return undefined; } }, { profileDir });
  return { ...b, base: `http://127.0.0.1:${b.info}` };
}

/** `node BUILD/cli/main.js up --data-dir DIR [args] --admin-password RANDOM` as a child, once it prints
 * "monostack ready": { m (startChild's), adminPassword, startS (seconds to ready) }. */
export async function startUp(name, build, dataDir, { args = [], env, profileDir } = {}) {
  const adminPassword = randomBytes(12).toString('base64url');
  const t0 = Date.now();
  const m = await startChild(name, [join(build, 'cli', 'main.js'), 'up', '--data-dir', dataDir, ...args, '--admin-password', adminPassword],
    (line) => (line.startsWith('monostack ready') ? true : undefined), { profileDir, env });
  return { m, adminPassword, startS: (Date.now() - t0) / 1000 };
}

export async function call(base, method, path, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h['X-Auth-Token'] = token;
  if (body !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  const r = await fetch(base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: r.status, headers: r.headers, body: json, text };
}

export function must(r, status, what) {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status}: ${r.text.slice(0, 500)}`);
  return r;
}

export const passwordAuth = (user, password, project) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
    scope: { project: { name: project, domain: { id: 'default' } } },
  },
});

/** A project-scoped token (POST /v3/auth/tokens on the identity service at `ks`). */
export async function projectToken(ks, user, password, project, what = 'token') {
  return must(await call(ks, 'POST', '/v3/auth/tokens', { body: passwordAuth(user, password, project) }), 201, what).headers.get('x-subject-token');
}

/** Through Keystone's API as the admin: a project, a user 'bench-user' (random password) with the
 * member role on it, and that user's token: { projectId, userId, password, token }. */
export async function memberProject(ks, adminToken, projectName) {
  const proj = must(await call(ks, 'POST', '/v3/projects', { token: adminToken, body: { project: { name: projectName, domain_id: 'default' } } }), 201, 'project').body.project;
  const userPassword = randomBytes(12).toString('base64url');
  const user = must(await call(ks, 'POST', '/v3/users', { token: adminToken, body: { user: { name: 'bench-user', domain_id: 'default', password: userPassword, default_project_id: proj.id } } }), 201, 'user').body.user;
  const roles = must(await call(ks, 'GET', '/v3/roles?name=member', { token: adminToken }), 200, 'roles').body.roles;
  if (!roles.length) throw new Error('no member role after bootstrap');
  must(await call(ks, 'PUT', `/v3/projects/${proj.id}/users/${user.id}/roles/${roles[0].id}`, { token: adminToken }), 204, 'grant member');
  return { projectId: proj.id, userId: user.id, password: userPassword, token: await projectToken(ks, 'bench-user', userPassword, projectName, 'user token') };
}

/** A fault with the response body, for requests of the service under construction. */
export function failed(what, r) {
  return new Error(`${what}: HTTP ${r.status}: ${r.text.slice(0, 1000)}`);
}

/** One GET on a new connection (no keep-alive), timed to the last byte: { ms, status, body, bytes }. */
export function singleGet(url, headers) {
  return new Promise((res, rej) => {
    const t0 = nowUs();
    const req = httpRequest(url, { method: 'GET', headers, agent: false }, (r) => {
      const chunks = [];
      r.on('data', (d) => chunks.push(d));
      r.on('end', () => { const ms = (nowUs() - t0) / 1000; const body = Buffer.concat(chunks); res({ ms, status: r.statusCode, body, bytes: body.length }); });
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end();
  });
}

/** Runs fn(0..n-1), `concurrency` at a time. */
export async function pool(n, concurrency, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

/** The p-th percentile (nearest rank) of an ascending array, or null when empty. */
export const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] : null);

export const sortNum = (xs) => [...xs].sort((x, y) => x - y);
/** n, p50, p99 (nearest rank), max and mean of a list of numbers (nulls when empty). */
export const stats = (xs) => { const s = sortNum(xs); return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s.length ? s[s.length - 1] : null, mean: s.length ? s.reduce((x, y) => x + y, 0) / s.length : null }; };

/** One autocannon run. autocannon's own histogram keeps whole milliseconds, so the 2xx response
 * times (fractional ms, from its 'response' events) are also collected here for exact percentiles. */
export async function cannon(opts, connections, seconds) {
  const lat = [];
  const inst = autocannon({
    ...opts,
    connections,
    pipelining: 1,
    ...(seconds === undefined ? {} : { duration: seconds }),
    timeout: 60,
    renderProgressBar: false,
    renderResultsTable: false,
    renderLatencyTable: false,
  });
  let lastUs = 0;
  inst.on('response', (_client, status, _bytes, ms) => { if (status >= 200 && status < 300) lat.push(ms); lastUs = nowUs(); });
  const r = await inst;
  r.lastResponseUs = lastUs;
  lat.sort((x, y) => x - y);
  const pct = (p) => percentile(lat, p);
  r.exact = { p50: pct(50), p99: pct(99), mean: lat.length ? lat.reduce((s, x) => s + x, 0) / lat.length : null, n: lat.length };
  return r;
}

/** CPU seconds so far: the server child, this process (the load generator), and the whole machine
 * (busy and total, all CPUs) — to tell the server's cost per request and whether anything else ran. */
export const TICK = 100; // USER_HZ on Linux
export function cpuSnapshot(pid) {
  const snap = { server: null, self: (process.cpuUsage().user + process.cpuUsage().system) / 1e6, busy: null, total: null };
  try {
    // A list of pids (a server of several processes, as uWSGI's workers) counts as one server.
    snap.server = 0;
    for (const p of Array.isArray(pid) ? pid : [pid]) {
      const st = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      snap.server += (Number(f[11]) + Number(f[12])) / TICK; // utime, stime
    }
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    snap.total = cpu.slice(0, 8).reduce((x, y) => x + y, 0) / TICK;
    snap.busy = snap.total - (cpu[3] + cpu[4]) / TICK; // minus idle, iowait
  } catch { snap.server = null; /* not Linux */ }
  return snap;
}

/** CPU seconds of a process: its own (utime + stime) and its waited-for children's (cutime + cstime), or null. */
export function procCpu(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const x = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { own: (Number(x[11]) + Number(x[12])) / TICK, children: (Number(x[13]) + Number(x[14])) / TICK };
  } catch { return null; }
}

/** Pids of the processes (not this one) whose command line contains `needle`, e.g. a data directory. */
export function pidsWith(needle) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try { if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d)); } catch { /* gone */ }
  }
  return out;
}

/** Minor page faults of a process so far (all threads), or null when not on Linux. */
export function minorFaults(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[7]);
  } catch { return null; }
}

/** CPU seconds (user + system) of each thread of a process so far: Map tid -> seconds. In Node all
 * threads are named "node"; the main thread's tid is the pid. Empty when not on Linux. */
export function threadCpu(pid) {
  const m = new Map();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        m.set(Number(tid), (Number(f[11]) + Number(f[12])) / TICK);
      } catch { /* the thread ended */ }
    }
  } catch { /* not Linux */ }
  return m;
}

/** Per-thread CPU seconds between two threadCpu() snapshots, busiest first: [{ tid, main, cpuS }]. */
export function threadCpuDelta(pid, t0, t1) {
  return [...t1].map(([tid, s]) => ({ tid, main: tid === pid, cpuS: s - (t0.get(tid) ?? 0) }))
    .filter((x) => x.cpuS > 0).sort((x, y) => y.cpuS - x.cpuS);
}

/** The CPU split between two snapshots over `wall` seconds: cores used by the server, by this
 * process, by everything else on the machine. */
export function cpuSplit(c0, c1, wall) {
  if (c0.server === null || c1.server === null) return null;
  const server = c1.server - c0.server, gen = c1.self - c0.self, busy = c1.busy - c0.busy;
  return {
    serverCores: server / wall,
    loadGenCores: gen / wall,
    otherCores: Math.max(0, busy - server - gen) / wall,
    machineCores: (c1.total - c0.total) / wall,
    serverCpuS: server,
    loadGenCpuS: gen,
  };
}

/** Waits until the server has finished what is still queued (autocannon stops sending at the end of a
 * run, but the server still works off the requests in flight — 16 bcrypt verifications are 3 CPU
 * seconds — which would otherwise be charged to the next run): its CPU use below 5% for 300 ms. */
export async function waitIdle(pid) {
  const until = Date.now() + 20_000;
  let prev = cpuSnapshot(pid).server;
  if (prev === null) return;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 300));
    const cur = cpuSnapshot(pid).server;
    if (cur - prev < 0.015) return;
    prev = cur;
  }
}

/** Waits up to `seconds` s until other processes use < 0.25 cores (over 1 s), so that a
 * shared machine's other work does not end up in the figures. Returns the last sample. */
export async function quietWait(pid, seconds) {
  const until = Date.now() + seconds * 1000;
  let other = null;
  do {
    const c0 = cpuSnapshot(pid);
    await new Promise((r) => setTimeout(r, 1000));
    const c1 = cpuSnapshot(pid);
    if (c0.busy === null) return null;
    other = Math.max(0, (c1.busy - c0.busy) - (c1.server - c0.server) - (c1.self - c0.self)) / ((c1.total - c0.total) / cpus().length);
    if (other < 0.25) return other;
  } while (Date.now() < until);
  return other;
}

/** Before a measurement: the server (pid, if any) idle, then with `waitQuiet` > 0 the machine quiet
 * (quietWait), measuring anyway (and saying so) when it does not get quiet. */
export async function settle(pid, waitQuiet = 0) {
  if (pid) await waitIdle(pid);
  if (waitQuiet > 0) {
    const other = await quietWait(pid ?? process.pid, waitQuiet);
    if (other !== null && other >= 0.25) log(`machine not quiet after ${waitQuiet} s (${other.toFixed(2)} cores used by others); measuring anyway`);
  }
}

/** One measured autocannon run (after a warm-up run unless `cold`); `opts` are autocannon's.
 * `warmup`/`duration` in seconds; `waitQuiet` as quietWait's. A `cold` run is a fixed `amount`. */
export async function measure(label, opts, connections, pid, { cold = false, warmup = 2, duration = 10, waitQuiet = 0 } = {}) {
  await waitIdle(pid);
  if (warmup > 0 && !cold) await cannon(opts, connections, warmup);
  await settle(pid, waitQuiet);
  const load = loadavg()[0];
  const c0 = cpuSnapshot(pid);
  const startUs = nowUs();
  const r = await cannon(opts, connections, cold ? undefined : duration);
  // autocannon notices a reached `amount` only at its next 1-second tick: a fixed-count run ends at its last response.
  const endUs = cold && r.lastResponseUs ? r.lastResponseUs : nowUs();
  const c1 = cpuSnapshot(pid);
  const ok = r['2xx'];
  const res = {
    scenario: label,
    connections,
    rps: ok / ((endUs - startUs) / 1e6),
    ...(opts.amount ? { requests: opts.amount } : {}),
    p50: r.exact.p50,
    p99: r.exact.p99,
    mean: r.exact.mean,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    durationS: r.duration,
    throughputBytesPerS: r.throughput.average,
    loadavg1Before: load,
    window: { startUs, endUs },
  };
  if (c0.server !== null) {
    const wall = (endUs - startUs) / 1e6;
    const server = c1.server - c0.server, gen = c1.self - c0.self, busy = c1.busy - c0.busy;
    res.cpu = {
      serverCores: server / wall,                       // CPU cores the server used on average
      loadGenCores: gen / wall,                         // … autocannon (this process)
      otherCores: Math.max(0, busy - server - gen) / wall, // … everything else on the machine
      machineCores: (c1.total - c0.total) / wall,
      serverMsPerRequest: ok ? (server * 1000) / ok : null,
    };
  }
  log(`${label} c=${connections}: ${res.rps.toFixed(1)} req/s, p50 ${res.p50?.toFixed(2)} ms, p99 ${res.p99?.toFixed(2)} ms (${ok} ok; CPU cores: server ${res.cpu?.serverCores.toFixed(2)}, autocannon ${res.cpu?.loadGenCores.toFixed(2)}, other ${res.cpu?.otherCores.toFixed(2)}; server ${res.cpu?.serverMsPerRequest?.toFixed(3)} ms CPU/request)` +
    (res.non2xx || res.errors || res.timeouts ? `  (non-2xx ${res.non2xx}, errors ${res.errors}, timeouts ${res.timeouts})` : ''));
  return res;
}

/** The report's line on runs with failed requests, or null when none failed. */
export function failedRequests(results, prefix = 'WARNING: failed requests in ') {
  const bad = results.filter((r) => r.non2xx || r.errors || r.timeouts);
  return bad.length ? prefix + bad.map((r) => `${r.scenario} c=${r.connections} (non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts})`).join('; ') : null;
}

/** A Markdown table (first column left-aligned, the others right-aligned), as lines. */
export function markdownTable(head, rows) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  return [
    line(head),
    '|' + widths.map((w, i) => (i === 0 ? ':' + '-'.repeat(w + 1) : '-'.repeat(w + 1) + ':')).join('|') + '|',
    ...rows.map(line),
  ];
}

/** n formatted with d decimals, or an em dash for null/undefined. */
export const fmt = (n, d = 1) => (n === null || n === undefined ? '—' : Number(n).toFixed(d));

/** The cells of a report that compares scenarios with the same-stack baseline runs
 * (scenario 'baseline-get' / 'baseline-post') and with goals; `missed` collects the goals judged missed. */
export function reportCells(results) {
  const missed = [];
  return {
    missed,
    /** The baseline run of a kind ('get', 'post') at a concurrency. */
    bl: (kind, c) => results.find((r) => r.scenario === `baseline-${kind}` && r.connections === c),
    ratio: (x, b) => (b && x !== null && x !== undefined ? (x / b).toPrecision(3) : '—'),
    cores: (cpu) => (cpu ? `${fmt(cpu.otherCores, 2)} cores` : '—'),
    msReq: (cpu) => (cpu ? fmt(cpu.serverMsPerRequest, 3) : '—'),
    judge: (what, ok) => { if (!ok) missed.push(what); return ok ? 'yes' : 'MISSED'; },
  };
}

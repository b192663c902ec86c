// Identity benchmark (issue point 4): how fast monostack's Keystone API is against a trivial handler
// on the same HTTP stack (the baseline) and against the real Keystone 22 measured on this machine.
//
//   node bench/identity/run.mjs [--build-dir dist] [--duration 10] [--warmup 2] [--out results.json]
//                               [--connections 1,16] [--only baseline,issue,validate,list]
//                               [--projects 1000] [--profile DIR] [--keep]
//
// It starts `monostack up` from the build dir as a child process (free port, temp data dir, SQLite,
// the DEFAULT configuration: every MONOSTACK_* variable is removed from the child's environment, so
// passwords are hashed with bcrypt at cost 12), creates the projects and a test user through the
// API, then drives each scenario with autocannon (programmatic API, keep-alive, loopback) from this
// process. The baseline is a separate child process (baseline-server.mjs) serving one trivial GET
// route from createApiServer with the same logging setup. See bench/README.md.
//
// --profile DIR starts the server children with --cpu-prof; the measured windows (monotonic clock,
// microseconds) are written to the --out JSON so profile-summary.mjs can keep only those samples.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';

const here = dirname(fileURLToPath(import.meta.url));

const { values: a } = parseArgs({
  options: {
    'build-dir': { type: 'string', default: 'dist' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    out: { type: 'string' },
    connections: { type: 'string', default: '1,16' },
    only: { type: 'string', default: 'baseline,issue,validate,validate-cold,list' },
    'cold-tokens': { type: 'string', default: '5000' },
    'wait-quiet': { type: 'string', default: '0' },
    projects: { type: 'string', default: '1000' },
    profile: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (a.help) {
  process.stdout.write('usage: node bench/identity/run.mjs [--build-dir dist] [--duration 10] [--warmup 2] [--out FILE] [--connections 1,16]\n' +
    '         [--only baseline,issue,validate,validate-cold,list] [--projects 1000] [--cold-tokens 5000] [--wait-quiet SECONDS] [--profile DIR] [--keep]\n');
  process.exit(0);
}

const build = resolve(a['build-dir']);
const duration = Number(a.duration);
const warmup = Number(a.warmup);
const conns = a.connections.split(',').map(Number);
const only = new Set(a.only.split(',').map((s) => s.trim()));
const nProjects = Number(a.projects);
const coldTokens = Number(a['cold-tokens']);
const waitQuiet = Number(a['wait-quiet']);
if (!existsSync(join(build, 'cli', 'main.js'))) {
  process.stderr.write(`no build at ${build} (expected cli/main.js): run \`npm run build\` or pass --build-dir\n`);
  process.exit(2);
}

// The real Keystone 22 (Zed-era policy, bcrypt 12, Fernet, uWSGI) measured on this same machine at
// concurrency 16, and the goals for monostack expressed as multiples of it.
const KEYSTONE = {
  issue: { rps: 8.5, p50: null, goalX: 1 },
  validate: { rps: 137, p50: 116, goalX: 30 },
  list: { rps: 20, p50: null, goalX: 20 },
};
const KEYSTONE_CONC = 16;

const log = (s) => process.stderr.write(`[bench] ${s}\n`);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function cleanEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('MONOSTACK_')) delete env[k];
  return env;
}

/** Spawns a node child; resolves once `ready(line)` returns a value for a stdout line. */
function startChild(name, args, ready, { profileDir } = {}) {
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...nodeArgs, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
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

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => { clearTimeout(t); res(); });
    child.kill('SIGTERM');
  });
}

async function call(base, method, path, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h['X-Auth-Token'] = token;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: r.status, headers: r.headers, body: json, text };
}

function must(r, status, what) {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status}: ${r.text.slice(0, 500)}`);
  return r;
}

const passwordAuth = (user, password, project) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
    scope: { project: { name: project, domain: { id: 'default' } } },
  },
});

async function pool(n, concurrency, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

/** One autocannon run. autocannon's own histogram keeps whole milliseconds, so the 2xx response
 * times (fractional ms, from its 'response' events) are also collected here for exact percentiles. */
async function cannon(opts, connections, seconds) {
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
  const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.max(0, Math.ceil((p / 100) * lat.length) - 1))] : null);
  r.exact = { p50: pct(50), p99: pct(99), mean: lat.length ? lat.reduce((s, x) => s + x, 0) / lat.length : null, n: lat.length };
  return r;
}

/** CPU seconds so far: the server child, this process (the load generator), and the whole machine
 * (busy and total, all CPUs) — to tell the server's cost per request and whether anything else ran. */
const TICK = 100; // USER_HZ on Linux
function cpuSnapshot(pid) {
  const snap = { server: null, self: (process.cpuUsage().user + process.cpuUsage().system) / 1e6, busy: null, total: null };
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    snap.server = (Number(f[11]) + Number(f[12])) / TICK; // utime, stime
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    snap.total = cpu.slice(0, 8).reduce((x, y) => x + y, 0) / TICK;
    snap.busy = snap.total - (cpu[3] + cpu[4]) / TICK; // minus idle, iowait
  } catch { /* not Linux */ }
  return snap;
}

/** Waits until the server has finished what is still queued (autocannon stops sending at the end of a
 * run, but the server still works off the requests in flight — 16 bcrypt verifications are 3 CPU
 * seconds — which would otherwise be charged to the next run): its CPU use below 5% for 300 ms. */
async function waitIdle(pid) {
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

/** With --wait-quiet N: waits up to N s until other processes use < 0.25 cores (over 1 s), so that a
 * shared machine's other work does not end up in the figures. Returns the last sample. */
async function quietWait(pid) {
  const until = Date.now() + waitQuiet * 1000;
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

/** One measured run (after a warm-up run unless `cold`); `opts` are autocannon's. */
async function measure(label, opts, connections, pid, { cold = false } = {}) {
  await waitIdle(pid);
  if (warmup > 0 && !cold) await cannon(opts, connections, warmup);
  await waitIdle(pid);
  if (waitQuiet > 0) {
    const other = await quietWait(pid);
    if (other !== null && other >= 0.25) log(`machine not quiet after ${waitQuiet} s (${other.toFixed(2)} cores used by others); measuring anyway`);
  }
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

// ---------------------------------------------------------------------------------------------

const started = Date.now();
const results = [];
const meta = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  loadavgBefore: loadavg(),
  buildDir: build,
  durationS: duration,
  warmupS: warmup,
  connections: conns,
  projects: nProjects,
  keystoneReference: { concurrency: KEYSTONE_CONC, ...KEYSTONE },
};
const tmpRoots = [];
const children = [];
const cleanup = async () => {
  await Promise.all(children.map((c) => stopChild(c)));
  if (!a.keep) for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
};
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });

const profileDir = a.profile ? resolve(a.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

try {
  // ---- baseline: trivial handler on the same stack -------------------------------------------
  if (only.has('baseline')) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-baseline-'));
    tmpRoots.push(dir);
    const b = await startChild('baseline', [join(here, 'baseline-server.mjs'), '--build-dir', build, '--data-dir', dir],
      (line) => { try { return JSON.parse(line).port; } catch { return undefined; } }, { profileDir });
    children.push(b.child);
    const url = `http://127.0.0.1:${b.info}/bench/hello`;
    must(await call(`http://127.0.0.1:${b.info}`, 'GET', '/bench/hello'), 200, 'baseline');
    for (const c of conns) results.push(await measure('baseline', { url, method: 'GET' }, c, b.child.pid));
    await b.stop();
  }

  // ---- monostack up ------------------------------------------------------------------------------
  const want = ['issue', 'validate', 'validate-cold', 'list'].filter((s) => only.has(s));
  if (want.length) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-identity-'));
    tmpRoots.push(dir);
    const port = await freePort();
    const adminPassword = randomBytes(12).toString('base64url');
    const t0 = Date.now();
    const m = await startChild('monostack', [join(build, 'cli', 'main.js'), 'up', '--data-dir', dir, '--port', String(port), '--admin-port', '0', '--admin-password', adminPassword],
      (line) => (line.startsWith('monostack ready') ? true : undefined), { profileDir });
    children.push(m.child);
    meta.serverStartS = (Date.now() - t0) / 1000;
    const base = `http://127.0.0.1:${port}`;
    log(`monostack up on ${base} (data dir ${dir}) in ${meta.serverStartS.toFixed(1)} s`);

    const adminTok = must(await call(base, 'POST', '/v3/auth/tokens', { body: passwordAuth('admin', adminPassword, 'admin') }), 201, 'admin token').headers.get('x-subject-token');

    // Projects, through the API, 16 requests in flight.
    const t1 = Date.now();
    await pool(nProjects, 16, async (i) => {
      must(await call(base, 'POST', '/v3/projects', { token: adminTok, body: { project: { name: `bench-project-${String(i).padStart(4, '0')}`, domain_id: 'default', description: `benchmark project ${i}` } } }), 201, `create project ${i}`);
    });
    meta.projectCreateS = (Date.now() - t1) / 1000;
    log(`created ${nProjects} projects in ${meta.projectCreateS.toFixed(1)} s`);

    // The test user: member of its own project.
    const userPassword = randomBytes(12).toString('base64url');
    const proj = must(await call(base, 'POST', '/v3/projects', { token: adminTok, body: { project: { name: 'bench-user-project', domain_id: 'default' } } }), 201, 'user project').body.project;
    const user = must(await call(base, 'POST', '/v3/users', { token: adminTok, body: { user: { name: 'bench-user', domain_id: 'default', password: userPassword, default_project_id: proj.id } } }), 201, 'user').body.user;
    const roles = must(await call(base, 'GET', '/v3/roles?name=member', { token: adminTok }), 200, 'roles').body.roles;
    if (!roles.length) throw new Error('no member role after bootstrap');
    must(await call(base, 'PUT', `/v3/projects/${proj.id}/users/${user.id}/roles/${roles[0].id}`, { token: adminTok }), 204, 'grant member');
    const issueBody = JSON.stringify(passwordAuth('bench-user', userPassword, 'bench-user-project'));
    const userTok = must(await call(base, 'POST', '/v3/auth/tokens', { body: JSON.parse(issueBody) }), 201, 'user token').headers.get('x-subject-token');

    // What the stored hashes say about the KDF and its cost.
    const db = new Database(join(dir, 'monostack.sqlite'), { readonly: true, fileMustExist: true });
    const hash = db.prepare('SELECT password_hash FROM password WHERE user_id = ? ORDER BY created_at DESC').get(user.id)?.password_hash ?? '';
    db.close();
    const bm = /^\$(2[abxy])\$(\d\d)\$/.exec(hash);
    const sm = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$/.exec(hash);
    meta.kdf = bm ? { algorithm: 'bcrypt', variant: `$${bm[1]}$`, cost: Number(bm[2]) }
      : sm ? { algorithm: 'scrypt', ln: Number(sm[1]), r: Number(sm[2]), p: Number(sm[3]) }
        : { algorithm: 'unknown', prefix: hash.slice(0, 7) };
    log(`password KDF (from the test user's stored hash): ${JSON.stringify(meta.kdf)}`);

    // Sanity of each scenario once, and the list really has them all.
    const list = must(await call(base, 'GET', '/v3/projects', { token: adminTok }), 200, 'list projects');
    meta.listedProjects = list.body.projects.length;
    meta.listBytes = Buffer.byteLength(list.text);
    if (meta.listedProjects < nProjects) throw new Error(`GET /v3/projects listed ${meta.listedProjects} < ${nProjects}`);
    const val = must(await call(base, 'GET', '/v3/auth/tokens', { token: adminTok, headers: { 'X-Subject-Token': userTok } }), 200, 'validate');
    meta.validateBytes = Buffer.byteLength(val.text);
    meta.validateHasCatalog = Array.isArray(val.body?.token?.catalog);
    log(`GET /v3/projects lists ${meta.listedProjects} projects (${meta.listBytes} bytes); validation body ${meta.validateBytes} bytes`);

    const scenarios = {
      issue: { url: `${base}/v3/auth/tokens`, method: 'POST', headers: { 'content-type': 'application/json' }, body: issueBody },
      validate: { url: `${base}/v3/auth/tokens`, method: 'GET', headers: { 'x-auth-token': adminTok, 'x-subject-token': userTok } },
      list: { url: `${base}/v3/projects`, method: 'GET', headers: { 'x-auth-token': adminTok } },
    };
    for (const s of want) {
      for (const c of conns) {
        if (s !== 'validate-cold') { results.push(await measure(s, scenarios[s], c, m.child.pid)); continue; }
        // Cache misses: fresh subject tokens (from the token method, no bcrypt), and a project
        // created just before, which bumps the identity generation so no validation is cached.
        const toks = [];
        await pool(coldTokens, 16, async () => {
          const r = must(await call(base, 'POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['token'], token: { id: userTok } }, scope: { project: { id: proj.id } } } } }), 201, 'token for validate-cold');
          toks.push(r.headers.get('x-subject-token'));
        });
        must(await call(base, 'POST', '/v3/projects', { token: adminTok, body: { project: { name: `bench-bump-${c}`, domain_id: 'default' } } }), 201, 'generation bump');
        let i = 0;
        const opts = {
          url: `${base}/v3/auth/tokens`, method: 'GET', amount: toks.length,
          requests: [{ setupRequest: (req) => ({ ...req, headers: { 'x-auth-token': adminTok, 'x-subject-token': toks[i++ % toks.length] } }) }],
        };
        results.push(await measure(s, opts, c, m.child.pid, { cold: true }));
      }
    }
    await m.stop();
  }
} finally {
  await cleanup();
}
meta.totalS = (Date.now() - started) / 1000;

// ---- report --------------------------------------------------------------------------------------
const LABEL = {
  baseline: 'baseline: GET trivial JSON, same stack',
  issue: 'token issue: POST /v3/auth/tokens (password, project scope)',
  validate: 'token validation: GET /v3/auth/tokens (X-Auth-Token + X-Subject-Token)',
  'validate-cold': `token validation, cache miss: ${coldTokens} fresh subject tokens, each validated once`,
  list: `project list: GET /v3/projects (${meta.listedProjects ?? nProjects} projects)`,
};
const baseFor = (c) => results.find((r) => r.scenario === 'baseline' && r.connections === c);
for (const r of results) {
  const b = baseFor(r.connections);
  r.vsBaseline = b && r.scenario !== 'baseline' ? r.rps / b.rps : null;
  const k = KEYSTONE[r.scenario];
  if (k && r.connections === KEYSTONE_CONC) {
    r.keystone = { rps: k.rps, p50: k.p50 };
    r.vsKeystone = r.rps / k.rps;
    r.goal = { x: k.goalX, rps: k.rps * k.goalX, met: r.rps >= k.rps * k.goalX };
  }
}

const f = (n, d = 1) => (n === null || n === undefined ? '—' : Number(n).toFixed(d));
const head = ['scenario', 'conc', 'req/s', 'p50 ms', 'p99 ms', '× baseline', 'Keystone req/s', '× Keystone', 'goal', 'met', 'srv CPU ms/req', 'other CPU'];
const rows = results.map((r) => [
  LABEL[r.scenario], String(r.connections), f(r.rps), f(r.p50, 2), f(r.p99, 2),
  r.vsBaseline === null ? '—' : r.vsBaseline.toPrecision(3),
  r.keystone ? `${r.keystone.rps}${r.keystone.p50 ? ` (p50 ${r.keystone.p50})` : ''}` : '—',
  r.vsKeystone !== undefined ? `${f(r.vsKeystone)}×` : '—',
  r.goal ? `≥ ${r.goal.x}× = ${f(r.goal.rps, r.goal.rps % 1 ? 1 : 0)}` : '—',
  r.goal ? (r.goal.met ? 'yes' : 'NO') : '—',
  r.cpu ? f(r.cpu.serverMsPerRequest, 3) : '—',
  r.cpu ? `${f(r.cpu.otherCores, 2)} cores` : '—',
]);
const bad = results.filter((r) => r.non2xx || r.errors || r.timeouts);
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
const out = [];
out.push(`monostack identity benchmark — ${meta.date}, node ${meta.node}, ${meta.cpus} CPUs (${meta.cpuModel}), load generator on the same CPUs`);
out.push(`build ${meta.buildDir}; SQLite; password KDF ${meta.kdf ? (meta.kdf.algorithm === 'bcrypt' ? `bcrypt ${meta.kdf.variant} cost ${meta.kdf.cost}` : JSON.stringify(meta.kdf)) : 'n/a'}; autocannon keep-alive, ${duration} s per run after ${warmup} s warm-up`);
out.push('');
out.push(line(head));
out.push('|' + widths.map((w, i) => (i === 0 ? ':' + '-'.repeat(w + 1) : '-'.repeat(w + 1) + ':')).join('|') + '|');
for (const r of rows) out.push(line(r));
out.push('');
if (bad.length) out.push(`WARNING: failed requests in ${bad.map((r) => `${r.scenario} c=${r.connections} (non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts})`).join('; ')}`);
out.push(`Keystone 22 reference figures are at concurrency ${KEYSTONE_CONC} on this machine; goals: validation ≥ 30× (4,110 req/s), list ≥ 20× (400 req/s), token issue ≥ 1× at equal bcrypt cost 12.`);
out.push('srv CPU ms/req: CPU time the server process used per 2xx response; other CPU: cores busy with processes other than the server and autocannon during the run (load from others on this shared machine makes the figures lower than they would be).');
out.push(`setup: server start ${f(meta.serverStartS)} s, ${nProjects} projects created in ${f(meta.projectCreateS)} s; total ${f(meta.totalS)} s`);
process.stdout.write(out.join('\n') + '\n');

if (a.out) {
  writeFileSync(a.out, JSON.stringify({ meta, results, table: out.join('\n') }, null, 2) + '\n');
  log(`results written to ${a.out}`);
}
if (profileDir) log(`CPU profiles in ${profileDir}: node bench/identity/profile-summary.mjs ${profileDir}/monostack.cpuprofile --results ${a.out ?? '<--out file>'} --scenario validate --connections 16`);

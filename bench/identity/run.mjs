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

import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import {
  log, freePort, stopChild, call, must, passwordAuth, pool, requireBuild, startBaseline, startUp, projectToken, memberProject,
  measure as measureRun, markdownTable, failedRequests, fmt as f,
} from '../lib/bench.mjs';

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
requireBuild(build);

// The real Keystone 22 (Zed-era policy, bcrypt 12, Fernet, uWSGI) measured on this same machine at
// concurrency 16, and the goals for monostack expressed as multiples of it.
const KEYSTONE = {
  issue: { rps: 8.5, p50: null, goalX: 1 },
  validate: { rps: 137, p50: 116, goalX: 30 },
  list: { rps: 20, p50: null, goalX: 20 },
};
const KEYSTONE_CONC = 16;

/** One measured run (after a warm-up run unless `cold`); `opts` are autocannon's. */
const measure = (label, opts, connections, pid, { cold = false } = {}) =>
  measureRun(label, opts, connections, pid, { cold, warmup, duration, waitQuiet });

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
    const b = await startBaseline(join(here, 'baseline-server.mjs'), build, dir, { profileDir });
    children.push(b.child);
    const url = `${b.base}/bench/hello`;
    must(await call(b.base, 'GET', '/bench/hello'), 200, 'baseline');
    for (const c of conns) results.push(await measure('baseline', { url, method: 'GET' }, c, b.child.pid));
    await b.stop();
  }

  // ---- monostack up ------------------------------------------------------------------------------
  const want = ['issue', 'validate', 'validate-cold', 'list'].filter((s) => only.has(s));
  if (want.length) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-identity-'));
    tmpRoots.push(dir);
    const port = await freePort();
    // Identity alone, otherwise with its default configuration (the image service would also
    // bind the fixed port 9292 and add the `service` project to the listing).
    const { m, adminPassword, startS } = await startUp('monostack', build, dir,
      { args: ['--port', String(port), '--admin-port', '0'], profileDir, env: { MONOSTACK_DEFAULT_ENABLED_SERVICES: 'identity' } });
    children.push(m.child);
    meta.serverStartS = startS;
    const base = `http://127.0.0.1:${port}`;
    log(`monostack up on ${base} (data dir ${dir}) in ${meta.serverStartS.toFixed(1)} s`);

    const adminTok = await projectToken(base, 'admin', adminPassword, 'admin', 'admin token');

    // Projects, through the API, 16 requests in flight.
    const t1 = Date.now();
    await pool(nProjects, 16, async (i) => {
      must(await call(base, 'POST', '/v3/projects', { token: adminTok, body: { project: { name: `bench-project-${String(i).padStart(4, '0')}`, domain_id: 'default', description: `benchmark project ${i}` } } }), 201, `create project ${i}`);
    });
    meta.projectCreateS = (Date.now() - t1) / 1000;
    log(`created ${nProjects} projects in ${meta.projectCreateS.toFixed(1)} s`);

    // The test user: member of its own project.
    const { projectId, userId, password: userPassword, token: userTok } = await memberProject(base, adminTok, 'bench-user-project');
    const issueBody = JSON.stringify(passwordAuth('bench-user', userPassword, 'bench-user-project'));

    // What the stored hashes say about the KDF and its cost.
    const db = new Database(join(dir, 'monostack.sqlite'), { readonly: true, fileMustExist: true });
    const hash = db.prepare('SELECT password_hash FROM password WHERE user_id = ? ORDER BY created_at DESC').get(userId)?.password_hash ?? '';
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
          const r = must(await call(base, 'POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['token'], token: { id: userTok } }, scope: { project: { id: projectId } } } } }), 201, 'token for validate-cold');
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
const bad = failedRequests(results);
const out = [];
out.push(`monostack identity benchmark — ${meta.date}, node ${meta.node}, ${meta.cpus} CPUs (${meta.cpuModel}), load generator on the same CPUs`);
out.push(`build ${meta.buildDir}; SQLite; password KDF ${meta.kdf ? (meta.kdf.algorithm === 'bcrypt' ? `bcrypt ${meta.kdf.variant} cost ${meta.kdf.cost}` : JSON.stringify(meta.kdf)) : 'n/a'}; autocannon keep-alive, ${duration} s per run after ${warmup} s warm-up`);
out.push('');
out.push(...markdownTable(head, rows));
out.push('');
if (bad) out.push(bad);
out.push(`Keystone 22 reference figures are at concurrency ${KEYSTONE_CONC} on this machine; goals: validation ≥ 30× (4,110 req/s), list ≥ 20× (400 req/s), token issue ≥ 1× at equal bcrypt cost 12.`);
out.push('srv CPU ms/req: CPU time the server process used per 2xx response; other CPU: cores busy with processes other than the server and autocannon during the run (load from others on this shared machine makes the figures lower than they would be).');
out.push(`setup: server start ${f(meta.serverStartS)} s, ${nProjects} projects created in ${f(meta.projectCreateS)} s; total ${f(meta.totalS)} s`);
process.stdout.write(out.join('\n') + '\n');

if (a.out) {
  writeFileSync(a.out, JSON.stringify({ meta, results, table: out.join('\n') }, null, 2) + '\n');
  log(`results written to ${a.out}`);
}
if (profileDir) log(`CPU profiles in ${profileDir}: node bench/identity/profile-summary.mjs ${profileDir}/monostack.cpuprofile --results ${a.out ?? '<--out file>'} --scenario validate --connections 16`);

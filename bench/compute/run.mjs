// Compute benchmark (issue 5, point 4): how fast monostack's Nova v2.1 API and its control plane
// (API -> conductor -> Placement claim -> bus -> agent -> hypervisor driver -> instance row) boot,
// list and delete servers, beside a trivial handler on the same HTTP stack measured in the same run,
// and beside figures of the real Nova on this machine and OpenStack's published fake-driver scale test.
//
//   node bench/compute/run.mjs [--build-dir dist] [--out results.json] [--servers 1000] [--concurrency 16]
//        [--sequential 100] [--only baseline,sequential,boot,list,delete[,qemu]] [--poll-ms 20] [--seq-poll-ms 5]
//        [--duration 5] [--warmup 1] [--connections 1,16] [--singles 20] [--qemu-runs 3] [--images-dir .tmp/images]
//        [--wait-quiet S] [--profile DIR] [--keep]
//
// What is measured, exactly:
//  - baseline: autocannon (keep-alive, loopback, in this process) against baseline-server.mjs, a
//    child running createApiServer as the compute service configures it, with a trivial GET and a
//    trivial POST -> 202, at concurrency 1 and 16 (and at --concurrency, for the boot's ratio).
//  - fake driver: `node BUILD/cli/main.js up` as a child, identity + image + placement + compute
//    (MONOSTACK_DEFAULT_ENABLED_SERVICES), every port a free loopback port (MONOSTACK_<SECTION>_PORT,
//    MONOSTACK_IDENTITY_ADMIN_PORT, MONOSTACK_COMPUTE_METADATA_PORT, MONOSTACK_COMPUTE_NOVNCPROXY_PORT),
//    MONOSTACK_COMPUTE_COMPUTE_DRIVER=fake, a temporary data directory, SQLite, the default
//    configuration otherwise (every other MONOSTACK_* variable is removed). Through the API: a
//    project and a member user, that project's instances/cores/ram quota raised by the admin
//    (PUT /v2.1/os-quota-sets/{project}), a flavor bench.tiny (1 VCPU, 512 MB, 1 GB) created by the
//    admin, a 1 MiB raw image uploaded by the user. Every compute call is the user's, with
//    `OpenStack-API-Version: compute 2.93`; servers are `{"server": {name, imageRef, flavorRef,
//    "networks": "none"}}`.
//  - sequential: --sequential boots one after the other. For each, the time from sending the POST
//    to the first GET /v2.1/servers/{id} (polled every --seq-poll-ms, one poll in flight) answering
//    status ACTIVE; and, independent of the polling, the agent's launched_at (ms precision, same
//    clock) minus the POST's send time. These servers are then deleted (not measured).
//  - boot: --servers POSTs, --concurrency in flight. One poller lists
//    GET /v2.1/servers?status=ACTIVE&changes-since=<its previous poll's start - 500 ms> every
//    --poll-ms (a cheap incremental listing: only servers that changed lately) and timestamps when
//    each id first shows up ACTIVE. boots/s = servers / (first POST sent -> last server seen ACTIVE).
//    POST->ACTIVE per server: first sighting - its POST's send time (includes up to --poll-ms of
//    polling delay), and launched_at - send time. POST->202 latencies are reported too.
//  - list: GET /v2.1/servers/detail over the servers (all of them in one page): autocannon at each
//    of --connections (warm-up, then the measured run, as the other benchmarks); then --singles
//    single requests, one at a time, each on a new connection (as a CLI does).
//  - delete: DELETE /v2.1/servers/{id} for all of them, --concurrency in flight; the same poller
//    with status=DELETED timestamps when each is gone (the agent destroyed it, gave back its
//    Placement allocation and marked the row deleted). deletes/s = servers / (first DELETE -> last gone).
//  - qemu (only with --only ...,qemu): `monostack up` with the default qemu driver (KVM if its boot
//    probe works, else TCG), the test guest disk.qcow2 (scripts/build-test-images.sh) uploaded as
//    qcow2; --qemu-runs times: POST, then GET the server every 100 ms until ACTIVE, then
//    POST /servers/{id}/action {"os-getConsoleOutput": {}} every 100 ms until the console shows
//    "monostack test guest booted"; then DELETE and wait for 404. The first run fills the base
//    image cache (first use); the median is over all runs.
// Server CPU per operation and other processes' CPU come from /proc. --profile DIR runs the
// children with --cpu-prof; --out JSON has each phase's window for bench/identity/profile-summary.mjs
// (scenarios boot-seq, boot, delete, list, baseline-get, baseline-post). See bench/README.md.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  log, nowUs, sleep, freePort, stopChild, call, must, pool, requireBuild, startBaseline, startUp, projectToken, memberProject,
  failed, singleGet, stats, sortNum, settle as settleRun, procCpu, pidsWith, cpuSnapshot, cpuSplit, measure as measureRun, markdownTable,
  failedRequests, reportCells, fmt as f,
} from '../lib/bench.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

const { values: a } = parseArgs({
  options: {
    'build-dir': { type: 'string', default: 'dist' },
    out: { type: 'string' },
    servers: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '16' },
    sequential: { type: 'string', default: '100' },
    only: { type: 'string', default: 'baseline,sequential,boot,list,delete' },
    'poll-ms': { type: 'string', default: '20' },
    'seq-poll-ms': { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '1,16' },
    singles: { type: 'string', default: '20' },
    'qemu-runs': { type: 'string', default: '3' },
    'images-dir': { type: 'string', default: join(repo, '.tmp', 'images') },
    'wait-quiet': { type: 'string', default: '0' },
    profile: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (a.help) {
  process.stdout.write('usage: node bench/compute/run.mjs [--build-dir dist] [--out FILE] [--servers 1000] [--concurrency 16] [--sequential 100]\n' +
    '         [--only baseline,sequential,boot,list,delete,qemu] [--poll-ms 20] [--seq-poll-ms 5] [--duration 5] [--warmup 1]\n' +
    '         [--connections 1,16] [--singles 20] [--qemu-runs 3] [--images-dir .tmp/images] [--wait-quiet SECONDS] [--profile DIR] [--keep]\n');
  process.exit(0);
}

const build = resolve(a['build-dir']);
const nServers = Number(a.servers);
const conc = Number(a.concurrency);
const nSeq = Number(a.sequential);
const only = new Set(a.only.split(',').map((s) => s.trim()).filter(Boolean));
if (only.has('list') || only.has('delete')) only.add('boot');
const pollMs = Number(a['poll-ms']);
const seqPollMs = Number(a['seq-poll-ms']);
const duration = Number(a.duration);
const warmup = Number(a.warmup);
const conns = a.connections.split(',').map(Number);
const nSingles = Number(a.singles);
const qemuRuns = Number(a['qemu-runs']);
const waitQuiet = Number(a['wait-quiet']);
const MARGIN_MS = 500; // the poller's changes-since overlap (a row's updated_at precedes its commit)
const MARKER = 'monostack test guest booted';
requireBuild(build);

// The real Nova on this machine (Debian 12, libvirt/QEMU, from the issue) and OpenStack's published
// fake-driver scale test; the goals.
const NOVA = {
  activeCachedS: 4.2, // POST -> ACTIVE, average, image cached
  activeFirstUseS: 8.2, // the same, first use of the image
  fakeBootDeletePerS: 5.4, // boot-and-delete per second, fake driver, published scale test
  fakeBootMedianS: 6.2, // median boot time in that test
  fakeListMedianS: 14, // server list median in that test
};
const GOALS = { bootsPerS: 100, seqActiveP50Ms: 50, listMs: 200, markerS: 5 };

const V = { 'OpenStack-API-Version': 'compute 2.93' };
const measure = (label, opts, connections, pid) => measureRun(label, opts, connections, pid, { warmup, duration, waitQuiet });
const median = (xs) => { const s = sortNum(xs); return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null; };
/** launched_at as the API shows it ("2026-11-25T18:51:47.452000", UTC, no zone) in ms since the epoch. */
const launchedMs = (s) => (s ? Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(s) ? s : `${s}Z`) : NaN);

const settle = (pid) => settleRun(pid, waitQuiet);

/** CPU split of a phase as the results carry it (per-operation server CPU over `ops`). */
function phaseCpu(c0, c1, wallS, ops) {
  const s = cpuSplit(c0, c1, wallS);
  return s ? { serverCores: s.serverCores, loadGenCores: s.loadGenCores, otherCores: s.otherCores, serverMsPerRequest: ops ? (s.serverCpuS * 1000) / ops : null } : null;
}

/**
 * The poller: GET /v2.1/servers?status=STATUS&changes-since=T every intervalMs (one request in
 * flight), T = the previous poll's start - MARGIN_MS, so each poll returns only servers that changed
 * lately. `seen`: id -> monotonic µs of the response that first listed it.
 */
function startWatcher(cmp, token, status, sinceWallMs, intervalMs) {
  const seen = new Map();
  const st = { polls: 0, rows: 0, pollUs: 0, maxRows: 0, fullPages: 0 };
  let since = sinceWallMs - MARGIN_MS;
  let stopping = false;
  let error = null;
  const loop = (async () => {
    while (!stopping) {
      const w0 = Date.now(), t0 = nowUs();
      const r = await call(cmp, 'GET', `/servers?status=${status}&changes-since=${encodeURIComponent(new Date(since).toISOString())}`, { token, headers: V });
      const t1 = nowUs();
      if (r.status !== 200) { error = failed(`poller GET /servers?status=${status}`, r); return; }
      st.polls++; st.pollUs += t1 - t0; st.rows += r.body.servers.length; st.maxRows = Math.max(st.maxRows, r.body.servers.length);
      if (r.body.servers_links) st.fullPages++;
      for (const s of r.body.servers) if (!seen.has(s.id)) seen.set(s.id, t1);
      since = w0 - MARGIN_MS;
      const wait = intervalMs - (t1 - t0) / 1000;
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    seen, stats: st,
    /** Resolves when every id was seen; rejects when nothing new was seen for idleS seconds. */
    async waitAll(ids, idleS = 60) {
      let last = -1, lastChange = Date.now();
      for (;;) {
        if (error) throw error;
        const missing = ids.filter((id) => !seen.has(id));
        if (!missing.length) return;
        if (missing.length !== last) { last = missing.length; lastChange = Date.now(); }
        if (Date.now() - lastChange > idleS * 1000) {
          const show = [];
          for (const id of missing.slice(0, 3)) {
            const r = await call(cmp, 'GET', `/servers/${id}`, { token, headers: V });
            show.push(r.status === 200 ? `${id}: status ${r.body.server.status}, task ${r.body.server['OS-EXT-STS:task_state']}, fault ${JSON.stringify(r.body.server.fault ?? null)}` : `${id}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
          }
          throw new Error(`${missing.length} of ${ids.length} servers not ${status} after ${idleS} s without progress:\n  ${show.join('\n  ')}`);
        }
        await sleep(intervalMs);
      }
    },
    async stop() { stopping = true; await loop; if (error) throw error; },
  };
}

/** CPU seconds (user + system) a process has used so far, or null. */
const procCpuS = (pid) => procCpu(pid)?.own ?? null;

/** Pids of QEMU processes whose command line names the instance. */
const qemuPids = (uuid) => pidsWith(uuid).filter((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0].includes('qemu-system'); } catch { return false; } });

function which(cmd) {
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) if (d && existsSync(join(d, cmd))) return join(d, cmd);
  return null;
}


// ---------------------------------------------------------------------------------------------

const started = Date.now();
const results = []; // autocannon runs and phase windows (profile-summary reads scenario/connections/window)
const data = {}; // everything else
const meta = {
  date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavgBefore: loadavg(),
  buildDir: build, servers: nServers, concurrency: conc, sequential: nSeq, pollMs, seqPollMs, durationS: duration, warmupS: warmup,
  connections: conns, nova: NOVA, goals: GOALS,
};
const tmpRoots = [];
const children = [];
const cleanup = async () => {
  await Promise.all(children.map((c) => stopChild(c)));
  // QEMU guests of our data directories, if a failure left any (the qemu driver keeps guests running when up stops).
  for (const d of tmpRoots) for (const pid of pidsWith(d)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  if (!a.keep) for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
};
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });

const profileDir = a.profile ? resolve(a.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

/** `monostack up` with identity, image, placement and compute on free ports; extra env. */
async function startCloud(name, extraEnv) {
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  tmpRoots.push(dir);
  const ports = {};
  for (const v of ['IDENTITY_PORT', 'IDENTITY_ADMIN_PORT', 'IMAGE_PORT', 'PLACEMENT_PORT', 'COMPUTE_PORT', 'COMPUTE_METADATA_PORT', 'COMPUTE_NOVNCPROXY_PORT']) ports[v] = await freePort();
  const env = { MONOSTACK_DEFAULT_ENABLED_SERVICES: 'identity,image,placement,compute', ...extraEnv };
  for (const [k, p] of Object.entries(ports)) env[`MONOSTACK_${k}`] = String(p);
  const { m, adminPassword, startS } = await startUp(name, build, dir, { env, profileDir });
  children.push(m.child);
  const ks = `http://127.0.0.1:${ports.IDENTITY_PORT}`;
  const cloud = { dir, m, startS, ks, img: `http://127.0.0.1:${ports.IMAGE_PORT}`, cmp: `http://127.0.0.1:${ports.COMPUTE_PORT}/v2.1` };
  log(`${name}: monostack up in ${startS.toFixed(1)} s (data dir ${dir}, compute ${cloud.cmp})`);

  // The admin; a project with a member user; its quota raised; a flavor; the user's token.
  cloud.admin = await projectToken(ks, 'admin', adminPassword, 'admin', 'admin token');
  ({ projectId: cloud.projectId, token: cloud.token } = await memberProject(ks, cloud.admin, 'bench-compute'));
  const big = Math.max(100_000, (nServers + nSeq) * 4);
  const q = await call(cloud.cmp, 'PUT', `/os-quota-sets/${cloud.projectId}`, { token: cloud.admin, headers: V, body: { quota_set: { instances: big, cores: big, ram: big * 1024 } } });
  if (q.status !== 200) throw failed(`PUT /v2.1/os-quota-sets/${cloud.projectId}`, q);
  const fl = await call(cloud.cmp, 'POST', '/flavors', { token: cloud.admin, headers: V, body: { flavor: { name: 'bench.tiny', ram: 512, vcpus: 1, disk: 1 } } });
  if (fl.status !== 200) throw failed('POST /v2.1/flavors', fl);
  cloud.flavorId = fl.body.flavor.id;
  return cloud;
}

/** An image of the user's: created, uploaded, checked active. */
async function uploadImage(cloud, name, diskFormat, bytes) {
  const c = must(await call(cloud.img, 'POST', '/v2/images', { token: cloud.token, body: { name, disk_format: diskFormat, container_format: 'bare' } }), 201, 'image create').body;
  const r = await fetch(`${cloud.img}/v2/images/${c.id}/file`, { method: 'PUT', headers: { 'X-Auth-Token': cloud.token, 'Content-Type': 'application/octet-stream' }, body: bytes });
  if (r.status !== 204) throw new Error(`image upload: HTTP ${r.status}: ${(await r.text()).slice(0, 500)}`);
  const s = must(await call(cloud.img, 'GET', `/v2/images/${c.id}`, { token: cloud.token }), 200, 'image show').body;
  if (s.status !== 'active') throw new Error(`image ${c.id} is ${s.status}, not active`);
  return c.id;
}

const serverBody = (cloud, name) => ({ server: { name, imageRef: cloud.imageId, flavorRef: cloud.flavorId, networks: 'none' } });

async function postServer(cloud, name) {
  const wall = Date.now(), t0 = nowUs();
  const r = await call(cloud.cmp, 'POST', '/servers', { token: cloud.token, headers: V, body: serverBody(cloud, name) });
  const t1 = nowUs();
  if (r.status !== 202) throw failed(`POST /v2.1/servers (${name})`, r);
  return { id: r.body.server.id, wall, t0, postMs: (t1 - t0) / 1000 };
}

/** Deletes `ids` (`concurrency` in flight) and waits until the poller has seen each DELETED. */
async function deleteAll(cloud, ids, concurrency) {
  const wall = Date.now(), t0 = nowUs();
  const w = startWatcher(cloud.cmp, cloud.token, 'DELETED', wall, pollMs);
  const sent = new Map();
  const delMs = [];
  try {
    await pool(ids.length, concurrency, async (i) => {
      const id = ids[i];
      const s = nowUs();
      sent.set(id, s);
      const r = await call(cloud.cmp, 'DELETE', `/servers/${id}`, { token: cloud.token, headers: V });
      if (r.status !== 204) throw failed(`DELETE /v2.1/servers/${id}`, r);
      delMs.push((nowUs() - s) / 1000);
    });
    const accepted = nowUs();
    await w.waitAll(ids);
    const end = Math.max(...ids.map((id) => w.seen.get(id)));
    return { t0, accepted, end, sent, seen: w.seen, delMs, poller: w.stats };
  } finally {
    await w.stop().catch(() => undefined);
  }
}

try {
  // ---- baseline: trivial handlers on the same stack ---------------------------------------------
  if (only.has('baseline')) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-baseline-'));
    tmpRoots.push(dir);
    const b = await startBaseline(join(here, 'baseline-server.mjs'), build, dir, { profileDir });
    children.push(b.child);
    const url = `${b.base}/v2.1/bench`;
    must(await call(b.base, 'GET', '/v2.1/bench'), 200, 'baseline GET');
    must(await call(b.base, 'POST', '/v2.1/bench', { body: { server: { name: 'x' } } }), 202, 'baseline POST');
    const postBody = JSON.stringify({ server: { name: 'bench-0001', imageRef: 'c2a3b0a1-e3c1-4a1f-8f0d-2a6b7e9c1d23', flavorRef: '1', networks: 'none' } });
    for (const c of [...new Set([...conns, conc])].sort((x, y) => x - y)) {
      results.push(await measure('baseline-get', { url, method: 'GET', headers: V }, c, b.child.pid));
      results.push(await measure('baseline-post', { url, method: 'POST', headers: { ...V, 'content-type': 'application/json' }, body: postBody }, c, b.child.pid));
    }
    await b.stop();
  }

  // ---- the fake driver ------------------------------------------------------------------------------
  if (['sequential', 'boot'].some((s) => only.has(s))) {
    const cloud = await startCloud('monostack', { MONOSTACK_COMPUTE_COMPUTE_DRIVER: 'fake' });
    meta.serverStartS = cloud.startS;
    const pid = cloud.m.child.pid;
    cloud.imageId = await uploadImage(cloud, 'bench-raw', 'raw', new Uint8Array(1024 * 1024));

    // Sanity: one server, to ACTIVE and away, before anything is measured (and to warm the code paths).
    {
      const s = await postServer(cloud, 'bench-warm');
      const w = startWatcher(cloud.cmp, cloud.token, 'ACTIVE', s.wall, pollMs);
      try { await w.waitAll([s.id], 30); } finally { await w.stop().catch(() => undefined); }
      await deleteAll(cloud, [s.id], 1);
    }

    // -- sequential boots: the control plane's own latency
    if (only.has('sequential') && nSeq > 0) {
      await settle(pid);
      const obs = [], launched = [], post = [], ids = [];
      const c0 = cpuSnapshot(pid), t0 = nowUs();
      for (let i = 0; i < nSeq; i++) {
        const s = await postServer(cloud, `bench-seq-${String(i).padStart(4, '0')}`);
        ids.push(s.id);
        post.push(s.postMs);
        for (;;) {
          const r = await call(cloud.cmp, 'GET', `/servers/${s.id}`, { token: cloud.token, headers: V });
          const t = nowUs();
          if (r.status !== 200) throw failed(`GET /v2.1/servers/${s.id}`, r);
          const sv = r.body.server;
          if (sv.status === 'ACTIVE') {
            obs.push((t - s.t0) / 1000);
            launched.push(launchedMs(sv['OS-SRV-USG:launched_at']) - s.wall);
            break;
          }
          if (sv.status === 'ERROR') throw new Error(`server ${s.id} went to ERROR: ${JSON.stringify(sv.fault ?? sv)}`);
          if ((t - s.t0) / 1e6 > 60) throw new Error(`server ${s.id} not ACTIVE after 60 s: ${r.text.slice(0, 500)}`);
          await sleep(seqPollMs);
        }
      }
      const t1 = nowUs(), c1 = cpuSnapshot(pid);
      const wallS = (t1 - t0) / 1e6;
      data.sequential = { n: nSeq, wallS, bootsPerS: nSeq / wallS, activeObservedMs: stats(obs), activeLaunchedMs: stats(launched), postMs: stats(post), cpu: phaseCpu(c0, c1, wallS, nSeq), samples: { obs, launched, post } };
      results.push({ scenario: 'boot-seq', connections: 1, window: { startUs: t0, endUs: t1 } });
      log(`sequential: ${nSeq} boots, POST->ACTIVE p50 ${f(data.sequential.activeObservedMs.p50, 2)} ms observed (launched_at ${f(data.sequential.activeLaunchedMs.p50, 2)} ms), POST->202 p50 ${f(data.sequential.postMs.p50, 2)} ms`);
      await deleteAll(cloud, ids, conc);
    }

    // -- the boot of N servers, `conc` POSTs in flight
    if (only.has('boot')) {
      await settle(pid);
      const wall = Date.now();
      const w = startWatcher(cloud.cmp, cloud.token, 'ACTIVE', wall, pollMs);
      const posts = new Array(nServers);
      const c0 = cpuSnapshot(pid), t0 = nowUs();
      let accepted;
      try {
        await pool(nServers, conc, async (i) => { posts[i] = await postServer(cloud, `bench-${String(i).padStart(4, '0')}`); });
        accepted = nowUs();
        await w.waitAll(posts.map((p) => p.id));
      } finally {
        await w.stop().catch(() => undefined);
      }
      const ids = posts.map((p) => p.id);
      const end = Math.max(...ids.map((id) => w.seen.get(id)));
      const c1 = cpuSnapshot(pid);
      const wallS = (end - t0) / 1e6;
      const obs = posts.map((p) => (w.seen.get(p.id) - p.t0) / 1000);

      // The detail list: all of them, once (cold), with launched_at for each.
      const l0 = nowUs();
      const list = await call(cloud.cmp, 'GET', '/servers/detail', { token: cloud.token, headers: V });
      const firstListMs = (nowUs() - l0) / 1000;
      if (list.status !== 200) throw failed('GET /v2.1/servers/detail', list);
      const byId = new Map(list.body.servers.map((s) => [s.id, s]));
      const missing = ids.filter((id) => !byId.has(id));
      if (missing.length) throw new Error(`GET /servers/detail lists ${list.body.servers.length} servers; ${missing.length} of ours are missing (e.g. ${missing[0]})`);
      const notActive = list.body.servers.filter((s) => s.status !== 'ACTIVE');
      if (notActive.length) throw new Error(`${notActive.length} listed servers are not ACTIVE, e.g. ${JSON.stringify(notActive[0]).slice(0, 500)}`);
      const launched = posts.map((p) => launchedMs(byId.get(p.id)['OS-SRV-USG:launched_at']) - p.wall);
      const lastLaunched = Math.max(...posts.map((p) => launchedMs(byId.get(p.id)['OS-SRV-USG:launched_at'])));
      // The rate over the first and the last tenth of the servers to go ACTIVE (does booting slow down as servers accumulate?).
      const sightings = sortNum(ids.map((id) => w.seen.get(id)));
      const tenth = Math.max(2, Math.floor(nServers / 10));
      const rateOf = (xs) => (xs.length - 1) / ((xs[xs.length - 1] - xs[0]) / 1e6);
      data.boot = {
        bootsPerSFirstTenth: rateOf(sightings.slice(0, tenth)), bootsPerSLastTenth: rateOf(sightings.slice(-tenth)),
        n: nServers, concurrency: conc, wallS, bootsPerS: nServers / wallS,
        bootsPerSByLaunchedAt: nServers / ((lastLaunched - wall) / 1000),
        postsAcceptedS: (accepted - t0) / 1e6, postsPerS: nServers / ((accepted - t0) / 1e6),
        activeObservedMs: stats(obs), activeLaunchedMs: stats(launched), postMs: stats(posts.map((p) => p.postMs)),
        poller: { ...w.stats, meanPollMs: w.stats.polls ? w.stats.pollUs / w.stats.polls / 1000 : null },
        cpu: phaseCpu(c0, c1, wallS, nServers), listed: list.body.servers.length, listBytes: Buffer.byteLength(list.text), firstListMs,
      };
      results.push({ scenario: 'boot', connections: conc, window: { startUs: t0, endUs: end } });
      log(`boot: ${nServers} servers in ${wallS.toFixed(2)} s = ${data.boot.bootsPerS.toFixed(1)} boots/s (POSTs accepted in ${data.boot.postsAcceptedS.toFixed(2)} s); POST->ACTIVE p50 ${f(data.boot.activeObservedMs.p50)} ms p99 ${f(data.boot.activeObservedMs.p99)} ms; poller ${w.stats.polls} polls, ${f(data.boot.poller.meanPollMs, 2)} ms each, ${w.stats.maxRows} rows at most`);
      log(`boot rate over the first ${tenth} servers to go ACTIVE ${f(data.boot.bootsPerSFirstTenth)}/s, over the last ${tenth} ${f(data.boot.bootsPerSLastTenth)}/s`);
      log(`first GET /servers/detail: ${list.body.servers.length} servers, ${data.boot.listBytes} bytes, ${firstListMs.toFixed(1)} ms`);

      // -- the list of N servers
      if (only.has('list')) {
        const url = `${cloud.cmp}/servers/detail`;
        const headers = { 'x-auth-token': cloud.token, 'openstack-api-version': V['OpenStack-API-Version'] };
        for (const c of conns) results.push(await measure('list', { url, method: 'GET', headers }, c, pid));
        await settle(pid);
        const singles = [];
        const c0s = cpuSnapshot(pid), t0s = nowUs();
        for (let i = 0; i < nSingles; i++) {
          const r = await singleGet(url, headers);
          if (r.status !== 200) throw new Error(`single GET /servers/detail: HTTP ${r.status}`);
          singles.push(r.ms);
        }
        const t1s = nowUs();
        data.listSingles = { n: nSingles, ms: stats(singles), samples: singles, cpu: phaseCpu(c0s, cpuSnapshot(pid), (t1s - t0s) / 1e6, nSingles) };
        results.push({ scenario: 'list-single', connections: 1, window: { startUs: t0s, endUs: t1s } });
        log(`single GET /servers/detail (new connection each): p50 ${f(data.listSingles.ms.p50, 2)} ms, p99 ${f(data.listSingles.ms.p99, 2)} ms`);
      }

      // -- delete them all
      if (only.has('delete')) {
        await settle(pid);
        const c0d = cpuSnapshot(pid);
        const d = await deleteAll(cloud, ids, conc);
        const c1d = cpuSnapshot(pid);
        const wallSd = (d.end - d.t0) / 1e6;
        data.delete = {
          n: ids.length, concurrency: conc, wallS: wallSd, deletesPerS: ids.length / wallSd,
          acceptedS: (d.accepted - d.t0) / 1e6, gone: stats(ids.map((id) => (d.seen.get(id) - d.sent.get(id)) / 1000)), deleteMs: stats(d.delMs),
          poller: { ...d.poller, meanPollMs: d.poller.polls ? d.poller.pollUs / d.poller.polls / 1000 : null }, cpu: phaseCpu(c0d, c1d, wallSd, ids.length),
        };
        data.bootAndDeletePerS = ids.length / (data.boot.wallS + wallSd);
        results.push({ scenario: 'delete', connections: conc, window: { startUs: d.t0, endUs: d.end } });
        log(`delete: ${ids.length} servers in ${wallSd.toFixed(2)} s = ${data.delete.deletesPerS.toFixed(1)} deletes/s`);
        const left = await call(cloud.cmp, 'GET', '/servers', { token: cloud.token, headers: V });
        if (left.status !== 200 || left.body.servers.length) throw new Error(`after the deletes GET /servers lists ${left.body?.servers?.length ?? left.status} servers`);
      }
    }
    await cloud.m.stop();
  }

  // ---- a real guest: the qemu driver ---------------------------------------------------------------
  if (only.has('qemu')) {
    const qemu = which('qemu-system-x86_64');
    if (!qemu) {
      data.qemu = { skipped: 'qemu-system-x86_64 not found on PATH' };
      log('qemu: skipped: qemu-system-x86_64 not found on PATH');
    } else {
      const imgDir = resolve(a['images-dir']);
      if (!existsSync(join(imgDir, 'disk.qcow2'))) {
        log(`qemu: building the test guest images into ${imgDir} (scripts/build-test-images.sh)`);
        await new Promise((res, rej) => {
          const p = spawn('bash', [join(repo, 'scripts', 'build-test-images.sh'), imgDir], { stdio: ['ignore', 'inherit', 'inherit'] });
          p.once('exit', (code) => (code === 0 ? res() : rej(new Error(`build-test-images.sh exited ${code}`))));
        });
      }
      const cloud = await startCloud('monostack-qemu', {});
      const pid = cloud.m.child.pid;
      cloud.imageId = await uploadImage(cloud, 'bench-guest', 'qcow2', readFileSync(join(imgDir, 'disk.qcow2')));
      const runs = [];
      for (let i = 0; i < qemuRuns; i++) {
        await settle(pid);
        const s = await postServer(cloud, `bench-guest-${i + 1}`);
        let activeMs = null, launchedAtMs = null, markerMs = null, accel = null, qemuCpuS = null;
        const m0 = cpuSnapshot(pid);
        for (;;) {
          const r = await call(cloud.cmp, 'GET', `/servers/${s.id}`, { token: cloud.token, headers: V });
          const t = nowUs();
          if (r.status !== 200) throw failed(`GET /v2.1/servers/${s.id}`, r);
          const sv = r.body.server;
          if (sv.status === 'ACTIVE') { activeMs = (t - s.t0) / 1000; launchedAtMs = launchedMs(sv['OS-SRV-USG:launched_at']) - s.wall; break; }
          if (sv.status === 'ERROR') throw new Error(`server ${s.id} went to ERROR: ${JSON.stringify(sv.fault ?? sv)}`);
          if ((t - s.t0) / 1e6 > 300) throw new Error(`server ${s.id} not ACTIVE after 300 s: ${r.text.slice(0, 500)}`);
          await sleep(100);
        }
        const qp = qemuPids(s.id);
        if (qp.length) {
          const args = readFileSync(`/proc/${qp[0]}/cmdline`, 'utf8').split('\0');
          const k = args.indexOf('-accel');
          accel = k >= 0 ? args[k + 1] : null;
        }
        let lastOut = '';
        for (;;) {
          const r = await call(cloud.cmp, 'POST', `/servers/${s.id}/action`, { token: cloud.token, headers: V, body: { 'os-getConsoleOutput': {} } });
          const t = nowUs();
          if (r.status !== 200) throw failed(`POST /v2.1/servers/${s.id}/action os-getConsoleOutput`, r);
          lastOut = r.body.output ?? '';
          if (lastOut.includes(MARKER)) { markerMs = (t - s.t0) / 1000; qemuCpuS = qp.length ? procCpuS(qp[0]) : null; break; }
          if ((t - s.t0) / 1e6 > 300) throw new Error(`no boot marker on the console of ${s.id} after 300 s; last output:\n${lastOut.slice(-1500)}`);
          await sleep(100);
        }
        const m1 = cpuSnapshot(pid);
        // The guest kernel's own clock at the marker line ("[    1.234567] ..." when printk times are on).
        const markerLine = lastOut.split('\n').find((l) => l.includes(MARKER)) ?? '';
        const kernelLines = lastOut.split('\n').filter((l) => /^\[\s*\d+\.\d+\]/.test(l));
        const lastKernelS = kernelLines.length ? Number(/^\[\s*(\d+\.\d+)\]/.exec(kernelLines[kernelLines.length - 1])[1]) : null;
        const d0 = nowUs();
        const del = await call(cloud.cmp, 'DELETE', `/servers/${s.id}`, { token: cloud.token, headers: V });
        if (del.status !== 204) throw failed(`DELETE /v2.1/servers/${s.id}`, del);
        for (;;) {
          const r = await call(cloud.cmp, 'GET', `/servers/${s.id}`, { token: cloud.token, headers: V });
          if (r.status === 404) break;
          if ((nowUs() - d0) / 1e6 > 120) throw new Error(`server ${s.id} still there 120 s after DELETE: ${r.text.slice(0, 300)}`);
          await sleep(100);
        }
        const goneMs = (nowUs() - d0) / 1000;
        const leftover = qemuPids(s.id);
        const wallS = markerMs / 1000;
        runs.push({
          run: i + 1, firstUse: i === 0, postMs: s.postMs, activeMs, launchedAtMs, markerMs, deleteGoneMs: goneMs, accel, qemuLeftAfterDelete: leftover.length,
          qemuCpuS, serverCpuS: m1.server - m0.server, machineBusyCores: m1.busy !== null ? (m1.busy - m0.busy) / wallS : null,
          markerLine: markerLine.slice(0, 200), lastKernelTimestampS: lastKernelS, consoleLines: lastOut.split('\n').length,
          // The test guest's /init prints its uptime on the marker line ("..., up 9.57s)").
          guestUptimeAtMarkerS: (() => { const u = /up (\d+(?:\.\d+)?)s/.exec(markerLine); return u ? Number(u[1]) : null; })(),
        });
        const r = runs[runs.length - 1];
        log(`qemu run ${i + 1}: POST->ACTIVE ${(activeMs / 1000).toFixed(2)} s (launched_at ${(launchedAtMs / 1000).toFixed(2)} s), POST->boot marker ${(markerMs / 1000).toFixed(2)} s, accel ${accel ?? '?'}, ` +
          `QEMU CPU ${f(qemuCpuS, 2)} s, server CPU ${f(r.serverCpuS, 2)} s, machine busy ${f(r.machineBusyCores, 2)} cores, guest uptime at the marker ${f(r.guestUptimeAtMarkerS, 2)} s, delete ${(goneMs / 1000).toFixed(2)} s` +
          `${leftover.length ? `, ${leftover.length} QEMU process(es) left after delete` : ''}`);
        log(`qemu run ${i + 1}: marker line: ${markerLine.slice(0, 160)}`);
      }
      data.qemu = {
        runs, accel: runs[0]?.accel ?? null,
        activeMedianMs: median(runs.map((r) => r.activeMs)), launchedMedianMs: median(runs.map((r) => r.launchedAtMs)), markerMedianMs: median(runs.map((r) => r.markerMs)),
      };
      await cloud.m.stop();
    }
  }
} finally {
  await cleanup();
}
meta.totalS = (Date.now() - started) / 1000;

// ---- report ---------------------------------------------------------------------------------------------
const { bl, ratio, cores, msReq, judge, missed } = reportCells(results);

const head = ['scenario', 'conc', 'rate /s', 'p50 ms', 'p99 ms', '× baseline', 'Nova / scale test', 'goal', 'met', 'srv CPU ms/op', 'other CPU'];
const rows = [];
for (const r of results.filter((x) => x.scenario.startsWith('baseline-'))) {
  rows.push([r.scenario === 'baseline-get' ? 'baseline: GET trivial JSON, same stack' : 'baseline: POST JSON → 202 trivial JSON, same stack', String(r.connections), f(r.rps), f(r.p50, 2), f(r.p99, 2), '—', '—', '—', '—', msReq(r.cpu), cores(r.cpu)]);
}
if (data.sequential) {
  const s = data.sequential;
  const b = bl('post', 1);
  rows.push([`sequential boot: POST → ACTIVE seen by GET /servers/{id} every ${seqPollMs} ms (${s.n} boots)`, '1', f(s.bootsPerS), f(s.activeObservedMs.p50, 2), f(s.activeObservedMs.p99, 2), ratio(s.bootsPerS, b?.rps),
    `${NOVA.activeCachedS} s avg (real Nova, cached)`, `p50 < ${GOALS.seqActiveP50Ms}`, judge('sequential POST→ACTIVE p50', s.activeObservedMs.p50 < GOALS.seqActiveP50Ms), msReq(s.cpu), cores(s.cpu)]);
  rows.push(['sequential boot: POST → launched_at (the agent\'s timestamp)', '1', '—', f(s.activeLaunchedMs.p50, 2), f(s.activeLaunchedMs.p99, 2), '—', '—', '—', '—', '—', '—']);
  rows.push(['sequential boot: POST → 202', '1', '—', f(s.postMs.p50, 2), f(s.postMs.p99, 2), b ? `p50 ${ratio(b.p50, s.postMs.p50)}` : '—', '—', '—', '—', '—', '—']);
}
if (data.boot) {
  const s = data.boot;
  const b = bl('post', s.concurrency);
  rows.push([`boot ${s.n}: POST → ACTIVE seen by the poller (every ${pollMs} ms)`, String(s.concurrency), f(s.bootsPerS), f(s.activeObservedMs.p50, 1), f(s.activeObservedMs.p99, 1), ratio(s.bootsPerS, b?.rps),
    `${NOVA.fakeBootDeletePerS} boot+delete/s, median boot ${NOVA.fakeBootMedianS} s`, `≥ ${GOALS.bootsPerS} boots/s`, judge('fake boots/s', s.bootsPerS >= GOALS.bootsPerS), msReq(s.cpu), cores(s.cpu)]);
  rows.push([`boot ${s.n}: POST → launched_at (the agent's timestamp)`, String(s.concurrency), f(s.bootsPerSByLaunchedAt), f(s.activeLaunchedMs.p50, 1), f(s.activeLaunchedMs.p99, 1), '—', '—', '—', '—', '—', '—']);
  rows.push([`boot ${s.n}: POST → 202 (the API accepting them)`, String(s.concurrency), f(s.postsPerS), f(s.postMs.p50, 2), f(s.postMs.p99, 2), ratio(s.postsPerS, b?.rps), '—', '—', '—', '—', '—']);
}
if (data.listSingles) {
  const s = data.listSingles;
  rows.push([`server list: GET /servers/detail (${data.boot.listed} servers), single requests, new connection each`, '1', '—', f(s.ms.p50, 1), f(s.ms.p99, 1), '—',
    `median ${NOVA.fakeListMedianS} s (scale test)`, `< ${GOALS.listMs} ms`, judge('GET /servers/detail of 1,000 (single)', s.ms.p50 < GOALS.listMs), msReq(s.cpu), cores(s.cpu)]);
}
for (const r of results.filter((x) => x.scenario === 'list')) {
  const b = bl('get', r.connections);
  const goal = r.connections === 1;
  rows.push([`server list: GET /servers/detail (${data.boot.listed} servers), autocannon`, String(r.connections), f(r.rps), f(r.p50, 1), f(r.p99, 1), ratio(r.rps, b?.rps), '—',
    goal ? `p50 < ${GOALS.listMs} ms` : '—', goal ? judge('GET /servers/detail of 1,000 (c=1)', r.p50 < GOALS.listMs) : '—', msReq(r.cpu), cores(r.cpu)]);
}
if (data.delete) {
  const s = data.delete;
  rows.push([`delete ${s.n}: DELETE → gone (DELETED seen by the poller)`, String(s.concurrency), f(s.deletesPerS), f(s.gone.p50, 1), f(s.gone.p99, 1), '—', `${NOVA.fakeBootDeletePerS} boot+delete/s`, '—', '—', msReq(s.cpu), cores(s.cpu)]);
  rows.push([`delete ${s.n}: DELETE → 204`, String(s.concurrency), f(s.n / s.acceptedS), f(s.deleteMs.p50, 2), f(s.deleteMs.p99, 2), '—', '—', '—', '—', '—', '—']);
  rows.push([`boot + delete ${s.n} (servers / (boot time + delete time))`, String(s.concurrency), f(data.bootAndDeletePerS), '—', '—', '—', `${NOVA.fakeBootDeletePerS} /s`, '—', '—', '—', '—']);
}
if (data.qemu?.runs) {
  const q = data.qemu;
  const each = (k) => q.runs.map((r) => (r[k] / 1000).toFixed(2)).join(', ');
  rows.push([`real guest (qemu, ${q.accel ?? '?'}): POST → ACTIVE, median of ${q.runs.length} (s: ${each('activeMs')})`, '1', '—', f(q.activeMedianMs, 0), '—', '—', `${NOVA.activeCachedS} s cached, ${NOVA.activeFirstUseS} s first use`, '—', '—', '—', '—']);
  rows.push([`real guest (qemu, ${q.accel ?? '?'}): POST → "${MARKER}" on the console (s: ${each('markerMs')})`, '1', '—', f(q.markerMedianMs, 0), '—', '—', '—', `< ${GOALS.markerS} s`, judge('real guest boot marker', q.markerMedianMs < GOALS.markerS * 1000), '—', '—']);
}

const out = [];
out.push(`monostack compute benchmark — ${meta.date}, node ${meta.node}, ${meta.cpus} CPUs (${meta.cpuModel}), client and server on the same CPUs, loopback`);
out.push(`build ${meta.buildDir}; SQLite; ${[data.boot || data.sequential ? 'fake driver' : null, data.qemu?.runs ? `qemu driver (${data.qemu.accel ?? '?'})` : null].filter(Boolean).join(' and ') || 'baseline only'}; compute microversion 2.93; boot concurrency ${conc}; autocannon keep-alive, ${duration} s per run after ${warmup} s warm-up`);
out.push('');
out.push(...markdownTable(head, rows));
out.push('');
const bad = failedRequests(results);
if (bad) out.push(bad);
if (data.qemu?.skipped) out.push(`qemu scenario skipped: ${data.qemu.skipped}`);
if (data.qemu?.runs) out.push(`qemu runs: ${data.qemu.runs.map((r) => `#${r.run}${r.firstUse ? ' (first use)' : ''} ACTIVE ${(r.activeMs / 1000).toFixed(2)} s, marker ${(r.markerMs / 1000).toFixed(2)} s (guest uptime then ${f(r.guestUptimeAtMarkerS, 2)} s; QEMU CPU ${f(r.qemuCpuS, 2)} s, machine busy ${f(r.machineBusyCores, 2)} of ${meta.cpus} cores), delete ${(r.deleteGoneMs / 1000).toFixed(2)} s`).join('; ')}`);
out.push(`Goals: ≥ ${GOALS.bootsPerS} fake boots/s; sequential POST→ACTIVE p50 < ${GOALS.seqActiveP50Ms} ms; GET /servers/detail of 1,000 < ${GOALS.listMs} ms; real guest boot marker < ${GOALS.markerS} s (TCG). ${missed.length ? `MISSED: ${missed.join('; ')}.` : 'All goals measured here were met.'}`);
out.push(`Nova on this machine: POST→ACTIVE ${NOVA.activeCachedS} s on average with the image cached (${NOVA.activeFirstUseS} s first use); OpenStack's published fake-driver scale test: ~${NOVA.fakeBootDeletePerS} boot-and-delete/s, median boot ${NOVA.fakeBootMedianS} s, server list median ${NOVA.fakeListMedianS} s.`);
out.push('× baseline: rate ÷ the same-stack baseline\'s req/s at the same concurrency (boots: its POST; lists: its GET); for POST → 202, baseline p50 ÷ our p50. srv CPU ms/op: server CPU (all threads) per operation over the phase (boot phases include the poller\'s requests); other CPU: cores used by other processes meanwhile.');
if (data.boot) out.push(`boot rate over the first tenth of the servers to go ACTIVE ${f(data.boot.bootsPerSFirstTenth)}/s, over the last tenth ${f(data.boot.bootsPerSLastTenth)}/s.`);
if (data.boot) out.push(`poller: ${data.boot.poller.polls} polls during the boot, ${f(data.boot.poller.meanPollMs, 2)} ms each on average, ${data.boot.poller.maxRows} rows at most per poll${data.boot.poller.fullPages ? ` (${data.boot.poller.fullPages} full pages!)` : ''}; first GET /servers/detail after the boot ${f(data.boot.firstListMs, 1)} ms, ${data.boot.listBytes} bytes.`);
out.push(`setup: server start ${meta.serverStartS === undefined ? '—' : `${f(meta.serverStartS)} s`}; total ${f(meta.totalS)} s`);
process.stdout.write(out.join('\n') + '\n');

if (a.out) {
  writeFileSync(a.out, JSON.stringify({ meta, summary: { missed }, data, results, table: out.join('\n') }, null, 2) + '\n');
  log(`results written to ${a.out}`);
}
if (profileDir) log(`CPU profiles in ${profileDir}: node bench/identity/profile-summary.mjs ${profileDir}/monostack.cpuprofile --results ${a.out ?? '<--out file>'} --scenario boot --connections ${conc}`);

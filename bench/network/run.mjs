// Network benchmark (issue 6, point 4): how fast monostack's Neutron v2.0 API creates ports, how fast
// it lists 1,000 of them, and how soon a security-group rule change is in force on the host — beside
// a trivial handler on the same HTTP stack measured in the same run, and OpenStack's published
// control-plane scale test (378 nodes: about 25 port creates/s, median 1.1 s each; port list median 7 s).
//
//   node bench/network/run.mjs [--build-dir dist] [--out results.json] [--ports 1000] [--concurrency 16]
//        [--only baseline,create,list,propagation] [--dataplane noop|linuxbridge] [--rules 30] [--ping-ms 5]
//        [--duration 5] [--warmup 1] [--connections 1] [--singles 20] [--walks 5] [--page-limit 100]
//        [--wait-quiet S] [--profile DIR] [--sql-stats] [--keep]
//
// What is measured, exactly:
//  - baseline: autocannon (keep-alive, loopback, in this process) against baseline-server.mjs, a child
//    running createApiServer as the network service configures it, with a trivial GET and a trivial
//    POST -> 201, at concurrency 1 and --concurrency.
//  - monostack: `node BUILD/cli/main.js up` as a child with identity + network
//    (MONOSTACK_DEFAULT_ENABLED_SERVICES), every port a free loopback port (MONOSTACK_IDENTITY_PORT,
//    MONOSTACK_IDENTITY_ADMIN_PORT, MONOSTACK_NETWORK_PORT), MONOSTACK_COMPUTE_HOST=msbn-host (the
//    agent's host name), MONOSTACK_NETWORK_DATAPLANE when --dataplane is given (else the default:
//    linuxbridge as root, noop otherwise), a temporary data directory, SQLite, the default
//    configuration otherwise. The agent runs in that process and is told to sync after every write.
//    Through the API: a project and a member user; the admin raises the project's port quota; the user
//    creates a network and a /20 subnet (DHCP on, so a network node's agent serves it with dnsmasq).
//  - create: --ports POSTs of {"port": {"network_id", "name"}} with the user's token, --concurrency
//    in flight. ports/s = ports / (first POST sent -> last 201). Per-port POST -> 201 latency. Server
//    CPU per port = the server process (all threads) plus its exited children (ip, nft, conntrack run
//    by the agent) plus the DHCP namespace's daemons (dnsmasq, the metadata proxy). Then, with
//    linuxbridge, how long after the last 201 dnsmasq's hosts file lists every port (the agent caught up).
//  - list: GET /v2.0/ports?network_id=<net> (all of them in one page): --singles single requests on new
//    connections (as a CLI makes them), then autocannon at each of --connections; then
//    GET /v2.0/ports?limit=<--page-limit> walked through `ports_links` next to the end, --walks times.
//  - propagation (linuxbridge as root only): two ports bound to this agent's host (admin, binding:host_id,
//    device_owner compute:nova): a receiver in a group `bench-sg` with only egress rules, a sender in the
//    project's default group. For each, a veth `tap<port id[:11]>` (Nova's name) plugged into the bridge
//    of binding:vif_details.bridge_name, its peer in a namespace msbn-rx-/msbn-tx-<pid> with the port's
//    MAC and IP. The sender pings the receiver every --ping-ms (busybox ping). --rules times: POST an
//    ingress ICMP rule into bench-sg -> time from sending the POST to the first echo reply; then DELETE it
//    -> time from sending the DELETE to the last reply (replies stopped for 300 ms). Packets passing is
//    the proof, not the nftables ruleset.
//  - clean-up: namespaces and veths removed, every port, the subnet and the network deleted through the
//    API (so the bridge, dnsmasq and the namespace go), then countResources() scoped to the network id
//    (and our msbn prefix) checked to be zero, then the child stopped.
// --profile DIR runs the children with --cpu-prof (windows in --out for bench/identity/profile-summary.mjs:
// scenarios baseline-get, baseline-post, create, list-single, list, walk, propagation). --sql-stats
// preloads trace-preload.mjs into the server and prints, per port created and per rule change, the SQL
// statements by total time, the commands the agent ran, and how often the agent asked for its host state.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import {
  log, nowUs, sleep, freePort, stopChild, call, must, pool, requireBuild, startBaseline, startUp, projectToken, memberProject,
  failed, singleGet, stats, settle as settleRun, procCpu, pidsWith, cpuSnapshot, measure as measureRun, markdownTable,
  failedRequests, reportCells, fmt as f,
} from '../lib/bench.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const execFileP = promisify(execFile);

const { values: a } = parseArgs({
  options: {
    'build-dir': { type: 'string', default: 'dist' },
    out: { type: 'string' },
    ports: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '16' },
    only: { type: 'string', default: 'baseline,create,list,propagation' },
    dataplane: { type: 'string' },
    rules: { type: 'string', default: '30' },
    'ping-ms': { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '1' },
    singles: { type: 'string', default: '20' },
    walks: { type: 'string', default: '5' },
    'page-limit': { type: 'string', default: '100' },
    'wait-quiet': { type: 'string', default: '0' },
    profile: { type: 'string' },
    'sql-stats': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (a.help) {
  process.stdout.write('usage: node bench/network/run.mjs [--build-dir dist] [--out FILE] [--ports 1000] [--concurrency 16]\n' +
    '         [--only baseline,create,list,propagation] [--dataplane noop|linuxbridge] [--rules 30] [--ping-ms 5]\n' +
    '         [--duration 5] [--warmup 1] [--connections 1] [--singles 20] [--walks 5] [--page-limit 100]\n' +
    '         [--wait-quiet SECONDS] [--profile DIR] [--sql-stats] [--keep]\n');
  process.exit(0);
}

const build = resolve(a['build-dir']);
const nPorts = Number(a.ports);
const conc = Number(a.concurrency);
const only = new Set(a.only.split(',').map((s) => s.trim()).filter(Boolean));
const nRules = Number(a.rules);
const pingMs = Number(a['ping-ms']);
const duration = Number(a.duration);
const warmup = Number(a.warmup);
const conns = a.connections.split(',').map(Number);
const nSingles = Number(a.singles);
const nWalks = Number(a.walks);
const pageLimit = Number(a['page-limit']);
const waitQuiet = Number(a['wait-quiet']);
if (a.dataplane && !['noop', 'linuxbridge'].includes(a.dataplane)) { process.stderr.write('--dataplane must be noop or linuxbridge\n'); process.exit(2); }
requireBuild(build);
const mod = (p) => import(pathToFileURL(join(build, p)).href);

// OpenStack's published control-plane test (378 nodes) and the goals.
const SCALE = { portCreatesPerS: 25, portCreateMedianS: 1.1, portListMedianS: 7 };
const GOALS = { portCreatesPerS: 500, propagationP99Ms: 200 };
const HOST = 'msbn-host';
const PREFIX = 'msbn';

const measure = (label, opts, connections, pid) => measureRun(label, opts, connections, pid, { warmup, duration, waitQuiet });
const settle = (pid) => settleRun(pid, waitQuiet);

/** The server's CPU so far: its own, its exited children's, and its data directory's daemons'
 * (dnsmasq and the metadata proxy: the processes whose command line names it). */
function serverCpu(pid, dataDir) {
  const p = procCpu(pid);
  let daemons = 0;
  for (const d of pidsWith(dataDir)) if (d !== pid) daemons += procCpu(d)?.own ?? 0;
  return { ...cpuSnapshot(pid), own: p?.own ?? null, children: p?.children ?? null, daemons };
}

function phaseCpu(c0, c1, wallS, ops) {
  if (c0.server === null || c1.server === null) return null;
  const server = c1.own - c0.own, children = c1.children - c0.children, daemons = Math.max(0, c1.daemons - c0.daemons);
  const gen = c1.self - c0.self, busy = c1.busy - c0.busy;
  return {
    serverCores: server / wallS, helperCores: (children + daemons) / wallS, loadGenCores: gen / wallS,
    otherCores: Math.max(0, busy - server - children - daemons - gen) / wallS,
    serverMsPerRequest: ops ? (server * 1000) / ops : null,
    helperMsPerRequest: ops ? ((children + daemons) * 1000) / ops : null,
    childrenCpuS: children, daemonsCpuS: daemons,
  };
}

const sh = async (cmd, args) => (await execFileP(cmd, args, { maxBuffer: 64 << 20 })).stdout;
const shQuiet = async (cmd, args) => { try { return await sh(cmd, args); } catch { return null; } };

/** Host state the propagation scenario needs (root, tools, no other monostack nftables tables). */
async function linuxbridgeBlocker() {
  if (process.getuid?.() !== 0) return 'not running as root (the linuxbridge data plane and test namespaces need root)';
  for (const t of ['ip', 'nft', 'dnsmasq', 'busybox', 'conntrack']) if (!(await shQuiet('which', [t]))) return `${t} not found on PATH`;
  const tables = await shQuiet('nft', ['-j', 'list', 'tables']);
  if (tables) {
    const mine = JSON.parse(tables).nftables.filter((x) => x.table?.name === 'monostack');
    // Another cloud's agent on this host owns the default table: ours would replace its ruleset.
    if (mine.length) return 'nftables table "monostack" already exists (another monostack cloud with the linuxbridge data plane runs on this host)';
  }
  return null;
}

/** `busybox ping -i` from a namespace, with the arrival time (performance.now()) of each reply. */
class PingStream {
  constructor(spawnFn, ns, dst, intervalS) {
    this.replies = [];
    this.child = spawnFn('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-i', String(intervalS), dst], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d) => { const t = performance.now(); for (const l of d.split('\n')) if (l.includes('seq=')) this.replies.push(t); });
  }
  last() { return this.replies.length ? this.replies[this.replies.length - 1] : -Infinity; }
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await done;
  }
}

// ---------------------------------------------------------------------------------------------

const started = Date.now();
const results = [];
const data = {};
const meta = {
  date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavgBefore: loadavg(),
  buildDir: build, ports: nPorts, concurrency: conc, rules: nRules, pingMs, durationS: duration, warmupS: warmup, connections: conns,
  scale: SCALE, goals: GOALS,
};
const tmpRoots = [];
const children = [];
const hostCleanups = []; // namespaces/veths of ours, removed in any case
const cleanup = async () => {
  for (const fn of hostCleanups.splice(0).reverse()) await fn().catch((e) => log(`clean-up: ${e.message}`));
  await Promise.all(children.map((c) => stopChild(c)));
  if (!a.keep) for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
};
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });
const profileDir = a.profile ? resolve(a.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

/** `monostack up` (identity + network) on free ports; a project, a member user, its port quota raised. */
async function startCloud(name, extraEnv) {
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  tmpRoots.push(dir);
  const ports = {};
  for (const v of ['IDENTITY_PORT', 'IDENTITY_ADMIN_PORT', 'NETWORK_PORT']) ports[v] = await freePort();
  const env = { MONOSTACK_DEFAULT_ENABLED_SERVICES: 'identity,network', MONOSTACK_COMPUTE_HOST: HOST, ...extraEnv };
  for (const [k, p] of Object.entries(ports)) env[`MONOSTACK_${k}`] = String(p);
  if (a['sql-stats']) {
    env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(join(here, 'trace-preload.mjs')).href}`.trim();
    env.MSBN_SQL_STATS = join(dir, 'sql-stats');
  }
  const { m, adminPassword, startS } = await startUp(name, build, dir, { env, profileDir });
  children.push(m.child);
  const ks = `http://127.0.0.1:${ports.IDENTITY_PORT}`;
  const cloud = { dir, m, startS, ks, net: `http://127.0.0.1:${ports.NETWORK_PORT}`, sqlDumps: 0 };
  log(`${name}: monostack up in ${startS.toFixed(1)} s (data dir ${dir}, network ${cloud.net})`);

  cloud.admin = await projectToken(ks, 'admin', adminPassword, 'admin', 'admin token');
  ({ projectId: cloud.projectId, token: cloud.token } = await memberProject(ks, cloud.admin, 'bench-network'));
  const q = await call(cloud.net, 'PUT', `/v2.0/quotas/${cloud.projectId}`, { token: cloud.admin, body: { quota: { port: nPorts + 100, security_group_rule: -1 } } });
  if (q.status !== 200) throw failed(`PUT /v2.0/quotas/${cloud.projectId}`, q);
  // The data plane in force, as the agent reports it.
  for (let i = 0; i < 100; i++) {
    const ag = must(await call(cloud.net, 'GET', '/v2.0/agents', { token: cloud.admin }), 200, 'agents').body.agents;
    const mine = ag.find((x) => x.host === HOST && x.agent_type === 'Linux bridge agent');
    if (mine) { cloud.dataplane = mine.configurations?.driver ?? '?'; break; }
    await sleep(100);
  }
  log(`${name}: data plane ${cloud.dataplane ?? 'unknown (no agent heartbeat)'}`);
  return cloud;
}

/** Asks the server (trace-preload.mjs) for its statement statistics since the last call; null without --sql-stats. */
async function sqlDump(cloud) {
  if (!a['sql-stats']) return null;
  const file = `${join(cloud.dir, 'sql-stats')}.${cloud.sqlDumps++}.json`;
  cloud.m.child.kill('SIGUSR2');
  for (let i = 0; i < 200 && !existsSync(file); i++) await sleep(25);
  await sleep(50);
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** A trace dump in per-operation terms: statements, SQL ms, host_state calls, commands. */
function traceSummary(dump, ops) {
  const totalMs = dump.rows.reduce((s, r) => s + r.ms, 0), totalN = dump.rows.reduce((s, r) => s + r.n, 0);
  const hostStates = dump.rows.find((r) => /select "network_id" from "neutron_ports" where "binding_host_id" = \?/.test(r.sql))?.n ?? 0;
  const cmdN = dump.commands.reduce((s, c) => s + c.n, 0), cmdMs = dump.commands.reduce((s, c) => s + c.ms, 0);
  return {
    ops, statements: totalN, perOp: totalN / ops, ms: totalMs, msPerOp: totalMs / ops, agentHostStates: hostStates,
    commands: cmdN, commandsPerOp: cmdN / ops, commandMs: cmdMs, top: dump.rows.slice(0, 25), topCommands: dump.commands.slice(0, 15),
  };
}

/** Lines of dnsmasq's hosts file for the network (linuxbridge), or null. */
function dhcpHosts(cloud, netId) {
  try { return readFileSync(join(cloud.dir, 'network', `msdhcp-${netId}`, 'host'), 'utf8').split('\n').filter(Boolean).length; } catch { return null; }
}

async function waitFor(what, fn, timeoutMs = 30_000, everyMs = 50) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

try {
  // ---- baseline: trivial handlers on the same stack ---------------------------------------------
  if (only.has('baseline')) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-baseline-'));
    tmpRoots.push(dir);
    const b = await startBaseline(join(here, 'baseline-server.mjs'), build, dir, { profileDir });
    children.push(b.child);
    const { base } = b;
    must(await call(base, 'GET', '/v2.0/bench'), 200, 'baseline GET');
    must(await call(base, 'POST', '/v2.0/bench', { body: { port: { name: 'x' } } }), 201, 'baseline POST');
    const postBody = JSON.stringify({ port: { network_id: '0b5e6a1c-3d2f-4e8a-9b7c-1a2b3c4d5e6f', name: 'bench-0001' } });
    for (const c of [...new Set([1, conc])].sort((x, y) => x - y)) {
      results.push(await measure('baseline-get', { url: `${base}/v2.0/bench`, method: 'GET' }, c, b.child.pid));
      results.push(await measure('baseline-post', { url: `${base}/v2.0/bench`, method: 'POST', headers: { 'content-type': 'application/json' }, body: postBody }, c, b.child.pid));
    }
    await b.stop();
  }

  if (['create', 'list', 'propagation'].some((s) => only.has(s))) {
    let dataplane = a.dataplane;
    const blocker = await linuxbridgeBlocker();
    if (blocker && dataplane !== 'noop') {
      if (dataplane === 'linuxbridge' || process.getuid?.() === 0) log(`linuxbridge data plane not used: ${blocker}; running with noop`);
      dataplane = 'noop';
    }
    data.linuxbridgeBlocker = blocker;
    const cloud = await startCloud('monostack', dataplane ? { MONOSTACK_NETWORK_DATAPLANE: dataplane } : {});
    meta.serverStartS = cloud.startS;
    meta.dataplane = cloud.dataplane;
    const pid = cloud.m.child.pid;
    const U = { token: cloud.token };
    const network = must(await call(cloud.net, 'POST', '/v2.0/networks', { ...U, body: { network: { name: 'bench-net' } } }), 201, 'network').body.network;
    const subnet = must(await call(cloud.net, 'POST', '/v2.0/subnets', { ...U, body: { subnet: { network_id: network.id, ip_version: 4, cidr: '10.96.0.0/20', name: 'bench-subnet' } } }), 201, 'subnet').body.subnet;
    const netAdmin = must(await call(cloud.net, 'GET', `/v2.0/networks/${network.id}`, { token: cloud.admin }), 200, 'network show').body.network;
    meta.network = { id: network.id, type: netAdmin['provider:network_type'] ?? null, subnet: subnet.cidr };
    hostCleanups.push(async () => {
      // Everything through the API, so that the agent removes the bridge, dnsmasq and the namespace.
      const adm = { token: cloud.admin };
      const left = must(await call(cloud.net, 'GET', `/v2.0/ports?network_id=${network.id}&fields=id&fields=device_owner`, adm), 200, 'ports left').body.ports;
      const mine = left.filter((p) => p.device_owner !== 'network:dhcp');
      const t0 = nowUs();
      const delMs = [];
      await pool(mine.length, conc, async (i) => {
        const s = nowUs();
        const r = await call(cloud.net, 'DELETE', `/v2.0/ports/${mine[i].id}`, adm);
        if (r.status !== 204 && r.status !== 404) throw failed(`DELETE /v2.0/ports/${mine[i].id}`, r);
        delMs.push((nowUs() - s) / 1000);
      });
      const wallS = (nowUs() - t0) / 1e6;
      if (mine.length > 100) data.delete = { n: mine.length, concurrency: conc, wallS, deletesPerS: mine.length / wallS, ms: stats(delMs) };
      log(`clean-up: ${mine.length} ports deleted in ${wallS.toFixed(2)} s (${(mine.length / wallS).toFixed(1)}/s)`);
      const d = await call(cloud.net, 'DELETE', `/v2.0/networks/${network.id}`, adm);
      if (d.status !== 204) throw failed(`DELETE /v2.0/networks/${network.id}`, d);
      if (cloud.dataplane === 'linuxbridge') {
        const { countResources } = await mod('network/agent/resources.js');
        const scope = { ids: [network.id], prefixes: [`${PREFIX}-`], stateDir: cloud.dir, tables: ['monostack'] };
        const zero = (c) => Object.values(c).every((v) => v === 0);
        let c = await countResources(scope);
        const t1 = Date.now();
        while (!zero(c) && Date.now() - t1 < 30_000) { await sleep(200); c = await countResources(scope); }
        data.leftover = c;
        if (!zero(c)) log(`WARNING: host objects left after deleting the network: ${JSON.stringify(c)}`);
        else log(`clean-up: no namespace, link, dnsmasq, proxy or nft table of the network left (${((Date.now() - t1) / 1000).toFixed(1)} s after the delete)`);
      }
    });
    // Wait for the agent to serve the network (linuxbridge: dnsmasq has its DHCP port).
    if (cloud.dataplane === 'linuxbridge') await waitFor('the DHCP namespace of the network', () => dhcpHosts(cloud, network.id) !== null, 60_000, 100);

    // Sanity and warm-up: one port, created and deleted, before anything is measured.
    {
      const p = must(await call(cloud.net, 'POST', '/v2.0/ports', { ...U, body: { port: { network_id: network.id, name: 'bench-warm' } } }), 201, 'warm-up port').body.port;
      must(await call(cloud.net, 'DELETE', `/v2.0/ports/${p.id}`, U), 204, 'warm-up port delete');
    }

    // ---- create: N ports at `conc` in flight -------------------------------------------------------
    const portIds = [];
    if (only.has('create') || only.has('list')) {
      await settle(pid);
      await sqlDump(cloud); // reset
      const lat = new Array(nPorts);
      const c0 = serverCpu(pid, cloud.dir), t0 = nowUs();
      let lastUs = t0;
      // How far the data plane lags behind the API: dnsmasq's hosts file (rewritten by each agent pass
      // that changes the network's ports) against the 201s so far, sampled every 20 ms.
      const lag = { samples: 0, maxPorts: 0, rewrites: 0, lastCount: null };
      let done201 = 0;
      const doneAt = [];
      const sampler = cloud.dataplane === 'linuxbridge' ? setInterval(() => {
        const n = dhcpHosts(cloud, network.id);
        if (n === null) return;
        lag.samples++;
        if (lag.lastCount !== null && n !== lag.lastCount) lag.rewrites++;
        lag.lastCount = n;
        lag.maxPorts = Math.max(lag.maxPorts, done201 - (n - 1));
      }, 20) : null;
      await pool(nPorts, conc, async (i) => {
        const s = nowUs();
        const r = await call(cloud.net, 'POST', '/v2.0/ports', { ...U, body: { port: { network_id: network.id, name: `bench-${String(i).padStart(4, '0')}` } } });
        const e = nowUs();
        if (r.status !== 201) throw failed(`POST /v2.0/ports (#${i})`, r);
        lat[i] = (e - s) / 1000;
        doneAt.push(e);
        done201++;
        lastUs = Math.max(lastUs, e);
        portIds.push(r.body.port.id);
      });
      const c1 = serverCpu(pid, cloud.dir);
      const wallS = (lastUs - t0) / 1e6;
      if (sampler) clearInterval(sampler);
      const sql = await sqlDump(cloud);
      // The rate over the first and the last tenth of the 201s (does a create slow down as the network fills?).
      const tenth = Math.max(2, Math.floor(nPorts / 10));
      const rateOf = (xs) => (xs.length - 1) / ((xs[xs.length - 1] - xs[0]) / 1e6);
      data.create = {
        n: nPorts, concurrency: conc, wallS, portsPerS: nPorts / wallS, ms: stats(lat), cpu: phaseCpu(c0, c1, wallS, nPorts), dataplane: cloud.dataplane,
        portsPerSFirstTenth: rateOf(doneAt.slice(0, tenth)), portsPerSLastTenth: rateOf(doneAt.slice(-tenth)),
        msFirstTenth: stats(lat.slice(0, tenth)), msLastTenth: stats(lat.slice(-tenth)),
      };
      results.push({ scenario: 'create', connections: conc, window: { startUs: t0, endUs: lastUs } });
      log(`create: ${f(data.create.portsPerSFirstTenth)} ports/s over the first ${tenth} 201s, ${f(data.create.portsPerSLastTenth)}/s over the last ${tenth}; POST->201 p50 ${f(data.create.msFirstTenth.p50, 1)} ms for the first ${tenth} ports, ${f(data.create.msLastTenth.p50, 1)} ms for the last`);
      log(`create: ${nPorts} ports in ${wallS.toFixed(2)} s = ${data.create.portsPerS.toFixed(1)} ports/s; POST->201 p50 ${f(data.create.ms.p50, 2)} ms p99 ${f(data.create.ms.p99, 2)} ms; ` +
        `server ${f(data.create.cpu?.serverMsPerRequest, 2)} ms CPU/port + agent's commands and daemons ${f(data.create.cpu?.helperMsPerRequest, 2)} ms/port; other CPU ${f(data.create.cpu?.otherCores, 2)} cores`);
      // How long the agent needed to catch up: dnsmasq's hosts file has every port (the DHCP port too).
      if (cloud.dataplane === 'linuxbridge') {
        const want = nPorts + 1;
        await waitFor(`dnsmasq's hosts file to list ${want} ports`, () => (dhcpHosts(cloud, network.id) ?? 0) >= want, 120_000, 20);
        const c2 = serverCpu(pid, cloud.dir);
        data.create.dhcpCaughtUpMs = (nowUs() - lastUs) / 1000;
        data.create.dhcpCaughtUpAfterFirstPostS = (nowUs() - t0) / 1e6;
        data.create.cpuWithCatchUp = phaseCpu(c0, c2, (nowUs() - t0) / 1e6, nPorts);
        data.create.dhcpLag = { maxPortsBehind: lag.maxPorts, hostsFileRewritesSeen: lag.rewrites, samples: lag.samples };
        log(`create: while creating, dnsmasq's hosts file changed ${lag.rewrites} times (sampled every 20 ms) and was at most ${lag.maxPorts} ports behind the 201s`);
        log(`create: dnsmasq's hosts file lists all ${want} ports ${f(data.create.dhcpCaughtUpMs, 0)} ms after the last 201`);
      }
      if (sql) {
        const t = data.create.sql = traceSummary(sql, nPorts);
        log(`create: ${t.statements} SQL statements (${f(t.perOp, 1)}/port), ${f(t.msPerOp, 3)} ms SQL/port; the agent asked for its host state ${t.agentHostStates} times; ${t.commands} commands run by the server`);
      }
    }

    // ---- list -------------------------------------------------------------------------------------
    if (only.has('list')) {
      const path = `/v2.0/ports?network_id=${network.id}`;
      const headers = { 'x-auth-token': cloud.token };
      await settle(pid);
      const singles = [];
      let listed = null, bytes = null;
      const c0 = serverCpu(pid, cloud.dir), t0 = nowUs();
      for (let i = 0; i < nSingles; i++) {
        const r = await singleGet(cloud.net + path, headers);
        if (r.status !== 200) throw new Error(`single GET ${path}: HTTP ${r.status}: ${r.body.toString().slice(0, 300)}`);
        if (i === 0) { listed = JSON.parse(r.body.toString()).ports.length; bytes = r.body.length; }
        singles.push(r.ms);
      }
      const t1 = nowUs();
      data.listSingles = { n: nSingles, listed, bytes, ms: stats(singles), samples: singles, cpu: phaseCpu(c0, serverCpu(pid, cloud.dir), (t1 - t0) / 1e6, nSingles) };
      results.push({ scenario: 'list-single', connections: 1, window: { startUs: t0, endUs: t1 } });
      log(`list: GET ${path} (${listed} ports, ${bytes} bytes), new connection each: p50 ${f(data.listSingles.ms.p50, 1)} ms, p99 ${f(data.listSingles.ms.p99, 1)} ms`);
      for (const c of conns) results.push({ ...(await measure('list', { url: cloud.net + path, method: 'GET', headers }, c, pid)), listed });

      // The whole collection in pages of --page-limit, following the next links.
      await settle(pid);
      const walks = [], pages = [];
      let pagesPerWalk = 0, seenPerWalk = 0;
      const cw0 = serverCpu(pid, cloud.dir), tw0 = nowUs();
      for (let w = 0; w < nWalks; w++) {
        const s = nowUs();
        let url = `${cloud.net}/v2.0/ports?limit=${pageLimit}`;
        let n = 0, seen = 0;
        while (url) {
          const p0 = nowUs();
          const r = await call(url, 'GET', '', U);
          pages.push((nowUs() - p0) / 1000);
          if (r.status !== 200) throw failed(`GET ${url}`, r);
          n++; seen += r.body.ports.length;
          const next = (r.body.ports_links ?? []).find((l) => l.rel === 'next');
          url = next && r.body.ports.length ? next.href : null;
          if (n > nPorts) throw new Error('the paged walk does not end');
        }
        walks.push((nowUs() - s) / 1000);
        pagesPerWalk = n; seenPerWalk = seen;
      }
      const tw1 = nowUs();
      data.walk = { n: nWalks, limit: pageLimit, pages: pagesPerWalk, ports: seenPerWalk, ms: stats(walks), pageMs: stats(pages), cpu: phaseCpu(cw0, serverCpu(pid, cloud.dir), (tw1 - tw0) / 1e6, nWalks) };
      results.push({ scenario: 'walk', connections: 1, window: { startUs: tw0, endUs: tw1 } });
      log(`list: GET /v2.0/ports?limit=${pageLimit} walked to the end (${pagesPerWalk} pages, ${seenPerWalk} ports): p50 ${f(data.walk.ms.p50, 1)} ms per walk, ${f(data.walk.pageMs.p50, 2)} ms per page`);
    }

    // ---- propagation: rule change -> packets ------------------------------------------------------
    if (only.has('propagation')) {
      if (cloud.dataplane !== 'linuxbridge') {
        data.propagation = { skipped: blocker ?? `the data plane in force is ${cloud.dataplane}, not linuxbridge` };
        log(`propagation: skipped: ${data.propagation.skipped}`);
      } else {
        const { spawn } = await import('node:child_process');
        const adm = { token: cloud.admin };
        const sg = must(await call(cloud.net, 'POST', '/v2.0/security-groups', { ...U, body: { security_group: { name: 'bench-sg', description: 'egress only; the bench adds and removes ICMP' } } }), 201, 'security group').body.security_group;
        const def = must(await call(cloud.net, 'GET', '/v2.0/security-groups?name=default', U), 200, 'default group').body.security_groups[0];
        const bound = async (name, groups) => must(await call(cloud.net, 'POST', '/v2.0/ports', {
          ...adm, body: { port: { network_id: network.id, name, tenant_id: cloud.projectId, device_owner: 'compute:nova', device_id: randomUUID(), 'binding:host_id': HOST, security_groups: groups } },
        }), 201, `bound port ${name}`).body.port;
        const rx = await bound('bench-rx', [sg.id]);
        const tx = await bound('bench-tx', [def.id]);
        const bridge = rx['binding:vif_details']?.bridge_name;
        if (!bridge) throw new Error(`port ${rx.id} has no binding:vif_details.bridge_name: ${JSON.stringify(rx['binding:vif_details'])}`);
        const prefixLen = subnet.cidr.split('/')[1];
        const wire = async (port, role) => {
          const ns = `${PREFIX}-${role}-${process.pid}`;
          const tap = `tap${port.id.slice(0, 11)}`;
          const peer = `${PREFIX}-${role}${process.pid % 100000}`.slice(0, 15);
          await shQuiet('ip', ['netns', 'delete', ns]);
          await sh('ip', ['netns', 'add', ns]);
          hostCleanups.push(async () => { await shQuiet('ip', ['link', 'delete', tap]); await shQuiet('ip', ['netns', 'delete', ns]); });
          await sh('ip', ['link', 'add', tap, 'type', 'veth', 'peer', 'name', peer]);
          await sh('ip', ['link', 'set', peer, 'netns', ns]);
          const ipAddr = port.fixed_ips[0].ip_address;
          for (const args of [['link', 'set', 'lo', 'up'], ['link', 'set', peer, 'name', 'eth0'], ['link', 'set', 'eth0', 'address', port.mac_address],
            ['addr', 'add', `${ipAddr}/${prefixLen}`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up']]) await sh('ip', ['-n', ns, ...args]);
          // What Nova's VIF driver does: the tap into the port's bridge (the agent does it too at its next sync).
          await sh('ip', ['link', 'set', tap, 'master', bridge, 'up']);
          return { ns, tap, ip: ipAddr };
        };
        await waitFor(`bridge ${bridge}`, async () => existsSync(`/sys/class/net/${bridge}`), 30_000, 100);
        const R = await wire(rx, 'rx');
        const T = await wire(tx, 'tx');
        // A write makes the agent sync: it sees both taps and reports the ports up.
        for (const p of [rx, tx]) must(await call(cloud.net, 'PUT', `/v2.0/ports/${p.id}`, { ...adm, body: { port: { description: 'wired by bench/network' } } }), 200, 'port update');
        await waitFor('both bound ports ACTIVE', async () => {
          const st = await Promise.all([rx, tx].map(async (p) => must(await call(cloud.net, 'GET', `/v2.0/ports/${p.id}`, adm), 200, 'port').body.port.status));
          return st.every((s) => s === 'ACTIVE');
        }, 30_000, 100);
        const ping = new PingStream(spawn, T.ns, R.ip, pingMs / 1000);
        hostCleanups.push(() => ping.stop());
        const rule = { security_group_id: sg.id, direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' };
        try {
          await sleep(1000);
          if (ping.replies.length) throw new Error(`the receiver answered ${ping.replies.length} pings before any rule allowed ICMP: the firewall is not in force`);
          await settle(pid);
          await sqlDump(cloud); // reset
          const add = [], del = [], addApi = [], delApi = [];
          const c0 = serverCpu(pid, cloud.dir), t0 = nowUs();
          for (let i = 0; i < nRules; i++) {
            const ta = performance.now();
            const r = await call(cloud.net, 'POST', '/v2.0/security-group-rules', { ...U, body: { security_group_rule: rule } });
            addApi.push(performance.now() - ta);
            if (r.status !== 201) throw failed('POST /v2.0/security-group-rules', r);
            await waitFor('an echo reply after the rule was added', () => ping.last() >= ta, 10_000, 1);
            add.push(ping.replies.find((x) => x >= ta) - ta);
            await sleep(100 + Math.random() * 50);
            const td = performance.now();
            const d = await call(cloud.net, 'DELETE', `/v2.0/security-group-rules/${r.body.security_group_rule.id}`, U);
            delApi.push(performance.now() - td);
            if (d.status !== 204) throw failed('DELETE /v2.0/security-group-rules', d);
            await waitFor('echo replies to stop after the rule was deleted', () => performance.now() - Math.max(ping.last(), td) >= 300, 10_000, 5);
            del.push(Math.max(0, ping.last() - td));
            log(`propagation ${i + 1}/${nRules}: add in force after ${add.at(-1).toFixed(1)} ms (POST ${addApi.at(-1).toFixed(1)} ms), delete after ${del.at(-1).toFixed(1)} ms (DELETE ${delApi.at(-1).toFixed(1)} ms)`);
          }
          const t1 = nowUs();
          const trace = await sqlDump(cloud);
          data.propagation = {
            ...(trace ? { sql: traceSummary(trace, nRules * 2) } : {}),
            n: nRules, pingMs, proof: 'ICMP echo replies (busybox ping from the sender namespace)', ports: portIds.length + 3,
            addMs: stats(add), deleteMs: stats(del), addApiMs: stats(addApi), deleteApiMs: stats(delApi), samples: { add, del },
            cpu: phaseCpu(c0, serverCpu(pid, cloud.dir), (t1 - t0) / 1e6, nRules * 2),
          };
          results.push({ scenario: 'propagation', connections: 1, window: { startUs: t0, endUs: t1 } });
        } finally {
          await ping.stop();
        }
        // The host objects of the test go before the ports: the namespaces (their veth ends take the taps with them).
        for (const x of [R, T]) { await shQuiet('ip', ['link', 'delete', x.tap]); await shQuiet('ip', ['netns', 'delete', x.ns]); }
      }
    }
    for (const fn of hostCleanups.splice(0).reverse()) await fn();
    const left = (await shQuiet('ip', ['-o', 'link', 'show']))?.split('\n').filter((l) => l.includes(`${PREFIX}-`)).length ?? 0;
    const leftNs = (await shQuiet('ip', ['netns', 'list']))?.split('\n').filter((l) => l.startsWith(`${PREFIX}-`)).length ?? 0;
    if (left || leftNs) log(`WARNING: ${left} links and ${leftNs} namespaces named ${PREFIX}- left`);
    await cloud.m.stop();
  }
} finally {
  await cleanup();
}
meta.totalS = (Date.now() - started) / 1000;

// ---- report ---------------------------------------------------------------------------------------------
const { bl, ratio, cores, msReq, judge, missed } = reportCells(results);

const head = ['scenario', 'conc', 'rate /s', 'p50 ms', 'p99 ms', '× baseline', 'scale test', 'goal', 'met', 'srv CPU ms/op', 'other CPU'];
const rows = [];
for (const r of results.filter((x) => x.scenario.startsWith('baseline-'))) {
  rows.push([r.scenario === 'baseline-get' ? 'baseline: GET trivial JSON, same stack' : 'baseline: POST JSON → 201 trivial JSON, same stack', String(r.connections), f(r.rps), f(r.p50, 2), f(r.p99, 2), '—', '—', '—', '—', msReq(r.cpu), cores(r.cpu)]);
}
if (data.create) {
  const s = data.create;
  const b = bl('post', s.concurrency);
  rows.push([`port create: POST /v2.0/ports → 201, ${s.n} ports on one network (data plane ${s.dataplane})`, String(s.concurrency), f(s.portsPerS), f(s.ms.p50, 2), f(s.ms.p99, 2), ratio(s.portsPerS, b?.rps),
    `${SCALE.portCreatesPerS}/s, median ${SCALE.portCreateMedianS} s`, `≥ ${GOALS.portCreatesPerS}/s`, judge('port creates/s', s.portsPerS >= GOALS.portCreatesPerS), msReq(s.cpu), cores(s.cpu)]);
}
if (data.listSingles) {
  const s = data.listSingles;
  rows.push([`port list: GET /v2.0/ports?network_id= (${s.listed} ports), single requests, new connection each`, '1', '—', f(s.ms.p50, 1), f(s.ms.p99, 1), '—', `median ${SCALE.portListMedianS} s`, '—', '—', msReq(s.cpu), cores(s.cpu)]);
}
for (const r of results.filter((x) => x.scenario === 'list')) {
  rows.push([`port list: GET /v2.0/ports?network_id= (${r.listed} ports), autocannon`, String(r.connections), f(r.rps), f(r.p50, 1), f(r.p99, 1), ratio(r.rps, bl('get', r.connections)?.rps), '—', '—', '—', msReq(r.cpu), cores(r.cpu)]);
}
if (data.walk) {
  const s = data.walk;
  rows.push([`port list: GET /v2.0/ports?limit=${s.limit} walked to the end (${s.pages} pages, ${s.ports} ports)`, '1', '—', f(s.ms.p50, 1), f(s.ms.p99, 1), '—', `median ${SCALE.portListMedianS} s`, '—', '—', msReq(s.cpu), cores(s.cpu)]);
  rows.push([`port list: one page of ${s.limit} of that walk`, '1', '—', f(s.pageMs.p50, 2), f(s.pageMs.p99, 2), '—', '—', '—', '—', '—', '—']);
}
if (data.propagation?.addMs) {
  const s = data.propagation;
  rows.push([`rule propagation: POST ICMP rule → first echo reply (ping every ${s.pingMs} ms; ${s.n} times; max ${f(s.addMs.max, 0)} ms)`, '1', '—', f(s.addMs.p50, 1), f(s.addMs.p99, 1), '—', '—', `p99 < ${GOALS.propagationP99Ms} ms`,
    judge('rule add propagation p99', s.addMs.p99 < GOALS.propagationP99Ms), msReq(s.cpu), cores(s.cpu)]);
  rows.push([`rule propagation: DELETE rule → last echo reply (max ${f(s.deleteMs.max, 0)} ms)`, '1', '—', f(s.deleteMs.p50, 1), f(s.deleteMs.p99, 1), '—', '—', `p99 < ${GOALS.propagationP99Ms} ms`,
    judge('rule delete propagation p99', s.deleteMs.p99 < GOALS.propagationP99Ms), '—', '—']);
  rows.push(['rule propagation: POST → 201 / DELETE → 204 (the API alone)', '1', '—', `${f(s.addApiMs.p50, 1)} / ${f(s.deleteApiMs.p50, 1)}`, `${f(s.addApiMs.p99, 1)} / ${f(s.deleteApiMs.p99, 1)}`, '—', '—', '—', '—', '—', '—']);
}

const out = [];
out.push(`monostack network benchmark — ${meta.date}, node ${meta.node}, ${meta.cpus} CPUs (${meta.cpuModel}), client and server on the same CPUs, loopback`);
out.push(`build ${meta.buildDir}; SQLite; data plane ${meta.dataplane ?? '—'}${meta.network ? ` (network type ${meta.network.type ?? '—'}, subnet ${meta.network.subnet}, DHCP on)` : ''}; port-create concurrency ${conc}; autocannon keep-alive, ${duration} s per run after ${warmup} s warm-up`);
out.push('');
out.push(...markdownTable(head, rows));
out.push('');
const bad = failedRequests(results);
if (bad) out.push(bad);
if (data.propagation?.skipped) out.push(`rule propagation skipped: ${data.propagation.skipped}`);
out.push(`Goals: ≥ ${GOALS.portCreatesPerS} port creates/s; rule propagation p99 < ${GOALS.propagationP99Ms} ms. ${missed.length ? `MISSED: ${missed.join('; ')}.` : 'All goals measured here were met.'}`);
out.push(`OpenStack's published control-plane test (378 nodes): about ${SCALE.portCreatesPerS} port creates/s, median ${SCALE.portCreateMedianS} s each; port list median ${SCALE.portListMedianS} s.`);
out.push('× baseline: rate ÷ the same-stack baseline\'s req/s at the same concurrency (creates: its POST; lists: its GET). srv CPU ms/op: the server process\'s CPU (all threads) per operation; other CPU: cores used by other processes meanwhile.');
if (data.create) out.push(`port create: ${f(data.create.portsPerSFirstTenth)} ports/s over the first tenth of the 201s, ${f(data.create.portsPerSLastTenth)}/s over the last tenth (POST→201 p50 ${f(data.create.msFirstTenth.p50, 1)} → ${f(data.create.msLastTenth.p50, 1)} ms).`);
if (data.create?.cpu) {
  const c = data.create;
  out.push(`port create: the agent's commands (ip, nft, …) and the network's daemons (dnsmasq, metadata proxy) used ${f(c.cpu.helperMsPerRequest, 2)} ms CPU per port more` +
    (c.dhcpCaughtUpMs !== undefined ? `; dnsmasq's hosts file listed all ${c.n + 1} ports ${f(c.dhcpCaughtUpMs, 0)} ms after the last 201 (server + helpers ${f(c.cpuWithCatchUp.serverMsPerRequest + c.cpuWithCatchUp.helperMsPerRequest, 2)} ms CPU per port with the catch-up); while creating, the hosts file changed ${c.dhcpLag.hostsFileRewritesSeen} times (sampled every 20 ms) and was at most ${c.dhcpLag.maxPortsBehind} ports behind the 201s` : '') + '.');
  if (c.sql) out.push(`port create SQL: ${f(c.sql.perOp, 1)} statements and ${f(c.sql.msPerOp, 3)} ms per port; the agent asked for its host state ${c.sql.agentHostStates} times during the ${c.n} creates.`);
}
if (data.delete) out.push(`clean-up: ${data.delete.n} ports deleted at c=${data.delete.concurrency}: ${f(data.delete.deletesPerS)}/s, DELETE p50 ${f(data.delete.ms.p50, 1)} ms, p99 ${f(data.delete.ms.p99, 1)} ms.`);
if (data.leftover) out.push(`host objects of the network after its delete: ${JSON.stringify(data.leftover)}`);
out.push(`setup: server start ${meta.serverStartS === undefined ? '—' : `${f(meta.serverStartS)} s`}; total ${f(meta.totalS)} s; load average before ${meta.loadavgBefore.map((x) => x.toFixed(2)).join(' ')}`);
process.stdout.write(out.join('\n') + '\n');
for (const [what, t] of [['port create (per port)', data.create?.sql], ['rule propagation (per rule add or delete)', data.propagation?.sql]]) {
  if (!t) continue;
  process.stdout.write(`\n${what}: ${f(t.perOp, 1)} SQL statements, ${f(t.msPerOp, 3)} ms of SQL, ${f(t.commandsPerOp, 2)} commands run, ${t.agentHostStates} host-state requests by the agent in all (trace-preload.mjs)\n\n`);
  process.stdout.write(markdownTable(['statement', 'calls/op', 'ms/op', 'share of SQL'],
    t.top.filter((r) => r.ms / t.ops >= 0.0005).map((r) => [r.sql.length > 150 ? `${r.sql.slice(0, 150)}…` : r.sql, f(r.n / t.ops, 2), f(r.ms / t.ops, 4), `${f((100 * r.ms) / t.ms, 1)}%`])).join('\n') + '\n');
  if (t.topCommands.length) {
    process.stdout.write('\n' + markdownTable(['command (start to exit)', 'runs', 'ms each', 'ms/op'],
      t.topCommands.map((c) => [c.cmd, String(c.n), f(c.ms / c.n, 1), f(c.ms / t.ops, 2)])).join('\n') + '\n');
  }
}

if (a.out) {
  writeFileSync(a.out, JSON.stringify({ meta, summary: { missed }, data, results, table: out.join('\n') }, null, 2) + '\n');
  log(`results written to ${a.out}`);
}
if (profileDir) log(`CPU profiles in ${profileDir}: node bench/identity/profile-summary.mjs ${profileDir}/monostack.cpuprofile --results ${a.out ?? '<--out file>'} --scenario create --connections ${conc}`);

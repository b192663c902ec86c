// Image benchmark (issue 4, point 4): how fast monostack's Glance v2 API moves image data and
// answers API calls, each figure beside limits measured in the same run, and beside the real Glance
// 25 (Debian 12) measured on this machine.
//
//   node bench/image/run.mjs [--build-dir dist] [--out results.json] [--duration 5] [--warmup 1]
//        [--connections 1,16] [--only baseline,upload,download,list,show,create] [--size-mib 1024]
//        [--rounds 2] [--reads 3] [--images 1000] [--walks 5] [--tmp-dir DIR] [--wait-quiet S]
//        [--profile DIR] [--keep] [--glance]
//
// --glance: the real Glance 25 (Debian 12) runs beside monostack in the same run (glance.mjs: installed
// from Debian's packages when missing, uWSGI as Debian configures it, the file store, tokens from the
// same identity service) and gets the same upload, download, image-show and 1,000-image list; its
// figures are the × Glance column. Without it (or when Glance cannot be started) the column uses
// constants measured by an earlier session, labelled as such.
//
// Data path (one 1 GiB raw image: random bytes behind an MBR partition table):
//  - limits: (a) buffered write + fdatasync of the same bytes into the store's filesystem (a
//    dd-like writer, 1 MiB writes from memory), (b) md5 + sha512 of them in memory on one thread,
//    (c) md5 and sha512 on two worker threads at once (the ceiling of parallel hashing);
//  - upload: PUT /v2/images/{id}/file from the file, until the image shows `active` (the server
//    computes md5 + sha512, inspects the format and fdatasyncs before that). (a) and the upload are
//    repeated `--rounds` times, interleaved, since this machine's disk varies a lot;
//  - download: GET /v2/images/{id}/file vs a plain read of the same store file into one reused
//    1 MiB buffer (the sink the download client reads into), and, for reference, fs.createReadStream
//    with 1 MiB and 64 KiB chunks (once to warm, then `--reads` times each, interleaved).
//  The clients and the plain reads run in fresh processes (transfer.mjs): this process holds the
//  1 GiB image and autocannon, which made its own buffers two to three times dearer.
// API (autocannon in this process, keep-alive, concurrency 1 and 16): image-show, image-create,
// a list of 1,000 images (limit=1000 and the default page), each against a same-stack baseline
// (baseline-server.mjs: createApiServer with a trivial GET and POST); and the walk through every
// default page (following `next`), as `openstack image list` does.
//
// The server is `monostack up` from the build dir (identity + image), a child on free loopback
// ports with a temporary data directory (SQLite) and otherwise the default configuration. Every
// temporary file (2 GiB and more) is removed at the end, on failure and on Ctrl-C too.
// --profile DIR runs the server with --cpu-prof; the --out JSON carries each run's window (also
// upload-N and download-N) for bench/identity/profile-summary.mjs. See bench/README.md.

import { closeSync, createReadStream, existsSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createHash, randomFillSync } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { startGlance } from './glance.mjs';
import {
  log, nowUs, sleep, freePort, stopChild, call, must, pool, percentile, requireBuild, startBaseline, startUp, projectToken,
  cpuSnapshot, threadCpu, threadCpuDelta, minorFaults, waitIdle, settle as settleRun, measure as measureRun, markdownTable,
  failedRequests, fmt as f, startChild,
} from '../lib/bench.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const { values: a } = parseArgs({
  options: {
    'build-dir': { type: 'string', default: 'dist' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    out: { type: 'string' },
    connections: { type: 'string', default: '1,16' },
    only: { type: 'string', default: 'baseline,upload,download,list,show,create' },
    'size-mib': { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '2' },
    reads: { type: 'string', default: '3' },
    images: { type: 'string', default: '1000' },
    walks: { type: 'string', default: '5' },
    'tmp-dir': { type: 'string', default: tmpdir() },
    'wait-quiet': { type: 'string', default: '0' },
    profile: { type: 'string' },
    keep: { type: 'boolean', default: false },
    glance: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (a.help) {
  process.stdout.write('usage: node bench/image/run.mjs [--build-dir dist] [--out FILE] [--duration 5] [--warmup 1] [--connections 1,16]\n' +
    '         [--only baseline,upload,download,list,show,create] [--size-mib 1024] [--rounds 2] [--reads 3] [--images 1000] [--walks 5]\n' +
    '         [--tmp-dir DIR] [--wait-quiet SECONDS] [--profile DIR] [--keep] [--glance]\n');
  process.exit(0);
}

const build = resolve(a['build-dir']);
const duration = Number(a.duration);
const warmup = Number(a.warmup);
const conns = a.connections.split(',').map(Number);
const only = new Set(a.only.split(',').map((s) => s.trim()));
if (only.has('download')) only.add('upload');
const SIZE = Number(a['size-mib']) * 1024 * 1024;
const rounds = Math.max(1, Number(a.rounds));
const nReads = Math.max(1, Number(a.reads));
const nImages = Number(a.images);
const nWalks = Number(a.walks);
const waitQuiet = Number(a['wait-quiet']);
const CHUNK = 1 << 20; // 1 MiB: the writer's and hashers' unit, the server's ring slot and store read size
requireBuild(build);

// Glance 25 (Debian 12, file store, uWSGI) as an earlier session measured it, possibly on a faster
// machine: the fallback for the × Glance column when --glance is not given or Glance cannot run.
const GLANCE = {
  uploadMBps: 185, // hashes md5 and sha512 on one thread; does not fsync
  downloadMBps: 1500,
  showRps: 210, // at concurrency 16
  list1000Ms: 380,
};
const GOALS = { uploadX: 2, uploadAimX: 3, downloadOfRead: 0.9, showX: 20 };
const GLANCE_CONC = 16;

const MB = 1e6; // MB/s here are 10^6 bytes per second
const mbps = (bytes, s) => bytes / MB / s;
/** n sequential GETs (fetch, as `call`), after one unmeasured: { p50, min, n } in ms — the list
 * latency compared with Glance, whose every response closes the connection, which autocannon's
 * latencies do not survive (it times a request from its first attempt on the closed connection). */
async function seqGets(base, path, token, n) {
  must(await call(base, 'GET', path, { token }), 200, `GET ${path}`);
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t = nowUs();
    must(await call(base, 'GET', path, { token }), 200, `GET ${path}`);
    ms.push((nowUs() - t) / 1000);
  }
  ms.sort((x, y) => x - y);
  return { p50: percentile(ms, 50), min: ms[0], n };
}

const measure = (label, opts, connections, pid) => measureRun(label, opts, connections, pid, { warmup, duration, waitQuiet });

/** With --wait-quiet, before a data-path measurement: wait until the machine is quiet. */
const settle = (pid) => settleRun(pid, waitQuiet);

/** Runs fn (a limit, in this process) while accounting CPU: wall seconds, this process's CPU,
 * other processes' cores (a server that is up, pid, counts as other: it is idle meanwhile). */
async function timed(fn) {
  const c0 = cpuSnapshot(process.pid);
  const t0 = nowUs();
  const value = await fn();
  const t1 = nowUs();
  const c1 = cpuSnapshot(process.pid);
  const seconds = (t1 - t0) / 1e6;
  const self = c1.self - c0.self;
  const cpu = c0.busy === null ? null : { selfCpuS: self, selfCores: self / seconds, otherCores: Math.max(0, (c1.busy - c0.busy) - self) / seconds };
  return { value, seconds, window: { startUs: t0, endUs: t1 }, cpu };
}

const threadsText = (cpu) => ((cpu?.serverThreads ?? []).map((t) => `${t.main ? 'main' : t.tid} ${t.cpuS.toFixed(2)}`).join(', ') || 'n/a') +
  (cpu?.serverMinorFaults !== undefined ? `; server minor page faults ${cpu.serverMinorFaults}` : '');

// ---- the image bytes ------------------------------------------------------------------------------

/** size bytes in shared memory: random, behind an MBR with one Linux partition from sector 2048
 * (the first MiB otherwise zero, as a partitioned disk has) — a valid raw image that no other
 * format's magic can match. */
function makeImage(size) {
  const sab = new SharedArrayBuffer(size);
  const buf = Buffer.from(sab);
  for (let o = 0; o < size; o += 64 << 20) randomFillSync(buf, o, Math.min(64 << 20, size - o));
  buf.fill(0, 0, Math.min(size, CHUNK));
  const sectors = Math.floor(size / 512);
  if (sectors > 2048) {
    const p = 446; // first partition entry
    buf[p] = 0x00; // not bootable
    buf[p + 4] = 0x83; // Linux
    buf.writeUInt32LE(2048, p + 8); // first LBA
    buf.writeUInt32LE(sectors - 2048, p + 12); // sectors
    buf.writeUInt32LE(0x4d534e42, 440); // disk signature "BNSM"
  }
  buf.writeUInt16LE(0xaa55, 510);
  return { sab, buf };
}

/** Writes buf to path in 1 MiB writes, then fdatasync: { bufferedS, totalS }. */
function writeFile(path, buf) {
  const t0 = nowUs();
  const fd = openSync(path, 'wx', 0o640);
  try {
    for (let o = 0; o < buf.length;) o += writeSync(fd, buf, o, Math.min(CHUNK, buf.length - o));
    const t1 = nowUs();
    fdatasyncSync(fd);
    return { bufferedS: (t1 - t0) / 1e6, totalS: (nowUs() - t0) / 1e6 };
  } finally {
    closeSync(fd);
  }
}

/** md5 and sha512 of buf on this thread, chunk by chunk (as Glance does, one after the other). */
function hashOneThread(buf) {
  const md5 = createHash('md5'), sha = createHash('sha512');
  for (let o = 0; o < buf.length; o += CHUNK) {
    const c = buf.subarray(o, Math.min(buf.length, o + CHUNK));
    md5.update(c);
    sha.update(c);
  }
  return { md5: md5.digest('hex'), sha512: sha.digest('hex') };
}

const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const buf = new Uint8Array(workerData.sab);
parentPort.once('message', () => {
  const h = createHash(workerData.algo);
  for (let o = 0; o < buf.length; o += ${CHUNK}) h.update(buf.subarray(o, Math.min(buf.length, o + ${CHUNK})));
  parentPort.postMessage(h.digest('hex'));
});
parentPort.postMessage('ready');
`;

/** md5 on one worker thread and sha512 on another, at once, over the same shared memory. The
 * workers are started (and ready) before the clock starts, as the server's pool is. */
async function hashTwoThreads(sab) {
  const ws = ['md5', 'sha512'].map((algo) => new Worker(HASH_WORKER, { eval: true, workerData: { sab, algo } }));
  try {
    await Promise.all(ws.map((w) => new Promise((res, rej) => { w.once('message', res); w.once('error', rej); })));
    const t0 = nowUs();
    const digests = await Promise.all(ws.map((w) => new Promise((res, rej) => {
      w.once('message', (d) => res({ digest: d, s: (nowUs() - t0) / 1e6 }));
      w.once('error', rej);
      w.postMessage('go');
    })));
    return { seconds: (nowUs() - t0) / 1e6, md5: digests[0].digest, sha512: digests[1].digest, md5S: digests[0].s, sha512S: digests[1].s };
  } finally {
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

/** Runs one transfer.mjs (read | get | put) in a fresh process and accounts CPU around it: the
 * transfer's own seconds and window (its clock starts once the process is up), the server's CPU
 * (all threads, and per thread), the client's (the child's own), and other processes'. */
async function transfer(pid, args) {
  const c0 = cpuSnapshot(pid ?? process.pid);
  const th0 = pid ? threadCpu(pid) : null;
  const f0 = pid ? minorFaults(pid) : null;
  const o0 = nowUs();
  const child = spawn(process.execPath, [join(here, 'transfer.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise((res) => child.once('exit', (c) => res(c)));
  const o1 = nowUs();
  const c1 = cpuSnapshot(pid ?? process.pid);
  const th1 = pid ? threadCpu(pid) : null;
  const f1 = pid ? minorFaults(pid) : null;
  if (code !== 0) throw new Error(`transfer ${args[0]} failed (${code}): ${stderr.slice(0, 2000)}`);
  const r = JSON.parse(stdout.trim().split('\n').pop());
  const outer = (o1 - o0) / 1e6;
  const cpu = { clientCpuS: r.cpuS };
  if (c0.busy !== null) {
    const server = pid ? c1.server - c0.server : 0;
    const self = c1.self - c0.self; // this process, idle meanwhile
    cpu.otherCores = Math.max(0, (c1.busy - c0.busy) - server - self - r.cpuS) / outer;
    if (pid) {
      cpu.serverCpuS = server;
      cpu.serverThreads = threadCpuDelta(pid, th0, th1).filter((x) => x.cpuS >= 0.02);
      if (f0 !== null && f1 !== null) cpu.serverMinorFaults = f1 - f0;
    }
  }
  return { ...r, cpu };
}

// ---------------------------------------------------------------------------------------------------

const started = Date.now();
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
  imageBytes: SIZE,
  rounds,
  reads: nReads,
  images: nImages,
  glanceReference: { concurrency: GLANCE_CONC, ...GLANCE },
  goals: GOALS,
};
const results = []; // autocannon runs
const data = { limits: {}, uploads: [], writes: [], downloads: [], reads: { reused1MiB: [], chunk1MiB: [], default64KiB: [], loopback: { file: [], memory: [] } } };
const children = [];
const stoppers = []; // Glance's stop()
// Glance's own runs (--glance): uploads and downloads as ours; its autocannon runs go into `results`.
const G = { uploads: [], downloads: [] };
mkdirSync(a['tmp-dir'], { recursive: true });
const root = mkdtempSync(join(resolve(a['tmp-dir']), 'bench-image-'));
let cleaned = false;
const cleanup = async () => {
  if (cleaned) return;
  cleaned = true;
  await Promise.all([...children.map((c) => stopChild(c)), ...stoppers.map((f) => f().catch(() => undefined))]);
  if (!a.keep) rmSync(root, { recursive: true, force: true });
  else { // keep the data directories, never the big files
    for (const p of [join(root, 'image.raw'), join(root, 'data', 'images')]) rmSync(p, { recursive: true, force: true });
    log(`kept ${root} (without the image data)`);
  }
};
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { void cleanup().then(() => process.exit(130)); });
process.on('exit', () => { if (!cleaned && !a.keep) rmSync(root, { recursive: true, force: true }); });

const profileDir = a.profile ? resolve(a.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

const srcFile = join(root, 'image.raw');
const dataDir = join(root, 'data');
const storeDir = join(dataDir, 'images');
let md5, sha512;

try {
  mkdirSync(dataDir, { recursive: true });
  // ---- the image and the in-memory limits ---------------------------------------------------------
  let img;
  if (only.has('upload')) {
    const t0 = Date.now();
    img = makeImage(SIZE);
    const w = writeFile(srcFile, img.buf);
    meta.sourceFile = { path: srcFile, generateAndWriteS: (Date.now() - t0) / 1000, writeS: w.totalS };
    log(`${SIZE} bytes of raw image data generated and written to ${srcFile} in ${meta.sourceFile.generateAndWriteS.toFixed(1)} s`);

    await settle();
    const h1 = await timed(() => hashOneThread(img.buf));
    ({ md5, sha512 } = h1.value);
    data.limits.hash1 = { seconds: h1.seconds, MBps: mbps(SIZE, h1.seconds), cpu: h1.cpu };
    log(`limit (b) md5 + sha512 on one thread: ${data.limits.hash1.MBps.toFixed(0)} MB/s (${h1.seconds.toFixed(2)} s)`);

    await settle();
    const h2 = await timed(() => hashTwoThreads(img.sab));
    if (h2.value.md5 !== md5 || h2.value.sha512 !== sha512) throw new Error('two-thread digests differ from one-thread digests');
    data.limits.hash2 = { seconds: h2.value.seconds, MBps: mbps(SIZE, h2.value.seconds), md5MBps: mbps(SIZE, h2.value.md5S), sha512MBps: mbps(SIZE, h2.value.sha512S), cpu: h2.cpu };
    log(`limit (c) md5 ‖ sha512 on two threads: ${data.limits.hash2.MBps.toFixed(0)} MB/s (md5 ${data.limits.hash2.md5MBps.toFixed(0)}, sha512 ${data.limits.hash2.sha512MBps.toFixed(0)} MB/s)`);
  }

  // ---- baseline: trivial handlers on the same stack -----------------------------------------------
  if (only.has('baseline')) {
    const dir = join(root, 'baseline');
    const b = await startBaseline(join(here, 'baseline-server.mjs'), build, dir, { profileDir });
    children.push(b.child);
    const url = `${b.base}/bench/image`;
    must(await call(b.base, 'GET', '/bench/image'), 200, 'baseline GET');
    must(await call(b.base, 'POST', '/bench/image', { body: { name: 'x' } }), 201, 'baseline POST');
    for (const c of conns) results.push(await measure('baseline-get', { url, method: 'GET' }, c, b.child.pid));
    for (const c of conns) results.push(await measure('baseline-post', { url, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench-create', disk_format: 'raw', container_format: 'bare' }) }, c, b.child.pid));
    await b.stop();
  }

  // ---- monostack up ----------------------------------------------------------------------------------
  const want = ['upload', 'list', 'show', 'create'].filter((s) => only.has(s));
  if (want.length) {
    const port = await freePort();
    const imagePort = await freePort();
    const { m, adminPassword, startS } = await startUp('monostack', build, dataDir, {
      args: ['--port', String(port), '--admin-port', '0'], profileDir,
      env: { MONOSTACK_DEFAULT_ENABLED_SERVICES: 'identity,image', MONOSTACK_IMAGE_PORT: String(imagePort) },
    });
    children.push(m.child);
    const pid = m.child.pid;
    meta.serverStartS = startS;
    const ks = `http://127.0.0.1:${port}`;
    const gl = `http://127.0.0.1:${imagePort}`;
    log(`monostack up: identity ${ks}, image ${gl} (data dir ${dataDir}) in ${meta.serverStartS.toFixed(1)} s`);
    const token = await projectToken(ks, 'admin', adminPassword, 'admin', 'admin token');
    const createBody = (name) => ({ name, disk_format: 'raw', container_format: 'bare' });
    const createImage = async (name) => must(await call(gl, 'POST', '/v2/images', { token, body: createBody(name) }), 201, `create image ${name}`).body;
    let bigId = null;

    // ---- the real Glance, beside it (--glance), with tokens from the same identity service -------------
    let glance = null;
    if (a.glance && ['upload', 'download', 'show', 'list'].some((x) => only.has(x))) {
      try {
        const t1 = Date.now();
        glance = await startGlance({ root, port: await freePort(), authUrl: `${ks}/v3`, username: 'admin', password: adminPassword, project: 'admin', log: (s) => log(`glance: ${s}`) });
        stoppers.push(glance.stop);
        meta.glance = { version: glance.version, url: glance.url, processes: glance.processes, threads: glance.threads, startS: (Date.now() - t1) / 1000 };
        log(`Glance ${glance.version} (uWSGI, ${glance.processes} processes × ${glance.threads} threads) at ${glance.url} in ${meta.glance.startS.toFixed(1)} s`);
      } catch (e) {
        meta.glanceError = e.message;
        log(`Glance could not be started; the × Glance column uses the earlier constants: ${e.message}`);
      }
    }
    const gcall = (method, path, opts) => call(glance.url, method, path, { token, ...opts });
    let gBigId = null;

    // ---- upload rounds, each after the disk's own write of the same bytes ------------------------------
    if (only.has('upload')) {
      must(await call(gl, 'GET', '/v2/images', { token }), 200, 'image list');
      meta.sameFilesystem = statSync(storeDir).dev === statSync(dataDir).dev;
      for (let r = 0; r < rounds; r++) {
        const limitPath = join(dataDir, `write-limit-${r}.raw`);
        await settle(pid);
        const w = await timed(() => writeFile(limitPath, img.buf));
        unlinkSync(limitPath);
        data.writes.push({ round: r + 1, seconds: w.seconds, bufferedS: w.value.bufferedS, MBps: mbps(SIZE, w.seconds), cpu: w.cpu, window: w.window });
        log(`limit (a) round ${r + 1}: buffered write + fdatasync ${mbps(SIZE, w.seconds).toFixed(0)} MB/s (${w.seconds.toFixed(2)} s, of which fdatasync ${(w.seconds - w.value.bufferedS).toFixed(2)} s)`);
        await sleep(500); // let the unlink's discard settle

        if (bigId) must(await call(gl, 'DELETE', `/v2/images/${bigId}`, { token }), 204, 'delete previous upload');
        const image = await createImage(`bench-1gib-${r + 1}`);
        await settle(pid);
        const u = await transfer(pid, ['put', `${gl}/v2/images/${image.id}/file`, token, srcFile, String(SIZE), `${gl}/v2/images/${image.id}`]);
        if (u.status !== 204) throw new Error(`upload: expected 204, got ${u.status}: ${u.text}`);
        const shown = u.image;
        if (shown.status !== 'active') throw new Error(`uploaded image is ${shown.status}, not active: ${JSON.stringify(shown).slice(0, 500)}`);
        if (shown.size !== SIZE || shown.checksum !== md5 || shown.os_hash_algo !== 'sha512' || shown.os_hash_value !== sha512) {
          throw new Error(`uploaded image's size/checksums differ: ${JSON.stringify({ size: shown.size, checksum: shown.checksum, os_hash_algo: shown.os_hash_algo, os_hash_value: shown.os_hash_value?.slice(0, 16) })}`);
        }
        bigId = image.id;
        data.uploads.push({ round: r + 1, seconds: u.seconds, putSeconds: u.putSeconds, MBps: mbps(SIZE, u.seconds), cpu: u.cpu, window: u.window, virtualSize: shown.virtual_size });
        log(`upload round ${r + 1}: ${mbps(SIZE, u.seconds).toFixed(0)} MB/s (${u.seconds.toFixed(2)} s; server CPU ${f(u.cpu.serverCpuS, 2)} s, client CPU ${f(u.cpu.clientCpuS, 2)} s, other ${f(u.cpu.otherCores, 2)} cores); checksums verified`);
        log(`  server CPU by thread: ${threadsText(u.cpu)}`);

        if (glance) {
          if (gBigId) must(await gcall('DELETE', `/v2/images/${gBigId}`), 204, 'Glance: delete previous upload');
          const gi = must(await gcall('POST', '/v2/images', { body: createBody(`bench-1gib-${r + 1}`) }), 201, 'Glance: create image').body;
          const gp = glance.pids();
          await settle(gp);
          const gu = await transfer(gp, ['put', `${glance.url}/v2/images/${gi.id}/file`, token, srcFile, String(SIZE), `${glance.url}/v2/images/${gi.id}`]);
          if (gu.status !== 204) throw new Error(`Glance upload: expected 204, got ${gu.status}: ${gu.text}`);
          const gs = gu.image;
          if (gs.status !== 'active' || gs.size !== SIZE || gs.checksum !== md5 || gs.os_hash_value !== sha512) {
            throw new Error(`Glance's uploaded image differs: ${JSON.stringify({ status: gs.status, size: gs.size, checksum: gs.checksum })}`);
          }
          gBigId = gi.id;
          G.uploads.push({ round: r + 1, seconds: gu.seconds, MBps: mbps(SIZE, gu.seconds), cpu: gu.cpu, window: gu.window });
          log(`Glance upload round ${r + 1}: ${mbps(SIZE, gu.seconds).toFixed(0)} MB/s (${gu.seconds.toFixed(2)} s; server CPU ${f(gu.cpu.serverCpuS, 2)} s, client CPU ${f(gu.cpu.clientCpuS, 2)} s, other ${f(gu.cpu.otherCores, 2)} cores); checksums verified`);
        }
      }
      img = null; // the 1 GiB buffer is no longer needed
      meta.bigImageId = bigId;
    }

    // ---- download vs plain read of the same store file ---------------------------------------------------
    if (only.has('download')) {
      const file = join(storeDir, bigId);
      if (!existsSync(file)) throw new Error(`store file ${file} not found (store dir: ${readdirSync(storeDir).join(', ')})`);
      await transfer(null, ['read', file, String(CHUNK)]); // warm
      // What any server can send to the same client over loopback TCP (loopback-server.mjs).
      const lo = await startChild('loopback', [join(here, 'loopback-server.mjs'), file], (line) => { try { return JSON.parse(line).port; } catch { return undefined; } });
      children.push(lo.child);
      const loUrl = `http://127.0.0.1:${lo.info}`;
      for (let i = 0; i < nReads; i++) {
        await settle(pid);
        const r0 = await transfer(pid, ['pread', file]);
        if (r0.bytes !== SIZE) throw new Error(`plain read: ${r0.bytes} bytes`);
        data.reads.reused1MiB.push({ seconds: r0.seconds, MBps: mbps(SIZE, r0.seconds), cpu: r0.cpu });
        await settle(pid);
        const r1 = await transfer(pid, ['read', file, String(CHUNK)]);
        if (r1.bytes !== SIZE) throw new Error(`plain read: ${r1.bytes} bytes`);
        data.reads.chunk1MiB.push({ seconds: r1.seconds, MBps: mbps(SIZE, r1.seconds), cpu: r1.cpu });
        await settle(pid);
        const r2 = await transfer(pid, ['read', file]);
        data.reads.default64KiB.push({ seconds: r2.seconds, MBps: mbps(SIZE, r2.seconds), cpu: r2.cpu });
        for (const kind of ['file', 'memory']) {
          await settle(pid);
          const l = await transfer(lo.child.pid, ['get', `${loUrl}/${kind}`, 'none']);
          if (l.status !== 200 || l.bytes !== SIZE) throw new Error(`loopback ${kind}: status ${l.status}, ${l.bytes} bytes`);
          data.reads.loopback[kind].push({ seconds: l.seconds, MBps: mbps(SIZE, l.seconds), cpu: l.cpu });
        }
        await settle(pid);
        const d = await transfer(pid, ['get', `${gl}/v2/images/${bigId}/file`, token]);
        if (d.status !== 200 || d.bytes !== SIZE) throw new Error(`download: status ${d.status}, ${d.bytes} bytes ${d.text ?? ''}`);
        if (d.headers['content-md5'] !== md5) throw new Error(`download: Content-MD5 ${d.headers['content-md5']} is not ${md5}`);
        data.downloads.push({ seconds: d.seconds, MBps: mbps(SIZE, d.seconds), cpu: d.cpu, window: d.window });
        log(`read ${i + 1}: plain read into a reused 1 MiB buffer ${mbps(SIZE, r0.seconds).toFixed(0)} MB/s, createReadStream 1 MiB chunks ${mbps(SIZE, r1.seconds).toFixed(0)} MB/s, default 64 KiB chunks ${mbps(SIZE, r2.seconds).toFixed(0)} MB/s; loopback from the file ${data.reads.loopback.file.at(-1).MBps.toFixed(0)} MB/s, from memory ${data.reads.loopback.memory.at(-1).MBps.toFixed(0)} MB/s; download ${mbps(SIZE, d.seconds).toFixed(0)} MB/s (server CPU ${f(d.cpu.serverCpuS, 2)} s, client CPU ${f(d.cpu.clientCpuS, 2)} s, other ${f(d.cpu.otherCores, 2)} cores)`);
        log(`  server CPU by thread: ${threadsText(d.cpu)}`);

        if (glance && gBigId) {
          const gp = glance.pids();
          await settle(gp);
          const gd = await transfer(gp, ['get', `${glance.url}/v2/images/${gBigId}/file`, token]);
          if (gd.status !== 200 || gd.bytes !== SIZE) throw new Error(`Glance download: status ${gd.status}, ${gd.bytes} bytes ${gd.text ?? ''}`);
          if (gd.headers['content-md5'] !== md5) throw new Error(`Glance download: Content-MD5 ${gd.headers['content-md5']} is not ${md5}`);
          G.downloads.push({ seconds: gd.seconds, MBps: mbps(SIZE, gd.seconds), cpu: gd.cpu, window: gd.window });
          log(`Glance download ${i + 1}: ${mbps(SIZE, gd.seconds).toFixed(0)} MB/s (server CPU ${f(gd.cpu.serverCpuS, 2)} s, client CPU ${f(gd.cpu.clientCpuS, 2)} s, other ${f(gd.cpu.otherCores, 2)} cores)`);
        }
      }
    }

    // ---- 1,000 images ------------------------------------------------------------------------------------
    let showId = bigId;
    if (only.has('list') || only.has('show')) {
      const have = must(await call(gl, 'GET', '/v2/images?limit=1000', { token }), 200, 'list').body.images.length;
      const n = Math.max(0, nImages - have);
      const tiny = Buffer.alloc(4096); // a raw image of zeros, so that every listed image is active, with size and checksums
      const t1 = Date.now();
      await pool(n, 16, async (i) => {
        const im = await createImage(`bench-image-${String(i).padStart(4, '0')}`);
        const r = await fetch(`${gl}/v2/images/${im.id}/file`, { method: 'PUT', headers: { 'X-Auth-Token': token, 'Content-Type': 'application/octet-stream' }, body: tiny });
        if (r.status !== 204) throw new Error(`upload to image ${i}: ${r.status} ${await r.text()}`);
        showId ??= im.id;
      });
      meta.imageSetupS = (Date.now() - t1) / 1000;
      const list = must(await call(gl, 'GET', '/v2/images?limit=1000', { token }), 200, 'list 1000');
      meta.listedImages = list.body.images.length;
      meta.list1000Bytes = Buffer.byteLength(list.text);
      meta.listPageBytes = Buffer.byteLength(must(await call(gl, 'GET', '/v2/images', { token }), 200, 'list page').text);
      meta.showBytes = Buffer.byteLength(must(await call(gl, 'GET', `/v2/images/${showId}`, { token }), 200, 'show').text);
      log(`${n} active 4 KiB images created and uploaded in ${meta.imageSetupS.toFixed(1)} s; GET /v2/images?limit=1000 lists ${meta.listedImages} (${meta.list1000Bytes} bytes), the default page ${meta.listPageBytes} bytes, image-show ${meta.showBytes} bytes`);
      if (meta.listedImages < Math.min(nImages, 1000)) throw new Error(`listed ${meta.listedImages} < ${nImages}`);
    }

    const hdr = { 'x-auth-token': token };
    if (only.has('list')) {
      for (const c of conns) results.push(await measure('list-1000', { url: `${gl}/v2/images?limit=1000`, method: 'GET', headers: hdr }, c, pid));
      for (const c of conns) results.push(await measure('list-page', { url: `${gl}/v2/images`, method: 'GET', headers: hdr }, c, pid));
      await waitIdle(pid);
      data.listSeq = { ours: await seqGets(gl, '/v2/images?limit=1000', token, 10) };
      log(`list of ${meta.listedImages}, 10 sequential GETs: p50 ${data.listSeq.ours.p50.toFixed(1)} ms`);
      // The walk through every default page, following `next`, as `openstack image list` does.
      await waitIdle(pid);
      const walks = [];
      for (let w = 0; w < nWalks; w++) {
        const t = nowUs();
        let path = '/v2/images', pages = 0, count = 0;
        while (path) {
          const r = must(await call(gl, 'GET', path, { token }), 200, 'list walk');
          pages++;
          count += r.body.images.length;
          path = r.body.next;
        }
        walks.push({ ms: (nowUs() - t) / 1000, pages, images: count });
      }
      const ms = walks.map((w) => w.ms).sort((x, y) => x - y);
      data.listWalk = { walks, p50: percentile(ms, 50), min: ms[0], pages: walks[0]?.pages, images: walks[0]?.images };
      log(`paged list walk: ${data.listWalk.pages} pages, ${data.listWalk.images} images, median ${data.listWalk.p50?.toFixed(1)} ms (min ${data.listWalk.min?.toFixed(1)} ms) over ${nWalks} walks`);
    }
    if (only.has('show')) {
      showId ??= (await createImage('bench-show')).id;
      for (const c of conns) results.push(await measure('show', { url: `${gl}/v2/images/${showId}`, method: 'GET', headers: hdr }, c, pid));
    }
    // Glance: the same 1,000 active 4 KiB images, then the same autocannon runs.
    if (glance && (only.has('list') || only.has('show'))) {
      const have = must(await gcall('GET', '/v2/images?limit=1000'), 200, 'Glance: list').body.images.length;
      const tiny = Buffer.alloc(4096);
      let gShowId = gBigId;
      const t1 = Date.now();
      // One at a time: Glance's SQLite database, written by 8 processes, answers concurrent uploads
      // with 500 ("database is locked").
      await pool(Math.max(0, nImages - have), 1, async (i) => {
        const im = must(await gcall('POST', '/v2/images', { body: createBody(`bench-image-${String(i).padStart(4, '0')}`) }), 201, 'Glance: create image').body;
        const r = await fetch(`${glance.url}/v2/images/${im.id}/file`, { method: 'PUT', headers: { 'X-Auth-Token': token, 'Content-Type': 'application/octet-stream' }, body: tiny });
        if (r.status !== 204) throw new Error(`Glance: upload to image ${i}: ${r.status} ${await r.text()}`);
        gShowId ??= im.id;
      });
      meta.glance.imageSetupS = (Date.now() - t1) / 1000;
      const gl1000 = must(await gcall('GET', '/v2/images?limit=1000'), 200, 'Glance: list 1000');
      meta.glance.listedImages = gl1000.body.images.length;
      meta.glance.list1000Bytes = Buffer.byteLength(gl1000.text);
      meta.glance.showBytes = Buffer.byteLength(must(await gcall('GET', `/v2/images/${gShowId}`), 200, 'Glance: show').text);
      log(`Glance: images created and uploaded in ${meta.glance.imageSetupS.toFixed(1)} s; it lists ${meta.glance.listedImages} (${meta.glance.list1000Bytes} bytes), image-show ${meta.glance.showBytes} bytes`);
      const gp = glance.pids();
      if (only.has('list')) {
        await settle(gp);
        data.listSeq.glance = await seqGets(glance.url, '/v2/images?limit=1000', token, 10);
        log(`Glance: list of ${meta.glance.listedImages}, 10 sequential GETs: p50 ${data.listSeq.glance.p50.toFixed(1)} ms`);
      }
      if (only.has('show')) for (const c of conns) results.push(await measure('glance-show', { url: `${glance.url}/v2/images/${gShowId}`, method: 'GET', headers: hdr }, c, gp));
    }
    if (glance) { await glance.stop(); stoppers.splice(stoppers.indexOf(glance.stop), 1); }
    if (only.has('create')) {
      const body = JSON.stringify(createBody('bench-create'));
      for (const c of conns) results.push(await measure('create', { url: `${gl}/v2/images`, method: 'POST', headers: { ...hdr, 'content-type': 'application/json' }, body }, c, pid));
    }
    await m.stop();
  }
} finally {
  await cleanup();
}
meta.totalS = (Date.now() - started) / 1000;

// ---- report --------------------------------------------------------------------------------------------
const best = (xs) => (xs.length ? xs.reduce((x, y) => (y.MBps > x.MBps ? y : x)) : null);
const bw = best(data.writes), bu = best(data.uploads), bd = best(data.downloads);
const br0 = best(data.reads.reused1MiB), br1 = best(data.reads.chunk1MiB), br64 = best(data.reads.default64KiB);
const blf = best(data.reads.loopback.file), blm = best(data.reads.loopback.memory);
const h1 = data.limits.hash1, h2 = data.limits.hash2;
const pctOf = (x, y) => (x && y ? `${((100 * x) / y).toFixed(0)}%` : '—');
// The × Glance reference: Glance measured in this run where it was, else the earlier constant.
const gbu = best(G.uploads), gbd = best(G.downloads);
const gShow = results.find((x) => x.scenario === 'glance-show' && x.connections === GLANCE_CONC);
const measured = { uploadMBps: gbu?.MBps, downloadMBps: gbd?.MBps, showRps: gShow?.rps, list1000Ms: data.listSeq?.glance?.p50 };
const REF = {}, REF_MEASURED = {};
for (const k of Object.keys(GLANCE)) { REF_MEASURED[k] = measured[k] != null; REF[k] = measured[k] ?? GLANCE[k]; }
const refCell = (k, unit, d = 0) => `${f(REF[k], d)}${unit}${REF_MEASURED[k] ? '' : ' (const)'}`;
const summary = {
  glance: { measured: Object.fromEntries(Object.entries(measured).filter(([, v]) => v != null)), reference: REF, constant: Object.fromEntries(Object.entries(REF_MEASURED).map(([k, v]) => [k, !v])) },
  uploadMBps: bu?.MBps ?? null,
  uploadVsGlance: bu ? bu.MBps / REF.uploadMBps : null,
  uploadGoalMet: bu ? bu.MBps >= REF.uploadMBps * GOALS.uploadX : null,
  uploadAimMet: bu ? bu.MBps >= REF.uploadMBps * GOALS.uploadAimX : null,
  uploadOfDiskWrite: bu && bw ? bu.MBps / bw.MBps : null,
  uploadOfHash2: bu && h2 ? bu.MBps / h2.MBps : null,
  uploadOfCeiling: bu && bw && h2 ? bu.MBps / Math.min(bw.MBps, h2.MBps) : null,
  downloadMBps: bd?.MBps ?? null,
  downloadVsGlance: bd ? bd.MBps / REF.downloadMBps : null,
  downloadOfPlainRead: bd && br0 ? bd.MBps / br0.MBps : null,
  downloadOfStreamRead: bd && br1 ? bd.MBps / br1.MBps : null,
  downloadOfDefaultRead: bd && br64 ? bd.MBps / br64.MBps : null,
  downloadGoalMet: bd && br0 ? bd.MBps >= GOALS.downloadOfRead * br0.MBps : null,
  downloadOfLoopbackFile: bd && blf ? bd.MBps / blf.MBps : null,
  downloadOfLoopbackMemory: bd && blm ? bd.MBps / blm.MBps : null,
  loopbackMemoryOfPlainRead: blm && br0 ? blm.MBps / br0.MBps : null,
};

const cpuCell = (x) => (x?.cpu ? `${f(x.cpu.serverCpuS ?? null, 2)} / ${f(x.cpu.clientCpuS ?? x.cpu.selfCpuS, 2)}` : '—');
const otherCell = (x) => (x?.cpu ? `${f(x.cpu.otherCores, 2)} cores` : '—');
const allOf = (xs) => xs.map((x) => f(x.MBps, 0)).join(', ');
const dhead = [`data path (${SIZE % (1 << 30) ? `${SIZE / (1 << 20)} MiB` : `${SIZE / (1 << 30)} GiB`} raw image)`, 'MB/s', 's', 'runs MB/s', 'vs limit', 'Glance MB/s', '× Glance', 'goal', 'met', 'CPU s srv / client', 'other CPU'];
const drows = [];
if (h1) drows.push(['limit (b): md5 + sha512 in memory, one thread', f(h1.MBps, 0), f(h1.seconds, 2), '—', '—', 'caps it ≈ 400', '—', '—', '—', `— / ${f(h1.cpu?.selfCpuS, 2)}`, otherCell(h1)]);
if (h2) drows.push([`limit (c): md5 ‖ sha512 in memory, two threads (md5 ${f(h2.md5MBps, 0)}, sha512 ${f(h2.sha512MBps, 0)})`, f(h2.MBps, 0), f(h2.seconds, 2), '—', '—', '—', '—', '—', '—', `— / ${f(h2.cpu?.selfCpuS, 2)}`, otherCell(h2)]);
if (bw) drows.push([`limit (a): buffered write + fdatasync, store's filesystem (best of ${data.writes.length})`, f(bw.MBps, 0), f(bw.seconds, 2), allOf(data.writes), '—', '—', '—', '—', '—', cpuCell(bw), otherCell(bw)]);
if (bu) {
  drows.push([`upload: PUT /v2/images/{id}/file until active (best of ${data.uploads.length})`, f(bu.MBps, 0), f(bu.seconds, 2), allOf(data.uploads),
    `${pctOf(bu.MBps, bw?.MBps)} of (a), ${pctOf(bu.MBps, h2?.MBps)} of (c)`, refCell('uploadMBps', ''), `${f(summary.uploadVsGlance, 2)}×`,
    `≥ ${GOALS.uploadX}× = ${f(REF.uploadMBps * GOALS.uploadX, 0)} (aim ${GOALS.uploadAimX}× = ${f(REF.uploadMBps * GOALS.uploadAimX, 0)})`,
    summary.uploadGoalMet ? (summary.uploadAimMet ? 'yes (aim too)' : 'yes') : 'NO', cpuCell(bu), otherCell(bu)]);
}
if (br0) drows.push([`limit: plain read of the store file into a reused 1 MiB buffer, the download client's sink (best of ${data.reads.reused1MiB.length})`, f(br0.MBps, 0), f(br0.seconds, 2), allOf(data.reads.reused1MiB), '—', '—', '—', '—', '—', cpuCell(br0), otherCell(br0)]);
if (br1) drows.push([`plain read, fs.createReadStream 1 MiB chunks (best of ${data.reads.chunk1MiB.length})`, f(br1.MBps, 0), f(br1.seconds, 2), allOf(data.reads.chunk1MiB), '—', '—', '—', '—', '—', cpuCell(br1), otherCell(br1)]);
if (br64) drows.push([`plain read, fs.createReadStream default 64 KiB chunks (best of ${data.reads.default64KiB.length})`, f(br64.MBps, 0), f(br64.seconds, 2), allOf(data.reads.default64KiB), '—', '—', '—', '—', '—', cpuCell(br64), otherCell(br64)]);
if (blf) drows.push([`limit: the file over loopback TCP to the download client, minimal server (pread + write, 1 MiB buffers) (best of ${data.reads.loopback.file.length})`, f(blf.MBps, 0), f(blf.seconds, 2), allOf(data.reads.loopback.file), `${pctOf(blf.MBps, br0?.MBps)} of plain read`, '—', '—', '—', '—', cpuCell(blf), otherCell(blf)]);
if (blm) drows.push([`limit: loopback TCP from memory to the download client (one hot 1 MiB buffer, no file) (best of ${data.reads.loopback.memory.length})`, f(blm.MBps, 0), f(blm.seconds, 2), allOf(data.reads.loopback.memory), `${pctOf(blm.MBps, br0?.MBps)} of plain read`, '—', '—', '—', '—', cpuCell(blm), otherCell(blm)]);
if (bd) {
  drows.push([`download: GET /v2/images/{id}/file (best of ${data.downloads.length})`, f(bd.MBps, 0), f(bd.seconds, 2), allOf(data.downloads),
    `${pctOf(bd.MBps, br0?.MBps)} of plain read, ${pctOf(bd.MBps, blf?.MBps)} of loopback file, ${pctOf(bd.MBps, blm?.MBps)} of loopback memory`, refCell('downloadMBps', ''), `${f(summary.downloadVsGlance, 2)}×`,
    `≥ ${GOALS.downloadOfRead * 100}% of plain read = ${f(br0 ? br0.MBps * GOALS.downloadOfRead : null, 0)}`, summary.downloadGoalMet ? 'yes' : 'NO', cpuCell(bd), otherCell(bd)]);
}

if (gbu) drows.push([`Glance 25: upload until active (best of ${G.uploads.length})`, f(gbu.MBps, 0), f(gbu.seconds, 2), allOf(G.uploads), '—', '—', '—', '—', '—', cpuCell(gbu), otherCell(gbu)]);
if (gbd) drows.push([`Glance 25: download (best of ${G.downloads.length})`, f(gbd.MBps, 0), f(gbd.seconds, 2), allOf(G.downloads), `${pctOf(gbd.MBps, br0?.MBps)} of plain read`, '—', '—', '—', '—', cpuCell(gbd), otherCell(gbd)]);

const LABEL = {
  'baseline-get': 'baseline: GET trivial JSON, same stack',
  'baseline-post': 'baseline: POST JSON → 201 trivial JSON, same stack',
  show: 'image-show: GET /v2/images/{id}',
  create: 'image-create: POST /v2/images (raw/bare, queued)',
  'list-1000': `image list: GET /v2/images?limit=1000 (${meta.listedImages ?? nImages} images)`,
  'list-page': 'image list: GET /v2/images (default page of 25)',
  'glance-show': 'Glance 25: image-show (a new connection per request: Connection: close)',
};
const BASE = { show: 'baseline-get', 'list-1000': 'baseline-get', 'list-page': 'baseline-get', create: 'baseline-post' };
for (const r of results) {
  const b = BASE[r.scenario] && results.find((x) => x.scenario === BASE[r.scenario] && x.connections === r.connections);
  r.vsBaseline = b ? r.rps / b.rps : null;
  if (r.scenario === 'show' && r.connections === GLANCE_CONC) {
    r.glance = { rps: REF.showRps, constant: !REF_MEASURED.showRps };
    r.vsGlance = r.rps / REF.showRps;
    r.goal = { x: GOALS.showX, rps: Math.round(REF.showRps * GOALS.showX), met: r.rps >= REF.showRps * GOALS.showX };
  }
  if (r.scenario === 'list-1000' && r.connections === 1 && !REF_MEASURED.list1000Ms) {
    r.glance = { ms: REF.list1000Ms, constant: !REF_MEASURED.list1000Ms };
    r.vsGlance = REF.list1000Ms / r.p50; // times faster
  }
}
const rhead = ['API', 'conc', 'req/s', 'p50 ms', 'p99 ms', '× baseline', 'Glance', '× Glance', 'goal', 'met', 'srv CPU ms/req', 'other CPU'];
const rrows = results.map((r) => [
  LABEL[r.scenario], String(r.connections), f(r.rps), r.scenario.startsWith('glance-') ? 'n/a' : f(r.p50, 2), r.scenario.startsWith('glance-') ? 'n/a' : f(r.p99, 2),
  r.vsBaseline === null ? '—' : r.vsBaseline.toPrecision(3),
  r.glance ? (r.glance.rps ? `${f(r.glance.rps)} req/s` : `${f(r.glance.ms, 1)} ms`) + (r.glance.constant ? ' (const)' : '') : '—',
  r.vsGlance !== undefined ? `${f(r.vsGlance)}×` : '—',
  r.goal ? `≥ ${r.goal.x}× = ${r.goal.rps}` : '—',
  r.goal ? (r.goal.met ? 'yes' : 'NO') : '—',
  r.cpu ? f(r.cpu.serverMsPerRequest, 3) : '—',
  r.cpu ? `${f(r.cpu.otherCores, 2)} cores` : '—',
]);
if (data.listSeq?.ours) {
  const o = data.listSeq.ours, g = data.listSeq.glance;
  rrows.push([`image list: GET /v2/images?limit=1000 (${meta.listedImages} images), ${o.n} sequential GETs`, '1', '—', f(o.p50, 2), '—', '—', refCell('list1000Ms', ' ms', 1), `${f(REF.list1000Ms / o.p50)}×`, '—', '—', '—', '—']);
  if (g) rrows.push([`Glance 25: the same (${meta.glance.listedImages} images), ${g.n} sequential GETs`, '1', '—', f(g.p50, 2), '—', '—', '—', '—', '—', '—', '—', '—']);
}
if (data.listWalk) {
  const w = data.listWalk;
  rrows.push([`image list: every default page, following next (${w.pages} GETs, ${w.images} images)`, '1', '—', f(w.p50, 2), '—', '—', refCell('list1000Ms', ' ms', 1), `${f(REF.list1000Ms / w.p50)}×`, '—', '—', '—', '—']);
}
const bad = failedRequests(results.filter((r) => !r.scenario.startsWith('glance-')));
const gbad = failedRequests(results.filter((r) => r.scenario.startsWith('glance-')),
  'Glance\'s failed requests (autocannon counts a connection Glance closed under a request as an error, and its latencies of such runs are wrong, hence n/a; only 2xx responses count in req/s): ');

const out = [];
out.push(`monostack image benchmark — ${meta.date}, node ${meta.node}, ${meta.cpus} CPUs (${meta.cpuModel}), client and server on the same CPUs, loopback`);
out.push(`build ${meta.buildDir}; SQLite; file store in a temporary directory${meta.sameFilesystem === false ? ' (NOT the filesystem of limit (a)!)' : ''}; MB = 10^6 bytes; autocannon keep-alive, ${duration} s per run after ${warmup} s warm-up`);
if (drows.length) { out.push(''); out.push(...markdownTable(dhead, drows)); }
if (rrows.length) { out.push(''); out.push(...markdownTable(rhead, rrows)); }
out.push('');
if (gbad) out.push(gbad);
if (bad) out.push(bad);
if (meta.glance) {
  out.push(`Glance ${meta.glance.version} (Debian 12, uWSGI ${meta.glance.processes} processes × ${meta.glance.threads} threads, file store, keystonemiddleware against the same identity service) measured in this run: ` +
    `upload ${f(measured.uploadMBps, 0)} MB/s, download ${f(measured.downloadMBps, 0)} MB/s, image-show ${f(measured.showRps)} req/s at c=${GLANCE_CONC}, 1,000-image list p50 ${f(measured.list1000Ms, 1)} ms. Its rows are marked "Glance 25:".`);
}
if (Object.values(REF_MEASURED).some((v) => !v)) {
  out.push(`${meta.glanceError ? `Glance could not be run (${meta.glanceError.split('\n')[0]}); ` : ''}"(const)": NOT measured in this run — a constant from an earlier session (maybe another machine): ` +
    Object.keys(GLANCE).filter((k) => !REF_MEASURED[k]).map((k) => `${k} ${GLANCE[k]}`).join(', ') + '. Use --glance for a side-by-side measurement.');
}
out.push(`× Glance for the lists: Glance's p50 / our p50.`);
out.push(`Goals: upload ≥ ${GOALS.uploadX}× Glance (aim ${GOALS.uploadAimX}×) with md5 + sha512 and fdatasync before active; download ≥ ${GOALS.downloadOfRead * 100}% of the plain read (into a reused 1 MiB buffer, as the download client reads); image-show ≥ ${GOALS.showX}× Glance at c=${GLANCE_CONC}.`);
if (bu) out.push(`Upload ceiling here: min((a), (c)) = ${f(Math.min(bw?.MBps ?? Infinity, h2?.MBps ?? Infinity), 0)} MB/s; the upload reached ${pctOf(bu.MBps, Math.min(bw?.MBps ?? Infinity, h2?.MBps ?? Infinity))} of it.`);
out.push('CPU s srv / client: CPU seconds of the server process (all threads) / of the client process (transfer.mjs; for the in-memory limits, the benchmark process itself); other CPU: cores busy with other processes meanwhile.');
out.push(`setup: server start ${f(meta.serverStartS)} s${meta.imageSetupS !== undefined ? `, ${nImages} images in ${f(meta.imageSetupS)} s` : ''}; total ${f(meta.totalS)} s`);
process.stdout.write(out.join('\n') + '\n');

if (a.out) {
  // The data-path measurements' windows go into `results` too, so that profile-summary.mjs can cut a
  // profile to them (--scenario upload-1 --connections 1).
  const windows = [
    ...data.uploads.map((u) => ({ scenario: `upload-${u.round}`, connections: 1, kind: 'data', MBps: u.MBps, window: u.window })),
    ...data.downloads.map((d, i) => ({ scenario: `download-${i + 1}`, connections: 1, kind: 'data', MBps: d.MBps, window: d.window })),
  ];
  writeFileSync(a.out, JSON.stringify({ meta, summary, data, glance: G, results: [...results, ...windows], table: out.join('\n') }, null, 2) + '\n');
  log(`results written to ${a.out}`);
}
if (profileDir) log(`CPU profiles in ${profileDir}: node bench/identity/profile-summary.mjs ${profileDir}/monostack.cpuprofile --results ${a.out ?? '<--out file>'} --scenario show --connections 16`);

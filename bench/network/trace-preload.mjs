// A preload (`node --import`) for bench/network/run.mjs --sql-stats: in the server child, without
// touching src/, times every SQLite statement (better-sqlite3's all/get/run, as kysely's driver calls
// them) by its SQL text, and every command run through child_process.execFile (src/common/exec.ts:
// the agent's ip, nft, conntrack, kill...) from start to exit, by command and its first words. On
// SIGUSR2 it writes what it has to `${MSBN_SQL_STATS}.<n>.json` (n counts from 0) and starts again
// from zero, so the benchmark takes one file per phase. `in (?, ?, …)` lists of any length count as
// one statement; ids and numbers in command lines are replaced by `*`.

import { createRequire, syncBuiltinESMExports } from 'node:module';
import { writeFileSync } from 'node:fs';

const out = process.env.MSBN_SQL_STATS;
const require = createRequire(import.meta.url); // the repository's node_modules
const Database = require('better-sqlite3');
let stats = new Map(); // sql -> { n, ns }
let cmds = new Map(); // command -> { n, ms }
let since = process.hrtime.bigint();
let dumps = 0;

const key = (sql) => sql.replace(/\(\?(?:, \?)+\)/g, '(?, …)').replace(/\s+/g, ' ').trim();
function timed(orig) {
  return function (...args) {
    const t0 = process.hrtime.bigint();
    try { return orig.apply(this, args); } finally {
      const k = key(this.source);
      const s = stats.get(k) ?? stats.set(k, { n: 0, ns: 0n }).get(k);
      s.n++; s.ns += process.hrtime.bigint() - t0;
    }
  };
}

let patched = false;
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (...args) {
  const stmt = prepare.apply(this, args);
  if (!patched) {
    patched = true;
    const proto = Object.getPrototypeOf(stmt);
    for (const m of ['all', 'get', 'run']) proto[m] = timed(proto[m]);
  }
  return stmt;
};

// execFile as src/common/exec.ts imports it (a named ESM import of the builtin: synced below).
const cp = require('node:child_process');
const execFile = cp.execFile;
const word = (x) => (/^[0-9a-f-]{8,}$|^\d+$|^[a-z]+-[0-9a-f-]{8,}$|^(tap|ns-|msd-|msb-|msr-|msg-|qr-|qg-)[0-9a-f-]+$|\//i.test(x) ? '*' : x);
cp.execFile = function (cmd, args, ...rest) {
  const t0 = process.hrtime.bigint();
  const k = [cmd, ...(Array.isArray(args) ? args.slice(0, 5).map(word) : [])].join(' ');
  const child = execFile.call(this, cmd, args, ...rest);
  child.once('close', () => {
    const c = cmds.get(k) ?? cmds.set(k, { n: 0, ms: 0 }).get(k);
    c.n++; c.ms += Number(process.hrtime.bigint() - t0) / 1e6;
  });
  return child;
};
syncBuiltinESMExports();

if (out) {
  process.on('SIGUSR2', () => {
    const now = process.hrtime.bigint();
    const rows = [...stats].map(([sql, s]) => ({ sql, n: s.n, ms: Number(s.ns) / 1e6 })).sort((x, y) => y.ms - x.ms);
    const commands = [...cmds].map(([cmd, c]) => ({ cmd, n: c.n, ms: c.ms })).sort((x, y) => y.ms - x.ms);
    writeFileSync(`${out}.${dumps++}.json`, JSON.stringify({ wallMs: Number(now - since) / 1e6, rows, commands }) + '\n');
    stats = new Map();
    cmds = new Map();
    since = now;
  });
}

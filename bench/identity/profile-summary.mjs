// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. run.mjs --profile DIR): where the CPU
// time went, by function (self time) and by package/module, optionally restricted to the measured
// window of one scenario from run.mjs's --out JSON (the profile's timestamps and run.mjs's windows are
// both the monotonic clock, in microseconds).
//
//   node bench/identity/profile-summary.mjs PROFILE.cpuprofile [--results results.json --scenario validate --connections 16] [--top 30]
//        [--inclusive name1,name2]   also print inclusive (self + callees) time of functions with these names

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    results: { type: 'string' },
    scenario: { type: 'string' },
    connections: { type: 'string', default: '16' },
    top: { type: 'string', default: '30' },
    inclusive: { type: 'string' },
  },
});
if (!positionals[0]) {
  process.stderr.write('usage: node bench/identity/profile-summary.mjs PROFILE.cpuprofile [--results R.json --scenario S --connections C] [--top N] [--inclusive f1,f2]\n');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(positionals[0], 'utf8'));

let from = -Infinity, to = Infinity;
if (a.results && a.scenario) {
  const r = JSON.parse(readFileSync(a.results, 'utf8')).results.find((x) => x.scenario === a.scenario && x.connections === Number(a.connections));
  if (!r) throw new Error(`no ${a.scenario} c=${a.connections} in ${a.results}`);
  ({ startUs: from, endUs: to } = r.window);
}

const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Sample weights: each sample lasts until the next one.
const self = new Map(); // node id -> µs
let t = prof.startTime, total = 0;
for (let i = 0; i < prof.samples.length; i++) {
  t += prof.timeDeltas[i];
  const next = i + 1 < prof.timeDeltas.length ? prof.timeDeltas[i + 1] : 0;
  if (t < from || t > to) continue;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + next);
  total += next;
}
if (!total) throw new Error('no samples in the window (was the profile taken during this run?)');

const short = (url) => {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 13);
  const b = u.search(/\/(dist|\.build\/[^/]+)\//);
  if (b >= 0) return u.slice(b + 1).replace(/^\.build\/[^/]+\//, 'build/');
  return u.replace(/^.*\/(node:)?/, '');
};
const pkg = (url, name) => {
  if (!url) return name.startsWith('(') ? name : '(native/V8 builtins)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) { const p = u.slice(nm + 13).split('/'); return p[0].startsWith('@') ? `${p[0]}/${p[1]}` : p[0]; }
  if (u.startsWith('node:')) return `node:${u.slice(5).split('/')[0]}`;
  const m = /\/(?:dist|\.build\/[^/]+)\/(.+)\.js$/.exec(u);
  if (m) return `monostack:${m[1]}`;
  return short(url);
};

const byFn = new Map(), byPkg = new Map();
for (const [id, us] of self) {
  const cf = nodes.get(id).callFrame;
  const name = cf.functionName || '(anonymous)';
  const key = `${name}  ${short(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
  byFn.set(key, (byFn.get(key) ?? 0) + us);
  const p = pkg(cf.url, name);
  byPkg.set(p, (byPkg.get(p) ?? 0) + us);
}
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
const print = (title, m, n) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, v] of [...m].sort((x, y) => y[1] - x[1]).slice(0, n)) process.stdout.write(`${pct(v)} ${ms(v)}  ${k}\n`);
};
process.stdout.write(`${positionals[0]}: ${(total / 1000).toFixed(0)} ms of samples${Number.isFinite(from) ? ` in ${a.scenario} c=${a.connections}'s window` : ''}\n`);
print('self time by package/module:', byPkg, 40);
print('self time by function:', byFn, Number(a.top));

if (a.inclusive) {
  const want = new Set(a.inclusive.split(','));
  const incl = new Map();
  for (const [id, us] of self) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = nodes.get(cur).callFrame;
      const name = cf.functionName || '(anonymous)';
      if (!want.has(name)) continue;
      const key = `${name}  ${short(cf.url)}:${cf.lineNumber + 1}`;
      if (seen.has(key)) continue; // recursion
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + us);
    }
  }
  print('inclusive time (self + callees):', incl, 100);
}

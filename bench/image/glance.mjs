// The real Glance 25 (Debian 12) for bench/image/run.mjs --glance: installed from Debian's packages
// when missing, configured in a temporary directory and run as Debian runs it (uWSGI with Debian's
// glance-api-uwsgi.ini, glance-wsgi-api, the file store, keystonemiddleware), on a free loopback
// port, with its SQLite database made by `glance-manage db_sync`. Tokens are validated against the
// identity service of the same run (monostack's Keystone), so both image services get the same
// token and do the same auth work per request. Nothing of Glance is kept: the directory goes with
// the benchmark's temporary root, and every uWSGI process is killed at the end.
//
// Packages: python3-glance (the code, without services), uwsgi-core and uwsgi-plugin-python3 are
// installed with apt-get; glance-api and glance-common, whose maintainer scripts would start a
// system-wide glance-api on port 9292 and create /var/lib/glance, are only downloaded
// (`apt-get download`) for their configuration files and scripts, unless already installed.
//
// The one change to Debian's uwsgi ini: `rem-header = Content-Length` is dropped. With it every
// response is framed by the connection's close alone, which autocannon cannot count (it counted
// 0 of 372 responses); Debian's `add-header = Connection: close` stays, so every request of Glance
// still pays for a new connection, as in a Debian deployment.

import { execFile as execFileCb, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFile = promisify(execFileCb);
const PY = '/usr/bin/python3'; // Debian's python, with the python3-* modules (PATH python3 may be pyenv)
const PACKAGES = ['python3-glance', 'uwsgi-core', 'uwsgi-plugin-python3'];
const PLUGIN = '/usr/lib/uwsgi/plugins/python3_plugin.so';

async function installed() {
  try {
    await execFile(PY, ['-c', 'import glance.common.wsgi_app, keystonemiddleware.auth_token, glance_store']);
    return existsSync(PLUGIN) && (existsSync('/usr/bin/uwsgi-core') || existsSync('/usr/bin/uwsgi'));
  } catch { return false; }
}

/** Debian's files of glance-common and glance-api: installed ones, else extracted from the .debs. */
async function debianFiles(dir, log) {
  const sys = {
    paste: '/usr/share/glance-common/glance-api-paste.ini',
    uwsgiIni: '/etc/glance/glance-api-uwsgi.ini',
    wsgi: '/usr/bin/glance-wsgi-api',
    manage: '/usr/bin/glance-manage',
  };
  if (Object.values(sys).every((p) => existsSync(p))) return sys;
  const deb = join(dir, 'deb');
  mkdirSync(deb, { recursive: true });
  log('downloading glance-common and glance-api (apt-get download) for their configuration files');
  await execFile('apt-get', ['download', 'glance-common', 'glance-api'], { cwd: deb });
  const x = join(deb, 'x');
  for (const f of readdirSync(deb).filter((n) => n.endsWith('.deb'))) await execFile('dpkg-deb', ['-x', join(deb, f), x]);
  const files = {
    paste: join(x, sys.paste), uwsgiIni: join(x, sys.uwsgiIni), wsgi: join(x, sys.wsgi), manage: join(x, sys.manage),
  };
  for (const [k, p] of Object.entries(files)) if (!existsSync(p)) throw new Error(`${k}: ${p} not in the Debian packages`);
  return files;
}

/** Pids of the process tree under pid (uWSGI's master and its workers). */
export function processTree(pid) {
  const out = [pid];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      for (const k of kids ? kids.split(/\s+/).map(Number) : []) out.push(...processTree(k));
    }
  } catch { /* gone */ }
  return out;
}

/**
 * Starts Glance; resolves { url, version, pids, workers, stop } once it answers and its workers
 * have loaded the application. Throws (with the reason) when it cannot be installed or started.
 */
export async function startGlance({ root, port, authUrl, username, password, project, log }) {
  if (!(await installed())) {
    if (process.getuid?.() !== 0) throw new Error(`Glance is not installed and installing needs root: apt-get install ${PACKAGES.join(' ')}`);
    log(`installing ${PACKAGES.join(' ')} (apt-get)`);
    await execFile('apt-get', ['install', '-y', '--no-install-recommends', ...PACKAGES],
      { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 << 20 });
    if (!(await installed())) throw new Error('Glance still not importable after apt-get install');
  }
  const version = (await execFile('dpkg-query', ['-W', '-f', '${Version}', 'python3-glance'])).stdout.trim();
  const dir = join(root, 'glance');
  const etc = join(dir, 'etc');
  for (const d of [etc, join(dir, 'images'), join(dir, 'staging'), join(dir, 'tasks'), join(dir, 'locks')]) mkdirSync(d, { recursive: true });
  const deb = await debianFiles(dir, log);

  writeFileSync(join(etc, 'glance-api-paste.ini'), readFileSync(deb.paste));
  writeFileSync(join(etc, 'glance-api.conf'), `[DEFAULT]
enabled_backends = fs:file
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = ${join(dir, 'images')}
[os_glance_staging_store]
filesystem_store_datadir = ${join(dir, 'staging')}
[os_glance_tasks_store]
filesystem_store_datadir = ${join(dir, 'tasks')}
[database]
connection = sqlite:///${join(dir, 'glance.sqlite')}
[paste_deploy]
flavor = keystone
[keystone_authtoken]
www_authenticate_uri = ${authUrl}
auth_url = ${authUrl}
auth_type = password
username = ${username}
password = ${password}
project_name = ${project}
user_domain_name = Default
project_domain_name = Default
[oslo_concurrency]
lock_path = ${join(dir, 'locks')}
`);
  const env = { ...process.env, OS_GLANCE_CONFIG_DIR: etc };
  await execFile(PY, [deb.manage, '--config-file', join(etc, 'glance-api.conf'), 'db_sync'], { env, cwd: dir, maxBuffer: 16 << 20 });

  // Debian's uwsgi ini, with our socket, log, directory and script instead of the system's.
  const drop = /^\s*(logto|uid|gid|chdir|wsgi-file|name|http-socket|https|rem-header)\s*=/;
  const ini = readFileSync(deb.uwsgiIni, 'utf8').split('\n').filter((l) => !drop.test(l));
  const processes = Number(/^\s*processes\s*=\s*(\d+)/m.exec(ini.join('\n'))?.[1] ?? 1);
  const threads = Number(/^\s*threads\s*=\s*(\d+)/m.exec(ini.join('\n'))?.[1] ?? 1);
  ini.push(`http-socket = 127.0.0.1:${port}`, `logto = ${join(dir, 'uwsgi.log')}`, `chdir = ${dir}`, `wsgi-file = ${deb.wsgi}`, 'name = bench-glance-api');
  writeFileSync(join(etc, 'uwsgi.ini'), ini.join('\n') + '\n');
  const bin = existsSync('/usr/bin/uwsgi-core') ? '/usr/bin/uwsgi-core' : '/usr/bin/uwsgi';
  const child = spawn(bin, ['--ini', join(etc, 'uwsgi.ini')], { env, cwd: dir, stdio: 'ignore' });
  let exited = null;
  child.once('exit', (code, sig) => { exited = code ?? sig; });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    const pids = processTree(child.pid);
    if (exited === null) {
      child.kill('SIGTERM'); // die-on-term: the master stops its workers
      const t = Date.now();
      while (exited === null && Date.now() - t < 10_000) await new Promise((r) => setTimeout(r, 100));
    }
    for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  };
  try {
    const t0 = Date.now();
    for (;;) {
      if (exited !== null) throw new Error(`uwsgi exited (${exited}); see ${join(dir, 'uwsgi.log')}:\n${readFileSync(join(dir, 'uwsgi.log'), 'utf8').slice(-3000)}`);
      if (Date.now() - t0 > 120_000) throw new Error('Glance not answering after 120 s');
      const ok = await fetch(`${url}/`).then((r) => r.status === 300, () => false);
      const ready = existsSync(join(dir, 'uwsgi.log')) ? (readFileSync(join(dir, 'uwsgi.log'), 'utf8').match(/WSGI app 0 \(mountpoint=''\) ready/g) ?? []).length : 0;
      if (ok && ready >= processes) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, version, processes, threads, pids: () => processTree(child.pid), stop, log: join(dir, 'uwsgi.log') };
}

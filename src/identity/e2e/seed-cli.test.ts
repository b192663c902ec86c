// End to end: the seed note's identity chapter (seed/000_20205712281606bf.txt, lines 121-170), command
// by command, with Debian's `openstack` CLI against a real `monostack up` child process. Where the
// seed creates what bootstrap already made (the admin project, user and role), we answer what a
// real Keystone answers after `keystone-manage bootstrap`: 409 with Keystone's message. Traffic
// stays on loopback: the seed's 1.1.1.1 endpoints become 127.0.0.1 ones.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, projectRoot } from '../../common/testing/process.js';
import { parseOpenrc } from '../../cli/up-process.js';

const OPENSTACK = '/usr/bin/openstack';
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const ADMIN_PASSWORD = 'seed-admin-pass';

const here = dirname(fileURLToPath(import.meta.url));
const root = projectRoot(import.meta.url);
/**
 * The `monostack` entry point of the code under test: bin/monostack.js when this test runs from
 * dist/ (what `npm test` builds), else the cli/main.js compiled beside this test (a developer's
 * --outDir build), so a test never runs against another build's code.
 */
const entry = here.startsWith(join(root, 'dist') + sep) ? join(root, 'bin', 'monostack.js') : join(here, '..', '..', 'cli', 'main.js');

interface Run { code: number; stdout: string; stderr: string; out: string }

/** A table row of the CLI's output: `| field | value |`. */
function field(out: string, name: string): string | undefined {
  const m = new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(.*?)\\s*\\|\\s*$`, 'm').exec(out);
  return m?.[1];
}

test('the seed\'s identity commands with the openstack CLI against monostack up', { timeout: 300_000 }, async (t) => {
  if (!existsSync(OPENSTACK)) return t.skip('python3-openstackclient not installed');
  if (!existsSync(entry)) throw new Error(`monostack entry point not built: ${entry}`);

  const dataDir = mkdtempSync(join(tmpdir(), 'monostack-seed-'));
  const home = join(dataDir, 'home'); // no clouds.yaml or other client state from the real home
  const port = await freePort();
  const adminPort = await freePort();
  const imagePort = await freePort(); // the default services include image: keep it off 9292
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [
    entry, 'up', '--data-dir', join(dataDir, 'state'), '--port', String(port), '--admin-port', String(adminPort), '--admin-password', ADMIN_PASSWORD,
  ], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', MONOSTACK_IDENTITY_PASSWORD_HASH_ROUNDS: '4', MONOSTACK_IMAGE_PORT: String(imagePort), MONOSTACK_DEFAULT_ENABLED_SERVICES: 'identity,image' } });
  let serverOut = '';
  child.stdout.on('data', (d) => { serverOut += d; });
  child.stderr.on('data', (d) => { serverOut += d; });
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));

  try {
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`monostack up did not get ready in 30 s:\n${serverOut}`)), 30_000);
      const check = () => { if (serverOut.includes('monostack ready')) { clearTimeout(timer); res(); } };
      child.stdout.on('data', check);
      void exited.then((c) => { clearTimeout(timer); rej(new Error(`monostack up exited ${c}:\n${serverOut}`)); });
      check();
    });
    assert.match(serverOut, new RegExp(`admin port ${adminPort}`));

    // The seed's environment: the admin credentials (here from the openrc `up` wrote), pointed at
    // our port. Nothing else from this process's environment (no proxies, no clouds.yaml).
    const openrc = parseOpenrc(readFileSync(join(dataDir, 'state', 'openrc'), 'utf8'));
    assert.equal(openrc.OS_PASSWORD, ADMIN_PASSWORD);
    assert.equal(openrc.OS_IDENTITY_API_VERSION, '3');
    const baseEnv: Record<string, string> = {
      PATH: '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', PYTHONWARNINGS: 'ignore',
      ...openrc, OS_AUTH_URL: `http://127.0.0.1:${port}/v3`,
    };

    const log: string[] = [];
    const osc = (args: string[], env: Record<string, string> = {}): Promise<Run> => new Promise((res) => {
      execFile(OPENSTACK, args, { env: { ...baseEnv, ...env }, timeout: 90_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        log.push(`$ openstack ${args.join(' ')}\n${stdout}${stderr}(exit ${code})`);
        res({ code, stdout, stderr, out: stdout + stderr });
      });
    });
    /** The CLI on a pseudo-terminal (`--password-prompt` refuses a pipe), typing each answer after its prompt. */
    const oscTty = (args: string[], answers: Array<[prompt: string, answer: string]>): Promise<Run> => new Promise((res, rej) => {
      const py = 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))';
      const p = spawn(PYTHON, ['-c', py, OPENSTACK, ...args], { env: baseEnv });
      let out = '';
      let next = 0;
      let from = 0; // where to look for the next prompt
      const timer = setTimeout(() => { p.kill('SIGKILL'); rej(new Error(`openstack ${args.join(' ')} hung:\n${out}`)); }, 90_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        // getpass flushes typed-ahead input when it turns echo off, so answer only once the prompt is shown.
        for (let at; next < answers.length && (at = out.indexOf(answers[next]![0], from)) >= 0; next++) {
          from = at + answers[next]![0].length;
          p.stdin.write(answers[next]![1] + '\n');
        }
      };
      p.stdout.on('data', onData);
      p.stderr.on('data', onData);
      p.on('exit', (c) => {
        clearTimeout(timer);
        p.stdin.end();
        log.push(`$ openstack ${args.join(' ')}  (on a tty)\n${out}(exit ${c})`);
        res({ code: c ?? 1, stdout: out, stderr: '', out });
      });
    });
    const ok = (r: Run) => assert.equal(r.code, 0, `expected success:\n${r.out}`);
    const fails = (r: Run, text: string | RegExp) => {
      assert.notEqual(r.code, 0, `expected a failure:\n${r.out}`);
      if (typeof text === 'string') assert.ok(r.out.includes(text), `expected "${text}" in:\n${r.out}`);
      else assert.match(r.out, text);
    };
    const api = async (path: string) => {
      const tok = await fetch(`http://127.0.0.1:${port}/v3/auth/tokens`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } }),
      });
      const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'X-Auth-Token': tok.headers.get('x-subject-token')! } });
      return r.json() as Promise<any>;
    };
    const reqId = /\(HTTP (\d{3})\) \(Request-ID: req-[0-9a-f-]{36}\)/;

    let failed = false;
    const step = (name: string, fn: () => Promise<void>) => t.test(name, async () => {
      try { await fn(); } catch (e) { failed = true; throw e; }
    });
    try {
      await step('project create admin: 409, bootstrap made it', async () => {
        const r = await osc(['project', 'create', '--domain', 'default', '--description', 'admin project', 'admin']);
        fails(r, /Conflict occurred attempting to store project - it is not permitted to have two projects with either the same name or same id in the same domain: name is admin, project id [0-9a-f]{32}\. \(HTTP 409\)/);
        assert.match(r.out, reqId);
      });
      await step('user create --password-prompt admin: 409, bootstrap made it', async () => {
        const r = await oscTty(['user', 'create', '--domain', 'default', '--password-prompt', 'admin'],
          [['User Password:', ADMIN_PASSWORD], ['Repeat User Password:', ADMIN_PASSWORD]]);
        fails(r, 'Conflict occurred attempting to store user - Duplicate entry found with name admin at domain ID default. (HTTP 409)');
        // The bootstrap admin's password is unchanged.
        ok(await osc(['token', 'issue']));
      });
      await step('role create admin: 409, bootstrap made it', async () => {
        fails(await osc(['role', 'create', 'admin']), 'Conflict occurred attempting to store role - Duplicate entry found with name admin. (HTTP 409)');
      });
      await step('role add --project admin --user admin admin: granted already, no error', async () => {
        const r = await osc(['role', 'add', '--project', 'admin', '--user', 'admin', 'admin']);
        ok(r);
        assert.equal(r.stdout, '');
      });
      await step('project create demo', async () => {
        const r = await osc(['project', 'create', '--domain', 'default', '--description', 'demo project', 'demo']);
        ok(r);
        assert.equal(field(r.out, 'name'), 'demo');
        assert.equal(field(r.out, 'description'), 'demo project');
        assert.equal(field(r.out, 'domain_id'), 'default');
        assert.equal(field(r.out, 'enabled'), 'True');
        assert.match(field(r.out, 'id') ?? '', /^[0-9a-f]{32}$/);
      });
      await step('user create --password=demo demo', async () => {
        const r = await osc(['user', 'create', '--domain', 'default', '--password=demo', 'demo']);
        ok(r);
        assert.equal(field(r.out, 'name'), 'demo');
        assert.equal(field(r.out, 'domain_id'), 'default');
      });
      await step('role create user', async () => {
        const r = await osc(['role', 'create', 'user']);
        ok(r);
        assert.equal(field(r.out, 'name'), 'user');
      });
      await step('role add --project demo --user demo demo: the seed names a role that does not exist', async () => {
        const r = await osc(['role', 'add', '--project', 'demo', '--user', 'demo', 'demo']);
        fails(r, "No role with a name or ID of 'demo' exists.");
        // What the seed meant: the role it just created.
        ok(await osc(['role', 'add', '--project', 'demo', '--user', 'demo', 'user']));
        const a = await api('/v3/role_assignments?include_names');
        assert.ok(a.role_assignments.some((x: any) => x.user.name === 'demo' && x.scope.project?.name === 'demo' && x.role.name === 'user'));
      });
      await step('project create service', async () => {
        const had = (await api('/v3/projects?name=service')).projects.length > 0; // bootstrap makes it when services need users
        const r = await osc(['project', 'create', '--domain', 'default', '--description', 'service project', 'service']);
        if (had) fails(r, /Conflict occurred attempting to store project - .* name is service, project id [0-9a-f]{32}\. \(HTTP 409\)/);
        else { ok(r); assert.equal(field(r.out, 'name'), 'service'); }
      });
      await step('user list, project list', async () => {
        const u = await osc(['user', 'list']);
        ok(u);
        assert.match(u.out, /^\| ID +\| Name +\|$/m);
        for (const n of ['admin', 'demo']) assert.match(u.out, new RegExp(`^\\| [0-9a-f]{32} \\| ${n} +\\|$`, 'm'));
        const p = await osc(['project', 'list']);
        ok(p);
        for (const n of ['admin', 'demo', 'service']) assert.match(p.out, new RegExp(`^\\| [0-9a-f]{32} \\| ${n} +\\|$`, 'm'));
      });

      let serviceId = '';
      await step('service create --name keystone identity', async () => {
        const r = await osc(['service', 'create', '--name', 'keystone', '--description', 'openstack identity', 'identity']);
        ok(r);
        assert.equal(field(r.out, 'type'), 'identity');
        assert.equal(field(r.out, 'name'), 'keystone');
        assert.equal(field(r.out, 'description'), 'openstack identity');
        serviceId = field(r.out, 'id') ?? '';
        assert.match(serviceId, /^[0-9a-f]{32}$/);
      });
      const urls = { public: `http://127.0.0.1:${port}/v2.0`, internal: `http://127.0.0.1:${port}/v2.0`, admin: `http://127.0.0.1:${adminPort}/v2.0` };
      await step('endpoint create --region RegionOne identity public/internal/admin', async () => {
        // After bootstrap there are two identity services: by type the CLI cannot choose, on a
        // real Keystone as here. The seed's commands then work with the new service's id.
        fails(await osc(['endpoint', 'create', '--region', 'RegionOne', 'identity', 'public', urls.public]),
          "Multiple service matches found for 'identity', use an ID to be more specific.");
        for (const iface of ['public', 'internal', 'admin'] as const) {
          const r = await osc(['endpoint', 'create', '--region', 'RegionOne', serviceId, iface, urls[iface]]);
          ok(r);
          assert.equal(field(r.out, 'interface'), iface);
          assert.equal(field(r.out, 'url'), urls[iface]);
          assert.equal(field(r.out, 'region'), 'RegionOne');
          assert.equal(field(r.out, 'service_id'), serviceId);
          assert.equal(field(r.out, 'service_type'), 'identity');
          assert.equal(field(r.out, 'enabled'), 'True');
        }
      });
      await step('endpoint list', async () => {
        const r = await osc(['endpoint', 'list']);
        ok(r);
        for (const iface of ['public', 'internal', 'admin'] as const) {
          assert.match(r.out, new RegExp(`\\| RegionOne \\| keystone +\\| identity +\\| True +\\| ${iface} +\\| ${urls[iface].replace(/\./g, '\\.')} +\\|`));
          assert.match(r.out, new RegExp(`\\| RegionOne \\| keystone +\\| identity +\\| True +\\| ${iface} +\\| http://127\\.0\\.0\\.1:${port}/v3/ +\\|`));
        }
      });
      await step('the CLI still finds a working identity endpoint', async () => {
        ok(await osc(['token', 'issue']));
        const p = await osc(['project', 'list']);
        ok(p);
        assert.match(p.out, /\| demo +\|/);
        ok(await osc(['user', 'show', 'demo']));
      });
      await step('token issue on the legacy admin port, as the seed', async () => {
        const env = { ...baseEnv };
        delete env.OS_TOKEN;
        delete env.OS_URL;
        const r = await osc(['--os-auth-url', `http://127.0.0.1:${adminPort}/v3`, '--os-project-domain-id', 'default', '--os-user-domain-id', 'default',
          '--os-project-name', 'admin', '--os-username', 'admin', '--os-auth-type', 'password', 'token', 'issue'], env);
        ok(r);
        assert.match(field(r.out, 'id') ?? '', /^gAAAAA/);
        assert.match(field(r.out, 'project_id') ?? '', /^[0-9a-f]{32}$/);
        assert.match(field(r.out, 'user_id') ?? '', /^[0-9a-f]{32}$/);
        assert.ok(new Date(field(r.out, 'expires') ?? '').getTime() > Date.now());
      });

      const demo = { OS_USERNAME: 'demo', OS_PASSWORD: 'demo', OS_PROJECT_NAME: 'demo' };
      await step('the demo user gets a token', async () => {
        const r = await osc(['--os-username', 'demo', '--os-password', 'demo', '--os-project-name', 'demo', 'token', 'issue']);
        ok(r);
        const users = (await api('/v3/users?name=demo')).users;
        assert.equal(field(r.out, 'user_id'), users[0].id);
      });
      await step('the demo user is refused admin actions with 403', async () => {
        for (const args of [
          ['user', 'create', '--password', 'x', 'made-by-demo'],
          ['project', 'create', 'made-by-demo'],
          ['role', 'add', '--project', 'demo', '--user', 'demo', 'admin'],
        ]) {
          const r = await osc(args, demo);
          fails(r, /You are not authorized to perform the requested action: identity:[a-z_]+\. \(HTTP 403\)/);
          assert.match(r.out, reqId);
        }
        // The grant itself, which the CLI never reached (it could not even list roles):
        const demoTok = await fetch(`http://127.0.0.1:${port}/v3/auth/tokens`, {
          method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: 'demo' } } }, scope: { project: { name: 'demo', domain: { id: 'default' } } } } }),
        });
        const demoProject = (await api('/v3/projects?name=demo')).projects[0].id;
        const demoUser = (await api('/v3/users?name=demo')).users[0].id;
        const adminRole = (await api('/v3/roles?name=admin')).roles[0].id;
        const g = await fetch(`http://127.0.0.1:${port}/v3/projects/${demoProject}/users/${demoUser}/roles/${adminRole}`, { method: 'PUT', headers: { 'X-Auth-Token': demoTok.headers.get('x-subject-token')! } });
        assert.equal(g.status, 403);
        assert.deepEqual(await g.json(), { error: { code: 403, title: 'Forbidden', message: 'You are not authorized to perform the requested action: identity:create_grant.' } });
        assert.deepEqual((await api('/v3/users?name=made-by-demo')).users, []);
        assert.deepEqual((await api('/v3/projects?name=made-by-demo')).projects, []);
        const a = await api('/v3/role_assignments?include_names');
        assert.ok(!a.role_assignments.some((x: any) => x.user?.name === 'demo' && x.role.name === 'admin'));
      });
    } finally {
      if (failed || process.env.MONOSTACK_TEST_VERBOSE) t.diagnostic(log.join('\n\n'));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
});

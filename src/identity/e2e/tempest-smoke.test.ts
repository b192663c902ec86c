// Conformance smoke test: OpenStack's own Tempest (Debian's package) against a real `monostack up`.
// The full identity run and its counts live in docs/conformance.md; this keeps a fast subset in CI.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot, freePort, tempestHarness } from '../../common/testing/process.js';

const root = projectRoot(import.meta.url);

const HARNESS = tempestHarness();

// Core v3 API areas; every test in them must pass.
const SMOKE = '^tempest\\.api\\.identity\\.(admin\\.)?v3\\.(test_tokens|test_projects|test_users|test_domains|test_roles|test_groups|test_regions|test_services|test_endpoints|test_catalog|test_api_discovery|test_list_projects|test_list_users|test_inherits|test_default_project_id|test_project_tags)';

test('Tempest identity smoke subset passes against monostack up', { timeout: 600_000 }, async (t) => {
  if (!HARNESS) return t.skip('conformance harness tempest.sh not found (set MONOSTACK_TEMPEST_SH)');
  if (!existsSync('/usr/bin/tempest')) return t.skip('tempest not installed (apt-get install tempest keystone-tempest-plugin)');
  const dataDir = mkdtempSync(join(tmpdir(), 'monostack-tempest-'));
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin', 'monostack.js'), 'up', '--data-dir', dataDir, '--port', String(port), '--admin-port', '0', '--admin-password', 'tempest-admin'], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MONOSTACK_IDENTITY_PASSWORD_HASH_ROUNDS: '4', MONOSTACK_DEFAULT_ENABLED_SERVICES: 'identity' },
  });
  try {
    await new Promise<void>((res, rej) => {
      let out = '';
      const timer = setTimeout(() => rej(new Error(`monostack up did not get ready: ${out}`)), 30_000);
      child.stdout.on('data', (d) => { out += d; if (out.includes('monostack ready')) { clearTimeout(timer); res(); } });
      child.stderr.on('data', (d) => { out += d; });
      child.on('exit', (c) => { clearTimeout(timer); rej(new Error(`monostack up exited ${c}: ${out}`)); });
    });
    const results = join(dataDir, 'tempest-results.txt');
    const summary = await new Promise<string>((res) => {
      execFile(HARNESS, ['--services', 'identity', '--regex', SMOKE, '--concurrency', '2', '--results', results, '--workspace', join(dataDir, 'tempest'), '--always-zero'], {
        env: {
          ...process.env, OS_AUTH_URL: `http://127.0.0.1:${port}/v3`, OS_USERNAME: 'admin', OS_PASSWORD: 'tempest-admin',
          OS_PROJECT_NAME: 'admin', OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_REGION_NAME: 'RegionOne',
        },
        timeout: 540_000, maxBuffer: 64 * 1024 * 1024,
      }, (_err, stdout, stderr) => res(`${stdout}\n${stderr}`));
    });
    const m = /tempest: (\d+) passed, (\d+) failed, (\d+) skipped/.exec(summary);
    assert.ok(m, `no tempest summary line in:\n${summary.slice(-3000)}`);
    const [passed, failed] = [Number(m[1]), Number(m[2])];
    const failures = existsSync(results) ? readFileSync(results, 'utf8').split('\n').filter((l) => l.startsWith('fail')).join('\n') : '';
    t.diagnostic(m[0]);
    assert.equal(failed, 0, `Tempest failures:\n${failures}\n${existsSync(results + '.details') ? readFileSync(results + '.details', 'utf8').slice(0, 5000) : ''}`);
    assert.ok(passed >= 60, `expected at least 60 passing smoke tests, got ${passed}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
});

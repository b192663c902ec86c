// Conformance in CI: a subset of Tempest's compute API tests (Debian's package) against a fresh
// `monostack up` with identity, image, placement and compute, through scripts/tempest-compute.sh
// (the same script docs/conformance.md's full runs use). The fake driver keeps it fast: these tests
// check the API — bodies, status codes, microversions, policies, state changes — and the real QEMU
// path is proven by seed-cli.test.ts and races.test.ts. Every selected test must pass or skip.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, tempestHarness } from '../../common/testing/process.js';

const root = projectRoot(import.meta.url);
const HARNESS = tempestHarness();

export const SMOKE = '^tempest\\.api\\.compute\\.(flavors\\.|keypairs\\.|limits\\.|test_quotas|test_versions|test_extensions|'
  + 'admin\\.test_(flavors|quotas|services|hypervisor|availability_zone|aggregates|keypair)|'
  + 'servers\\.test_(servers\\.|server_metadata|server_tags|instance_actions|list_server_filters|servers_negative|delete_server)|'
  + 'server_groups|servers\\.test_server_group)';

test('Tempest compute API smoke subset passes against monostack up', { timeout: 1_500_000 }, async (t) => {
  if (!HARNESS) return t.skip('conformance harness tempest.sh not found (set MONOSTACK_TEMPEST_SH)');
  if (!existsSync('/usr/bin/tempest')) return t.skip('tempest not installed (apt-get install tempest)');
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) return t.skip('dist/ not built (npm test builds it)');
  const dir = mkdtempSync(join(tmpdir(), 'monostack-compute-tempest-'));
  const results = join(dir, 'results.txt');
  try {
    const out = await new Promise<string>((res) => {
      execFile('bash', [join(root, 'scripts', 'tempest-compute.sh'), '--driver', 'fake', '--regex', SMOKE, '--results', results,
        // Security groups are the network service's (Nova proxies them to Neutron): not here yet.
        '--', '--exclude', 'security_group'], {
        env: { ...process.env, MONOSTACK_TEMPEST_SH: HARNESS }, timeout: 1_400_000, maxBuffer: 64 * 1024 * 1024,
      }, (_e, stdout, stderr) => res(`${stdout}\n${stderr}`));
    });
    const m = /tempest: (\d+) passed, (\d+) failed, (\d+) skipped/.exec(out);
    assert.ok(m, `no tempest summary line in:\n${out.slice(-3000)}`);
    t.diagnostic(m[0]);
    const failures = existsSync(results) ? readFileSync(results, 'utf8').split('\n').filter((l) => l.startsWith('fail')).join('\n') : '';
    assert.equal(Number(m[2]), 0, `Tempest failures:\n${failures}\n${existsSync(results + '.details') ? readFileSync(results + '.details', 'utf8').slice(0, 6000) : ''}`);
    assert.ok(Number(m[1]) >= 200, `expected at least 200 passing compute tests, got ${m[1]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

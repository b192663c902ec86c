// Runs Placement's own functional tests (gabbi YAML files from Placement 8.0.0,
// placement/tests/functional/gabbits) against this placement service with Debian's gabbi-run.
// Each file gets a fresh service and database, as Placement's APIFixture gives it; the files'
// noauth tokens are replaced by real Keystone tokens (`admin` -> an admin of the admin project,
// `user` -> a member of another project) and the fixture's environment variables are set.
// Only files whose fixture is APIFixture (no preloaded data, no fake-policy middleware) are run.
//
//   MONOSTACK_PLACEMENT_GABBITS=<dir> [MONOSTACK_PLACEMENT_GABBITS_FILES=a.yaml,b.yaml] [GABBI_VERBOSE=1] \
//     node --test .build/placement/placement/conformance/gabbits.test.js
// The gabbits come from the upstream repository at tag 8.0.0 (Debian's package does not ship
// them): `git archive 8.0.0 placement/tests/functional/gabbits | tar -x`. Without the directory or
// Debian's gabbi-run the test skips. It fails when fewer tests pass than the figure recorded in
// README.md (PASS_FLOOR), so a regression shows.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud } from '../../identity/testing.js';
import { startPlacementService } from '../testing.js';

interface FileResult { file: string; ran: number; failures: number; errors: number; skipped: number; failed: string[] }

function gabbiRun(port: number, yaml: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    // stdin carries the YAML; arguments are an argv array (no shell).
    const p = spawn('/usr/bin/gabbi-run', [`127.0.0.1:${port}`], { env: { ...process.env, ...env } });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('close', () => resolve(out));
    p.stdin.end(yaml);
  });
}

function parse(file: string, out: string): FileResult {
  const ran = Number(/Ran (\d+) tests?/.exec(out)?.[1] ?? 0);
  const m = /FAILED \(([^)]*)\)/.exec(out);
  const num = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(m?.[1] ?? '')?.[1] ?? 0);
  const failed = [...out.matchAll(/^(?:FAIL|ERROR): (\S+)/gm)].map((x) => x[1]!);
  const skipped = Number(/skipped=(\d+)/.exec(out)?.[1] ?? 0);
  return { file, ran, failures: num('failures'), errors: num('errors'), skipped, failed };
}

/** Passing tests of the full APIFixture set when last measured (README.md). */
const PASS_FLOOR = 532;
const DIR = process.env.MONOSTACK_PLACEMENT_GABBITS;
const skip = !DIR ? 'set MONOSTACK_PLACEMENT_GABBITS to the gabbits directory of Placement 8.0.0'
  : !existsSync('/usr/bin/gabbi-run') ? "Debian's python3-gabbi (gabbi-run) is not installed" : false;

test('Placement 8.0.0 gabbits (APIFixture files) against this service', { skip, timeout: 1_800_000 }, async () => {
  const dir = DIR!;
  const only = (process.env.MONOSTACK_PLACEMENT_GABBITS_FILES ?? '').split(',').filter(Boolean);
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).filter((f) => !only.length || only.includes(f)).sort();
  const cloud = await startTestCloud();
  const results: FileResult[] = [];
  try {
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      if (!/^fixtures:\s*\n\s*-\s*APIFixture\s*$/m.test(text)) continue;
      const svc = await startPlacementService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword, register: false });
      try {
        const admin = await svc.adminToken();
        const user = (await svc.project(`gabbi-${randomUUID().slice(0, 8)}`)).token;
        const yaml = text.replace(/^fixtures:\s*\n\s*-\s*APIFixture\s*$/m, '')
          .replace(/x-auth-token: admin(:admin)?\s*$/gm, `x-auth-token: ${admin}`)
          .replace(/x-auth-token: user\s*$/gm, `x-auth-token: ${user}`);
        const env: Record<string, string> = {
          CUSTOM_RES_CLASS: 'CUSTOM_IRON_NFV', CUSTOM_RES_CLASS1: 'CUSTOM_IRON_NFV1', CUSTOM_RES_CLASS2: 'CUSTOM_IRON_NFV2',
        };
        for (const k of ['RP_UUID', 'RP_NAME', 'RP_UUID1', 'RP_NAME1', 'RP_UUID2', 'RP_NAME2', 'PROJECT_ID', 'ADMIN_PROJECT_ID', 'SERVICE_PROJECT_ID',
          'USER_ID', 'PROJECT_ID_ALT', 'USER_ID_ALT', 'INSTANCE_UUID', 'MIGRATION_UUID', 'CONSUMER_UUID', 'PARENT_PROVIDER_UUID', 'ALT_PARENT_PROVIDER_UUID']) {
          env[k] = randomUUID();
        }
        const out = await gabbiRun(Number(new URL(svc.placementUrl).port), yaml, env);
        const r = parse(f, out);
        results.push(r);
        console.log(`${f}: ${r.ran - r.failures - r.errors - r.skipped}/${r.ran} passed${r.skipped ? `, ${r.skipped} skipped` : ''}${r.failed.length ? `\n  failed: ${r.failed.join('\n          ')}` : ''}`);
        if (process.env.GABBI_VERBOSE) console.log(out);
      } finally {
        await svc.close();
      }
    }
  } finally {
    await cloud.close();
  }
  const ran = results.reduce((a, r) => a + r.ran, 0);
  const bad = results.reduce((a, r) => a + r.failures + r.errors, 0);
  const skipped = results.reduce((a, r) => a + r.skipped, 0);
  console.log(`TOTAL: ${ran - bad - skipped} passed, ${bad} failed, ${skipped} skipped of ${ran} tests in ${results.length} files`);
  assert.ok(results.length > 0, 'no APIFixture gabbits found');
  if (!only.length) assert.ok(ran - bad - skipped >= PASS_FLOOR, `${ran - bad - skipped} passed, fewer than the recorded ${PASS_FLOOR}`);
});

// Conformance in CI: Tempest's image v2 API tests (Debian's package) against a real `monostack up`
// with identity and image, configured as docs/conformance.md describes (a second file store for
// copy-image and multi-store imports, locations shown, an HTTP image on a loopback server). The
// one test the real Glance also fails (web-download of an unresolvable URL, refused with 400 at
// once since Glance's SSRF fix) is left out; everything else must pass or skip as in Glance.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot, freePort, tempestHarness } from '../../common/testing/process.js';

const root = projectRoot(import.meta.url);
const mainJs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'main.js');

const HARNESS = tempestHarness();

const KNOWN_FAILURE = 'test_image_web_download_import_with_bad_url';

test('Tempest image v2 API tests pass against monostack up', { timeout: 900_000 }, async (t) => {
  if (!HARNESS) return t.skip('conformance harness tempest.sh not found (set MONOSTACK_TEMPEST_SH)');
  if (!existsSync('/usr/bin/tempest')) return t.skip('tempest not installed (apt-get install tempest)');
  const dataDir = mkdtempSync(join(tmpdir(), 'monostack-image-tempest-'));
  const [idPort, imgPort] = [await freePort(), await freePort()];
  // Tempest's http_image: served on loopback, the only place web-download and http locations may reach.
  const blob = randomBytes(1 << 20);
  const web = createHttpServer((req, res) => {
    if (req.url !== '/cirros.img') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.length });
    res.end(req.method === 'HEAD' ? undefined : blob);
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
  const webPort = (web.address() as { port: number }).port;
  const child = spawn(process.execPath, [mainJs, 'up', '--data-dir', dataDir, '--port', String(idPort), '--admin-port', '0', '--admin-password', 'tempest-admin'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env, MONOSTACK_IDENTITY_PASSWORD_HASH_ROUNDS: '4', MONOSTACK_DEFAULT_ENABLED_SERVICES: 'identity,image',
      MONOSTACK_IMAGE_PORT: String(imgPort), MONOSTACK_IMAGE_ENABLED_BACKENDS: 'file:file,file2:file,http:http',
      MONOSTACK_IMAGE_SHOW_MULTIPLE_LOCATIONS: 'true',
      // Tempest's cache test lists the queue right after queueing, then waits for the fill.
      MONOSTACK_IMAGE_CACHE_PREFETCHER_INTERVAL: '10',
    },
  });
  try {
    await new Promise<void>((res, rej) => {
      let out = '';
      const timer = setTimeout(() => rej(new Error(`monostack up did not get ready: ${out}`)), 60_000);
      child.stdout.on('data', (d) => { out += d; if (out.includes('monostack ready')) { clearTimeout(timer); res(); } });
      child.stderr.on('data', (d) => { out += d; });
      child.on('exit', (c) => { clearTimeout(timer); rej(new Error(`monostack up exited ${c}: ${out}`)); });
    });
    const results = join(dataDir, 'tempest-results.txt');
    const summary = await new Promise<string>((res) => {
      execFile(HARNESS, ['--services', 'identity,image', '--regex', '^tempest\\.api\\.image\\.v2\\.', '--exclude', KNOWN_FAILURE,
        '--set', 'image-feature-enabled.import_image=True', '--set', 'image-feature-enabled.os_glance_reserved=True',
        '--set', 'image-feature-enabled.manage_locations=True', '--set', 'image.image_caching_enabled=True',
        '--set', `image.http_image=http://127.0.0.1:${webPort}/cirros.img`,
        '--concurrency', '2', '--results', results, '--workspace', join(dataDir, 'tempest'), '--always-zero'], {
        env: {
          ...process.env, OS_AUTH_URL: `http://127.0.0.1:${idPort}/v3`, OS_USERNAME: 'admin', OS_PASSWORD: 'tempest-admin',
          OS_PROJECT_NAME: 'admin', OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_REGION_NAME: 'RegionOne',
        },
        timeout: 840_000, maxBuffer: 64 * 1024 * 1024,
      }, (_err, stdout, stderr) => res(`${stdout}\n${stderr}`));
    });
    const m = /tempest: (\d+) passed, (\d+) failed, (\d+) skipped/.exec(summary);
    assert.ok(m, `no tempest summary line in:\n${summary.slice(-3000)}`);
    const [passed, failed] = [Number(m[1]), Number(m[2])];
    const failures = existsSync(results) ? readFileSync(results, 'utf8').split('\n').filter((l) => l.startsWith('fail')).join('\n') : '';
    t.diagnostic(m[0]);
    assert.equal(failed, 0, `Tempest failures:\n${failures}\n${existsSync(results + '.details') ? readFileSync(results + '.details', 'utf8').slice(0, 5000) : ''}`);
    assert.ok(passed >= 80, `expected the 80 image v2 tests Glance passes, got ${passed}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => web.close(r));
    rmSync(dataDir, { recursive: true, force: true });
  }
});

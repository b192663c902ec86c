// Shared by the end-to-end tests: where the checkout is, a free loopback port, the Tempest harness.

import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding package.json, found from a module's own location (works from src and dist). */
export function projectRoot(fromUrl: string = import.meta.url): string {
  let d = dirname(fileURLToPath(fromUrl));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error(`no package.json above ${fileURLToPath(fromUrl)}`);
    d = up;
  }
  return d;
}

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => res(typeof a === 'object' && a ? a.port : 0)); });
    s.on('error', rej);
  });
}

/** The shared Tempest harness (tempest.sh): $MONOSTACK_TEMPEST_SH, ../shared beside the checkout, or /work/shared. */
export function tempestHarness(): string | undefined {
  return [process.env.MONOSTACK_TEMPEST_SH, join(projectRoot(), '..', 'shared', 'conformance', 'tempest.sh'), '/work/shared/conformance/tempest.sh']
    .find((p): p is string => !!p && existsSync(p));
}

// A cloud whose start fails (a port already taken) must leave nothing behind: no server, timer or
// database handle that would keep the process — a test file, CI — alive for ever.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { startTestCloud } from './test-cloud.js';

function occupy(): Promise<{ server: Server; port: number }> {
  return new Promise((res) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => res({ server, port: (server.address() as { port: number }).port }));
  });
}

// Listening servers, sockets and timers: what keeps a process alive.
const handles = () => process.getActiveResourcesInfo().filter((r) => /^(TCPServerWrap|TCPWrap|Timeout|PipeServerWrap)$/.test(r)).sort();

for (const [what, config] of [
  ['identity', (port: number) => ({ identity: { port } })],
  ['compute API', (port: number) => ({ compute: { port } })],
  ['compute metadata API (after the compute API listens)', (port: number) => ({ compute: { metadata_port: port } })],
  ['network', (port: number) => ({ network: { port } })],
] as const) {
  test(`a taken ${what} port: start fails with EADDRINUSE and leaves no handle`, async () => {
    const { server, port } = await occupy();
    try {
      const before = handles();
      await assert.rejects(startTestCloud({ services: ['placement', 'network', 'compute'], config: config(port) }), /EADDRINUSE/);
      // Closed sockets and timers leave the list on the next turns of the loop.
      for (let i = 0; i < 50 && handles().length > before.length; i++) await new Promise((r) => setTimeout(r, 20).unref());
      const after = handles();
      for (const kind of new Set(after)) {
        assert.ok(after.filter((h) => h === kind).length <= before.filter((h) => h === kind).length, `left behind: ${after.join(', ')} (before: ${before.join(', ')})`);
      }
    } finally {
      server.close();
    }
  });
}

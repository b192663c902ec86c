// Prints N (default 1) distinct loopback ports that nobody listens on right now, one a line, for the
// scripts that start a cloud on free ports (scripts/tempest-*.sh):
//
//   ports=($(node scripts/lib/free-port.mjs 8))
//
// As src/common/testing/process.ts's freePort: the ports are drawn at random below the kernel's
// ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default) and checked free by a listen.
// A port the kernel hands out itself (listen on port 0) can be taken by any outgoing connection of
// the machine between this probe and the cloud's own listen; ports below that range are never given
// to outgoing connections, so only another listener can race for them.
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';

const count = Number(process.argv[2] ?? 1);
if (!Number.isInteger(count) || count < 1 || count > 100) {
  process.stderr.write('usage: node free-port.mjs [COUNT 1-100]\n');
  process.exit(2);
}

function ephemeralLow() {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 21000) return low;
  } catch { /* not Linux: the IANA default */ }
  return 32768;
}

function canListen(port) {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

const [lo, hi] = [20000, ephemeralLow() - 1];
const ports = new Set();
for (let tries = 0; ports.size < count; tries++) {
  if (tries >= 50 * count) {
    process.stderr.write(`free-port: no ${count} free loopback ports in ${lo}-${hi}\n`);
    process.exit(1);
  }
  const port = lo + Math.floor(Math.random() * (hi - lo + 1));
  if (!ports.has(port) && await canListen(port)) ports.add(port);
}
process.stdout.write([...ports].join('\n') + '\n');

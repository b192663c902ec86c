// How long a security-group change takes to be in force: from the call to reconcile() until the
// traffic between two guests shows the new verdict. A ping stream (every 10 ms) runs through the
// change; the benchmark calls this the same way the test does.

import { spawn, type ChildProcess } from 'node:child_process';
import type { HostNetworkState, NetworkDataplane } from './driver.js';

/** `busybox ping -i 0.01` from a namespace, with the arrival time of each reply. */
export class PingStream {
  readonly replies: number[] = [];
  private child: ChildProcess;
  constructor(ns: string, dst: string, intervalS = 0.01) {
    this.child = spawn('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-i', String(intervalS), dst], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => { for (const l of d.split('\n')) if (l.includes('seq=')) this.replies.push(performance.now()); });
  }
  lastReply(): number { return this.replies.at(-1) ?? -Infinity; }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await done;
  }
}

export interface RuleChangeTiming {
  /** reconcile() call to its return */
  reconcileMs: number;
  /** reconcile() call to the moment traffic showed the new verdict (within the stream's interval) */
  inForceMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Apply `next` and time until `stream` shows the expected verdict: `allowed` = a reply arrives
 * after the call; blocked = the time of the last reply before replies stopped for `quietMs`.
 */
export async function measureRuleChange(dp: NetworkDataplane, next: HostNetworkState, stream: PingStream, allowed: boolean,
  { timeoutMs = 5000, quietMs = 300 } = {}): Promise<RuleChangeTiming> {
  const t0 = performance.now();
  await dp.reconcile(next);
  const reconcileMs = performance.now() - t0;
  if (allowed) {
    while (stream.lastReply() < t0) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`traffic not allowed ${timeoutMs} ms after the change`);
      await sleep(2);
    }
    return { reconcileMs, inForceMs: stream.replies.find((x) => x >= t0)! - t0 };
  }
  while (performance.now() - Math.max(stream.lastReply(), t0) < quietMs) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`traffic still flowing ${timeoutMs} ms after the change`);
    await sleep(5);
  }
  return { reconcileMs, inForceMs: Math.max(0, stream.lastReply() - t0) };
}

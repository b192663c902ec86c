// The one way to run an external command: an argument array, never a shell string.

import { execFile } from 'node:child_process';

export interface RunResult { stdout: string; stderr: string }

export function run(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(cmd, args as string[], { timeout: opts.timeoutMs ?? 60_000, env: opts.env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(Object.assign(new Error(`${cmd} ${args.join(' ')} failed: ${stderr || err.message}`), { cause: err, stdout, stderr }));
      } else resolvePromise({ stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

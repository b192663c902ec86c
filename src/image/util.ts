// Small helpers every part of the image service uses; this module imports nothing of the service.

import type { Logger } from '../common/log.js';

export const nowIso = (): string => new Date().toISOString();

/** Glance's timestamps: seconds, Z (glance.common.timeutils.isotime). */
export function isotime(s: string | null | undefined): string | null {
  if (!s) return null;
  return s.replace(/\.\d+Z$/, 'Z');
}

export function parseJson<T>(s: string | null | undefined, dflt: T): T {
  if (s === null || s === undefined || s === '') return dflt;
  try { return JSON.parse(s) as T; } catch { return dflt; }
}

/** Runs work after the response, tracked so the service can wait for it on close. */
export function inBackground(ctx: { log: Logger; background: Set<Promise<unknown>> }, work: () => Promise<unknown>): void {
  const p = work().catch((e: unknown) => ctx.log.error({ err: e }, 'background work failed'));
  ctx.background.add(p);
  void p.finally(() => ctx.background.delete(p));
}

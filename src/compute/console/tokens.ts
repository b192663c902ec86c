// Console access tokens (Nova's console_auth_tokens): a random token handed to the client inside
// the console URL, stored only as its sha256, valid for a short time, bound to one instance.

import { createHash, randomBytes } from 'node:crypto';
import type { ComputeContext } from '../context.js';

export const CONSOLE_TOKEN_TTL_SEC = 600;

const hash = (t: string) => createHash('sha256').update(t).digest('hex');

/** A new token for the instance's console of `type` (novnc), and when it expires. */
export async function createConsoleToken(ctx: ComputeContext, instanceUuid: string, host: string, type: string): Promise<{ token: string; expires: number }> {
  const token = randomBytes(24).toString('base64url');
  const expires = Date.now() + CONSOLE_TOKEN_TTL_SEC * 1000;
  await ctx.db.deleteFrom('console_auth_tokens').where('expires', '<', Date.now()).execute();
  await ctx.db.insertInto('console_auth_tokens').values({ token_hash: hash(token), instance_uuid: instanceUuid, console_type: type, host, expires }).execute();
  return { token, expires };
}

/** The instance a token opens, or null when it is unknown or expired. */
export async function resolveConsoleToken(ctx: ComputeContext, token: string): Promise<{ instanceUuid: string; host: string; type: string } | null> {
  if (!token || token.length > 200) return null;
  const r = await ctx.db.selectFrom('console_auth_tokens').selectAll().where('token_hash', '=', hash(token)).executeTakeFirst();
  if (!r || Number(r.expires) < Date.now()) return null;
  return { instanceUuid: r.instance_uuid as string, host: r.host as string, type: r.console_type as string };
}

// Users and their passwords: Keystone's rules for password history, expiry, minimum age, the
// password regex and account lockout ([security_compliance] options in our config's [identity]).

import { ApiError } from '../common/errors.js';
import type { IdentityContext } from './context.js';
import { isoTime, newId, parseJson } from './context.js';
import { hashPassword, verifyPassword, type HashAlgorithm } from './passwords.js';
import type { FastifyRequest } from 'fastify';
import { selfLink } from './context.js';

export interface UserRow {
  id: string; domain_id: string; name: string; enabled: number; default_project_id: string | null;
  extra: string; options: string; created_at: string; last_active_at: string | null;
  failed_auth_count: number; failed_auth_at: string | null;
}

/** User options Keystone knows; anything else is refused with 400. */
export const USER_OPTIONS = new Set([
  'ignore_change_password_upon_first_use', 'ignore_password_expiry', 'ignore_lockout_failure_attempts',
  'lock_password', 'multi_factor_auth_enabled', 'multi_factor_auth_rules', 'ignore_user_inactivity',
]);

export async function getUser(ctx: IdentityContext, id: string): Promise<UserRow> {
  const u = await ctx.db.selectFrom('identity_user').selectAll().where('id', '=', id).executeTakeFirst();
  if (!u) throw new ApiError('NotFound', `Could not find user: ${id}.`);
  return u as UserRow;
}

export async function currentPassword(ctx: IdentityContext, userId: string): Promise<{ password_hash: string; created_at: string; expires_at: string | null; self_service: number } | undefined> {
  return ctx.db.selectFrom('password').select(['password_hash', 'created_at', 'expires_at', 'self_service'])
    .where('user_id', '=', userId).orderBy('created_at', 'desc').limit(1).executeTakeFirst();
}

export async function formatUser(ctx: IdentityContext, req: FastifyRequest, u: UserRow): Promise<Record<string, unknown>> {
  const pw = await currentPassword(ctx, u.id);
  const out: Record<string, unknown> = {
    ...parseJson(u.extra, {}),
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: !!u.enabled,
    password_expires_at: isoTime(pw?.expires_at ?? null),
    options: parseJson(u.options, {}),
    links: selfLink(req, `users/${u.id}`),
  };
  if (u.default_project_id) out.default_project_id = u.default_project_id;
  return out;
}

function hashAlgorithm(ctx: IdentityContext): HashAlgorithm {
  return ctx.cfg.identity.password_hash_algorithm === 'scrypt' ? 'scrypt' : 'bcrypt';
}

/** Validates a new password against length and the configured regex (400 on failure). */
export function checkPasswordRules(ctx: IdentityContext, password: unknown): string {
  if (typeof password !== 'string') throw new ApiError('BadRequest', "Invalid input for field 'password': expected a string.");
  if (password.length > ctx.cfg.identity.max_password_length) throw new ApiError('BadRequest', `Invalid input for field 'password': longer than ${ctx.cfg.identity.max_password_length} characters.`);
  const rx = ctx.cfg.identity.password_regex;
  if (rx && !new RegExp(rx, 'y').test(password)) { // anchored at the start, as Python's re.match
    const why = ctx.cfg.identity.password_regex_description || `must match ${rx}`;
    throw new ApiError('BadRequest', `The password does not match the requirements: ${why}.`);
  }
  return password;
}

/**
 * Stores a new password. `selfService`: the user changes its own (min age and history apply);
 * otherwise an admin sets it (and with change_password_upon_first_use, it expires at once).
 */
export async function setPassword(ctx: IdentityContext, u: UserRow, password: string, selfService: boolean): Promise<void> {
  checkPasswordRules(ctx, password);
  const opts = parseJson<Record<string, unknown>>(u.options, {});
  const sc = ctx.cfg.identity;
  if (selfService) {
    const cur = await currentPassword(ctx, u.id);
    if (cur && sc.minimum_password_age > 0 && !cur.expires_at?.startsWith('1970')) {
      const age = Date.now() - new Date(cur.created_at).getTime();
      if (age < sc.minimum_password_age * 86400_000) {
        throw new ApiError('BadRequest', `You cannot change your password at this time due to the minimum password age. Once you change your password, it must be used for ${sc.minimum_password_age} day(s) before it can be changed. Please try again in ${Math.ceil((sc.minimum_password_age * 86400_000 - age) / 86400_000)} day(s) or contact your administrator to reset your password.`);
      }
    }
    const count = Math.max(1, sc.unique_last_password_count);
    if (sc.unique_last_password_count > 0) {
      const history = await ctx.db.selectFrom('password').select('password_hash').where('user_id', '=', u.id)
        .orderBy('created_at', 'desc').limit(count).execute();
      for (const h of history as Array<{ password_hash: string }>) {
        if (await verifyPassword(password, h.password_hash)) {
          throw new ApiError('BadRequest', `The new password cannot be identical to a previous password. The total number which includes the new password must be unique is ${sc.unique_last_password_count}.`);
        }
      }
    }
  }
  const now = new Date();
  let expiresAt: string | null = null;
  if (!selfService && sc.change_password_upon_first_use && !opts.ignore_change_password_upon_first_use) {
    expiresAt = now.toISOString(); // must be changed before first use
  } else if (sc.password_expires_days > 0 && !opts.ignore_password_expiry) {
    expiresAt = new Date(now.getTime() + sc.password_expires_days * 86400_000).toISOString();
  }
  const hash = await hashPassword(password, hashAlgorithm(ctx), sc.password_hash_rounds);
  await ctx.db.insertInto('password').values({
    id: newId(), user_id: u.id, password_hash: hash, created_at: now.toISOString(), expires_at: expiresAt, self_service: selfService ? 1 : 0,
  }).execute();
  // Keep only the history we need (the current + unique_last_password_count).
  const keep = Math.max(1, sc.unique_last_password_count);
  const old = await ctx.db.selectFrom('password').select('id').where('user_id', '=', u.id).orderBy('created_at', 'desc').offset(keep).limit(1000).execute();
  if (old.length) await ctx.db.deleteFrom('password').where('id', 'in', old.map((r: { id: string }) => r.id)).execute();
}

/**
 * Checks a user's password for login: lockout, the password itself, expiry. Every failure is the
 * same 401 to the caller (no oracle), with the reason in our log.
 */
export async function checkLoginPassword(ctx: IdentityContext, u: UserRow, password: string): Promise<void> {
  const sc = ctx.cfg.identity;
  const opts = parseJson<Record<string, unknown>>(u.options, {});
  const lockable = sc.lockout_failure_attempts > 0 && !opts.ignore_lockout_failure_attempts;
  if (lockable && u.failed_auth_count >= sc.lockout_failure_attempts && u.failed_auth_at) {
    const until = new Date(u.failed_auth_at).getTime() + sc.lockout_duration * 1000;
    if (Date.now() < until) {
      throw new ApiError('Unauthorized', 'The account is locked for user: ' + u.id + '.');
    }
  }
  if (!u.enabled) throw new ApiError('Unauthorized', 'The request you have made requires authentication.'); // Keystone says no more
  const pw = await currentPassword(ctx, u.id);
  const ok = pw ? await verifyPassword(password, pw.password_hash) : false;
  if (!ok) {
    if (lockable) {
      await ctx.db.updateTable('identity_user').set({ failed_auth_count: u.failed_auth_count + 1, failed_auth_at: new Date().toISOString() }).where('id', '=', u.id).execute();
    }
    throw new ApiError('Unauthorized', 'The request you have made requires authentication.');
  }
  if (pw!.expires_at && new Date(pw!.expires_at).getTime() <= Date.now() && !opts.ignore_password_expiry) {
    throw new ApiError('Unauthorized', `The password is expired and needs to be changed for user: ${u.id}.`);
  }
  if (u.failed_auth_count > 0 || (sc.disable_user_account_days_inactive > 0)) {
    await ctx.db.updateTable('identity_user').set({ failed_auth_count: 0, failed_auth_at: null, last_active_at: new Date().toISOString().slice(0, 10) }).where('id', '=', u.id).execute();
  }
}

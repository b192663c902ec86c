// Interop proof against the real thing: Debian's python3-keystone (Keystone 22) makes tokens
// from a key repository created by our code and we validate them; we make tokens and Keystone
// validates them; both sides must agree on every field and on the exact payload bytes. The
// Python side is testdata/keystone_tokens.py, which calls keystone.token.token_formatters.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FernetKey } from './fernet.js';
import { InvalidToken, TokenFormatter, type TokenPayload } from './formatter.js';
import { KeyRepository, rotateKeys, setupKeyRepository } from './keys.js';
import { encodePayload, PAYLOAD_VERSION, type PayloadKind } from './payload.js';
import { CASES } from './testdata/cases.js';

const PYTHON = '/usr/bin/python3';
const MAX_ACTIVE_KEYS = 3;

/** The folder holding monostack's package.json, from the compiled file's location or the cwd. */
function projectRoot(): string | undefined {
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const pkg = join(dir, 'package.json');
      if (existsSync(pkg)) {
        try {
          if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'monostack') return dir;
        } catch {
          // not ours; keep walking
        }
      }
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}

const ROOT = projectRoot();
const SCRIPT = ROOT && join(ROOT, 'src/identity/token/testdata/keystone_tokens.py');

/** Why the interop tests cannot run here, or undefined when they can. */
function unavailable(): string | undefined {
  if (!SCRIPT || !existsSync(SCRIPT)) return 'python3-keystone not installed: cannot locate testdata/keystone_tokens.py';
  try {
    execFileSync(PYTHON, ['-c', 'import keystone.token.token_formatters'], { stdio: 'pipe', timeout: 60_000 });
    return undefined;
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    const detail = e.stderr?.toString().trim().split('\n').at(-1) ?? e.message;
    return `python3-keystone not installed: ${detail}`;
  }
}

const SKIP = unavailable();

function skipped(t: TestContext): boolean {
  if (SKIP === undefined) return false;
  console.log(`# skipping Keystone interop: ${SKIP}`);
  t.skip(SKIP);
  return true;
}

function keystone<T>(mode: string, repo: string, input?: unknown, extra: string[] = []): T {
  const out = execFileSync(PYTHON, [SCRIPT!, mode, repo, String(MAX_ACTIVE_KEYS), ...extra], {
    input: input === undefined ? '' : JSON.stringify(input),
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  return JSON.parse(out) as T;
}

function tempRepo(t: TestContext): { base: string; dir: string } {
  const base = mkdtempSync(join(tmpdir(), 'fernet-interop-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const dir = join(base, 'fernet-keys');
  setupKeyRepository(dir, MAX_ACTIVE_KEYS);
  return { base, dir };
}

/** What keystone.token.token_formatters.create_token takes (see keystone_tokens.py). */
function keystoneSpec(kind: PayloadKind, p: TokenPayload): Record<string, unknown> {
  return {
    kind,
    user_id: p.userId,
    methods: p.methods,
    expires_at: p.expiresAt.toISOString(),
    audit_ids: p.auditIds,
    system: p.systemScope,
    domain_id: p.domainId,
    project_id: p.projectId,
    trust_id: p.trustId,
    federated_group_ids: p.federatedGroupIds,
    identity_provider_id: p.identityProviderId,
    protocol_id: p.protocolId,
    access_token_id: p.accessTokenId,
    app_cred_id: p.appCredId,
  };
}

interface KeystoneFields {
  error?: string;
  version: number;
  payload_hex: string;
  user_id: string;
  methods: string[];
  audit_ids: string[];
  system: string | null;
  domain_id: string | null;
  project_id: string | null;
  trust_id: string | null;
  federated_group_ids: string[] | null;
  identity_provider_id: string | null;
  protocol_id: string | null;
  access_token_id: string | null;
  app_cred_id: string | null;
  issued_at: string;
  expires_at: string;
}

/** keystone.common.utils.isotime(at, subsecond=True): whole seconds, then `.000000Z`. */
const isotime = (d: Date): string => `${d.toISOString().slice(0, 19)}.000000Z`;

test('Keystone-made tokens of every kind validate here, field for field and byte for byte', (t) => {
  if (skipped(t)) return;
  const { dir } = tempRepo(t);
  const made = keystone<Array<{ token: string; payload_hex: string }>>(
    'create',
    dir,
    CASES.map((c) => keystoneSpec(c.kind, c.payload)),
  );
  const f = new TokenFormatter(() => new KeyRepository(dir).keys());
  const now = Date.now();
  CASES.forEach((c, i) => {
    const { token, payload_hex } = made[i]!;
    assert.doesNotMatch(token, /=/, 'Keystone strips the padding');
    assert.equal(encodePayload(c.payload).toString('hex'), payload_hex, `${c.name}: same msgpack bytes as Keystone`);
    assert.deepEqual(f.validate(token), c.payload, c.name);
    assert.ok(Math.abs(f.createdAt(token).getTime() - now) < 60_000, `${c.name}: issued_at`);
  });
});

test('tokens made here validate in Keystone with the same fields and payload bytes', (t) => {
  if (skipped(t)) return;
  const { dir } = tempRepo(t);
  const f = new TokenFormatter(() => new KeyRepository(dir).keys());
  const tokens = CASES.map((c) => f.create(c.payload));
  const seen = keystone<KeystoneFields[]>('validate', dir, tokens);
  CASES.forEach((c, i) => {
    const k = seen[i]!;
    const p = c.payload;
    assert.equal(k.error, undefined, `${c.name}: ${k.error}`);
    assert.equal(k.version, PAYLOAD_VERSION[c.kind], c.name);
    assert.equal(k.payload_hex, encodePayload(p).toString('hex'), c.name);
    assert.deepEqual(
      {
        user_id: k.user_id,
        methods: k.methods,
        audit_ids: k.audit_ids,
        system: k.system,
        domain_id: k.domain_id,
        project_id: k.project_id,
        trust_id: k.trust_id,
        federated_group_ids: k.federated_group_ids,
        identity_provider_id: k.identity_provider_id,
        protocol_id: k.protocol_id,
        access_token_id: k.access_token_id,
        app_cred_id: k.app_cred_id,
        expires_at: k.expires_at,
        issued_at: k.issued_at,
      },
      {
        user_id: p.userId,
        methods: p.methods,
        audit_ids: p.auditIds,
        system: p.systemScope ?? null,
        domain_id: p.domainId ?? null,
        project_id: p.projectId ?? null,
        trust_id: p.trustId ?? null,
        federated_group_ids: p.federatedGroupIds ?? null,
        identity_provider_id: p.identityProviderId ?? null,
        protocol_id: p.protocolId ?? null,
        access_token_id: p.accessTokenId ?? null,
        app_cred_id: p.appCredId ?? null,
        expires_at: isotime(p.expiresAt),
        issued_at: isotime(f.createdAt(tokens[i]!)),
      },
      c.name,
    );
  });
});

test('both sides reject foreign and tampered tokens', (t) => {
  if (skipped(t)) return;
  const { dir } = tempRepo(t);
  const ours = new TokenFormatter(() => new KeyRepository(dir).keys());
  const foreign = new TokenFormatter(() => [FernetKey.generate()]);
  const good = ours.create(CASES[3]!.payload);
  const mid = Math.floor(good.length / 2);
  const tampered = good.slice(0, mid) + (good[mid] === 'A' ? 'B' : 'A') + good.slice(mid + 1);
  const fromElsewhere = foreign.create(CASES[3]!.payload);

  const seen = keystone<KeystoneFields[]>('validate', dir, [good, tampered, fromElsewhere]);
  assert.equal(seen[0]!.error, undefined);
  assert.match(seen[1]!.error ?? '', /ValidationError/);
  assert.match(seen[2]!.error ?? '', /ValidationError/);
  assert.throws(() => ours.validate(tampered), InvalidToken);
  assert.throws(() => ours.validate(fromElsewhere), InvalidToken);
});

test('key repository: same numbering as keystone-manage, and rotations interoperate', (t) => {
  if (skipped(t)) return;
  const { base, dir } = tempRepo(t);
  const ksDir = join(base, 'keystone-keys');
  const names = (d: string): string[] => readdirSync(d).sort((a, b) => Number(a) - Number(b));

  // Same layout after setup and after each of 4 rotations.
  assert.deepEqual(keystone<string[]>('setup', ksDir), names(dir));
  const ksSteps = keystone<string[][]>('rotate', ksDir, undefined, ['4']);
  const ourSteps = [1, 2, 3, 4].map(() => {
    rotateKeys(dir, MAX_ACTIVE_KEYS);
    return names(dir);
  });
  assert.deepEqual(ourSteps, ksSteps);
  assert.deepEqual(ourSteps.at(-1), ['0', '4', '5']);

  // Keystone rotates a repository we manage: we keep validating through it, and a key it
  // purged stops working on both sides.
  const repo = new KeyRepository(dir, { recheckIntervalMs: 0 });
  const f = new TokenFormatter(() => repo.keys());
  const old = f.create(CASES[0]!.payload);
  keystone('rotate', dir);
  const afterOne = keystone<Array<{ token: string }>>('create', dir, [keystoneSpec(CASES[0]!.kind, CASES[0]!.payload)])[0]!.token;
  assert.deepEqual(f.validate(old), CASES[0]!.payload, 'old primary is now a secondary');
  assert.deepEqual(f.validate(afterOne), CASES[0]!.payload, 'Keystone encrypts with its new primary, which we picked up');
  assert.equal(f.create(CASES[0]!.payload).length > 0, true);
  keystone('rotate', dir);
  assert.throws(() => f.validate(old), InvalidToken, 'the key was purged by Keystone');
  const seen = keystone<KeystoneFields[]>('validate', dir, [old, afterOne]);
  assert.match(seen[0]!.error ?? '', /ValidationError/);
  assert.equal(seen[1]!.error, undefined);
});

// The policy enforcer: registered defaults + operator overrides, compiled once, checked per call.
//
// Semantics follow oslo.policy's Enforcer as Keystone Zed configures it (enforce_scope=False,
// enforce_new_defaults=False unless told otherwise):
// - a policy file (YAML or JSON) replaces the named rules wholesale and may add new ones;
// - a default with a deprecated rule is checked as "new OR deprecated", unless enforceNewDefaults,
//   or unless the operator overrides it;
// - an operator override of a deprecated rule *name* keeps applying to the renamed rule;
// - with enforceScope, a registered rule with scopeTypes refuses a token of another scope;
// - `rule:X` for an unknown X uses the `default` rule when one is defined, else fails closed.
//
// Every rule is parsed and compiled to closures when the enforcer is built or reloaded, with rule
// references linked directly, so a check is a few function calls and no parsing or allocation
// beyond rendering %(..)s values.

import { readFileSync } from 'node:fs';
import { ApiError } from '../errors.js';
import {
  type Check,
  type Placeholder,
  type PolicyLogger,
  type Template,
  checkToString,
  consoleLogger,
  parseRule,
  parseTextRule,
  pyFloatStr,
} from './parser.js';
import { parsePolicyFile } from './policy-file.js';

export interface RuleDefault {
  name: string;
  checkStr: string;
  /** Token scopes the API is meant for: 'system', 'domain', 'project'. */
  scopeTypes?: string[];
  description?: string;
  deprecatedRule?: { name: string; checkStr: string };
}

/** What oslo.context's to_policy_values() gives: who is calling, with what token scope. */
export interface Credentials {
  user_id?: string;
  project_id?: string | null;
  domain_id?: string | null;
  /** 'all' for a system-scoped token. */
  system_scope?: string | null;
  roles: string[];
  is_admin?: boolean;
  [k: string]: unknown;
}

export interface EnforcerOptions {
  /** YAML or JSON overrides; a missing file means "no overrides", as in oslo. */
  policyFile?: string;
  enforceScope?: boolean;
  enforceNewDefaults?: boolean;
  /** Rule used for `rule:` references to undefined names (oslo's policy_default_rule). */
  defaultRule?: string;
  logger?: PolicyLogger;
}

/** authorize() on an action nobody registered: a programming error, not a 403. */
export class PolicyNotRegistered extends Error {
  readonly action: string;
  constructor(action: string) {
    super(`Policy ${action} has not been registered`);
    this.name = 'PolicyNotRegistered';
    this.action = action;
  }
}

/** Keystone's ForbiddenAction message, which clients and Tempest see. */
export function forbiddenAction(action: string): ApiError {
  return new ApiError('Forbidden', `You are not authorized to perform the requested action: ${action}.`);
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

interface EvalContext {
  readonly target: Record<string, unknown>;
  readonly creds: Credentials;
  /** creds.roles lowercased, built on first role check of this call. */
  roles: Set<string> | undefined;
}

type Evaluator = (ctx: EvalContext) => boolean;

const MISSING: unique symbol = Symbol('missing');
const hasOwn = Object.hasOwn as (o: object, k: string) => boolean;

/** Python's str() for the values policies compare, so 'None', 'True', '1' match as in OpenStack. */
export function pyStr(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'boolean':
      return v ? 'True' : 'False';
    case 'number':
      return Number.isInteger(v) ? String(v) : pyFloatStr(v);
    case 'bigint':
      return v.toString();
    case 'object':
      if (v === null) return 'None';
      if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
      if (v instanceof Date) return v.toISOString();
      return `{${Object.entries(v).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
    default:
      return String(v);
  }
}

function pyRepr(v: unknown): string {
  if (typeof v !== 'string') return pyStr(v);
  const q = v.includes("'") && !v.includes('"') ? '"' : "'";
  return q + v.replace(/\\/g, '\\\\').replace(new RegExp(q, 'g'), `\\${q}`) + q;
}

/**
 * A placeholder's lookup plan: the whole dotted key first (Keystone flattens targets to
 * {"target.project.id": ...}), then a walk through nested objects that also accepts partly
 * flattened levels ({target: {"project.id": ...}}). Keys are joined here, once.
 */
interface Lookup {
  readonly key: string;
  /** steps[i] = [joinedKey, nextIndex] pairs from segment i, longest first. */
  readonly steps: readonly (readonly [string, number])[][];
}

function planLookup(p: Placeholder): Lookup {
  const segs = p.segments;
  const steps: [string, number][][] = [];
  for (let i = 0; i < segs.length; i++) {
    const s: [string, number][] = [];
    for (let j = segs.length; j > i; j--) s.push([segs.slice(i, j).join('.'), j]);
    steps.push(s);
  }
  return { key: p.key, steps };
}

function walk(obj: unknown, plan: Lookup, i: number): unknown {
  if (i === plan.steps.length) return obj;
  if (obj === null || typeof obj !== 'object') return MISSING;
  for (const [k, next] of plan.steps[i]!) {
    if (hasOwn(obj, k)) {
      const r = walk((obj as Record<string, unknown>)[k], plan, next);
      if (r !== MISSING) return r;
    }
  }
  return MISSING;
}

function lookupTarget(target: Record<string, unknown>, plan: Lookup): unknown {
  const v = hasOwn(target, plan.key) ? target[plan.key] : plan.steps.length > 1 ? walk(target, plan, 0) : MISSING;
  // JS-only `undefined` counts as absent, like a key Python never had.
  return v === undefined ? MISSING : v;
}

/** `match % target`: the rendered string, or undefined where Python raises KeyError (fail closed). */
function compileRender(t: Template): (target: Record<string, unknown>) => string | undefined {
  if (t.constant !== undefined) {
    const c = t.constant;
    return () => c;
  }
  const parts = t.parts.map((p) => (typeof p === 'string' ? p : planLookup(p)));
  if (parts.length === 1) {
    const plan = parts[0] as Lookup;
    return (target) => {
      const v = lookupTarget(target, plan);
      return v === MISSING ? undefined : pyStr(v);
    };
  }
  return (target) => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') {
        out += p;
        continue;
      }
      const v = lookupTarget(target, p);
      if (v === MISSING) return undefined;
      out += pyStr(v);
    }
    return out;
  };
}

/** oslo's GenericCheck._find_in_dict: walk creds by path; lists match if any element matches. */
function findInCreds(v: unknown, path: readonly string[], i: number, match: string): boolean {
  if (i === path.length) return match === pyStr(v);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const k = path[i]!;
  if (!hasOwn(v, k)) return false;
  const next = (v as Record<string, unknown>)[k];
  if (next === undefined) return false;
  if (Array.isArray(next)) return next.some((x) => findInCreds(x, path, i + 1, match));
  return findInCreds(next, path, i + 1, match);
}

function credsRoot(creds: Credentials, key: string): unknown {
  // oslo copies system_scope into creds['system'] for services that check `system:all`.
  if (key === 'system' && creds.system_scope) return creds.system_scope;
  return hasOwn(creds, key) ? creds[key] : undefined;
}

function rolesOf(ctx: EvalContext): Set<string> {
  if (ctx.roles === undefined) {
    const roles = Array.isArray(ctx.creds.roles) ? ctx.creds.roles : [];
    ctx.roles = new Set(roles.map((r) => String(r).toLowerCase()));
  }
  return ctx.roles;
}

const ALWAYS: Evaluator = () => true;
const NEVER: Evaluator = () => false;

/** Compile a check tree to closures; `ref` resolves rule:NAME to the linked rule's evaluator. */
function compile(check: Check, ref: (name: string) => Evaluator): Evaluator {
  switch (check.type) {
    case 'true':
      return ALWAYS;
    case 'false':
    case 'unsupported':
      return NEVER;
    case 'not': {
      const inner = compile(check.check, ref);
      return (ctx) => !inner(ctx);
    }
    case 'and': {
      const fns = check.checks.map((c) => compile(c, ref));
      if (fns.length === 2) {
        const [a, b] = fns as [Evaluator, Evaluator];
        return (ctx) => a(ctx) && b(ctx);
      }
      return (ctx) => fns.every((f) => f(ctx));
    }
    case 'or': {
      const fns = check.checks.map((c) => compile(c, ref));
      if (fns.length === 2) {
        const [a, b] = fns as [Evaluator, Evaluator];
        return (ctx) => a(ctx) || b(ctx);
      }
      return (ctx) => fns.some((f) => f(ctx));
    }
    case 'rule':
      return ref(check.match);
    case 'role': {
      if (check.template.constant !== undefined) {
        const want = check.template.constant.toLowerCase();
        return (ctx) => rolesOf(ctx).has(want);
      }
      const render = compileRender(check.template);
      return (ctx) => {
        const m = render(ctx.target);
        return m !== undefined && rolesOf(ctx).has(m.toLowerCase());
      };
    }
    case 'generic': {
      const render = compileRender(check.template);
      if (check.literal !== undefined) {
        const lit = check.literal;
        return (ctx) => render(ctx.target) === lit;
      }
      const path = check.path;
      const first = path[0]!;
      return (ctx) => {
        const m = render(ctx.target);
        if (m === undefined) return false;
        const v = credsRoot(ctx.creds, first);
        if (v === undefined) return false;
        if (Array.isArray(v)) return v.some((x) => findInCreds(x, path, 1, m));
        return findInCreds(v, path, 1, m);
      };
    }
  }
}

/** Names of rules referenced by rule:NAME anywhere in the tree. */
function refsOf(check: Check, out: string[] = []): string[] {
  switch (check.type) {
    case 'rule':
      out.push(check.match);
      break;
    case 'not':
      refsOf(check.check, out);
      break;
    case 'and':
    case 'or':
      for (const c of check.checks) refsOf(c, out);
      break;
  }
  return out;
}

/** Rules that reach themselves through rule: references (Tarjan's strongly connected components). */
function rulesOnCycles(graph: Map<string, string[]>): Set<string> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cyclic = new Set<string>();
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const members: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        members.push(w);
      } while (w !== v);
      if (members.length > 1 || (graph.get(v) ?? []).includes(v)) for (const m of members) cyclic.add(m);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cyclic;
}

// ---------------------------------------------------------------------------------------------

interface ParsedDefault {
  readonly rule: RuleDefault;
  readonly check: Check;
  readonly deprecated: Check | undefined;
}

interface CompiledRule {
  readonly check: Check;
  readonly fn: Evaluator;
}

export class Enforcer {
  private readonly defaults = new Map<string, ParsedDefault>();
  private readonly opts: Readonly<EnforcerOptions>;
  private readonly log: PolicyLogger;
  private readonly defaultRuleName: string;
  private rules = new Map<string, CompiledRule>();

  constructor(defaults: RuleDefault[], opts: EnforcerOptions = {}) {
    this.opts = { ...opts };
    this.log = opts.logger ?? consoleLogger;
    this.defaultRuleName = opts.defaultRule ?? 'default';
    for (const d of defaults) {
      if (this.defaults.has(d.name)) throw new Error(`Policy ${d.name} is already registered`);
      this.defaults.set(d.name, {
        rule: d,
        check: parseTextRule(d.checkStr, this.log),
        deprecated: d.deprecatedRule ? parseTextRule(d.deprecatedRule.checkStr, this.log) : undefined,
      });
    }
    this.build(this.readPolicyFile());
  }

  /** Re-read the policy file; on a broken file, keep the current rules and throw. */
  reload(): void {
    this.build(this.readPolicyFile());
  }

  /** oslo's enforce(): false when refused; an unknown action falls back to `default`, else false. */
  check(action: string, target: Record<string, unknown>, creds: Credentials): boolean {
    const rule = this.rules.get(action) ?? this.rules.get(this.defaultRuleName);
    if (rule === undefined) return false;
    const reg = this.defaults.get(action)?.rule;
    if (this.opts.enforceScope && reg?.scopeTypes?.length && !reg.scopeTypes.includes(tokenScope(creds))) {
      return false;
    }
    return rule.fn({ target, creds, roles: undefined });
  }

  /** check() for a registered action, throwing Keystone's 403 when refused. */
  authorize(action: string, target: Record<string, unknown>, creds: Credentials): void {
    if (!this.defaults.has(action)) throw new PolicyNotRegistered(action);
    if (!this.check(action, target, creds)) throw forbiddenAction(action);
  }

  /** The rule in force for a name, in oslo's canonical form (for logs, tests and diagnostics). */
  effectiveRule(name: string): string | undefined {
    const r = this.rules.get(name);
    return r && checkToString(r.check);
  }

  /** Whether an action was registered (authorize() accepts only those). */
  isRegistered(name: string): boolean {
    return this.defaults.has(name);
  }

  private readPolicyFile(): Map<string, unknown> {
    const path = this.opts.policyFile;
    if (!path) return new Map();
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.log.debug?.(`The policy file ${path} could not be found.`);
        return new Map();
      }
      throw e;
    }
    try {
      return parsePolicyFile(text);
    } catch (e) {
      throw new Error(`Invalid policy file ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  private build(file: Map<string, unknown>): void {
    const checks = new Map<string, Check>();
    for (const [name, raw] of file) checks.set(name, parseRule(raw, this.log));
    const fileChecks = new Map(checks);
    for (const d of this.defaults.values()) {
      if (!checks.has(d.rule.name)) checks.set(d.rule.name, this.effectiveDefault(d, fileChecks));
    }

    const graph = new Map<string, string[]>();
    for (const [name, c] of checks) graph.set(name, refsOf(c));
    const cycles = rulesOnCycles(graph);
    const undefinedRefs = [...graph].filter(([, refs]) => refs.some((r) => !checks.has(r))).map(([n]) => n);
    if (undefinedRefs.length) this.log.warn(`Policies ${undefinedRefs.join(', ')} reference a rule that is not defined.`);
    if (cycles.size) {
      this.log.warn(`Policies ${[...cycles].join(', ')} are part of a cyclical reference and deny.`);
    }

    // Compile each rule once, referenced rules first, so rule:NAME links straight to its closure.
    const compiled = new Map<string, CompiledRule>();
    const inProgress = new Set<string>();
    const hasDefault = checks.has(this.defaultRuleName);
    const compileRule = (name: string): CompiledRule => {
      const done = compiled.get(name);
      if (done) return done;
      inProgress.add(name);
      const check = checks.get(name)!;
      // A rule on a cycle never terminates in oslo (RecursionError, a 500): here it denies.
      const fn = cycles.has(name)
        ? NEVER
        : compile(check, (ref) => {
            const target = checks.has(ref) ? ref : hasDefault ? this.defaultRuleName : undefined;
            if (target === undefined || inProgress.has(target)) return NEVER;
            return compileRule(target).fn;
          });
      inProgress.delete(name);
      const r = { check, fn };
      compiled.set(name, r);
      return r;
    };
    for (const name of checks.keys()) compileRule(name);
    this.rules = compiled;
  }

  /** oslo's _handle_deprecated_rule. */
  private effectiveDefault(d: ParsedDefault, fileChecks: Map<string, Check>): Check {
    const dep = d.rule.deprecatedRule;
    if (!dep || !d.deprecated) return d.check;
    const name = d.rule.name;
    const overriddenOld = fileChecks.get(dep.name);
    if (dep.name !== name && overriddenOld !== undefined) {
      this.log.warn(
        `Policy "${dep.name}" was renamed to "${name}"; the override of "${dep.name}" applies to "${name}". ` +
          `Rename it in the policy file.`,
      );
      // Unless the override just points at the new name (as generated sample files do).
      if (checkToString(overriddenOld) !== `rule:${name}` && !fileChecks.has(name)) return overriddenOld;
    }
    if (!this.opts.enforceNewDefaults && dep.checkStr !== d.rule.checkStr && !fileChecks.has(name)) {
      return { type: 'or', checks: [d.check, d.deprecated] };
    }
    return d.check;
  }
}

/** The token's scope as oslo sees it: system, else domain, else project. */
export function tokenScope(creds: Credentials): 'system' | 'domain' | 'project' {
  if (creds.system_scope || creds['system']) return 'system';
  if (creds.domain_id) return 'domain';
  return 'project';
}

// The OpenStack policy language (oslo.policy) parsed into a check tree.
//
// Behaviour follows oslo.policy's _parser.py / _checks.py so that an operator's policy file means
// the same thing here as in OpenStack: the same tokenizer (whitespace-split, parentheses peeled
// off token ends), the same greedy shift-reduce grammar (so `and` binds tighter than `or`, `not`
// binds tightest, and the same odd inputs are rejected), and the same fail-closed tolerance: a rule
// that cannot be parsed becomes a FalseCheck and is logged instead of throwing.

export interface PolicyLogger {
  warn(msg: string): void;
  debug?(msg: string): void;
}

/** Default sink: policy problems are operator problems, so they go to stderr. */
export const consoleLogger: PolicyLogger = {
  warn: (msg) => console.warn(`policy: ${msg}`),
};

/** A `%(key)s` placeholder, resolved against the target at check time. */
export interface Placeholder {
  readonly key: string;
  /** key.split('.'), for targets given as nested objects. */
  readonly segments: readonly string[];
}

/** A compiled Python `%`-format string: literal pieces and placeholders. */
export interface Template {
  readonly parts: readonly (string | Placeholder)[];
  /** Set when there are no placeholders: the string itself, so checks skip formatting. */
  readonly constant: string | undefined;
}

export type Check =
  | { readonly type: 'true' }
  | { readonly type: 'false' }
  | { readonly type: 'not'; readonly check: Check }
  | { readonly type: 'and'; readonly checks: Check[] }
  | { readonly type: 'or'; readonly checks: Check[] }
  /** rule:NAME — evaluate another rule (or `default` when NAME is unknown). */
  | { readonly type: 'rule'; readonly kind: string; readonly match: string }
  /** role:NAME — case-insensitive membership in creds.roles; NAME may use %(..)s. */
  | { readonly type: 'role'; readonly kind: string; readonly match: string; readonly template: Template }
  /**
   * KEY:VALUE — VALUE (after %(..)s substitution from the target) compared with the creds value at
   * dotted path KEY, or with KEY itself when KEY is a Python literal ('member', True, None, 1).
   */
  | {
      readonly type: 'generic';
      readonly kind: string;
      readonly match: string;
      readonly template: Template;
      /** str() of KEY when KEY is a literal; undefined when KEY is a creds path. */
      readonly literal: string | undefined;
      readonly path: readonly string[];
    }
  /** A check we parse but never grant (http:/https: would call out; bad templates). */
  | { readonly type: 'unsupported'; readonly kind: string; readonly match: string };

export const TRUE_CHECK: Check = Object.freeze({ type: 'true' });
export const FALSE_CHECK: Check = Object.freeze({ type: 'false' });

/** oslo's str(check): used in logs and to compare rules (e.g. an override equal to a default). */
export function checkToString(check: Check): string {
  switch (check.type) {
    case 'true':
      return '@';
    case 'false':
      return '!';
    case 'not':
      return `not ${checkToString(check.check)}`;
    case 'and':
      return `(${check.checks.map(checkToString).join(' and ')})`;
    case 'or':
      return `(${check.checks.map(checkToString).join(' or ')})`;
    default:
      return `${check.kind}:${check.match}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Python %-format with a mapping ("%(target.project.id)s"), compiled once per check.

/** Compile a Python mapping-format string, or return an error message for what we do not support. */
export function compileTemplate(s: string): Template | string {
  if (!s.includes('%')) return { parts: [s], constant: s };
  const parts: (string | Placeholder)[] = [];
  let lit = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c !== '%') {
      lit += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '%') {
      lit += '%';
      i += 2;
      continue;
    }
    if (next !== '(') return `unsupported format at "${s.slice(i)}" (only %(key)s and %% are)`;
    // CPython matches nested parentheses inside the key.
    let depth = 1;
    let j = i + 2;
    for (; j < s.length && depth > 0; j++) {
      if (s[j] === '(') depth++;
      else if (s[j] === ')') depth--;
    }
    if (depth !== 0) return 'incomplete format key';
    const key = s.slice(i + 2, j - 1);
    if (s[j] !== 's') return `unsupported conversion "%(${key})${s[j] ?? ''}" (only s is)`;
    if (lit) parts.push(lit);
    lit = '';
    parts.push({ key, segments: key.split('.') });
    i = j + 1;
  }
  if (lit || parts.length === 0) parts.push(lit);
  const constant = parts.every((p) => typeof p === 'string') ? (parts as string[]).join('') : undefined;
  return { parts, constant };
}

// ---------------------------------------------------------------------------------------------
// Python literals on the left of a generic check ('member':%(role.name)s, True:%(user.enabled)s).

const INT_RE = /^[+-]?(?:0|[1-9](?:_?\d)*)$/;
const RADIX_RE = /^0(?:x[0-9a-f](?:_?[0-9a-f])*|o[0-7](?:_?[0-7])*|b[01](?:_?[01])*)$/i;
const FLOAT_RE = /^[+-]?(?:\d+\.\d*|\.\d+|\d+(?=e))(?:e[+-]?\d+)?$/i;

/** str() of a Python float, close enough for policy comparisons. */
export function pyFloatStr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return `${n}.0`;
  return String(n).replace(/e([+-])(\d)$/, 'e$10$2');
}

/**
 * What ast.literal_eval(kind) then str() gives, or undefined when kind is not a literal (then it
 * names a path in the credentials).
 */
export function literalOf(kind: string): string | undefined {
  if (kind.length >= 2) {
    const q = kind[0];
    if ((q === "'" || q === '"') && kind[kind.length - 1] === q) {
      return unescapePy(kind.slice(1, -1));
    }
  }
  switch (kind) {
    case 'True':
    case 'False':
    case 'None':
      return kind;
  }
  if (INT_RE.test(kind)) return BigInt(kind.replace(/_/g, '')).toString();
  if (RADIX_RE.test(kind)) return BigInt(kind.replace(/_/g, '').toLowerCase()).toString();
  if (FLOAT_RE.test(kind)) return pyFloatStr(Number(kind));
  return undefined;
}

function unescapePy(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/g, (_m, e: string) => {
    switch (e[0]) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case '0':
        return '\0';
      case 'x':
      case 'u':
        return String.fromCharCode(parseInt(e.slice(1), 16));
      default:
        return e;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Single checks.

/** One `kind:match` token (or `@`, `!`) to a check, failing closed as oslo does. */
export function parseCheck(rule: string, log: PolicyLogger = consoleLogger): Check {
  if (rule === '!') return FALSE_CHECK;
  if (rule === '@') return TRUE_CHECK;
  const colon = rule.indexOf(':');
  if (colon < 0) {
    log.warn(`Failed to understand rule ${rule}`);
    return FALSE_CHECK;
  }
  const kind = rule.slice(0, colon);
  const match = rule.slice(colon + 1);
  if (kind === 'rule') return { type: 'rule', kind, match };
  if (kind === 'http' || kind === 'https') {
    // oslo would POST the target and creds to that URL; we never call out, so it never grants.
    log.warn(`${kind} check "${rule}" is not supported and always fails`);
    return { type: 'unsupported', kind, match };
  }
  const template = compileTemplate(match);
  if (typeof template === 'string') {
    log.warn(`Check "${rule}" always fails: ${template}`);
    return { type: 'unsupported', kind, match };
  }
  if (kind === 'role') return { type: 'role', kind, match, template };
  return { type: 'generic', kind, match, template, literal: literalOf(kind), path: kind.split('.') };
}

// ---------------------------------------------------------------------------------------------
// The text language: tokenizer and oslo's greedy shift-reduce parser.

type TokenType = '(' | ')' | 'and' | 'or' | 'not' | 'string' | 'check' | 'and_expr' | 'or_expr';
interface Token {
  type: TokenType;
  value: Check | string;
}

const WS_RE = /\s+/;

function* tokenize(rule: string, log: PolicyLogger): Generator<Token> {
  for (let tok of rule.split(WS_RE)) {
    if (!tok) continue;
    // Parentheses are peeled off token ends only: a check's own "%(key)s" keeps its parentheses.
    let lead = 0;
    while (tok[lead] === '(') lead++;
    for (let i = 0; i < lead; i++) yield { type: '(', value: '(' };
    tok = tok.slice(lead);
    if (!tok) continue;
    let end = tok.length;
    while (end > 0 && tok[end - 1] === ')') end--;
    const clean = tok.slice(0, end);
    const lowered = clean.toLowerCase();
    if (lowered === 'and' || lowered === 'or' || lowered === 'not') {
      yield { type: lowered, value: clean };
    } else if (clean) {
      const q = tok[0];
      if (tok.length >= 2 && (q === '"' || q === "'") && tok[tok.length - 1] === q) {
        // A bare quoted string: oslo has no grammar rule for it, so the rule fails to parse.
        yield { type: 'string', value: tok.slice(1, -1) };
      } else {
        yield { type: 'check', value: parseCheck(clean, log) };
      }
    }
    for (let i = end; i < tok.length; i++) yield { type: ')', value: ')' };
  }
}

function isExpr(t: TokenType | undefined): boolean {
  return t === 'check' || t === 'and_expr' || t === 'or_expr';
}

/** Apply oslo's reductions to the top of the stack until none matches. */
function reduce(stack: Token[]): void {
  for (;;) {
    const n = stack.length;
    const t1 = stack[n - 1]?.type;
    const t2 = stack[n - 2]?.type;
    const t3 = stack[n - 3]?.type;
    if (t1 === ')' && t3 === '(' && isExpr(t2)) {
      // ( expr ) -> check
      stack.splice(n - 3, 3, { type: 'check', value: stack[n - 2]!.value });
      continue;
    }
    if (t1 !== 'check') return;
    const right = stack[n - 1]!.value as Check;
    if (t2 === 'not') {
      stack.splice(n - 2, 2, { type: 'check', value: { type: 'not', check: right } });
      continue;
    }
    if (t2 === 'and') {
      const left = stack[n - 3]?.value as Check;
      if (t3 === 'check') {
        stack.splice(n - 3, 3, { type: 'and_expr', value: { type: 'and', checks: [left, right] } });
        continue;
      }
      if (t3 === 'and_expr') {
        (left as { checks: Check[] }).checks.push(right);
        stack.splice(n - 3, 3, { type: 'and_expr', value: left });
        continue;
      }
      if (t3 === 'or_expr') {
        // "A or B and C": C binds to B, not to the whole "A or B".
        const or = left as { checks: Check[] };
        const last = or.checks.pop()!;
        if (last.type === 'and') last.checks.push(right);
        or.checks.push(last.type === 'and' ? last : { type: 'and', checks: [last, right] });
        stack.splice(n - 3, 3, { type: 'or_expr', value: left });
        continue;
      }
      return;
    }
    if (t2 === 'or') {
      const left = stack[n - 3]?.value as Check;
      if (t3 === 'check' || t3 === 'and_expr') {
        stack.splice(n - 3, 3, { type: 'or_expr', value: { type: 'or', checks: [left, right] } });
        continue;
      }
      if (t3 === 'or_expr') {
        (left as { checks: Check[] }).checks.push(right);
        stack.splice(n - 3, 3, { type: 'or_expr', value: left });
        continue;
      }
    }
    return;
  }
}

/** Parse a rule in the policy language; "" allows everything, garbage denies (and is logged). */
export function parseTextRule(rule: string, log: PolicyLogger = consoleLogger): Check {
  if (!rule) return TRUE_CHECK;
  const stack: Token[] = [];
  for (const tok of tokenize(rule, log)) {
    stack.push(tok);
    reduce(stack);
  }
  if (stack.length === 1 && isExpr(stack[0]!.type)) return stack[0]!.value as Check;
  log.warn(`Failed to understand rule ${rule}`);
  return FALSE_CHECK;
}

/**
 * The pre-Kilo JSON syntax: a list of alternatives, each a list of checks that must all pass,
 * e.g. [["role:admin"], ["project_id:%(project_id)s", "role:member"]]. An empty list allows.
 */
export function parseListRule(rule: readonly unknown[], log: PolicyLogger = consoleLogger): Check {
  if (rule.length === 0) return TRUE_CHECK;
  const alternatives: Check[] = [];
  for (const inner of rule) {
    if (!inner) continue; // oslo skips empty alternatives ([] and "")
    const conjuncts = typeof inner === 'string' ? [inner] : inner;
    if (!Array.isArray(conjuncts)) {
      log.warn(`Failed to understand rule ${JSON.stringify(rule)}`);
      return FALSE_CHECK;
    }
    if (conjuncts.length === 0) continue;
    const checks = conjuncts.map((c: unknown) => {
      if (typeof c === 'string') return parseCheck(c, log);
      log.warn(`Failed to understand rule ${JSON.stringify(c)}`);
      return FALSE_CHECK;
    });
    alternatives.push(checks.length === 1 ? checks[0]! : { type: 'and', checks });
  }
  if (alternatives.length === 0) return FALSE_CHECK;
  return alternatives.length === 1 ? alternatives[0]! : { type: 'or', checks: alternatives };
}

/** A rule as found in a policy file: a string in the policy language, or the old list syntax. */
export function parseRule(rule: unknown, log: PolicyLogger = consoleLogger): Check {
  if (typeof rule === 'string') return parseTextRule(rule, log);
  // YAML "name:" with no value is null; oslo treats it like "" (allow), so do we.
  if (rule === null || rule === undefined) return TRUE_CHECK;
  if (Array.isArray(rule)) return parseListRule(rule, log);
  log.warn(`Failed to understand rule ${JSON.stringify(rule)}`);
  return FALSE_CHECK;
}

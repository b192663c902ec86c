// Operator policy files: Keystone's policy.yaml (or the older policy.json).
//
// oslo.policy reads these with a full YAML parser; they are in practice a flat mapping of rule name
// to check string, so this reads that subset of YAML without a dependency: comments, quoted and
// plain keys and values (with YAML's folding of multi-line values), block scalars (| and >) and
// the old list-of-lists rule syntax written as a JSON flow sequence. Anything beyond that (nested
// mappings, anchors, tags) is refused with the line number, rather than guessed at.

export class PolicyFileError extends Error {
  constructor(message: string, line?: number) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.name = 'PolicyFileError';
  }
}

/** Parse a policy file's text: JSON first (as oslo does), else the YAML subset. */
export function parsePolicyFile(text: string): Map<string, unknown> {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return parsePolicyYaml(text);
  }
  if (json === null) return new Map();
  if (typeof json !== 'object' || Array.isArray(json)) {
    throw new PolicyFileError('a policy file must be a mapping of rule names to rules');
  }
  return new Map(Object.entries(json as Record<string, unknown>));
}

const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
// Characters YAML reserves at the start of a plain scalar. `!` matters most: PyYAML reads an
// unquoted `name: !` as an empty tagged value (allow everyone), not as oslo's "deny".
const RESERVED_START = new Set(['!', '&', '*', '@', '`', '%', '{']);

interface Line {
  no: number;
  indent: number;
  text: string; // without the indentation
}

/** The YAML subset: one flat mapping of string keys to scalars (or a JSON flow sequence). */
export function parsePolicyYaml(text: string): Map<string, unknown> {
  const lines: Line[] = text.split(/\r\n|\r|\n/).map((raw, i) => {
    const m = /^[ ]*/.exec(raw)!;
    return { no: i + 1, indent: m[0].length, text: raw.slice(m[0].length) };
  });
  const out = new Map<string, unknown>();
  let keyIndent: number | undefined;
  let i = 0;
  let started = false;
  while (i < lines.length) {
    const line = lines[i]!;
    const t = line.text;
    if (t === '' || t.startsWith('#') || /^\s*$/.test(t)) {
      i++;
      continue;
    }
    if (t.startsWith('\t')) throw new PolicyFileError('tabs are not allowed for indentation', line.no);
    if (line.indent === 0 && /^---(\s|$)/.test(t)) {
      if (started) throw new PolicyFileError('only one YAML document is supported', line.no);
      started = true;
      const rest = stripComment(t.slice(3)).trim();
      if (rest === '{}') {
        i++;
        continue;
      }
      if (rest) throw new PolicyFileError('unexpected content after ---', line.no);
      i++;
      continue;
    }
    if (line.indent === 0 && /^\.\.\.(\s|$)/.test(t)) break;
    if (line.indent === 0 && /^\{\s*\}\s*(#.*)?$/.test(t) && out.size === 0) {
      i++; // an empty flow mapping: no rules
      continue;
    }
    started = true;
    if (keyIndent === undefined) keyIndent = line.indent;
    if (line.indent !== keyIndent) {
      throw new PolicyFileError('nested mappings are not supported in a policy file', line.no);
    }
    if (t.startsWith('- ') || t === '-') {
      throw new PolicyFileError('a policy file must be a mapping, not a list', line.no);
    }
    const { key, rest } = readKey(t, line.no);
    const [value, next] = readValue(rest, lines, i, keyIndent);
    out.set(key, value);
    i = next;
  }
  return out;
}

function readKey(t: string, no: number): { key: string; rest: string } {
  let key: string;
  let after: string;
  if (t[0] === '"' || t[0] === "'") {
    const end = findClosingQuote(t, 0);
    if (end < 0) throw new PolicyFileError('unterminated quoted key', no);
    key = t[0] === '"' ? unescapeDouble(t.slice(1, end), no) : t.slice(1, end).replace(/''/g, "'");
    after = t.slice(end + 1).replace(/^[ \t]*/, '');
    if (after[0] !== ':') throw new PolicyFileError('expected ":" after the key', no);
    after = after.slice(1);
    if (after && after[0] !== ' ' && after[0] !== '\t') {
      throw new PolicyFileError('expected a space after ":"', no); // as PyYAML outside {...}
    }
  } else {
    // A plain key ends at the first ": " (or a ":" ending the line): "identity:get_user: rule:x".
    const m = /:(?:[ \t]|$)/.exec(stripComment(t));
    if (!m) throw new PolicyFileError(`expected "key: value", got "${t}"`, no);
    key = t.slice(0, m.index).trimEnd();
    if (key.startsWith('?') || RESERVED_START.has(key[0]!)) {
      throw new PolicyFileError(`unsupported YAML key "${key}"; quote it`, no);
    }
    after = t.slice(m.index + 1);
  }
  return { key, rest: after };
}

/** Index of the quote closing the quoted scalar that opens at `start`, or -1. */
function findClosingQuote(t: string, start: number): number {
  const q = t[start];
  for (let j = start + 1; j < t.length; j++) {
    if (q === '"' && t[j] === '\\') {
      j++;
      continue;
    }
    if (t[j] === q) {
      if (q === "'" && t[j + 1] === "'") {
        j++;
        continue;
      }
      return j;
    }
  }
  return -1;
}

/** Remove a trailing " # comment" (a # that starts the text or follows whitespace). */
function stripComment(t: string): string {
  if (t.startsWith('#')) return '';
  const m = /[ \t]#/.exec(t);
  return m ? t.slice(0, m.index) : t;
}

/** The lines after `i` that belong to the value (more indented than the key, or blank). */
function continuation(lines: Line[], i: number, keyIndent: number): { body: Line[]; next: number } {
  let j = i + 1;
  let last = i;
  while (j < lines.length) {
    const l = lines[j]!;
    const blank = /^\s*$/.test(l.text);
    if (!blank && l.indent <= keyIndent) break;
    if (!blank) last = j;
    j++;
  }
  return { body: lines.slice(i + 1, last + 1), next: last + 1 };
}

function readValue(rest: string, lines: Line[], i: number, keyIndent: number): [unknown, number] {
  const no = lines[i]!.no;
  const v = rest.replace(/^[ \t]+/, '');
  const first = v[0];
  if (first === '"' || first === "'") return readQuoted(v, lines, i, keyIndent);
  if (first === '|' || first === '>') return readBlock(v, lines, i, keyIndent);
  const { body, next } = continuation(lines, i, keyIndent);
  if (first === '[') {
    const src = [v, ...body.map((l) => l.text)].map(stripComment).join('\n');
    try {
      const arr: unknown = JSON.parse(src);
      if (Array.isArray(arr)) return [arr, next];
    } catch {
      /* fall through */
    }
    throw new PolicyFileError('a list rule must be a JSON list of lists of strings', no);
  }
  if (first !== undefined && RESERVED_START.has(first)) {
    throw new PolicyFileError(`a value starting with "${first}" must be quoted in YAML`, no);
  }
  // A plain scalar, possibly folded over more-indented lines.
  const pieces = [stripComment(v).trim()];
  let ended = pieces[0] !== '' && stripComment(v) !== v; // "key: value # comment" ends the value
  for (const l of body) {
    if (l.text.startsWith('#')) {
      ended = true; // a comment ends a plain scalar
      continue;
    }
    if (ended && l.text !== '') throw new PolicyFileError('unexpected text after a comment', l.no);
    pieces.push(stripComment(l.text).trim());
    if (stripComment(l.text) !== l.text) ended = true;
  }
  if (pieces.length > 1 && pieces[0] === '' && pieces[1]!.startsWith('- ')) {
    throw new PolicyFileError('nested lists are not supported in a policy file', no);
  }
  const text = fold(pieces).trim();
  if (/:[ \t]/.test(text) || text.endsWith(':')) {
    throw new PolicyFileError('nested mappings are not supported in a policy file; quote the value', no);
  }
  if (text.startsWith('- ')) throw new PolicyFileError('nested lists are not supported in a policy file', no);
  return [NULLS.has(text) ? null : text, next];
}

/** YAML line folding: line breaks become spaces, each empty line becomes one newline. */
function fold(pieces: string[]): string {
  let out = '';
  let pendingBreaks = 0;
  let any = false;
  for (const p of pieces) {
    if (p === '') {
      if (any) pendingBreaks++;
      continue;
    }
    if (any) out += pendingBreaks > 0 ? '\n'.repeat(pendingBreaks) : ' ';
    out += p;
    any = true;
    pendingBreaks = 0;
  }
  return out;
}

function readQuoted(v: string, lines: Line[], i: number, keyIndent: number): [unknown, number] {
  const no = lines[i]!.no;
  const q = v[0]!;
  // Gather lines until the closing quote; quoted scalars may span lines.
  let text = v;
  let j = i;
  let end = findClosingQuote(text, 0);
  while (end < 0) {
    j++;
    if (j >= lines.length) throw new PolicyFileError('unterminated quoted value', no);
    const l = lines[j]!;
    if (l.text !== '' && l.indent <= keyIndent) throw new PolicyFileError('unterminated quoted value', no);
    text += '\n' + ' '.repeat(l.indent) + l.text;
    end = findClosingQuote(text, 0);
  }
  const tail = stripComment(text.slice(end + 1)).trim();
  if (tail) throw new PolicyFileError(`unexpected "${tail}" after a quoted value`, lines[j]!.no);
  const inner = text.slice(1, end);
  const value = q === '"' ? unescapeDouble(foldQuoted(inner, true), no) : foldQuoted(inner, false).replace(/''/g, "'");
  return [value, j + 1];
}

/**
 * Folding inside a quoted scalar: a line break (with the spaces around it) becomes one space,
 * empty lines become newlines, and in "..." a backslash before the break joins without a space.
 */
function foldQuoted(inner: string, double: boolean): string {
  const raw = inner.split('\n');
  let out = '';
  let breaks = 0;
  let joinNext = false;
  for (let k = 0; k < raw.length; k++) {
    const last = k === raw.length - 1;
    let piece = k > 0 ? raw[k]!.replace(/^[ \t]+/, '') : raw[k]!;
    const escapedBreak = double && !last && /(^|[^\\])(\\\\)*\\$/.test(piece);
    if (!last && !escapedBreak) piece = piece.replace(/[ \t]+$/, '');
    if (k > 0) {
      if (piece === '' && !last) {
        breaks++;
        continue;
      }
      out += breaks > 0 ? '\n'.repeat(breaks) : joinNext ? '' : ' ';
      breaks = 0;
    }
    joinNext = escapedBreak;
    out += escapedBreak ? piece.slice(0, -1) : piece;
  }
  return out;
}

function unescapeDouble(s: string, no: number): string {
  const map: Record<string, string> = {
    '0': '\0', a: '\x07', b: '\b', t: '\t', '\t': '\t', n: '\n', v: '\v', f: '\f', r: '\r', e: '\x1b',
    ' ': ' ', '"': '"', '/': '/', '\\': '\\', N: '\x85', _: '\xa0', L: '\u2028', P: '\u2029',
  };
  return s.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[\s\S])/g, (_m, e: string) => {
    if (e.length > 1) return String.fromCodePoint(parseInt(e.slice(1), 16));
    const r = map[e];
    if (r === undefined) throw new PolicyFileError(`unknown escape "\\${e}"`, no);
    return r;
  });
}

function readBlock(v: string, lines: Line[], i: number, keyIndent: number): [unknown, number] {
  const no = lines[i]!.no;
  const header = /^([|>])([+-]?)([1-9]?)([+-]?)[ \t]*(#.*)?$/.exec(v);
  if (!header) throw new PolicyFileError(`bad block scalar header "${v}"`, no);
  const literal = header[1] === '|';
  const chomp = header[2] || header[4];
  const { body, next } = continuation(lines, i, keyIndent);
  const firstText = body.find((l) => l.text !== '');
  const indent = header[3] ? keyIndent + Number(header[3]) : (firstText?.indent ?? keyIndent + 1);
  const content = body.map((l) => (l.text === '' ? '' : ' '.repeat(l.indent - indent) + l.text));
  // Trailing blank lines only matter for "keep" chomping.
  let endContent = content.length;
  while (endContent > 0 && content[endContent - 1] === '') endContent--;
  const kept = content.slice(0, endContent);
  let text = literal ? kept.join('\n') : fold(kept);
  if (kept.length > 0) {
    if (chomp === '+') {
      // "keep": every line break up to the next key stays (the split's final "" is no line).
      let k = next;
      while (k < lines.length && lines[k]!.text === '') k++;
      text += '\n'.repeat(1 + content.length - endContent + (k - next) - (k === lines.length ? 1 : 0));
    }
    else if (chomp !== '-') text += '\n';
  }
  return [text, next];
}

// The configuration reference is generated from the option table; this keeps it from drifting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleConfig, OPTIONS } from '../common/config.js';
import { projectRoot } from '../common/testing/process.js';

const root = projectRoot(import.meta.url);

test('docs/configuration.md is the current `monostack config sample`', () => {
  const doc = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');
  assert.ok(doc.includes(sampleConfig()), 'regenerate docs/configuration.md with `monostack config sample` (see its header)');
});

test('every option has a help text and a default', () => {
  for (const [section, opts] of Object.entries(OPTIONS)) {
    for (const [name, def] of Object.entries(opts as Record<string, { help: string; default: unknown }>)) {
      assert.ok(def.help.length > 10, `${section}.${name} needs a help text`);
      assert.notEqual(def.default, undefined, `${section}.${name} needs a default`);
    }
  }
});

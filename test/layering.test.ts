// The layering rule (docs/architecture.md, "Which way imports flow"): checks observe, the
// agent acts. Nothing under checks/ (or the neutral lib/) may import from agent/, so a check
// can be read, tested and reused without the daemon, and remediation can import the checks'
// types without a cycle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(root, dir, f));
}

// Static and dynamic imports and re-exports: every module specifier in the file.
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm))
    specifiers.push(m[1]);
  return specifiers;
}

for (const layer of ['checks', 'lib']) {
  test(`${layer}/ imports nothing from agent/`, () => {
    const offending: string[] = [];
    for (const file of sources(layer)) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const target = path.relative(root, path.resolve(path.dirname(file), spec));
        if (target === 'agent' || target.startsWith(`agent${path.sep}`))
          offending.push(`${path.relative(root, file)} -> ${spec}`);
      }
    }
    assert.deepEqual(offending, []);
  });
}

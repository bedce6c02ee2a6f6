// The layering rule (docs/architecture.md, "Which way imports flow"): checks observe, the
// agent acts, and lib/ holds the primitives both use. Imports go agent/ → checks/ → lib/, never
// back, so a check can be read, tested and reused without the daemon, and remediation can import
// the checks' types without a cycle. Inside the agent, the config is parsed and validated with
// lib/ alone: what the server, the metrics or a check need from it is handed to them as values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Each folder (the files below it, and its facade file of the same name: agent/config.ts for
// agent/config/), and the folders its relative imports may not reach.
const rules: { layer: string; mayNotImport: string[] }[] = [
  { layer: 'lib', mayNotImport: ['agent', 'checks'] },
  { layer: 'checks', mayNotImport: ['agent'] },
  { layer: 'agent/config', mayNotImport: ['agent/http', 'checks'] },
  { layer: 'deploy', mayNotImport: ['agent', 'checks', 'lib'] },
];

function sources(dir: string): string[] {
  const below = readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(root, dir, f));
  const facade = path.join(root, `${dir}.ts`);
  return existsSync(facade) ? [facade, ...below] : below;
}

// Static and dynamic imports and re-exports: every module specifier in the file.
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm))
    specifiers.push(m[1]);
  return specifiers;
}

function isUnder(target: string, folder: string): boolean {
  return target === folder || target.startsWith(`${folder}/`);
}

for (const { layer, mayNotImport } of rules) {
  test(`${layer}/ imports nothing from ${mayNotImport.map((f) => `${f}/`).join(', ')}`, () => {
    const offending: string[] = [];
    for (const file of sources(layer)) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const target = path
          .relative(root, path.resolve(path.dirname(file), spec))
          .split(path.sep)
          .join('/');
        if (mayNotImport.some((folder) => isUnder(target, folder)))
          offending.push(`${path.relative(root, file)} -> ${spec}`);
      }
    }
    assert.deepEqual(offending, []);
  });
}

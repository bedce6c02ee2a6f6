// The exit-code table is one contract for every verb and the gate script: the table in
// docs/conventions.md, lib/exit-codes.ts and each --help text must say the same thing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { exitCodes } from '../../lib/exit-codes.ts';

const repo = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, repo), 'utf8');

test('docs/conventions.md has one exit-code table, the same codes as lib/exit-codes.ts', () => {
  const doc = read('docs/conventions.md');
  const section = doc.slice(doc.indexOf('### Exit codes'));
  const rows = section
    .split('\n')
    .filter((l) => /^\| \d+ \|/.test(l))
    .map((l) => Number(l.split('|')[1]));
  assert.deepEqual(rows, Object.values(exitCodes).sort());
  assert.match(section, /\| 4 \| no answer/);
  assert.match(section, /\| 3 \| degraded/);
});

// Each verb's --help states its exit codes; none may use a number outside the table or give a
// code another meaning (2 is only ever usage or config).
test('every --help states its exit codes from the table', async () => {
  const verbs = ['check', 'cache-check', 'cache-inspect', 'cache-quarantine', 'fleet-status', 'config-check', 'serve'];
  for (const verb of verbs) {
    const mod = (await import(`../../agent/cli/${verb}.ts`)) as { help: string };
    const stated = mod.help.slice(mod.help.search(/Exit codes?/));
    assert.ok(stated.length > 0 && /Exit codes?/.test(stated), `${verb} --help states its exit codes`);
    for (const n of stated.match(/\b\d+\b/g) ?? [])
      assert.ok(Object.values(exitCodes).includes(Number(n) as 0), `${verb}: exit ${n} is not in the table`);
    assert.doesNotMatch(stated, /2 [^,;.]*(unreadable|busy|unreachable)/, `${verb}: 2 means usage only`);
  }
  const gate = read('deploy/scheduler/preflight-gate.sh');
  const header = gate.slice(gate.indexOf('# Exit codes'), gate.indexOf('set -u'));
  assert.match(header, /4 the agent could not\n?#? *be asked/);
  assert.match(header, /3 degraded with --degraded refuse/);
});

// The verbs name their codes (exitCodes.usage, exitCodes.ok, usageError): a bare `return 2` is
// how a code drifts from the table unnoticed.
test('no verb returns an exit code as a bare number', () => {
  const dir = new URL('agent/cli/', repo);
  const files = ['agent/cli.ts', ...readdirSync(dir).map((f) => `agent/cli/${f}`)].filter((f) => f.endsWith('.ts'));
  const bare = files.flatMap((f) =>
    read(f)
      .split('\n')
      .map((line, i) => ({ where: `${f}:${i + 1}`, line }))
      .filter(({ line }) => /\breturn\s+\d+\s*;|\?\s*\d+\s*:\s*\d+\s*;/.test(line))
      .map(({ where, line }) => `${where}: ${line.trim()}`),
  );
  assert.deepEqual(bare, []);
});

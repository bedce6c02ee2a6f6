// Every entry point refuses a Node.js that cannot run the agent, with one line and exit 2,
// before doing anything: the checkout's CLI (agent/bin.mjs), the bundle, and the verifier
// child (the same entry). The old Node is the system one (Debian's nodejs package, 18 or 20).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeProblem } from '../../agent/runtime-requirements.mjs';
import { bundleAgent } from '../../deploy/build-bundle.ts';
import { needTools } from '../support/tools.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const oldNode = '/usr/bin/node';

test('runtimeProblem: too old, no node:sqlite, or fine', () => {
  assert.match(runtimeProblem({ version: 'v20.20.2', hasSqlite: false }) ?? '', /v20\.20\.2 is too old.*>= 22\.13\.0/);
  assert.match(runtimeProblem({ version: 'v22.12.0', hasSqlite: true }) ?? '', /too old/);
  assert.match(runtimeProblem({ version: 'v22.13.0', hasSqlite: false }) ?? '', /no node:sqlite/);
  assert.equal(runtimeProblem({ version: 'v22.13.0', hasSqlite: true }), null);
  assert.equal(runtimeProblem({ version: 'v24.1.0', hasSqlite: true }), null);
  for (const v of ['v20.20.2', 'v22.12.0', 'v22.13.0', 'v24.1.0']) {
    assert.doesNotMatch(runtimeProblem({ version: v, hasSqlite: false }) ?? '', /\n/, 'one line');
  }
});

function oneLineExit2(r: ReturnType<typeof spawnSync>, what: string): void {
  assert.equal(r.status, 2, `${what}: ${r.stderr}`);
  assert.equal(String(r.stdout), '', `${what} printed to stdout`);
  const lines = String(r.stderr)
    .split('\n')
    .filter((l) => l !== '');
  assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
  assert.match(lines[0], /^buildfleet-agent: Node\.js v\d+\.\d+\.\d+ (is too old|has no node:sqlite)/);
}

test('the checkout CLI and the bundle on an old Node.js: one line, exit 2, nothing run', async (t) => {
  if (!needTools(t, oldNode)) return;
  const version = spawnSync(oldNode, ['--version'], { encoding: 'utf8' }).stdout.trim();
  assert.ok(runtimeProblem({ version, hasSqlite: true }) !== null, `${oldNode} is ${version}, not an old Node.js`);
  const work = mkdtempSync(join(tmpdir(), 'bfa-runtime-'));
  try {
    // `check` would run every check and `serve` would bind a port; neither may start.
    for (const args of [
      ['check', '--json'],
      ['serve', '--config', join(work, 'absent.yaml')],
      ['cache', 'check', '--json', join(work, 'x.boltdb')],
      ['version'],
    ]) {
      oneLineExit2(
        spawnSync(oldNode, [join(repoRoot, 'agent/bin.mjs'), ...args], { encoding: 'utf8', timeout: 20_000 }),
        `checkout ${args.join(' ')}`,
      );
    }
    const bundle = await bundleAgent({ outfile: join(work, 'buildfleet-agent.mjs') });
    assert.ok(bundle.ok, JSON.stringify(bundle));
    oneLineExit2(
      spawnSync(oldNode, [join(work, 'buildfleet-agent.mjs'), 'check', '--json'], {
        encoding: 'utf8',
        timeout: 20_000,
      }),
      'bundle check',
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('Node.js 22 without node:sqlite: one line, exit 2', () => {
  const r = spawnSync(
    process.execPath,
    ['--no-experimental-sqlite', join(repoRoot, 'agent/bin.mjs'), 'check', '--json'],
    { encoding: 'utf8', timeout: 20_000 },
  );
  oneLineExit2(r, 'no sqlite');
});

test('the supported Node.js runs the verb as before', () => {
  const r = spawnSync(process.execPath, [join(repoRoot, 'agent/bin.mjs'), 'version'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /buildfleet-agent/);
});

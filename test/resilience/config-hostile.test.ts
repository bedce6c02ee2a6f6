// Replays issue 12's config attacks against the bundled agent: a YAML alias bomb and a timeout
// past Node's timer range, at start (exit 2 and one line each, never a stack) and on SIGHUP (the
// agent keeps serving on the last good config and logs the failed reload exactly once).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../e2e/support/poll.ts';
import { buildBundle, startAgent, writeAgentFiles } from './http-daemon.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bfa-res-config-'));
let bundle = '';
before(async () => {
  bundle = await buildBundle(scratch);
});
after(() => rmSync(scratch, { recursive: true, force: true }));

// Nine levels of nine aliases: 9^9 (387 million) strings once expanded.
function aliasBomb(): string {
  const lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

function assertOneLineErrors(stderr: string, what: RegExp): void {
  assert.ok(stderr.length < 1000, `${stderr.length} bytes on stderr:\n${stderr.slice(0, 2000)}`);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  assert.match(stderr, what);
}

test('an alias bomb or an out-of-range timeout stops serve and config check with exit 2 and one line', () => {
  const cases = [
    { file: join(scratch, 'bomb.yaml'), text: aliasBomb(), what: /bomb\.yaml: YAML: .*alias/ },
    {
      file: join(scratch, 'timer.yaml'),
      text: 'checks: { skopeo: { timeoutSeconds: 2147484 } }\n',
      what: /checks\.skopeo\.timeoutSeconds: must be at most 86400/,
    },
  ];
  for (const c of cases) {
    writeFileSync(c.file, c.text);
    for (const verb of [
      ['serve', '--listen', '127.0.0.1:0'],
      ['config', 'check'],
    ]) {
      const r = spawnSync(process.execPath, [bundle, ...verb, '--config', c.file], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 2, `${verb[0]} ${c.file}: exit ${r.status}\n${r.stderr.slice(0, 2000)}`);
      // serve also logs its refusal as a JSON line; the plain lines are the contract.
      const plain = r.stderr
        .split('\n')
        .filter((l) => !l.startsWith('{'))
        .join('\n');
      assertOneLineErrors(plain, c.what);
    }
  }
});

test('SIGHUP with an alias bomb: still serving on the last good config, the failure logged once', async () => {
  const files = writeAgentFiles(join(scratch, 'reload'));
  const good = readFileSync(files.configFile, 'utf8');
  const agent = await startAgent(bundle, files.configFile);
  try {
    writeFileSync(files.configFile, aliasBomb());
    agent.process.kill('SIGHUP');
    const health = await pollUntil(
      'configReloadOk to turn false',
      async () => {
        const res = await fetch(`${agent.base}/healthz`);
        const h = (await res.json()) as { configReloadOk: boolean; status: string };
        return h.configReloadOk ? { done: false, seen: h } : { done: true, value: h };
      },
      { timeoutMs: 10_000 },
    );
    assert.equal(health.status, 'ok', 'the agent itself still works');
    await new Promise((r) => setTimeout(r, 300));
    const failures = agent.logs.filter((l) => l.event === 'config-reload-failed');
    assert.equal(failures.length, 1, agent.logTail());
    assert.match(JSON.stringify(failures[0]), /alias/);
    assert.ok(agent.alive());
    const preflight = await fetch(`${agent.base}/v1/preflight?max_age=0`);
    assert.equal(preflight.status, 200, 'checks still run on the last good config');
    await preflight.body?.cancel();

    writeFileSync(files.configFile, good);
    agent.process.kill('SIGHUP');
    await pollUntil(
      'configReloadOk to turn true',
      async () => {
        const h = (await (await fetch(`${agent.base}/healthz`)).json()) as { configReloadOk: boolean };
        return h.configReloadOk ? { done: true, value: h } : { done: false, seen: h };
      },
      { timeoutMs: 10_000 },
    );
  } finally {
    const stopped = await agent.stop();
    assert.equal(stopped.code, 0, agent.logTail());
  }
});

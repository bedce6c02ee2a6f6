// Replays issue 12's state attacks against the bundled agent: a state write that fails (a
// maintenance answered 200 and gone after a restart), a stateDir that is a regular file, and a
// hand-made state file holding a maintenance until year 9999 and malformed entries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../e2e/support/poll.ts';
import { buildBundle, startAgent, token, writeAgentFiles } from './http-daemon.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bfa-res-state-'));
let bundle = '';
before(async () => {
  bundle = await buildBundle(scratch);
});
after(() => rmSync(scratch, { recursive: true, force: true }));

const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (res: Response): Promise<any> => res.json();

test('a failed state write fails the request (nothing changed), shows on /healthz until a write succeeds; nothing answered 200 is lost', async () => {
  const files = writeAgentFiles(join(scratch, 'durable'));
  mkdirSync(files.stateDir, { recursive: true });
  let agent = await startAgent(bundle, files.configFile);
  try {
    // Fault injection with the real file system: a directory where the agent's temporary state
    // file goes makes every state write fail, as a full or read-only disk does.
    // The agent may be mid-write (its own temporary file there for a moment): retry on EEXIST.
    const blocker = join(files.stateDir, `.state.json.${agent.process.pid}.tmp`);
    for (let tries = 0; ; tries++) {
      try {
        mkdirSync(blocker);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 250) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const refused = await fetch(`${agent.base}/v1/maintenance`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ reason: 'kernel update', expiresInSeconds: 3600 }),
    });
    assert.equal(refused.status, 503);
    const error = (await json(refused)).error;
    assert.equal(error.code, 'state-write-failed');
    assert.match(error.message, /nothing was changed: .*EISDIR/);
    const health = await fetch(`${agent.base}/healthz`);
    assert.equal(health.status, 503);
    assert.match((await json(health)).problems.join(), /^state-write-failed: .*state\.json: EISDIR/);
    const preflight = await json(await fetch(`${agent.base}/v1/preflight`));
    assert.equal(preflight.maintenance, null, 'the refused maintenance is not in force');

    rmSync(blocker, { recursive: true });
    await pollUntil(
      'a retried write to clear the problem',
      async () => {
        const res = await fetch(`${agent.base}/healthz`);
        const h = await json(res);
        return res.status === 200 ? { done: true, value: h } : { done: false, seen: h };
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    assert.equal(agent.logs.filter((l) => l.event === 'state-write-failed').length, 1, 'logged once per failing spell');
    const set = await fetch(`${agent.base}/v1/maintenance`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ reason: 'kernel update', expiresInSeconds: 3600 }),
    });
    assert.equal(set.status, 200);
    await set.body?.cancel();
  } finally {
    assert.equal((await agent.stop()).code, 0, agent.logTail());
  }
  agent = await startAgent(bundle, files.configFile);
  try {
    const p = await json(await fetch(`${agent.base}/v1/preflight`));
    assert.equal(p.maintenance?.reason, 'kernel update', 'what was answered 200 survived the restart');
  } finally {
    await agent.stop();
  }
});

test('a stateDir that is a regular file stops the start with exit 2 and one line', async () => {
  const dir = join(scratch, 'file-as-dir');
  const stateDir = join(dir, 'state-is-a-file');
  const files = writeAgentFiles(dir, { stateDir });
  writeFileSync(stateDir, 'not a directory\n');
  const agent = await startAgent(bundle, files.configFile, { expectExit: true });
  const exit = await Promise.race([agent.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
  if (exit === null) await agent.stop();
  assert.equal(exit?.code, 2, `the agent started on a stateDir that is a file:\n${agent.stderr().slice(-2000)}`);
  assert.match(agent.stderr(), new RegExp(`serve: stateDir ${stateDir}: exists and is not a directory\n`));
  assert.doesNotMatch(agent.stderr(), /^\s+at /m);
});

test('restored state meets the rules of new input: a maintenance until 9999 is cut to 30 days, malformed entries are named, stale temp files removed', async () => {
  const files = writeAgentFiles(join(scratch, 'restore'));
  mkdirSync(files.stateDir, { recursive: true });
  const now = Date.now();
  writeFileSync(
    join(files.stateDir, 'state.json'),
    JSON.stringify({
      version: 1,
      checks: {
        disk: {
          scope: 'host',
          status: 'ok',
          rawStatus: 'ok',
          summary: 'x',
          reasons: [],
          details: {},
          observedAt: new Date(now).toISOString(),
          durationMs: -5,
          consecutiveFailures: 0,
        },
      },
      maintenance: {
        reason: 'forever',
        since: new Date(now).toISOString(),
        expiresAt: '9999-12-31T23:59:59.000Z',
        by: 'api',
      },
    }),
  );
  writeFileSync(join(files.stateDir, '.state.json.4000000.tmp'), '{"version": 1, "chec');
  const agent = await startAgent(bundle, files.configFile);
  try {
    const p = await json(await fetch(`${agent.base}/v1/preflight`));
    assert.equal(p.maintenance?.reason, 'forever');
    const ends = Date.parse(p.maintenance.expiresAt);
    assert.ok(ends <= Date.now() + 30 * 86400_000 && ends > now + 29 * 86400_000, p.maintenance.expiresAt);
    const warning = agent.logs.find((l) => l.event === 'state-file-unusable');
    assert.match(
      String(warning?.problem),
      /ignored malformed check entries: disk; maintenance expiry 9999-12-31T23:59:59\.000Z is more than 30 days ahead/,
    );
    assert.ok(
      !existsSync(join(files.stateDir, '.state.json.4000000.tmp')),
      `left: ${readdirSync(files.stateDir).join(', ')}`,
    );
  } finally {
    await agent.stop();
  }
});

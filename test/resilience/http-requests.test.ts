// Replays issue 12's bad requests against the bundled agent: a maintenance expiry past the
// last JavaScript date (was a 500), one check name 8000 times (was 8000 answers, 3.3 MB), an
// 8 KB query echoed into a 400. Each gets a clear, small 4xx; the agent keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle, probeHealthz, startAgent, token, writeAgentFiles, type RunningAgent } from './http-daemon.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bfa-res-requests-'));
let agent: RunningAgent;
before(async () => {
  const bundle = await buildBundle(scratch);
  agent = await startAgent(bundle, writeAgentFiles(join(scratch, 'agent')).configFile);
});
after(async () => {
  await agent?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

test('bad requests get a small 4xx, never a 500, and the agent keeps serving', async () => {
  for (const expiresInSeconds of [1e21, 8.64e15, 2592001]) {
    const res = await fetch(`${agent.base}/v1/maintenance`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ reason: 'x', expiresInSeconds }),
    });
    assert.equal(res.status, 400, `expiresInSeconds ${expiresInSeconds}`);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid-maintenance');
  }
  const run = await fetch(`${agent.base}/v1/checks/run`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ checks: Array(8000).fill('disk') }),
  });
  assert.equal(run.status, 200);
  const text = await run.text();
  assert.equal((JSON.parse(text) as { checks: unknown[] }).checks.length, 1);
  assert.ok(text.length < 4096, `${text.length} bytes`);
  const long = 'q'.repeat(8000);
  for (const query of [`${long}=1`, `checks=${long}`, `max_age=${long}`]) {
    const res = await fetch(`${agent.base}/v1/preflight?${query}`);
    assert.equal(res.status, 400);
    assert.ok((await res.text()).length < 400);
  }
  assert.ok(agent.alive());
  assert.deepEqual((await probeHealthz(agent.base, 5)).failures, []);
  assert.ok(
    agent.logs.every((l) => l.event !== 'http-handler-failed'),
    agent.logTail(),
  );
});

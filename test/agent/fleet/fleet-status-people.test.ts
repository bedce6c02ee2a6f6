// `fleet status` for people: the maintenance reason and the warnings (not blocking) under each
// agent's line, agents served over HTTPS asked with --ca-file (and refused without it), and
// --watch redrawing until it is stopped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasTool, needTools } from '../../support/tools.ts';
import { makeTestPki } from '../../support/tls.ts';
import { agentBin } from './real-agent.ts';
import { InMemoryCore, controllableCheck, ok } from '../http/in-memory-core.ts';
import { serveForTest } from '../http/serve-for-test.ts';
import { childOutput, type ChildOutput } from '../../support/child-output.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bfa-fleet-people-'));
let pki: ReturnType<typeof makeTestPki> | null = null;
let srv: Awaited<ReturnType<typeof serveForTest>> | null = null;

before(async () => {
  if (!hasTool('openssl')) return; // each test then skips (or fails in CI) through needTools
  pki = makeTestPki(scratch);
  const disk = controllableCheck('disk', 'host', { ...ok('30.0 GiB of 252.0 GiB free, below 20%'), status: 'warning' });
  const skopeo = controllableCheck('skopeo', 'host', ok('skopeo 1.9.3 (boltdb)'));
  const core = new InMemoryCore([disk.check, skopeo.check]);
  await core.runChecks();
  await core.setMaintenance({ reason: 'kernel update', expiresAt: new Date(Date.now() + 3600_000), by: 'api' });
  srv = await serveForTest(core, {
    tls: { cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile), ca: null },
  });
});

after(async () => {
  await srv?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function fleetStatus(args: string[], until?: (stdout: string) => boolean): Promise<ChildOutput> {
  const child = spawn(process.execPath, [agentBin, 'fleet', 'status', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return childOutput(child, 30_000, until);
}

test('an HTTPS agent asked with --ca-file shows its maintenance reason and warnings; without the CA it cannot be asked', async (t) => {
  if (!needTools(t, 'openssl')) return;
  const address = srv!.base.replace('https://', '');
  const run = await fleetStatus(['--ca-file', pki!.caFile, address]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stdout, new RegExp(`^${address.replace(/\./g, '\\.')} +refuse .*maintenance`, 'm'));
  assert.match(run.stdout, /^ {4}maintenance: kernel update \(until \S+, by api\)$/m);
  assert.match(run.stdout, /^ {4}warning: disk: 30\.0 GiB of 252\.0 GiB free, below 20%$/m);
  assert.doesNotMatch(run.stdout, /warning: skopeo/);

  const untrusted = await fleetStatus(['--https', address]);
  assert.equal(untrusted.code, 4);
  assert.match(untrusted.stdout, /no-answer .*unreachable: cannot connect: .*certificate/);
  const plain = await fleetStatus([address]);
  assert.equal(plain.code, 4, 'plain HTTP to an HTTPS agent gets no preflight answer');
});

test("--watch redraws every period until stopped, and exits with the last sweep's code", async (t) => {
  if (!needTools(t, 'openssl')) return;
  const address = srv!.base.replace('https://', '');
  const sweeps = (out: string) => out.match(/^fleet status at /gm)?.length ?? 0;
  const started = performance.now();
  const run = await fleetStatus(
    ['--watch', '1', '--ca-file', pki!.caFile, address],
    (out) => sweeps(out) >= 3 && out.trimEnd().endsWith('no answer'),
  );
  assert.equal(sweeps(run.stdout), 3, run.stdout);
  assert.ok(performance.now() - started >= 2000, 'one period between sweeps');
  assert.equal(run.code, 1, run.stderr);
  assert.equal(run.stdout.match(/maintenance: kernel update/g)?.length, 3);
  assert.equal((await fleetStatus(['--watch', '0.5', address])).code, 2, 'a period under 1 s is a usage error');
  assert.equal((await fleetStatus(['--watch', '5', '--json', address])).code, 2);
});

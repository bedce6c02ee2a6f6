// Attack (issue 12, item 1): every descriptor taken, then a check starts a child. Node reports
// EMFILE at spawn by returning a child without pipes and emitting 'error' a tick later; the
// statfs helper used the child's stdout before listening for that, and the daemon died with
// "Unhandled 'error' event … spawn … EMFILE". Now each of the agent's three children (statfs,
// skopeo --version, the cache verifier) turns it into a failed result, and the daemon lives.
// The descriptors are really exhausted (RLIMIT_NOFILE, set with prlimit), nothing is mocked.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { needTools } from '../support/tools.ts';
import { startBundledAgent } from '../e2e/support/bundled-agent.ts';
import { pollUntil, sleep } from '../e2e/support/poll.ts';

const root = join(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'bfa-emfile-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const healthyBolt = join(root, 'test/fixtures/bolt/skopeo-1.9.3-healthy.boltdb');
const moduleUrl = (rel: string): string => JSON.stringify(pathToFileURL(join(root, rel)).href);

test('with every descriptor taken, each child the agent starts fails cleanly', (t) => {
  if (!needTools(t, 'prlimit')) return;
  const helper = join(scratch, 'exhaust.ts');
  writeFileSync(
    helper,
    `
import { openSync } from 'node:fs';
import { statfsInChild } from ${moduleUrl('checks/disk/statfs-in-child.ts')};
import { runSkopeoVersion } from ${moduleUrl('checks/skopeo/run-version.ts')};
import { createChildVerifier } from ${moduleUrl('agent/cache-verify-child.ts')};
const verifier = createChildVerifier({ maxVerifySeconds: 10, snapshotRoot: () => ${JSON.stringify(join(scratch, 'snapshots'))} });
const held = [];
try { for (;;) held.push(openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
const out = {
  held: held.length,
  statfs: await statfsInChild('/', new AbortController().signal),
  skopeo: await runSkopeoVersion('/bin/true', 5000, new AbortController().signal),
  verify: await verifier.verify(${JSON.stringify(healthyBolt)}),
};
await verifier.close();
process.stdout.write(JSON.stringify(out));
`,
  );
  const r = spawnSync('prlimit', ['--nofile=64:64', process.execPath, helper], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `the process died: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  assert.ok(out.held > 0);
  assert.equal(out.statfs.ok, false);
  assert.match(out.statfs.message, /EMFILE/);
  assert.equal(out.skopeo.ok, false);
  assert.equal(out.skopeo.code, 'skopeo-failed');
  assert.match(out.skopeo.message, /EMFILE/);
  assert.equal(out.verify.verdict, 'unreadable');
  assert.deepEqual(
    out.verify.problems.map((p: { code: string }) => p.code),
    ['verify-process-failed'],
  );
  assert.match(out.verify.problems[0].message, /EMFILE/);
});

// jsonOf: response bodies are loosely typed; the assertions check their shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const jsonOf = (res: Response): Promise<any> => res.json();

function failuresOf(metrics: string, check: string): number {
  const m = new RegExp(`^buildfleet_check_failures_total\\{check="${check}"\\} (\\d+)`, 'm').exec(metrics);
  return m ? Number(m[1]) : NaN;
}

test('the daemon with its descriptors exhausted: checks fail, the daemon lives and recovers', async (t) => {
  if (!needTools(t, 'prlimit')) return;
  const dir = join(scratch, 'daemon');
  const caches = join(dir, 'caches');
  mkdirSync(caches, { recursive: true });
  copyFileSync(healthyBolt, join(caches, 'blob-info-cache-v1.boltdb'));
  const skopeo = join(root, 'test/fixtures/fake-skopeo/skopeo-1.14.0-with-commit');
  const everySecond = '* * * * * *';
  const configFile = join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    `listen: "127.0.0.1:0"
stateDir: ${join(dir, 'state')}
checks:
  skopeo: { binaries: [${skopeo}], schedule: "${everySecond}", jitterSeconds: 0, failuresBeforeCritical: 1 }
  blobinfocache: { dirs: [${caches}], discoverUsers: false, schedule: "${everySecond}", jitterSeconds: 0, failuresBeforeCritical: 1 }
  disk:
    schedule: "${everySecond}"
    jitterSeconds: 0
    failuresBeforeCritical: 1
    paths: [{ path: ${dir}, warnFree: "0%", criticalFree: "0%" }]
  registries: { enabled: false }
`,
  );
  const agent = await startBundledAgent({ bundle: join(root, 'agent/bin.ts'), configFile });
  t.after(() => agent.stop());
  const pid = String(agent.process.pid);
  const metrics = async (): Promise<string> => (await fetch(`${agent.base}/metrics`)).text();
  const first = await metrics();
  // (The blob-cache check runs too, for the daemon to survive it, but it fails before a child:
  // opening the pinned cache directory meets EMFILE first. The first test covers its child.)
  const before = { disk: failuresOf(first, 'disk'), skopeo: failuresOf(first, 'skopeo') };

  // No descriptor can be opened now: fds 0-2 are taken and the soft limit is 3 (the hard limit
  // stays: raising it back would need CAP_SYS_RESOURCE).
  const limits = spawnSync('prlimit', [`--pid=${pid}`, '--nofile', '--output=SOFT,HARD', '--noheadings'], {
    encoding: 'utf8',
  });
  const [soft, hard] = limits.stdout.trim().split(/\s+/);
  const lowered = spawnSync('prlimit', [`--pid=${pid}`, `--nofile=3:${hard}`], { encoding: 'utf8' });
  assert.equal(lowered.status, 0, lowered.stderr);
  await sleep(3500);
  const restored = spawnSync('prlimit', [`--pid=${pid}`, `--nofile=${soft}:${hard}`], { encoding: 'utf8' });
  assert.equal(restored.status, 0, restored.stderr);

  assert.equal(agent.process.exitCode, null, `the daemon exited:\n${agent.logTail()}`);
  assert.equal(agent.process.signalCode, null, `the daemon was killed:\n${agent.logTail()}`);
  // /healthz may say 503 for a moment: the state writes failed with EMFILE too, and it says so
  // until one succeeds (the next verdict change, once descriptors are back).
  const health = await pollUntil(
    '/healthz to answer 200',
    async () => {
      const res = await fetch(`${agent.base}/healthz`);
      return res.status === 200
        ? { done: true, value: res.status }
        : { done: false, seen: `${res.status} ${await res.text()}` };
    },
    { timeoutMs: 15_000 },
  );
  assert.equal(health, 200);
  const after = await metrics();
  assert.ok(failuresOf(after, 'disk') > before.disk, `disk failures ${before.disk} -> ${failuresOf(after, 'disk')}`);
  assert.ok(
    failuresOf(after, 'skopeo') > before.skopeo,
    `skopeo failures ${before.skopeo} -> ${failuresOf(after, 'skopeo')}`,
  );
  // And it recovers: the next runs succeed again.
  await pollUntil(
    'the disk check to be ok again',
    async () => {
      const body = await jsonOf(await fetch(`${agent.base}/v1/preflight`));
      const disk = body.checks.find((c: { name: string }) => c.name === 'disk');
      return disk?.status === 'ok' ? { done: true, value: disk } : { done: false, seen: disk };
    },
    { timeoutMs: 10_000 },
  );
});

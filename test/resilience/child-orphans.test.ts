// Attack (issue 12, item 4): a child that is a shell script and hangs. Killing only the script
// left its own children (a `sleep`) running with ppid 1, one more on every timed-out run, and
// anyone can ask for runs (`?max_age=0&checks=skopeo`). Every child now leads its own process
// group and the whole group is killed (lib/run-child.ts): after a timed-out skopeo check, an
// aborted statfs and a cache verification past its check's deadline, nothing is left.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSkopeoCheck } from '../../checks/skopeo.ts';
import { statfsInChild } from '../../checks/disk/statfs-in-child.ts';
import { createChildVerifier, verifyProcessCodes } from '../../agent/cache-verify-child.ts';
import { sleep } from '../e2e/support/poll.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bfa-orphans-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// A `sleep` with a duration no other process uses, so it can be found in /proc.
let seq = 0;
function marker(): string {
  seq += 1;
  return `${900 + seq}.${process.pid}`;
}

function processesWith(arg: string): { pid: number; ppid: number }[] {
  const found: { pid: number; ppid: number }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!argv.includes(arg)) continue;
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1]);
      found.push({ pid: Number(name), ppid });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

// Waits (bounded) for every process carrying `arg` to be gone; returns the survivors.
async function survivors(arg: string): Promise<{ pid: number; ppid: number }[]> {
  for (let i = 0; i < 100; i++) {
    if (processesWith(arg).length === 0) return [];
    await sleep(20);
  }
  return processesWith(arg);
}

// A shell script that starts a sleep and waits for it, ignoring SIGTERM itself: the shape of a
// wrapper stuck on a dead mount. Its sleep is the grandchild that used to be orphaned.
function hangingScript(name: string, sleepArg: string, prints = ''): string {
  const path = join(scratch, name);
  writeFileSync(path, `#!/bin/sh\ntrap '' TERM\n${prints}sleep ${sleepArg}\n`);
  chmodSync(path, 0o755);
  return path;
}

test('a hung skopeo script: the timed-out check leaves no sleep behind', async () => {
  const arg = marker();
  const skopeo = hangingScript('skopeo', arg);
  const check = createSkopeoCheck({ binaries: [skopeo], minVersion: '1.0.0', deny: [], timeoutSeconds: 1 });
  const result = await check.run({ signal: new AbortController().signal, now: () => new Date() });
  assert.equal(result.status, 'critical');
  assert.match(JSON.stringify(result.reasons), /skopeo-hung/);
  assert.deepEqual(await survivors(arg), []);
});

test('a statfs helper that hangs: aborting it leaves nothing behind', async () => {
  const arg = marker();
  const script = hangingScript('statfs', arg);
  const controller = new AbortController();
  const pending = statfsInChild('/', controller.signal, () => ({ file: script, args: [] }));
  for (let i = 0; i < 250 && processesWith(arg).length === 0; i++) await sleep(20);
  assert.equal(processesWith(arg).length, 1, 'the helper never started its sleep');
  controller.abort();
  assert.equal((await pending).ok, false);
  assert.deepEqual(await survivors(arg), []);
});

test(
  "a cache verification past its check's deadline is stopped then, with its children",
  { timeout: 60_000 },
  async () => {
    const arg = marker();
    const script = hangingScript('verify', arg);
    // The backstop is an hour: only the check's own deadline (the signal) can end this run.
    const verifier = createChildVerifier({
      maxVerifySeconds: 3600,
      snapshotRoot: () => join(scratch, 'snapshots'),
      command: { file: script, args: [] },
    });
    try {
      const deadline = AbortSignal.timeout(1000);
      const started = performance.now();
      const verdict = await verifier.verify('/var/lib/containers/cache/blob-info-cache-v1.boltdb', {
        signal: deadline,
      });
      assert.ok(performance.now() - started < 60_000);
      assert.equal(verdict.verdict, 'unreadable');
      assert.deepEqual(
        verdict.problems.map((p) => p.code),
        [verifyProcessCodes.timeout],
      );
      assert.deepEqual(await survivors(arg), []);
      // The child's private snapshot directory went with it.
      assert.deepEqual(readdirSync(join(scratch, 'snapshots')), []);
    } finally {
      await verifier.close();
    }
  },
);

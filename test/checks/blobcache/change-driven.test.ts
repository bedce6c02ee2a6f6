// Change-driven verification: an unchanged cache keeps its healthy verdict without a new read;
// every write (in place with size and mtime restored, a rename over the path, a commit) is
// verified again; corrupt verdicts are never carried; the deep run reads everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import path from 'node:path';
import {
  createBlobCacheCheck,
  type BlobCacheCheckOptions,
  type BlobCacheDetails,
} from '../../../checks/blobcache/check.ts';
import { verifyCacheFile } from '../../../checks/blobcache/verify.ts';
import { isStampFailure, readChangeStamp, type ChangeStamp } from '../../../checks/blobcache/change-stamp.ts';
import { createCacheVerdictMemory, type CacheVerdictMemory } from '../../../checks/blobcache/verdict-memory.ts';
import { readBoltMetas } from '../../../checks/blobcache/bolt/meta.ts';
import { bufferReadAt } from '../../../checks/blobcache/file-source.ts';
import type { CheckTrigger } from '../../../checks/types.ts';
import { makeScratch, type Scratch } from '../../agent/remediation/scratch.ts';

const healthyBolt = path.join(import.meta.dirname, '../../fixtures/bolt/boltref-4096-healthy.boltdb');

// The real verifier, counted.
function countingVerify(): { verify: BlobCacheCheckOptions['verify']; calls: () => number } {
  let n = 0;
  return {
    verify: (p, o) => {
      n++;
      return verifyCacheFile(p, o);
    },
    calls: () => n,
  };
}

// A clock 5 s ahead of the files' ctimes, so stamps read now count as settled.
const later = (): Date => new Date(Date.now() + 5000);

function options(
  s: Scratch,
  memory: CacheVerdictMemory,
  verify: BlobCacheCheckOptions['verify'],
  over: Partial<BlobCacheCheckOptions> = {},
): BlobCacheCheckOptions {
  return {
    dirs: [s.cacheDir],
    discoverUsers: false,
    verify,
    skopeoInfo: async () => ({ skopeoVersion: '1.9.3', cacheFormatInUse: 'boltdb' }),
    passwdPath: s.passwd,
    memory,
    ...over,
  };
}

async function runOnce(
  opts: BlobCacheCheckOptions,
  trigger: CheckTrigger = 'schedule',
  now: () => Date = later,
): Promise<BlobCacheDetails> {
  const r = await createBlobCacheCheck(opts).run({ signal: new AbortController().signal, now, trigger });
  return r.details as unknown as BlobCacheDetails;
}

// Puts atime and mtime back to the nanosecond (utimes from JS numbers rounds them).
function restoreTimes(file: string, st: BigIntStats): void {
  const ts = (ns: bigint): string => `@${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
  for (const [flag, ns] of [
    ['-a', st.atimeNs],
    ['-m', st.mtimeNs],
  ] as const) {
    const r = spawnSync('touch', [flag, '-d', ts(ns), file]);
    assert.equal(r.status, 0, String(r.stderr));
  }
}

// Damages the tree's root page (its type becomes "meta") without touching either meta page:
// no commit, the same size; then puts the old mtime back.
function damageRootInPlace(file: string): void {
  const bytes = readFileSync(file);
  const reading = readBoltMetas(bufferReadAt(bytes), bytes.length);
  assert.equal(reading.kind, 'ok');
  if (reading.kind !== 'ok') return;
  const before = statSync(file, { bigint: true });
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from([0x04, 0x00]), 0, 2, Number(reading.meta.root) * reading.pageSize + 8);
  closeSync(fd);
  restoreTimes(file, before);
  const after = statSync(file, { bigint: true });
  assert.equal(after.size, before.size);
  assert.equal(after.mtimeNs, before.mtimeNs);
  assert.notEqual(after.ctimeNs, before.ctimeNs);
}

test('an unchanged healthy cache keeps its verdict without a verification; the verdict says when it was proven', async () => {
  const s = makeScratch();
  try {
    copyFileSync(healthyBolt, s.bolt);
    const memory = createCacheVerdictMemory();
    const v = countingVerify();
    const first = await runOnce(options(s, memory, v.verify));
    assert.equal(v.calls(), 1);
    assert.equal(first.caches[0].verdict, 'healthy');
    assert.equal(first.caches[0].unchanged, false);
    const second = await runOnce(options(s, memory, v.verify), 'request');
    assert.equal(v.calls(), 1, 'nothing changed: no second verification');
    assert.equal(second.caches[0].verdict, 'healthy');
    assert.equal(second.caches[0].unchanged, true);
    assert.equal(second.caches[0].verifiedAt, first.caches[0].verifiedAt);
    assert.equal(
      Date.parse(second.caches[0].changedAt!),
      Number(statSync(s.bolt, { bigint: true }).ctimeNs / 1_000_000n),
    );
    assert.deepEqual(second.verifications, {
      verified: { schedule: 1, write: 0, request: 0, full: 0 },
      skippedUnchanged: 1,
    });
    assert.equal(second.trigger, 'request');
  } finally {
    s.cleanup();
  }
});

test('an in-place write that restores size and mtime is verified again (ctime moved) and found corrupt', async () => {
  const s = makeScratch();
  try {
    copyFileSync(healthyBolt, s.bolt);
    const memory = createCacheVerdictMemory();
    const v = countingVerify();
    assert.equal((await runOnce(options(s, memory, v.verify))).caches[0].verdict, 'healthy');
    await new Promise((r) => setTimeout(r, 20)); // past the filesystem's timestamp tick
    damageRootInPlace(s.bolt);
    const after = await runOnce(options(s, memory, v.verify));
    assert.equal(v.calls(), 2);
    assert.equal(after.caches[0].verdict, 'corrupt');
    assert.equal(after.caches[0].unchanged, false);
    // A corrupt verdict is never carried forward: every run verifies again.
    await runOnce(options(s, memory, v.verify));
    await runOnce(options(s, memory, v.verify));
    assert.equal(v.calls(), 4);
  } finally {
    s.cleanup();
  }
});

test('a damaged file renamed over the cache (same size and mtime) is verified again', async () => {
  const s = makeScratch();
  try {
    copyFileSync(healthyBolt, s.bolt);
    const memory = createCacheVerdictMemory();
    const v = countingVerify();
    assert.equal((await runOnce(options(s, memory, v.verify))).caches[0].verdict, 'healthy');
    const temp = path.join(s.cacheDir, 'incoming');
    copyFileSync(healthyBolt, temp);
    damageRootInPlace(temp);
    restoreTimes(temp, statSync(s.bolt, { bigint: true }));
    renameSync(temp, s.bolt);
    const after = await runOnce(options(s, memory, v.verify));
    assert.equal(v.calls(), 2);
    assert.equal(after.caches[0].verdict, 'corrupt');
  } finally {
    s.cleanup();
  }
});

test('a stamp read within the racy window vouches for nothing: verified again next run', async () => {
  const s = makeScratch();
  try {
    copyFileSync(healthyBolt, s.bolt);
    const memory = createCacheVerdictMemory();
    const v = countingVerify();
    const now = (): Date => new Date(); // the file was written just now
    await runOnce(options(s, memory, v.verify), 'schedule', now);
    await runOnce(options(s, memory, v.verify), 'schedule', now);
    assert.equal(v.calls(), 2);
  } finally {
    s.cleanup();
  }
});

test('the deep run reads everything: a flipped byte that moved no stamp (bit rot) is found', async () => {
  const s = makeScratch();
  try {
    copyFileSync(healthyBolt, s.bolt);
    const memory = createCacheVerdictMemory();
    const v = countingVerify();
    // Bit rot changes no metadata. Simulated by a stamp reader that reports the first stamp it
    // saw for each path ever after (the real reader would see this test's ctime move).
    const frozen = new Map<string, ChangeStamp>();
    const readStamp = (p: string, nowMs: number): ReturnType<typeof readChangeStamp> => {
      const real = readChangeStamp(p, nowMs);
      if (isStampFailure(real)) return real;
      const key = path.basename(p);
      if (!frozen.has(key)) frozen.set(key, real);
      return frozen.get(key)!;
    };
    const opts = options(s, memory, v.verify, { readStamp });
    assert.equal((await runOnce(opts)).caches[0].verdict, 'healthy');
    damageRootInPlace(s.bolt);
    const plain = await runOnce(opts);
    assert.equal(plain.caches[0].verdict, 'healthy', 'the change check cannot see bit rot');
    assert.equal(plain.caches[0].unchanged, true);
    const deep = await runOnce({ ...opts, full: true });
    assert.equal(deep.trigger, 'full');
    assert.equal(deep.caches[0].verdict, 'corrupt');
    // From now on the plain run verifies again too (corrupt is never carried).
    const next = await runOnce(opts);
    assert.equal(next.caches[0].verdict, 'corrupt');
    assert.equal(v.calls(), 3);
  } finally {
    s.cleanup();
  }
});

// A run a request started may take the previous discovery instead of walking again
// (checks/blobcache/discovery-reuse.ts), only while nothing it could miss has moved: the real
// directories, real files, the real verifier; only the check's clock is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  createBlobCacheCheck,
  type BlobCacheCheckOptions,
  type BlobCacheDetails,
} from '../../../checks/blobcache/check.ts';
import { cacheFileNames, discoverCaches, type DiscoveredCache } from '../../../checks/blobcache/discover.ts';
import {
  discoveryReuseMs,
  reusableDiscovery,
  type DiscoveryRecord,
} from '../../../checks/blobcache/discovery-reuse.ts';
import { racyWindowMs } from '../../../checks/blobcache/change-stamp.ts';
import { verifyCacheFile } from '../../../checks/blobcache/verify.ts';
import type { CheckTrigger } from '../../../checks/types.ts';
import { makeScratch, writeCorrupt, type Scratch } from '../../agent/remediation/scratch.ts';

const healthyBolt = path.join(import.meta.dirname, '../../fixtures/bolt/boltref-4096-healthy.boltdb');
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 20)); // past the filesystem's timestamp tick

// A discovery made `settledMs` after the directories' last change (the check's clock).
async function discovered(dirs: string[], settledMs = 5000): Promise<DiscoveryRecord> {
  const newestCtimeMs = Math.max(...dirs.map((d) => Number(statSync(d, { bigint: true }).ctimeNs / 1_000_000n)));
  const startedAtMs = newestCtimeMs + settledMs;
  const caches = await discoverCaches({
    dirs,
    discoverUsers: false,
    cacheFormatInUse: 'boltdb',
    passwdPath: '/dev/null',
  });
  return { startedAtMs, cacheFormatInUse: 'boltdb', caches };
}

test('a request-started run reuses a discovery younger than discoveryReuseMs of unchanged directories; no other run does', async () => {
  const s = makeScratch();
  try {
    copyFileSync(healthyBolt, s.bolt);
    const d = await discovered([s.cacheDir]);
    const at = d.startedAtMs;
    assert.equal(reusableDiscovery(d, 'request', 'boltdb', at + 1), d.caches);
    assert.equal(reusableDiscovery(d, 'request', 'boltdb', at + discoveryReuseMs - 1), d.caches);
    for (const trigger of ['schedule', 'write', 'full'] as CheckTrigger[])
      assert.equal(reusableDiscovery(d, trigger, 'boltdb', at + 1), null, trigger);
    assert.equal(reusableDiscovery(d, 'request', 'boltdb', at + discoveryReuseMs), null, 'too old');
    assert.equal(reusableDiscovery(d, 'request', 'boltdb', at - 1), null, 'clock went back');
    assert.equal(reusableDiscovery(d, 'request', 'sqlite', at + 1), null, 'skopeo now uses another format');
    assert.equal(reusableDiscovery(null, 'request', 'boltdb', at + 1), null);
  } finally {
    s.cleanup();
  }
});

test('a file added, removed or renamed in a cache directory, or the directory replaced, ends the reuse', async () => {
  const s = makeScratch();
  try {
    copyFileSync(healthyBolt, s.bolt);
    const changes: [string, () => void][] = [
      ['a new cache beside it', () => writeFileSync(s.sqlite, '')],
      ['a companion appeared', () => writeFileSync(`${s.bolt}-journal`, '')],
      ['the cache moved aside', () => renameSync(s.bolt, `${s.bolt}.moved`)],
      [
        'a file renamed over the cache',
        () => {
          copyFileSync(healthyBolt, `${s.bolt}.incoming`);
          renameSync(`${s.bolt}.incoming`, s.bolt);
        },
      ],
      [
        'the directory replaced',
        () => {
          renameSync(s.cacheDir, `${s.cacheDir}.old`);
          mkdirSync(s.cacheDir, { mode: 0o700 });
          copyFileSync(healthyBolt, s.bolt);
        },
      ],
    ];
    for (const [what, change] of changes) {
      copyFileSync(healthyBolt, s.bolt);
      const d = await discovered([s.cacheDir]);
      // The directory's times as the walk saw them are what an unchanged directory must show.
      assert.equal(reusableDiscovery(d, 'request', 'boltdb', d.startedAtMs + 1), d.caches, `${what}: reusable before`);
      await tick();
      change();
      assert.equal(reusableDiscovery(d, 'request', 'boltdb', d.startedAtMs + 1), null, what);
    }
  } finally {
    s.cleanup();
  }
});

test('a directory changed within the racy window of the walk, or a refused one, is never reused', async () => {
  const s = makeScratch();
  try {
    copyFileSync(healthyBolt, s.bolt);
    const racy = await discovered([s.cacheDir], racyWindowMs - 1);
    assert.equal(reusableDiscovery(racy, 'request', 'boltdb', racy.startedAtMs + 1), null);
    const d = await discovered([s.cacheDir]);
    const refused: DiscoveredCache = { ...d.caches[0], refused: { code: 'symlink', message: 'x' } };
    assert.equal(reusableDiscovery({ ...d, caches: [refused] }, 'request', 'boltdb', d.startedAtMs + 1), null);
    const unknownTimes: DiscoveredCache = { ...d.caches[0], dirTimes: undefined };
    assert.equal(reusableDiscovery({ ...d, caches: [unknownTimes] }, 'request', 'boltdb', d.startedAtMs + 1), null);
  } finally {
    s.cleanup();
  }
});

// One check instance, run again and again on a clock the test sets (5 s past the files' ctimes).
function checkOn(s: Scratch, dirs: string[], over: Partial<BlobCacheCheckOptions> = {}) {
  let verifications = 0;
  const check = createBlobCacheCheck({
    dirs,
    discoverUsers: false,
    verify: (p, o) => {
      verifications++;
      return verifyCacheFile(p, o);
    },
    skopeoInfo: async () => ({ skopeoVersion: '1.9.3', cacheFormatInUse: 'boltdb' }),
    passwdPath: s.passwd,
    ...over,
  });
  let nowMs = Date.now() + 5000;
  return {
    run: async (trigger: CheckTrigger): Promise<BlobCacheDetails> => {
      const r = await check.run({ signal: new AbortController().signal, now: () => new Date(nowMs), trigger });
      return r.details as unknown as BlobCacheDetails;
    },
    advance: (ms: number) => {
      nowMs += ms;
    },
    verifications: () => verifications,
  };
}

test('a cache in a directory created after the walk is found by the next scheduled run, and by a request once the walk is discoveryReuseMs old', async () => {
  const s = makeScratch();
  try {
    copyFileSync(healthyBolt, s.bolt);
    const later = path.join(s.root, 'later-cache');
    const c = checkOn(s, [s.cacheDir, later]);
    assert.equal((await c.run('schedule')).caches.length, 1);
    mkdirSync(later);
    copyFileSync(healthyBolt, path.join(later, cacheFileNames.boltdb));
    assert.equal((await c.run('request')).caches.length, 1, 'the walk is reused: not seen yet');
    c.advance(discoveryReuseMs);
    const seen = await c.run('request');
    assert.deepEqual(
      seen.caches.map((x) => [x.dir, x.verdict]),
      [
        [s.cacheDir, 'healthy'],
        [later, 'healthy'],
      ],
    );
    const other = path.join(s.root, 'another');
    const c2 = checkOn(s, [s.cacheDir, other]);
    await c2.run('schedule');
    mkdirSync(other);
    copyFileSync(healthyBolt, path.join(other, cacheFileNames.boltdb));
    assert.equal((await c2.run('schedule')).caches.length, 2, 'a scheduled run always walks');
  } finally {
    s.cleanup();
  }
});

test('with the walk reused, a cache damaged in place or renamed over is still verified again, and a new one beside it found', async () => {
  const s = makeScratch();
  try {
    copyFileSync(healthyBolt, s.bolt);
    const c = checkOn(s, [s.cacheDir]);
    assert.equal((await c.run('schedule')).caches[0].verdict, 'healthy');
    const unchanged = await c.run('request');
    assert.equal(unchanged.caches[0].unchanged, true);
    assert.equal(c.verifications(), 1);
    // In place: the directory does not change, the walk is reused, the stamp moved.
    await tick();
    writeCorrupt(s.bolt);
    assert.equal((await c.run('request')).caches[0].verdict, 'corrupt');
    assert.equal(c.verifications(), 2);
    await tick();
    const temp = path.join(s.cacheDir, 'incoming');
    copyFileSync(healthyBolt, temp);
    renameSync(temp, s.bolt);
    assert.equal((await c.run('request')).caches[0].verdict, 'healthy');
    await tick();
    writeCorrupt(temp);
    renameSync(temp, s.bolt);
    const after = await c.run('request');
    assert.equal(after.caches[0].verdict, 'corrupt');
    assert.equal(c.verifications(), 4);
    await tick();
    writeFileSync(s.sqlite, '');
    const both = await c.run('request');
    assert.deepEqual(
      both.caches.map((x) => x.formatByName),
      ['sqlite', 'boltdb'],
    );
  } finally {
    s.cleanup();
  }
});

test("a new local user's cache is found by the next scheduled run (the passwd file changed), however young the listing", async () => {
  const s = makeScratch();
  try {
    const home = path.join(s.root, 'home/builder');
    const cacheDir = path.join(home, '.local/share/containers/cache');
    mkdirSync(cacheDir, { recursive: true });
    copyFileSync(healthyBolt, path.join(cacheDir, cacheFileNames.boltdb));
    const c = checkOn(s, [], { discoverUsers: true });
    assert.equal((await c.run('schedule')).caches.length, 0);
    appendFileSync(s.passwd, `builder:x:1001:1001::${home}:/bin/sh\n`);
    const found = await c.run('schedule');
    assert.deepEqual(
      found.caches.map((x) => [x.owner.name, x.verdict]),
      [['builder', 'healthy']],
    );
  } finally {
    s.cleanup();
  }
});

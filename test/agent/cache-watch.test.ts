// The cache-directory watcher on real directories (inotify): a write to a cache file fires once
// after it settles, other files do not, continuous writes still fire within the bound, and a
// replaced directory is watched again after arm().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCacheWatcher, isCacheWrite } from '../../agent/cache-watch.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function scratch(): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(path.join(tmpdir(), 'bfa-watch-'));
  const dir = path.join(root, 'cache');
  mkdirSync(dir);
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

test('which names are cache writes', () => {
  assert.ok(isCacheWrite('blob-info-cache-v1.boltdb'));
  assert.ok(isCacheWrite('blob-info-cache-v1.sqlite'));
  assert.ok(isCacheWrite('blob-info-cache-v1.sqlite-wal'));
  assert.ok(isCacheWrite('blob-info-cache-v1.sqlite-journal'));
  assert.ok(!isCacheWrite('blob-info-cache-v1.sqlite-shm'), 'readers write the -shm');
  assert.ok(!isCacheWrite('something-else'));
  assert.ok(isCacheWrite(null));
});

test('a write to a cache file fires once after it settles; other files do not fire', async () => {
  const s = scratch();
  const fired: number[] = [];
  const w = createCacheWatcher({ onWrite: () => fired.push(Date.now()), settleMs: 100, maxDelayMs: 1000 });
  try {
    w.arm([s.dir, path.join(s.dir, 'not-there-yet')]);
    assert.deepEqual(w.watching(), [s.dir]);
    writeFileSync(path.join(s.dir, 'unrelated'), 'x');
    await sleep(300);
    assert.equal(fired.length, 0);
    const started = Date.now();
    for (let i = 0; i < 3; i++) appendFileSync(path.join(s.dir, 'blob-info-cache-v1.boltdb'), 'x');
    await sleep(400);
    assert.equal(fired.length, 1, 'three writes in a burst: one run');
    assert.ok(fired[0] - started >= 90, 'waited for the quiet period');
  } finally {
    w.close();
    s.cleanup();
  }
});

test('a cache written without pause still fires within maxDelayMs', async () => {
  const s = scratch();
  const fired: number[] = [];
  const w = createCacheWatcher({
    onWrite: () => fired.push(Date.now()),
    settleMs: 200,
    maxDelayMs: 500,
    minIntervalMs: 800,
  });
  try {
    w.arm([s.dir]);
    const started = Date.now();
    while (Date.now() - started < 2500) {
      appendFileSync(path.join(s.dir, 'blob-info-cache-v1.sqlite-wal'), 'x');
      await sleep(50);
    }
    assert.ok(fired.length >= 2 && fired.length <= 4, `fired ${fired.length} times in 2.5 s of writes every 50 ms`);
    assert.ok(fired[0] - started <= 700, `first run after ${fired[0] - started} ms`);
    for (let i = 1; i < fired.length; i++)
      assert.ok(fired[i] - fired[i - 1] >= 790, 'runs at least minIntervalMs apart');
  } finally {
    w.close();
    s.cleanup();
  }
});

test('a directory replaced at the same path is watched again after arm(); one created later too', async () => {
  const s = scratch();
  let fired = 0;
  const w = createCacheWatcher({ onWrite: () => fired++, settleMs: 50, maxDelayMs: 200, minIntervalMs: 0 });
  try {
    const later = path.join(path.dirname(s.dir), 'later');
    w.arm([s.dir, later]);
    renameSync(s.dir, `${s.dir}.old`);
    mkdirSync(s.dir);
    mkdirSync(later);
    w.arm([s.dir, later]);
    assert.deepEqual(w.watching().sort(), [s.dir, later].sort());
    await sleep(100);
    fired = 0;
    writeFileSync(path.join(s.dir, 'blob-info-cache-v1.boltdb'), 'x');
    await sleep(250);
    assert.equal(fired, 1);
    writeFileSync(path.join(later, 'blob-info-cache-v1.sqlite'), 'x');
    await sleep(250);
    assert.equal(fired, 2);
  } finally {
    w.close();
    s.cleanup();
  }
});

test('a directory that cannot be watched is left to the schedule (no throw)', () => {
  const s = scratch();
  const w = createCacheWatcher({
    onWrite: () => undefined,
    watch: (() => {
      throw Object.assign(new Error('ENOSPC: inotify watch limit reached'), { code: 'ENOSPC' });
    }) as never,
  });
  try {
    w.arm([s.dir]);
    assert.deepEqual(w.watching(), []);
  } finally {
    w.close();
    s.cleanup();
  }
});

// Attack (issue 12, item 2): a valid SQLite cache extended with `truncate -s 50G` (a few MB of
// data). The verifier copied its apparent size into /tmp (3.3 GB in 15 s, 19 GB in the daemon
// past the check's deadline), and killed verifiers left their copies behind. Now the snapshot
// holds only the pages the header counts, keeps holes, is refused when the disk has no room, and
// lives in a per-child directory under the state directory that is removed after the child and,
// if a child or the agent was killed, before the next one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCacheFixture } from '../fixtures/sqlite/blob-info-cache.ts';
import { verifySqliteFileWith } from '../../checks/blobcache/sqlite/verify.ts';
import { takeSnapshot } from '../../checks/blobcache/sqlite/snapshot.ts';
import { createChildVerifier } from '../../agent/cache-verify-child.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bfa-sparse-sqlite-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// 50 GiB apparent, the attack's size; the data is what createCacheFixture wrote.
const claimedBytes = 50 * 2 ** 30;

function sparseCache(name: string): { path: string; dataBytes: number } {
  const path = join(scratch, name);
  createCacheFixture(path, { rows: 2000 });
  const dataBytes = statSync(path).size;
  truncateSync(path, claimedBytes);
  return { path, dataBytes };
}

// Every file under `dir`, with its apparent size and the bytes it really takes on disk.
function filesUnder(dir: string): { name: string; size: number; diskBytes: number }[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => ({ name, st: statSync(join(dir, name)) }))
    .filter(({ st }) => st.isFile())
    .map(({ name, st }) => ({ name, size: st.size, diskBytes: st.blocks * 512 }));
}

test(
  'a 50 GiB sparse SQLite cache: judged as SQLite sees it, no copy larger than its data',
  { timeout: 120_000 },
  async () => {
    const { path, dataBytes } = sparseCache('sparse.sqlite');
    const snapshotDir = join(scratch, 'snapshots-in-process');
    mkdirSync(snapshotDir);
    let seen: ReturnType<typeof filesUnder> = [];
    const verdict = await verifySqliteFileWith(path, { snapshotDir }, () => {
      seen = filesUnder(snapshotDir);
    });
    // SQLite uses the page count in the header and ignores the rest of the file: healthy.
    assert.equal(verdict.verdict, 'healthy', JSON.stringify(verdict.problems));
    assert.ok(seen.length > 0, 'the visitor saw the snapshot');
    for (const f of seen) {
      assert.ok(f.size <= dataBytes, `${f.name} is ${f.size} bytes, the data ${dataBytes}`);
      assert.ok(f.diskBytes <= dataBytes + 64 * 1024, `${f.name} takes ${f.diskBytes} bytes on disk`);
    }
    assert.deepEqual(readdirSync(snapshotDir), [], 'the snapshot is removed');
    // The live file was not touched.
    assert.equal(statSync(path).size, claimedBytes);
  },
);

test(
  "through the daemon's verifier child: the same verdict, nothing left under the state directory",
  { timeout: 120_000 },
  async () => {
    const { path } = sparseCache('sparse-child.sqlite');
    const root = join(scratch, 'state', 'snapshots');
    // What a killed child or a killed daemon left: removed before the next child starts.
    mkdirSync(join(root, 'verify-1-stale'), { recursive: true });
    writeFileSync(join(root, 'verify-1-stale', 'cache.sqlite'), 'left by a killed child');
    const verifier = createChildVerifier({ maxVerifySeconds: 100, snapshotRoot: () => root });
    try {
      assert.deepEqual(readdirSync(root), [], 'stale snapshot directories are removed at start');
      const verdict = await verifier.verify(path);
      assert.equal(verdict.verdict, 'healthy', JSON.stringify(verdict.problems));
      assert.deepEqual(readdirSync(root), []);
    } finally {
      await verifier.close();
    }
  },
);

test('no room for the copy: unreadable with its own code, nothing written', async () => {
  const path = join(scratch, 'small.sqlite');
  createCacheFixture(path, { rows: 50 });
  const snapshotDir = join(scratch, 'snapshots-full-disk');
  mkdirSync(snapshotDir);
  const outcome = await takeSnapshot(path, {
    busyTimeoutMs: 100,
    maxAttempts: 1,
    lockHoldMs: 50,
    snapshotDir,
    freeBytes: () => 1024 * 1024,
  });
  assert.equal(outcome.kind, 'unreadable');
  assert.equal(outcome.kind === 'unreadable' && outcome.code, 'snapshot-no-space');
  assert.deepEqual(readdirSync(snapshotDir), []);
});

// The change stamp (checks/blobcache/change-stamp.ts) on real files: equal while nothing is
// written, moved by every kind of write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  openSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { isStampFailure, readChangeStamp, type ChangeStamp } from '../../../checks/blobcache/change-stamp.ts';
import { createCacheFixture, insertCacheRows } from '../../fixtures/sqlite/blob-info-cache.ts';
import { makeScratch } from '../../agent/remediation/scratch.ts';

const healthyBolt = path.join(import.meta.dirname, '../../fixtures/bolt/boltref-4096-healthy.boltdb');

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

test('bolt stamp: equal while nothing is written; a commit, an in-place write and a rename each move it', () => {
  const s = makeScratch();
  try {
    copyFileSync(healthyBolt, s.bolt);
    const a = readChangeStamp(s.bolt);
    const b = readChangeStamp(s.bolt);
    assert.ok(!isStampFailure(a) && !isStampFailure(b));
    assert.equal(a.key, b.key);
    // A new txid in meta 0 (what a commit writes), with size and mtime put back.
    const st = statSync(s.bolt, { bigint: true });
    const fd = openSync(s.bolt, 'r+');
    writeSync(fd, Buffer.from([0x7f]), 0, 1, 16 + 56);
    closeSync(fd);
    restoreTimes(s.bolt, st);
    const c = readChangeStamp(s.bolt);
    assert.ok(!isStampFailure(c));
    assert.notEqual(c.key, a.key);
    const temp = path.join(s.cacheDir, 'x');
    copyFileSync(s.bolt, temp);
    renameSync(temp, s.bolt);
    const d = readChangeStamp(s.bolt);
    assert.ok(!isStampFailure(d));
    assert.notEqual(d.key, c.key);
  } finally {
    s.cleanup();
  }
});

test('SQLite stamp: a commit moves it (rollback journal and WAL); a symlink is refused', () => {
  const s = makeScratch();
  try {
    for (const wal of [false, true]) {
      const file = `${s.sqlite}${wal ? '.wal-mode' : ''}`;
      createCacheFixture(file, { rows: 50, wal });
      const db = new DatabaseSync(file);
      try {
        const a = readChangeStamp(file);
        assert.ok(!isStampFailure(a));
        assert.equal((readChangeStamp(file) as ChangeStamp).key, a.key);
        db.exec('BEGIN');
        insertCacheRows(db, 1000, 3, 'later');
        db.exec('COMMIT');
        const b = readChangeStamp(file);
        assert.ok(!isStampFailure(b));
        assert.notEqual(b.key, a.key, wal ? 'WAL mode' : 'rollback mode');
      } finally {
        db.close();
      }
    }
    // A symlink planted at the cache path is never followed.
    writeFileSync(path.join(s.cacheDir, 'target'), 'x');
    const link = path.join(s.cacheDir, 'link');
    symlinkSync(path.join(s.cacheDir, 'target'), link);
    assert.ok(isStampFailure(readChangeStamp(link)));
  } finally {
    s.cleanup();
  }
});

// The SQLite verifier against real files built with containers/image's schema, one fixture
// class per test; every test also proves the live files were left exactly as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, renameSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { verifySqliteFile } from '../../../../checks/blobcache/sqlite/verify.ts';
import { verifyCacheFile } from '../../../../checks/blobcache/verify.ts';
import type { CacheVerdict } from '../../../../checks/blobcache/verdict.ts';
import { createCacheFixture, fakeDigest } from '../../../fixtures/sqlite/blob-info-cache.ts';
import {
  editTextInPage,
  garbleSchemaSql,
  overwrite,
  pagesOf,
  randomPagesBehindHeader,
  smashPage,
  smashPage1BtreeHeader,
} from '../../../fixtures/sqlite/damage.ts';
import { startFixtureChild } from '../../../fixtures/sqlite/children.ts';
import { directoryState, scratchDir } from './live-files.ts';
import { needTools } from '../../../support/tools.ts';

function codes(v: CacheVerdict): string[] {
  return v.problems.map((p) => p.code);
}

// Verifies and asserts the directory holding the live file is byte-for-byte unchanged.
async function verifyUnchanged(path: string, opts: Parameters<typeof verifySqliteFile>[1] = {}): Promise<CacheVerdict> {
  const dir = join(path, '..');
  const before = directoryState(dir);
  const verdict = await verifySqliteFile(path, opts);
  assert.deepEqual(directoryState(dir), before, 'live directory changed by verification');
  assert.equal(typeof verdict.durationMs, 'number');
  return verdict;
}

function rowCount(path: string, table: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return Number(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()?.n);
  } finally {
    db.close();
  }
}

test('healthy cache: healthy, stats from the file, same through the format dispatcher', async () => {
  const { dir, cleanup } = scratchDir('sqlite-healthy');
  try {
    const path = join(dir, 'blob-info-cache-v1.sqlite');
    createCacheFixture(path, { rows: 300 });
    const expectedRows =
      rowCount(path, 'DigestUncompressedPairs') +
      rowCount(path, 'DigestCompressors') +
      rowCount(path, 'KnownLocations');
    for (const full of [false, true]) {
      const v = await verifyUnchanged(path, { full });
      assert.equal(v.format, 'sqlite');
      assert.equal(v.verdict, 'healthy', JSON.stringify(v.problems));
      assert.deepEqual(v.warnings, []);
      assert.equal(v.stats.pageSize, 4096);
      assert.equal(v.stats.pages, statSync(path).size / 4096);
      assert.equal(v.stats.tables, 5);
      assert.equal(v.stats.rows, expectedRows);
      assert.equal(v.stats.sizeBytes, statSync(path).size);
      assert.equal(v.stats.attempts, 1);
    }
    const dispatched = await verifyCacheFile(path);
    assert.equal(dispatched.format, 'sqlite');
    assert.equal(dispatched.verdict, 'healthy');
  } finally {
    cleanup();
  }
});

test('a cache from c/image 5.28 (without the 5.32.1 tables) is healthy', async () => {
  const { dir, cleanup } = scratchDir('sqlite-older');
  try {
    const path = join(dir, 'blob-info-cache-v1.sqlite');
    createCacheFixture(path, { rows: 50, olderSchema: true });
    const v = await verifyUnchanged(path);
    assert.equal(v.verdict, 'healthy', JSON.stringify(v.problems));
    assert.equal(v.stats.tables, 3);
  } finally {
    cleanup();
  }
});

test('WAL mode with committed frames only in -wal: healthy with a warning, frames counted, -wal/-shm untouched', async () => {
  const { dir, cleanup } = scratchDir('sqlite-wal');
  try {
    const path = join(dir, 'blob-info-cache-v1.sqlite');
    createCacheFixture(path, { rows: 100, wal: true });
    // A cleanly closed WAL database: no -wal/-shm, and verifying must not create them (a
    // read-only SQLite reader would).
    const clean = await verifyUnchanged(path);
    assert.equal(clean.verdict, 'healthy', JSON.stringify(clean.problems));
    assert.deepEqual(clean.warnings, []);
    const writer = await startFixtureChild('wal-writer.ts', [path, '40'], 'committed');
    await writer.kill();
    assert.ok(statSync(`${path}-wal`).size > 0);
    const v = await verifyUnchanged(path);
    assert.equal(v.verdict, 'healthy', JSON.stringify(v.problems));
    assert.deepEqual(
      v.warnings.map((w) => w.code),
      ['wal-recovered'],
    );
    assert.equal(v.stats.rows, 3 * 140);
  } finally {
    cleanup();
  }
});

test('hot journal of a crashed writer: healthy with a warning, judged on the rolled-back state, journal left in place', async () => {
  const { dir, cleanup } = scratchDir('sqlite-hot');
  try {
    const path = join(dir, 'blob-info-cache-v1.sqlite');
    createCacheFixture(path, { rows: 300 });
    const rowsBefore = rowCount(path, 'KnownLocations');
    const sizeBefore = statSync(path).size;
    const writer = await startFixtureChild('crash-writer.ts', [path, '300'], 'in-transaction');
    await writer.kill();
    assert.ok(statSync(`${path}-journal`).size > 0, 'the crash left a journal');
    assert.ok(statSync(path).size > sizeBefore, 'the crashed writer spilled pages into the file');
    const v = await verifyUnchanged(path);
    assert.equal(v.verdict, 'healthy', JSON.stringify(v.problems));
    assert.deepEqual(
      v.warnings.map((w) => w.code),
      ['hot-journal-recovered'],
    );
    assert.equal(v.stats.rows, 3 * rowsBefore);
    assert.equal(v.stats.pages, sizeBefore / 4096);
  } finally {
    cleanup();
  }
});

test('overwritten table leaf page, index page and interior b-tree page: corrupt', async () => {
  const { dir, cleanup } = scratchDir('sqlite-pages');
  try {
    const base = join(dir, 'base.sqlite');
    createCacheFixture(base, { rows: 600 });
    const cases: Array<[string, string, 'leaf' | 'internal']> = [
      ['table-leaf', 'KnownLocations', 'leaf'],
      ['index-leaf', 'sqlite_autoindex_KnownLocations_1', 'leaf'],
      ['table-interior', 'KnownLocations', 'internal'],
    ];
    for (const [label, tree, role] of cases) {
      const pages = pagesOf(base, tree, role);
      assert.ok(pages.length > 0, `${tree} has ${role} pages`);
      const path = join(dir, `${label}.sqlite`);
      copyFileSync(base, path);
      smashPage(path, pages[Math.floor(pages.length / 2)]);
      for (const full of [false, true]) {
        const v = await verifyUnchanged(path, { full });
        assert.equal(v.verdict, 'corrupt', `${label} full=${full}`);
        assert.ok(codes(v).includes('sqlite-malformed'), `${label}: ${JSON.stringify(v.problems)}`);
      }
    }
  } finally {
    cleanup();
  }
});

test('a row edited so it no longer matches its index: quick_check misses it, full finds index-mismatch', async () => {
  const { dir, cleanup } = scratchDir('sqlite-index');
  try {
    const path = join(dir, 'blob-info-cache-v1.sqlite');
    createCacheFixture(path, { rows: 200 });
    const edited = pagesOf(path, 'DigestCompressors', 'leaf').some((p) =>
      editTextInPage(path, p, fakeDigest('fixture', 7)),
    );
    assert.ok(edited);
    assert.equal((await verifyUnchanged(path)).verdict, 'healthy');
    const full = await verifyUnchanged(path, { full: true });
    assert.equal(full.verdict, 'corrupt');
    assert.deepEqual([...new Set(codes(full))], ['index-mismatch']);
  } finally {
    cleanup();
  }
});

test('truncated file (whole pages or a partial page) and damaged header: corrupt with their codes', async () => {
  const { dir, cleanup } = scratchDir('sqlite-trunc');
  try {
    const base = join(dir, 'base.sqlite');
    createCacheFixture(base, { rows: 300 });
    const size = statSync(base).size;
    const pages = join(dir, 'pages.sqlite');
    copyFileSync(base, pages);
    truncateSync(pages, size - 3 * 4096);
    const partial = join(dir, 'partial.sqlite');
    copyFileSync(base, partial);
    truncateSync(partial, size - 100);
    const header = join(dir, 'header.sqlite');
    copyFileSync(base, header);
    overwrite(header, 16, Buffer.from([0x12, 0x34]));
    for (const [path, code] of [
      [pages, 'truncated'],
      [partial, 'truncated'],
      [header, 'header-invalid'],
    ]) {
      const v = await verifyUnchanged(path);
      assert.equal(v.verdict, 'corrupt', path);
      assert.deepEqual(codes(v), [code], JSON.stringify(v.problems));
    }
  } finally {
    cleanup();
  }
});

test('stale journal beside a replaced database: corrupt stale-journal (header rule and recovery backstop)', async () => {
  const { dir, cleanup } = scratchDir('sqlite-stale-journal');
  try {
    // Replacement of a different size: the header rule decides.
    const path = join(dir, 'blob-info-cache-v1.sqlite');
    createCacheFixture(path, { rows: 300 });
    const writer = await startFixtureChild('crash-writer.ts', [path, '300'], 'in-transaction');
    await writer.kill();
    const other = join(dir, 'other.sqlite');
    createCacheFixture(other, { rows: 500, seed: 'other' });
    renameSync(other, path);
    const v = await verifyUnchanged(path);
    assert.equal(v.verdict, 'corrupt');
    assert.equal(codes(v)[0], 'stale-journal', JSON.stringify(v.problems));

    // Replacement shaped exactly like the original (same schema and sizes, other rows):
    // only rolling the journal in shows it does not belong.
    const twin = join(dir, 'twin.sqlite');
    const path2 = join(dir, 'second.sqlite');
    createCacheFixture(path2, { rows: 300 });
    const writer2 = await startFixtureChild('crash-writer.ts', [path2, '300'], 'in-transaction');
    await writer2.kill();
    createCacheFixture(twin, { rows: 300, seed: 'twin' });
    renameSync(twin, path2);
    const v2 = await verifyUnchanged(path2);
    assert.equal(v2.verdict, 'corrupt');
    assert.equal(codes(v2)[0], 'stale-journal', JSON.stringify(v2.problems));
  } finally {
    cleanup();
  }
});

test('stale WAL beside a replaced rollback-mode database: corrupt stale-wal', async () => {
  const { dir, cleanup } = scratchDir('sqlite-stale-wal');
  try {
    const path = join(dir, 'blob-info-cache-v1.sqlite');
    createCacheFixture(path, { rows: 100, wal: true });
    const writer = await startFixtureChild('wal-writer.ts', [path, '40'], 'committed');
    await writer.kill();
    const other = join(dir, 'other.sqlite');
    createCacheFixture(other, { rows: 100, seed: 'other' });
    renameSync(other, path);
    const v = await verifyUnchanged(path);
    assert.equal(v.verdict, 'corrupt');
    assert.equal(codes(v)[0], 'stale-wal', JSON.stringify(v.problems));
  } finally {
    cleanup();
  }
});

test('a writer holding the lock: busy within the bounded wait, never corrupt', async () => {
  const { dir, cleanup } = scratchDir('sqlite-busy');
  try {
    const path = join(dir, 'blob-info-cache-v1.sqlite');
    createCacheFixture(path, { rows: 100 });
    const holder = await startFixtureChild('lock-holder.ts', [path], 'locked');
    try {
      const before = directoryState(dir);
      const v = await verifySqliteFile(path, { busyTimeoutMs: 200 });
      assert.deepEqual(directoryState(dir), before);
      assert.equal(v.verdict, 'busy', JSON.stringify(v.problems));
      assert.deepEqual(codes(v), ['lock-timeout']);
      // The verifier gave up while the lock was still held: it did not wait for the writer.
      assert.equal(holder.child.exitCode, null);
    } finally {
      await holder.kill();
    }
    // The killed holder left a hot journal; with it gone from the lock the file is healthy again.
    const after = await verifyUnchanged(path);
    assert.equal(after.verdict, 'healthy', JSON.stringify(after.problems));
  } finally {
    cleanup();
  }
});

test('valid SQLite databases that are not caches: not-a-cache; an empty schema is healthy with a warning', async () => {
  const { dir, cleanup } = scratchDir('sqlite-notcache');
  try {
    const notes = join(dir, 'notes.sqlite');
    const a = new DatabaseSync(notes);
    a.exec('CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)');
    a.close();
    const wrong = join(dir, 'wrong-columns.sqlite');
    const b = new DatabaseSync(wrong);
    b.exec('CREATE TABLE KnownLocations(id INTEGER PRIMARY KEY, where_ TEXT)');
    b.close();
    for (const path of [notes, wrong]) {
      const v = await verifyUnchanged(path);
      assert.equal(v.verdict, 'corrupt');
      assert.deepEqual(codes(v), ['not-a-cache'], JSON.stringify(v.problems));
    }
    const empty = join(dir, 'empty-schema.sqlite');
    const c = new DatabaseSync(empty);
    c.exec('PRAGMA user_version=1');
    c.close();
    const e = await verifyUnchanged(empty);
    assert.equal(e.verdict, 'healthy');
    assert.deepEqual(
      e.warnings.map((w) => w.code),
      ['schema-empty'],
    );
  } finally {
    cleanup();
  }
});

test('page-1 b-tree header damaged, schema SQL text damaged, valid header over random pages: corrupt with their own codes, never internal-error', async (t) => {
  const { dir, cleanup } = scratchDir('sqlite-malformed');
  try {
    const cases = [
      ['page1-btree-header-smashed.sqlite', smashPage1BtreeHeader, 'sqlite-malformed'],
      ['schema-sql-garbled.sqlite', garbleSchemaSql, 'schema-malformed'],
      ['random-pages-behind-header.sqlite', (p: string) => randomPagesBehindHeader(p), 'sqlite-malformed'],
    ] as const;
    for (const [name, damage, code] of cases) {
      const file = join(dir, name);
      createCacheFixture(file, { rows: 200 });
      damage(file);
      for (const full of [false, true]) {
        const v = await verifyUnchanged(file, { full });
        assert.equal(v.verdict, 'corrupt', `${name} full=${full}: ${JSON.stringify(v.problems)}`);
        assert.deepEqual(codes(v), [code], name);
      }
      // sqlite3 itself agrees that the file is malformed.
      if (needTools(t, 'sqlite3')) {
        const r = spawnSync('sqlite3', [file, 'PRAGMA quick_check'], { encoding: 'utf8' });
        assert.match(`${r.stdout}${r.stderr}`, /malformed/, name);
      }
    }
  } finally {
    cleanup();
  }
});

test('zero-length, non-SQLite and missing files', async () => {
  const { dir, cleanup } = scratchDir('sqlite-misc');
  try {
    const zero = join(dir, 'zero.sqlite');
    writeFileSync(zero, '');
    const z = await verifyUnchanged(zero);
    assert.equal(z.verdict, 'healthy');
    assert.equal(z.format, 'empty');
    assert.deepEqual(
      z.warnings.map((w) => w.code),
      ['empty-file'],
    );
    const junk = join(dir, 'junk.sqlite');
    writeFileSync(junk, Buffer.alloc(8192, 0x41));
    const j = await verifyUnchanged(junk);
    assert.equal(j.verdict, 'corrupt');
    assert.deepEqual(codes(j), ['not-a-cache']);
    const m = await verifySqliteFile(join(dir, 'missing.sqlite'));
    assert.equal(m.verdict, 'unreadable');
    assert.deepEqual(codes(m), ['not-found']);
  } finally {
    cleanup();
  }
});

test('a -journal or -wal that is a symlink or a FIFO is refused, never followed or opened', async (t) => {
  const { dir, cleanup } = scratchDir('sqlite-odd-companion');
  try {
    const secret = join(dir, 'secret');
    writeFileSync(secret, 'not for the agent');
    for (const suffix of ['-journal', '-wal']) {
      const path = join(dir, `link${suffix}.sqlite`);
      createCacheFixture(path, { rows: 20 });
      symlinkSync(secret, `${path}${suffix}`);
      const v = await verifyUnchanged(path);
      assert.equal(v.verdict, 'unreadable', suffix);
      assert.deepEqual(codes(v), ['companion-refused'], JSON.stringify(v.problems));
    }
    if (!needTools(t, 'mkfifo')) return;
    const path = join(dir, 'fifo.sqlite');
    createCacheFixture(path, { rows: 20 });
    assert.equal(spawnSync('mkfifo', [`${path}-journal`]).status, 0);
    const v = await verifySqliteFile(path);
    assert.equal(v.verdict, 'unreadable');
    assert.deepEqual(codes(v), ['companion-refused']);
  } finally {
    cleanup();
  }
});

test('a copy made in many short lock slices (lockHoldMs 0) is the same consistent snapshot', async () => {
  const { dir, cleanup } = scratchDir('sqlite-slices');
  try {
    const path = join(dir, 'blob-info-cache-v1.sqlite');
    createCacheFixture(path, { rows: 3000 });
    assert.ok(statSync(path).size > 4 * 256 * 1024, 'several slices');
    const whole = await verifyUnchanged(path, { full: true });
    const sliced = await verifyUnchanged(path, { full: true, lockHoldMs: 0 });
    assert.equal(sliced.verdict, 'healthy', JSON.stringify(sliced.problems));
    assert.equal(sliced.stats.attempts, 1);
    assert.deepEqual({ ...sliced.stats }, { ...whole.stats });
  } finally {
    cleanup();
  }
});

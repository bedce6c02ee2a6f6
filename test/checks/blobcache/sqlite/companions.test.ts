// The journal and WAL readers and the ownership rules, on companions produced by real
// crashed writers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDatabaseHeader } from '../../../../checks/blobcache/sqlite/header.ts';
import { parseJournal } from '../../../../checks/blobcache/sqlite/journal.ts';
import { parseWal } from '../../../../checks/blobcache/sqlite/wal.ts';
import { journalBelongs, walBelongs } from '../../../../checks/blobcache/sqlite/ownership.ts';
import { createCacheFixture } from '../../../fixtures/sqlite/blob-info-cache.ts';
import { startFixtureChild } from '../../../fixtures/sqlite/children.ts';
import { scratchDir } from './live-files.ts';

function header(path: string) {
  const parsed = parseDatabaseHeader(readFileSync(path).subarray(0, 100));
  assert.ok(parsed.ok);
  return parsed.header;
}

test("a crashed writer's journal: hot, checksummed records, page 1 journaled, belongs to its database only", async () => {
  const { dir, cleanup } = scratchDir('sqlite-journal');
  try {
    const path = join(dir, 'a.sqlite');
    createCacheFixture(path, { rows: 300 });
    const originalPages = readFileSync(path).length / 4096;
    const writer = await startFixtureChild('crash-writer.ts', [path, '300'], 'in-transaction');
    await writer.kill();
    const journal = parseJournal(readFileSync(`${path}-journal`));
    assert.equal(journal.kind, 'hot');
    if (journal.kind !== 'hot') return;
    assert.equal(journal.pageSize, 4096);
    assert.equal(journal.originalPages, originalPages);
    assert.ok(journal.records.some((r) => r.pgno === 1));
    assert.ok(journal.records.every((r) => r.pgno >= 1 && r.pgno <= originalPages && r.data.length === 4096));
    const db = readFileSync(path);
    assert.deepEqual(journalBelongs(journal, header(path), db.subarray(0, 4096)), { belongs: true });

    const other = join(dir, 'b.sqlite');
    createCacheFixture(other, { rows: 500, seed: 'other' });
    const verdict = journalBelongs(journal, header(other), readFileSync(other).subarray(0, 4096));
    assert.equal(verdict.belongs, false);
  } finally {
    cleanup();
  }
});

test('journal states SQLite ignores or refuses', () => {
  assert.equal(parseJournal(new Uint8Array(0)).kind, 'inert');
  assert.equal(parseJournal(new Uint8Array(512)).kind, 'inert');
  assert.equal(parseJournal(Buffer.alloc(512, 0x41)).kind, 'headerless');
  const bad = Buffer.alloc(512);
  Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]).copy(bad, 0);
  bad.writeUInt32BE(512, 20);
  bad.writeUInt32BE(1000, 24); // not a power of two
  assert.equal(parseJournal(bad).kind, 'invalid');
});

test('a WAL with committed frames: frames counted; belongs to a WAL-mode database, not to a rollback-mode one', async () => {
  const { dir, cleanup } = scratchDir('sqlite-walparse');
  try {
    const path = join(dir, 'w.sqlite');
    createCacheFixture(path, { rows: 50, wal: true });
    const writer = await startFixtureChild('wal-writer.ts', [path, '20'], 'committed');
    await writer.kill();
    const wal = parseWal(readFileSync(`${path}-wal`));
    assert.equal(wal.kind, 'frames');
    if (wal.kind !== 'frames') return;
    assert.equal(wal.pageSize, 4096);
    assert.equal(wal.committedFrames, (readFileSync(`${path}-wal`).length - 32) / (4096 + 24));
    assert.deepEqual(walBelongs(wal, header(path)), { belongs: true });
    const rollback = join(dir, 'r.sqlite');
    createCacheFixture(rollback, { rows: 10 });
    assert.equal(walBelongs(wal, header(rollback)).belongs, false);
    // A torn header checksum: SQLite replays nothing.
    const torn = Buffer.from(readFileSync(`${path}-wal`));
    torn[24] ^= 0xff;
    assert.equal(parseWal(torn).kind, 'inert');
  } finally {
    cleanup();
  }
});

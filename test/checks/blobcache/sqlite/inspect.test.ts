// cache inspect on SQLite files: the tables and indexes of the recovered snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { inspectSqliteFile } from '../../../../checks/blobcache/sqlite/inspect.ts';
import { cacheTables } from '../../../../checks/blobcache/sqlite/schema.ts';
import { createCacheFixture } from '../../../fixtures/sqlite/blob-info-cache.ts';
import { pagesOf, smashPage } from '../../../fixtures/sqlite/damage.ts';
import { directoryState, scratchDir } from './live-files.ts';

test('a healthy cache: every c/image table with its row count, what it holds, and its indexes', async () => {
  const { dir, cleanup } = scratchDir('sqlite-inspect');
  try {
    const path = join(dir, 'blob-info-cache-v1.sqlite');
    createCacheFixture(path, { rows: 120 });
    const before = directoryState(dir);
    const inspection = await inspectSqliteFile(path);
    assert.deepEqual(directoryState(dir), before);
    assert.equal(inspection.format, 'sqlite');
    assert.equal(inspection.verdict.verdict, 'healthy');
    assert.deepEqual(
      inspection.tree.map((n) => n.name),
      Object.keys(cacheTables),
    );
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      for (const node of inspection.tree) {
        assert.equal(node.kind, 'table');
        assert.equal(node.keys, Number(db.prepare(`SELECT count(*) AS n FROM ${node.name}`).get()?.n));
        assert.ok(node.holds && node.holds.length > 0, node.name);
        for (const child of node.children ?? []) {
          assert.equal(child.kind, 'index');
          assert.equal(child.keys, node.keys);
          assert.ok(child.holds);
        }
      }
    } finally {
      db.close();
    }
    const pairs = inspection.tree.find((n) => n.name === 'DigestUncompressedPairs');
    assert.ok(pairs?.children?.some((c) => c.name === 'DigestUncompressedPairs_index_uncompressedDigest'));
  } finally {
    cleanup();
  }
});

test('not a cache: the tree shows what it is; damaged: problems instead of a tree', async () => {
  const { dir, cleanup } = scratchDir('sqlite-inspect2');
  try {
    const notes = join(dir, 'notes.sqlite');
    const db = new DatabaseSync(notes);
    db.exec("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('a'), ('b')");
    db.close();
    const n = await inspectSqliteFile(notes);
    assert.equal(n.verdict.verdict, 'corrupt');
    assert.deepEqual(
      n.tree.map((x) => [x.name, x.keys, x.holds]),
      [['notes', 2, undefined]],
    );

    const base = join(dir, 'base.sqlite');
    createCacheFixture(base, { rows: 600 });
    const damaged = join(dir, 'damaged.sqlite');
    copyFileSync(base, damaged);
    smashPage(damaged, pagesOf(base, 'KnownLocations', 'internal')[0]);
    const d = await inspectSqliteFile(damaged);
    assert.equal(d.verdict.verdict, 'corrupt');
    assert.deepEqual(d.tree, []);
  } finally {
    cleanup();
  }
});

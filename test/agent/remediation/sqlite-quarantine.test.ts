// The quarantine on real SQLite caches (containers/image's schema) judged by the real SQLite
// verifier: the companions that decide the verdict move with the database and keep deciding it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { verifyCacheFile } from '../../../checks/blobcache/verify.ts';
import { assessCache, quarantineCache } from '../../../agent/remediation/quarantine.ts';
import { readAuditRecords } from '../../../agent/remediation/audit.ts';
import { createCacheFixture } from '../../fixtures/sqlite/blob-info-cache.ts';
import { startFixtureChild } from '../../fixtures/sqlite/children.ts';
import {
  garbleSchemaSql,
  pagesOf,
  randomPagesBehindHeader,
  smashPage,
  smashPage1BtreeHeader,
} from '../../fixtures/sqlite/damage.ts';
import { depsFor, discoverScratch, findCache, makeScratch } from './scratch.ts';

async function crashedWriter(db: string): Promise<void> {
  const writer = await startFixtureChild('crash-writer.ts', [db, '300'], 'in-transaction');
  await writer.kill();
}

test('a stale journal beside a replaced database: corrupt, and both move together, still telling the same story', async () => {
  const s = makeScratch();
  try {
    createCacheFixture(s.sqlite, { rows: 300 });
    await crashedWriter(s.sqlite);
    const replacement = path.join(s.cacheDir, 'replacement');
    createCacheFixture(replacement, { rows: 500, seed: 'other' });
    renameSync(replacement, s.sqlite);
    const journalIno = lstatSync(`${s.sqlite}-journal`).ino;
    const deps = depsFor(s);
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.sqlite), deps), deps);
    assert.equal(out.result, 'quarantined', out.message);
    assert.ok(
      out.verdict!.problems.some((p) => p.code === 'stale-journal'),
      JSON.stringify(out.verdict!.problems),
    );
    assert.deepEqual(readdirSync(s.cacheDir).sort(), [
      path.basename(out.newPath!),
      `${path.basename(out.newPath!)}-journal`,
    ]);
    assert.equal(lstatSync(`${out.newPath}-journal`).ino, journalIno);
    // The evidence is intact: the quarantined pair still shows the stale journal.
    const again = await verifyCacheFile(out.newPath!);
    assert.equal(again.verdict, 'corrupt');
    assert.ok(again.problems.some((p) => p.code === 'stale-journal'));
    const [r] = readAuditRecords(s.stateDir);
    assert.ok(r.problems.includes('stale-journal'));
    assert.equal(r.companions[0].path, `${s.sqlite}-journal`);
  } finally {
    s.cleanup();
  }
});

test("a crashed writer's own hot journal is healthy: neither file is moved", async () => {
  const s = makeScratch();
  try {
    createCacheFixture(s.sqlite, { rows: 300 });
    await crashedWriter(s.sqlite);
    const deps = depsFor(s);
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.sqlite), deps), deps);
    assert.equal(out.result, 'not-corrupt');
    assert.equal(out.verdict?.verdict, 'healthy');
    assert.deepEqual(readdirSync(s.cacheDir).sort(), [path.basename(s.sqlite), `${path.basename(s.sqlite)}-journal`]);
  } finally {
    s.cleanup();
  }
});

test('a SQLite cache with a smashed b-tree page is moved', async () => {
  const s = makeScratch();
  try {
    createCacheFixture(s.sqlite, { rows: 300 });
    smashPage(s.sqlite, pagesOf(s.sqlite, 'KnownLocations', 'leaf')[1]);
    const deps = depsFor(s);
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.sqlite), deps), deps);
    assert.equal(out.result, 'quarantined', out.message);
    assert.equal(out.verdict?.format, 'sqlite');
    assert.deepEqual(readdirSync(s.cacheDir), [path.basename(out.newPath!)]);
  } finally {
    s.cleanup();
  }
});

test('malformed SQLite caches (page-1 b-tree header, schema SQL text, random pages behind a valid header) are moved', async () => {
  for (const damage of [smashPage1BtreeHeader, garbleSchemaSql, (p: string) => randomPagesBehindHeader(p)]) {
    const s = makeScratch();
    try {
      createCacheFixture(s.sqlite, { rows: 300 });
      damage(s.sqlite);
      const deps = depsFor(s);
      const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.sqlite), deps), deps);
      assert.equal(out.result, 'quarantined', out.message);
      assert.equal(out.verdict?.verdict, 'corrupt');
      assert.deepEqual(readdirSync(s.cacheDir), [path.basename(out.newPath!)]);
    } finally {
      s.cleanup();
    }
  }
});

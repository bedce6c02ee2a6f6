// The explicit requirement: while the verifier runs again and again, a writer that
// behaves like containers/image (BEGIN EXCLUSIVE per operation, busy_timeout 5000) never waits
// more than 250 ms for its lock, and the live files stay consistent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { verifySqliteFile } from '../../../../checks/blobcache/sqlite/verify.ts';
import type { CacheVerdict } from '../../../../checks/blobcache/verdict.ts';
import { createCacheFixture } from '../../../fixtures/sqlite/blob-info-cache.ts';
import { startFixtureChild } from '../../../fixtures/sqlite/children.ts';
import { scratchDir } from './live-files.ts';

const writerMs = 4000;
const maxWriterWaitMs = 250;

test('a c/image-style writer committing in a loop never waits more than 250 ms for the verifier', async () => {
  const { dir, cleanup } = scratchDir('sqlite-writer-wait');
  try {
    const path = join(dir, 'blob-info-cache-v1.sqlite');
    createCacheFixture(path, { rows: 6000 });
    assert.ok(statSync(path).size > 2 * 1024 * 1024, 'a cache of a few MB');
    const writer = await startFixtureChild('loop-writer.ts', [path, String(writerMs)], 'started');
    const defaults: CacheVerdict[] = [];
    const sliced: CacheVerdict[] = [];
    let running = true;
    void writer.exited.then(() => {
      running = false;
    });
    while (running) {
      // Default options, then tiny lock slices that force many re-locks per copy.
      defaults.push(await verifySqliteFile(path));
      sliced.push(await verifySqliteFile(path, { lockHoldMs: 2, maxAttempts: 3 }));
    }
    const report = JSON.parse(writer.output().trim().split('\n').pop() ?? '{}') as {
      commits: number;
      maxWaitMs: number;
      failures: number;
    };
    assert.equal(report.failures, 0, 'no writer transaction failed');
    assert.ok(report.commits > 0);
    assert.ok(
      report.maxWaitMs < maxWriterWaitMs,
      `writer waited ${report.maxWaitMs.toFixed(1)} ms for BEGIN EXCLUSIVE`,
    );
    for (const v of [...defaults, ...sliced])
      assert.ok(v.verdict === 'healthy' || v.verdict === 'busy', JSON.stringify(v.problems));
    assert.ok(
      defaults.some((v) => v.verdict === 'healthy'),
      'the verifier got at least one consistent snapshot',
    );
    // After the writer stopped: every commit is there and the file is sound.
    const final = await verifySqliteFile(path, { full: true });
    assert.equal(final.verdict, 'healthy', JSON.stringify(final.problems));
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      assert.equal(Number(db.prepare('SELECT count(*) AS n FROM KnownLocations').get()?.n), 6000 + report.commits);
    } finally {
      db.close();
    }
    process.stderr.write(
      `# writer: ${report.commits} commits, max wait ${report.maxWaitMs.toFixed(1)} ms; verifier runs: ${defaults.length} default (${defaults.filter((v) => v.verdict === 'healthy').length} healthy), ${sliced.length} sliced (${sliced.filter((v) => v.verdict === 'healthy').length} healthy)\n`,
    );
  } finally {
    cleanup();
  }
});

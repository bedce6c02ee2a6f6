// The verifier on a live file: several writer processes commit like containers/image (each
// commit its own open/update/close under bbolt's flock) while we verify in a loop. A commit
// during our walk must lead to a retry or `busy`, never to `corrupt`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { verifyBoltFileSync } from '../../../../checks/blobcache/bolt/verify-file.ts';
import { buildBoltDb, referenceCheck, startWriteLoop } from '../../../support/boltref.ts';
import { hasTool, toolsRequired } from '../../../support/tools.ts';

const haveGo = hasTool('go');
if (!haveGo && toolsRequired) throw new Error('go is required (BUILDFLEET_REQUIRE_TOOLS=1)');

test(
  'writers committing during verification never produce a corrupt verdict',
  { skip: !haveGo, timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bolt-live-'));
    try {
      const path = join(dir, 'blob-info-cache-v1.boltdb');
      const built = await buildBoltDb(path, { seed: 5, images: 400 });
      assert.ok(built.ok);
      const writers = [1, 2, 3].map((seed) =>
        startWriteLoop(path, { iterations: 0, durationMs: 6000, seed: seed * 101 }),
      );
      const counts = { healthy: 0, busy: 0, corrupt: 0, unreadable: 0, retried: 0 };
      const deadline = Date.now() + 5500;
      await sleep(100); // let the writers start committing
      while (Date.now() < deadline) {
        const v = verifyBoltFileSync(path, { maxAttempts: 3, retryDelayMs: 1 });
        counts[v.verdict]++;
        if ((v.stats.attempts ?? 1) > 1) counts.retried++;
        assert.notEqual(v.verdict, 'corrupt', JSON.stringify(v.problems.slice(0, 5)));
        assert.notEqual(v.verdict, 'unreadable');
        await sleep(1); // let the event loop collect writer output
      }
      const exits = await Promise.all(writers.map((w) => w.exit));
      const commits = exits.reduce((n, e) => n + (e.iterations ?? 0), 0);
      for (const e of exits) assert.equal(e.code, 0, e.stderr);
      console.log(`live verification: ${JSON.stringify(counts)}; writer commits ${commits}`);
      // The test means something only if writers really committed while we read, and reads
      // really raced them (some attempts saw the metas change).
      assert.ok(commits > 50, `writers committed ${commits} times`);
      assert.ok(counts.healthy > 0, 'some verifications completed');
      assert.ok(counts.retried + counts.busy > 0, 'some verifications raced a commit');
      // After the writers stop, the file is healthy for both bbolt and us.
      assert.equal((await referenceCheck(path)).kind, 'clean');
      assert.equal(verifyBoltFileSync(path).verdict, 'healthy');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

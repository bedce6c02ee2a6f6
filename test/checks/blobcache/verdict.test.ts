import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verdictUnderPath, type CacheVerdict } from '../../../checks/blobcache/verdict.ts';

const pinned = '/proc/self/fd/7/blob-info-cache-v1.sqlite';
const verdict: CacheVerdict = {
  path: pinned,
  format: 'sqlite',
  verdict: 'corrupt',
  problems: [{ code: 'stale-wal', message: `${pinned}-wal belongs to another database; ${pinned}: $& kept` }],
  warnings: [{ code: 'wal-recovered', message: `${pinned}: 3 frames` }],
  stats: { sizeBytes: 4096 },
  durationMs: 1,
};

test('verdictUnderPath: the path and every mention in problems and warnings, taken literally', () => {
  const real = '/home/a$&b/.local/share/containers/cache/blob-info-cache-v1.sqlite';
  const shown = verdictUnderPath(verdict, real, pinned, real);
  assert.equal(shown.path, real);
  assert.equal(shown.problems[0].message, `${real}-wal belongs to another database; ${real}: $& kept`);
  assert.equal(shown.warnings[0].message, `${real}: 3 frames`);
  assert.deepEqual(shown.stats, verdict.stats);
  assert.equal(verdict.path, pinned, 'the verdict given is not changed');
});

test('verdictUnderPath: a global RegExp replaces a prefix only where it names that descriptor', () => {
  const child = {
    ...verdict,
    problems: [{ code: 'io-error' as const, message: '/proc/self/fd/3/a and /proc/self/fd/31/b' }],
  };
  const shown = verdictUnderPath(child, '/proc/self/fd/9/a', /\/proc\/self\/fd\/3(?![0-9])/g, '/proc/self/fd/9');
  assert.equal(shown.problems[0].message, '/proc/self/fd/9/a and /proc/self/fd/31/b');
});

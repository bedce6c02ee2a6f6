// The walk's page sets against a plain byte map: same membership, same unmarked ids and count,
// on dense and scattered marks (chunk edges included) and on ranges of billions of pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPageMarks, unmarkedIds } from '../../../../checks/blobcache/bolt/page-marks.ts';
import { seededRandom } from '../../../support/bolt-damage.ts';

test('page marks agree with a byte map, and unmarkedIds lists and counts the rest', () => {
  const rng = seededRandom(5);
  for (const size of [0, 3, 65535, 65536, 65537, 300_000]) {
    const a = createPageMarks();
    const b = createPageMarks();
    const map = new Uint8Array(size);
    for (let i = 0; i < Math.min(size, 5000); i++) {
      const id = Math.floor(rng() * size);
      (rng() < 0.5 ? a : b).add(id);
      map[id] = 1;
    }
    for (const id of [65535, 65536, 131071].filter((x) => x < size)) {
      a.add(id);
      map[id] = 1;
    }
    const expected: number[] = [];
    for (let id = 2; id < size; id++) if (!map[id]) expected.push(id);
    for (let id = 0; id < size; id++) assert.equal(a.has(id) || b.has(id), map[id] === 1, `id ${id} of ${size}`);
    for (const limit of [0, 7, 100]) {
      const got = unmarkedIds(a, b, 2, size, limit);
      assert.equal(got.count, expected.length, `count, size ${size}`);
      assert.deepEqual(got.first, expected.slice(0, limit));
    }
  }
});

test('a range of billions of pages costs what its marks cost', () => {
  const a = createPageMarks();
  const b = createPageMarks();
  const far = 2 ** 40 + 5; // past 2^32: no 32-bit index arithmetic
  for (const id of [0, 1, 2, 70_000, far]) a.add(id);
  b.add(far + 1);
  assert.ok(a.has(far) && b.has(far + 1) && !a.has(far + 1) && !a.has(far - 2 ** 32));
  const got = unmarkedIds(a, b, 2, far + 10, 3);
  assert.deepEqual(got.first, [3, 4, 5]);
  assert.equal(got.count, far + 10 - 2 - 4);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapBounded } from '../../../agent/fleet/bounded-map.ts';

// Tasks that settle only when the test releases them: the number in flight is observed exactly.
test('never more than the limit in flight, results in item order', async () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  let inFlight = 0;
  let maxInFlight = 0;
  const pending: (() => void)[] = [];
  const done = mapBounded(items, 7, async (item) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise<void>((resolve) => pending.push(resolve));
    inFlight--;
    return item * 2;
  });
  let released = 0;
  while (released < items.length) {
    await new Promise((r) => setImmediate(r));
    assert.ok(inFlight <= 7);
    // Release in reverse order of arrival so results settle out of order.
    const batch = pending.splice(0).reverse();
    for (const release of batch) release();
    released += batch.length;
  }
  assert.deepEqual(
    await done,
    items.map((i) => i * 2),
  );
  assert.equal(maxInFlight, 7);
});

test('limits larger than the list, a limit below 1, an empty list', async () => {
  assert.deepEqual(await mapBounded([1, 2], 100, async (x) => x + 1), [2, 3]);
  assert.deepEqual(await mapBounded([1, 2, 3], 0, async (x) => x), [1, 2, 3]);
  assert.deepEqual(await mapBounded([], 4, async (x) => x), []);
});

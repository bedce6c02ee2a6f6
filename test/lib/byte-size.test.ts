// Sizes and thresholds as the config and the disk check read and print them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatByteSize,
  formatBytes,
  formatFreeThreshold,
  parseByteSize,
  parseFreeThreshold,
  warnAtLeastCritical,
} from '../../lib/byte-size.ts';

test('thresholds parse as people write them', () => {
  assert.deepEqual(parseFreeThreshold('20%'), { percent: 20 });
  assert.deepEqual(parseFreeThreshold('12.5 %'), { percent: 12.5 });
  assert.deepEqual(parseFreeThreshold('5GiB'), { bytes: 5 * 1024 ** 3 });
  assert.deepEqual(parseFreeThreshold('500MB'), { bytes: 500_000_000 });
  assert.deepEqual(parseFreeThreshold('1073741824'), { bytes: 1073741824 });
  assert.deepEqual(parseFreeThreshold('1.5kib'), { bytes: 1536 });
  for (const bad of ['', 'lots', '-5GiB', '5 parsecs', '120%', '5GiB free']) {
    assert.ok(parseFreeThreshold(bad) instanceof Error, bad);
  }
});

test('a size is a threshold in bytes; a percentage is not a size', () => {
  assert.equal(parseByteSize('2GiB'), 2 * 1024 ** 3);
  assert.ok(parseByteSize('20%') instanceof Error);
  assert.ok(parseByteSize('99999999TB') instanceof Error);
});

test('formatByteSize prints back exactly what parses to the same value', () => {
  for (const bytes of [0, 1, 1000, 1024, 1536, 512 * 1024 ** 2, 5 * 1024 ** 3, 3 * 1024 ** 4, 500_000_000]) {
    assert.equal(parseByteSize(formatByteSize(bytes)), bytes, formatByteSize(bytes));
  }
  assert.equal(formatByteSize(5 * 1024 ** 3), '5GiB');
});

test('one threshold formatter: exact for the config, rounded where people read a measurement', () => {
  assert.equal(formatFreeThreshold({ percent: 12.5 }), '12.5%');
  assert.equal(formatFreeThreshold({ bytes: 5 * 1024 ** 3 }), '5GiB');
  assert.equal(formatFreeThreshold({ bytes: 5 * 1024 ** 3 }, formatBytes), '5.0 GiB');
  assert.equal(formatFreeThreshold({ bytes: 500_000_000 }, formatBytes), '476.8 MiB');
  assert.equal(formatBytes(1023), '1023 B');
});

test('warn must ask for at least as much as critical; kinds that differ cannot be compared', () => {
  assert.equal(warnAtLeastCritical({ percent: 20 }, { percent: 10 }), true);
  assert.equal(warnAtLeastCritical({ bytes: 1 }, { bytes: 2 }), false);
  assert.equal(warnAtLeastCritical({ percent: 20 }, { bytes: 2 }), null);
});

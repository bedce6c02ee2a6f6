// The database-header reader and the check-message classifier.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDatabaseHeader } from '../../../../checks/blobcache/sqlite/header.ts';
import { classifyCheckMessage } from '../../../../checks/blobcache/sqlite/check-snapshot.ts';
import { createCacheFixture } from '../../../fixtures/sqlite/blob-info-cache.ts';
import { scratchDir } from './live-files.ts';

test('header of a real cache: page size, rollback mode, valid in-header size', () => {
  const { dir, cleanup } = scratchDir('sqlite-header');
  try {
    const path = join(dir, 'c.sqlite');
    createCacheFixture(path, { rows: 30 });
    const bytes = readFileSync(path);
    const parsed = parseDatabaseHeader(bytes.subarray(0, 100));
    assert.ok(parsed.ok);
    if (!parsed.ok) return;
    assert.equal(parsed.header.pageSize, 4096);
    assert.equal(parsed.header.writeVersion, 1);
    assert.equal(parsed.header.readVersion, 1);
    assert.ok(parsed.header.sizeValid);
    assert.equal(parsed.header.pagesInHeader, bytes.length / 4096);

    const badSize = Buffer.from(bytes.subarray(0, 100));
    badSize.writeUInt16BE(1000, 16);
    assert.equal(parseDatabaseHeader(badSize).ok, false);
    const badFractions = Buffer.from(bytes.subarray(0, 100));
    badFractions[21] = 1;
    assert.equal(parseDatabaseHeader(badFractions).ok, false);
    assert.equal(parseDatabaseHeader(bytes.subarray(0, 50)).ok, false);
    const page64k = Buffer.from(bytes.subarray(0, 100));
    page64k.writeUInt16BE(1, 16);
    const p = parseDatabaseHeader(page64k);
    assert.ok(p.ok && p.header.pageSize === 65536);
  } finally {
    cleanup();
  }
});

test('integrity_check messages: index disagreements vs structural damage, with the page when named', () => {
  assert.deepEqual(classifyCheckMessage('wrong # of entries in index sqlite_autoindex_KnownLocations_1'), {
    code: 'index-mismatch',
    message: 'wrong # of entries in index sqlite_autoindex_KnownLocations_1',
  });
  assert.equal(
    classifyCheckMessage('row 6 missing from index sqlite_autoindex_DigestCompressors_1').code,
    'index-mismatch',
  );
  assert.deepEqual(classifyCheckMessage('Tree 7 page 7: btreeInitPage() returns error code 11'), {
    code: 'sqlite-malformed',
    page: 7,
    message: 'Tree 7 page 7: btreeInitPage() returns error code 11',
  });
  assert.equal(classifyCheckMessage('Page 13: never used').page, 13);
  assert.equal(classifyCheckMessage('Freelist: size is 3 but should be 4').code, 'sqlite-malformed');
});

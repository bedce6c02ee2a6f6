import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRecordedInode } from '../../lib/file-identity.ts';

test('isRecordedInode: the same directory, another one, and nothing recorded', () => {
  const root = mkdtempSync(join(tmpdir(), 'identity-'));
  try {
    const st = statSync(root, { bigint: true });
    const other = statSync(tmpdir(), { bigint: true });
    const recorded = { dev: st.dev.toString(), ino: st.ino.toString() };
    assert.equal(isRecordedInode(st, recorded), true);
    assert.equal(isRecordedInode(other, recorded), false);
    assert.equal(isRecordedInode(st, { dev: recorded.dev, ino: null }), false);
    assert.equal(isRecordedInode(st, { dev: null, ino: null }), false);
  } finally {
    rmSync(root, { recursive: true });
  }
});

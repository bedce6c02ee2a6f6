import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { planRetention, type QuarantinedCopy } from '../../../agent/remediation/retention.ts';
import { assessCache, quarantineCache } from '../../../agent/remediation/quarantine.ts';
import { readAuditRecords } from '../../../agent/remediation/audit.ts';
import { depsFor, discoverScratch, findCache, makeScratch, writeCorrupt } from './scratch.ts';

function copy(stamp: string, bytes: number): QuarantinedCopy {
  return { stem: `x.corrupt-${stamp}`, stamp, attempt: 0, main: null, companions: [], totalBytes: bytes };
}

test('planRetention keeps the newest N within the byte budget, and always the newest', () => {
  const copies = [
    copy('20261101T000000Z', 10),
    copy('20261103T000000Z', 10),
    copy('20261102T000000Z', 10),
    copy('20261104T000000Z', 10),
  ];
  const byCount = planRetention(copies, 3, 1000);
  assert.deepEqual(
    byCount.keep.map((c) => c.stamp),
    ['20261104T000000Z', '20261103T000000Z', '20261102T000000Z'],
  );
  assert.deepEqual(
    byCount.remove.map((c) => c.stamp),
    ['20261101T000000Z'],
  );
  const byBytes = planRetention(copies, 3, 25);
  assert.deepEqual(
    byBytes.keep.map((c) => c.stamp),
    ['20261104T000000Z', '20261103T000000Z'],
  );
  const tiny = planRetention([copy('20261104T000000Z', 500)], 3, 1);
  assert.equal(tiny.keep.length, 1, 'the newest copy is kept even over budget');
});

test('after a move, older quarantined copies beyond `keep` are deleted (with their companions) and audited', async () => {
  const s = makeScratch();
  try {
    const base = path.basename(s.sqlite);
    const old = ['20261101T000000Z', '20261102T000000Z', '20261103T000000Z', '20261104T000000Z'];
    for (const stamp of old) {
      writeFileSync(path.join(s.cacheDir, `${base}.corrupt-${stamp}`), 'old copy');
      writeFileSync(path.join(s.cacheDir, `${base}.corrupt-${stamp}-journal`), 'old journal');
    }
    // Look-alikes that are not ours to delete.
    writeFileSync(path.join(s.cacheDir, `${base}.corrupt-notastamp`), 'keep me');
    writeFileSync(path.join(s.cacheDir, `other.corrupt-20261101T000000Z`), 'keep me');
    writeCorrupt(s.sqlite);
    const deps = depsFor(s, { keep: 3 });
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.sqlite), deps), deps);
    assert.equal(out.result, 'quarantined', out.message);
    const left = readdirSync(s.cacheDir).sort();
    assert.deepEqual(
      left,
      [
        path.basename(out.newPath!),
        `${base}.corrupt-20261103T000000Z`,
        `${base}.corrupt-20261103T000000Z-journal`,
        `${base}.corrupt-20261104T000000Z`,
        `${base}.corrupt-20261104T000000Z-journal`,
        `${base}.corrupt-notastamp`,
        'other.corrupt-20261101T000000Z',
      ].sort(),
    );
    const deletions = readAuditRecords(s.stateDir).filter((r) => r.action === 'retention-delete');
    assert.deepEqual(deletions.map((d) => path.basename(d.path)).sort(), [
      `${base}.corrupt-20261101T000000Z`,
      `${base}.corrupt-20261102T000000Z`,
    ]);
    for (const d of deletions) {
      assert.equal(d.newPath, null);
      assert.equal(d.companions.length, 1);
      assert.equal(existsSync(d.companions[0].path), false);
    }
    assert.deepEqual(
      out.audit.map((r) => r.action),
      ['quarantine', 'retention-delete', 'retention-delete'],
    );
  } finally {
    s.cleanup();
  }
});

test('the byte budget deletes older copies that do not fit', async () => {
  const s = makeScratch();
  try {
    const base = path.basename(s.bolt);
    writeFileSync(path.join(s.cacheDir, `${base}.corrupt-20261101T000000Z`), Buffer.alloc(4000));
    writeCorrupt(s.bolt); // 8192 bytes
    const deps = depsFor(s, { keep: 3, maxQuarantineBytes: 10000 });
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.bolt), deps), deps);
    assert.equal(out.result, 'quarantined');
    assert.deepEqual(readdirSync(s.cacheDir), [path.basename(out.newPath!)]);
    assert.equal(out.audit[1]?.action, 'retention-delete');
    assert.equal(out.audit[1]?.size, 4000);
  } finally {
    s.cleanup();
  }
});

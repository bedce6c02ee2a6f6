// What boltref build makes (the shapes the verifier must handle) and that c/image-style commits
// from several processes at once keep a file clean.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { boltLayout, buildBoltDb, referenceCheck, startWriteLoop } from '../support/boltref.ts';
import { needTools } from '../support/tools.ts';

const scratch = mkdtempSync(join(tmpdir(), 'boltref-build-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('build makes the c/image layout with every page shape the format has', async (t) => {
  if (!needTools(t, 'go', 'prlimit')) return;
  const path = join(scratch, 'shapes.boltdb');
  const built = await buildBoltDb(path, { seed: 7, images: 400, blobsPerImage: 4, largeValues: 3, pageSize: 4096 });
  assert.ok(built.ok, built.ok ? '' : built.error);
  const layout = boltLayout(path);
  assert.ok(!(layout instanceof Error), String(layout));
  assert.equal(layout.pageSize, 4096);
  const topLevel = new Set(
    layout.pages.filter((p) => p.refKind === 'bucket-root' && p.bucket.length === 1).map((p) => p.bucket[0]),
  );
  for (const name of ['uncompressedDigest', 'digestByUncompressed', 'knownLocations', 'digestCompressor']) {
    assert.ok(topLevel.has(name), `top-level bucket ${name}`);
  }
  // A branch page below another branch page: at least three levels in one bucket.
  assert.ok(
    layout.pages.some((p) => p.type === 'branch' && p.depth >= 1),
    'multi-level branch pages',
  );
  assert.ok(
    layout.pages.some((p) => p.overflow > 0),
    'overflow pages',
  );
  assert.ok(layout.free.length > 0, 'free pages in the freelist');
  assert.ok(layout.inline.length > 0, 'inline buckets');
  assert.ok(
    layout.pages.some(
      (p) => p.refKind === 'bucket-root' && p.bucket[0] === 'digestByUncompressed' && p.bucket.length === 2,
    ),
    'real (non-inline) sub-buckets in digestByUncompressed',
  );
  assert.ok(
    layout.pages.some((p) => p.bucket.length === 4 && p.bucket[0] === 'knownLocations'),
    'knownLocations/transport/scope/digest nesting with a real sub-bucket',
  );
  const verdict = await referenceCheck(path);
  assert.equal(verdict.kind, 'clean', JSON.stringify(verdict));
});

test('build honours the page size, and its content is determined by the seed', async (t) => {
  if (!needTools(t, 'go', 'prlimit')) return;
  const a = join(scratch, 'a16k.boltdb');
  const b = join(scratch, 'b16k.boltdb');
  const ra = await buildBoltDb(a, { seed: 3, images: 30, pageSize: 16384, trim: true });
  const rb = await buildBoltDb(b, { seed: 3, images: 30, pageSize: 16384, trim: true });
  assert.ok(ra.ok && rb.ok);
  assert.equal(ra.pageSize, 16384);
  const la = boltLayout(a);
  assert.ok(!(la instanceof Error));
  assert.equal(la.pageSize, 16384);
  // Same keys and buckets; page numbers may differ (bbolt spills sub-buckets in Go map order).
  const [ca, cb] = await Promise.all([referenceCheck(a), referenceCheck(b)]);
  assert.equal(ca.kind, 'clean');
  assert.deepEqual([ca.keys, ca.buckets], [cb.keys, cb.buckets]);
  const refused = await buildBoltDb(a, { seed: 3 });
  assert.equal(refused.ok, false, 'build never adds to an existing file');
});

test('several c/image-style writers committing at once keep the file clean', async (t) => {
  if (!needTools(t, 'go', 'prlimit')) return;
  const path = join(scratch, 'live.boltdb');
  const built = await buildBoltDb(path, { seed: 9, images: 40 });
  assert.ok(built.ok);
  const before = await referenceCheck(path);
  assert.equal(before.kind, 'clean');
  const writers = [1, 2, 3].map((seed) => startWriteLoop(path, { iterations: 25, seed, blobsPerIteration: 3 }));
  const exits = await Promise.all(writers.map((w) => w.exit));
  for (const exit of exits) {
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.iterations, 25);
  }
  const after = await referenceCheck(path);
  assert.equal(after.kind, 'clean', JSON.stringify(after));
  assert.ok(after.keys > before.keys, 'the commits are visible');
  assert.ok((after.txid ?? 0) >= (before.txid ?? 0) + 75, 'one transaction per iteration');
});

test('write-loop stops when its duration has elapsed', async (t) => {
  if (!needTools(t, 'go', 'prlimit')) return;
  const path = join(scratch, 'timed.boltdb');
  const loop = startWriteLoop(path, { iterations: 0, durationMs: 300, seed: 4 });
  const exit = await loop.exit;
  assert.equal(exit.code, 0, exit.stderr);
  assert.ok((exit.iterations ?? 0) > 0);
  const verdict = await referenceCheck(path);
  assert.equal(verdict.kind, 'clean', JSON.stringify(verdict));
});

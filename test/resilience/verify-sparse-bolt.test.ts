// Attack: a bolt file whose valid metas claim terabytes (the high-water mark matches a sparse
// file of 1 TiB or 16 TiB) while a few KiB hold data. The walk's work and memory must follow
// the data: before page-marks.ts the sweep for unreachable pages visited every claimed page
// (11.5 s at 1 TiB, past 300 s at 16 TiB). The verdict stays what bbolt's check says: every
// claimed page that nothing reaches and nothing frees is "unreachable unfreed", so corrupt.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  copyFileSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scratchReadAt } from '../../checks/blobcache/file-source.ts';
import { verifyBoltSource } from '../../checks/blobcache/bolt/verify.ts';
import { verifyBoltFileSync } from '../../checks/blobcache/bolt/verify-file.ts';
import { claimPages } from '../support/bolt-claims.ts';

const fixture = join(import.meta.dirname, '../fixtures/bolt/skopeo-1.9.3-healthy.boltdb');
const dir = mkdtempSync(join(tmpdir(), 'bfa-sparse-bolt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tib = 2 ** 40;

// The largest of `sizes` this filesystem lets a file have (ext4 stops 4 KiB short of 16 TiB).
function truncateToLargest(path: string, sizes: number[]): number {
  for (const size of sizes) {
    try {
      truncateSync(path, size);
      return size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EFBIG' && (err as NodeJS.ErrnoException).code !== 'EINVAL')
        throw err;
    }
  }
  throw new Error(`${dir} holds no sparse file of ${sizes.at(-1)} bytes`);
}

for (const { label, sizes, claim } of [
  { label: '1 TiB', sizes: [tib], claim: tib / 4096 },
  { label: '16 TiB', sizes: [16 * tib, 16 * tib - 4096], claim: 2 ** 32 },
]) {
  test(`a sparse bolt file claiming ${label} is judged from its data alone`, { timeout: 60_000 }, () => {
    const healthy = verifyBoltFileSync(fixture);
    assert.equal(healthy.verdict, 'healthy');
    const realPages = healthy.stats.pages!;
    const path = join(dir, `claims-${label.replace(' ', '')}.boltdb`);
    copyFileSync(fixture, path);
    claimPages(path, claim);
    const size = truncateToLargest(path, sizes);
    const blocksBefore = statSync(path).blocks;

    const fd = openSync(path, 'r');
    let reads = 0;
    let bytesRead = 0;
    const inner = scratchReadAt(fd);
    const verdict = verifyBoltSource(
      (offset, length) => {
        reads++;
        bytesRead += length;
        return inner(offset, length);
      },
      () => fstatSync(fd).size,
      { maxAttempts: 1 },
    );
    closeSync(fd);

    assert.equal(verdict.verdict, 'corrupt');
    assert.equal(verdict.stats.pages, claim);
    // Every claimed page past the real ones is reported: listed first, the rest counted.
    const filePages = size / 4096;
    const listed = verdict.problems.filter((p) => p.code === 'page-unreachable-unfreed');
    assert.equal(listed[0].page, realPages);
    const more = verdict.problems.find((p) => p.code === 'more-problems');
    const counted = Number(/^(\d+) more/.exec(more?.message ?? '')?.[1]);
    const truncated = claim > filePages ? 1 : 0; // the claimed page the file lacks: file-truncated
    assert.equal(listed.length + counted, filePages - realPages + truncated);
    // Reads: the metas (twice) and the tree, never the claimed emptiness.
    assert.ok(bytesRead <= 4 * statSync(fixture).size, `${reads} reads, ${bytesRead} bytes`);
    // Nothing was written: the file holds what it held.
    assert.equal(statSync(path).blocks, blocksBefore);
    assert.ok(blocksBefore * 512 < 1 << 20);
    rmSync(path);
  });
}

test(
  'a node claiming 2^32 overflow pages in a file claiming 16 TiB is refused before its pages are counted',
  { timeout: 60_000 },
  () => {
    const path = join(dir, 'huge-overflow.boltdb');
    copyFileSync(fixture, path);
    claimPages(path, 2 ** 32);
    truncateToLargest(path, [16 * tib, 16 * tib - 4096]);
    // The root bucket's root page (of both metas): its overflow count (u32 at offset 12 of the
    // page) set to the most.
    const fd = openSync(path, 'r+');
    const roots = [0, 1].map((slot) => {
      const meta = Buffer.alloc(64);
      readSync(fd, meta, 0, 64, slot * 4096 + 16);
      return Number(meta.readBigUInt64LE(16));
    });
    const count = Buffer.alloc(4);
    count.writeUInt32LE(0xffffffff);
    for (const root of roots) writeSync(fd, count, 0, 4, root * 4096 + 12);
    closeSync(fd);
    const before = process.memoryUsage().arrayBuffers;
    const verdict = verifyBoltFileSync(path);
    assert.equal(verdict.verdict, 'corrupt');
    assert.ok(
      verdict.problems.some((p) => p.code === 'node-too-large' && roots.includes(p.page!)),
      JSON.stringify(verdict.problems.slice(0, 3)),
    );
    // Marking 2^32 pages would have allocated gigabytes of page sets.
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 << 20);
    rmSync(path);
  },
);

// The field damage, applied to a cache real skopeo just wrote: the knownLocations bucket's root
// page id (stored in the root bucket's leaf) is pointed at the freelist page. skopeo 1.9.3 then
// panics `invalid page type: N: 10` (0x10 = bbolt's freelist flag) on its next copy.
// The same edit as test/fixtures/bolt/make-fixtures.ts, aimed with `boltref layout` (bbolt
// 1.3.6, the library skopeo 1.9.3 is built with), but written in place: eight bytes of the live
// file change and its inode stays, as when a host's own disk or writer damaged it.
import { closeSync, openSync, writeSync } from 'node:fs';
import { boltLayout } from '../../support/boltref.ts';

export interface AppliedDamage {
  freelistPage: number;
  oldRootPage: number;
  offset: number; // file offset of the 8 bytes that changed
}

export function pointKnownLocationsAtFreelist(path: string): AppliedDamage | Error {
  const layout = boltLayout(path);
  if (layout instanceof Error) return layout;
  const root = layout.pages.find((p) => p.refKind === 'bucket-root' && p.bucket.join('/') === 'knownLocations');
  if (root === undefined) {
    return new Error(
      `${path}: no knownLocations bucket with a page of its own (inline only?); buckets: ${[
        ...new Set(layout.pages.map((p) => p.bucket.join('/'))),
      ].join(', ')}`,
    );
  }
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt(layout.freelistPage)); // bbolt stores host order: little-endian here
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, 8, root.refAt);
  } finally {
    closeSync(fd);
  }
  return { freelistPage: layout.freelistPage, oldRootPage: root.id, offset: root.refAt };
}

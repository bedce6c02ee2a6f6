// Rewrites both metas of a bolt file to claim `pages` pages (the high-water mark), with valid
// checksums: what a file extended by a buggy or hostile writer looks like to every reader.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { fnv1a64 } from '../../checks/blobcache/bolt/format.ts';

export function claimPages(path: string, pages: number): void {
  const fd = openSync(path, 'r+');
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    const pageSize = head.readUInt32LE(16 + 8);
    for (const slot of [0, 1]) {
      const meta = Buffer.alloc(64);
      readSync(fd, meta, 0, 64, slot * pageSize + 16);
      meta.writeBigUInt64LE(BigInt(pages), 40);
      meta.writeBigUInt64LE(fnv1a64(meta.subarray(0, 56)), 56);
      writeSync(fd, meta, 0, 64, slot * pageSize + 16);
    }
  } finally {
    closeSync(fd);
  }
}

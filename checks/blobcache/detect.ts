// Which format a cache file is, from its first bytes only (never from its name).
import type { CacheFormat } from './verdict.ts';

const sqliteHeader = Buffer.from('SQLite format 3\0', 'latin1');
const boltMagic = 0xed0cdaed;
// bbolt's meta follows the 16-byte page header; its magic is the meta's first u32.
const boltMagicOffset = 16;

// `head` is the first bytes of the file (at least 32 when the file is that long). A bolt file
// whose first page is damaged reads as 'unknown' here; the bolt verifier probes for its second
// meta page (boltMetaProbeOffsets) before it calls such a file "not a cache".
export function detectCacheFormat(head: Uint8Array, fileSize: number): CacheFormat {
  if (fileSize === 0) return 'empty';
  if (head.length >= 16 && Buffer.from(head.buffer, head.byteOffset, 16).equals(sqliteHeader)) return 'sqlite';
  if (head.length >= boltMagicOffset + 4) {
    const dv = new DataView(head.buffer, head.byteOffset, head.length);
    if (dv.getUint32(boltMagicOffset, true) === boltMagic) return 'boltdb';
  }
  return 'unknown';
}

// bbolt 1.4 probes meta 1 at these page sizes when meta 0 is unusable; so do we, so a file
// whose first page was zeroed is still recognised as bolt (and called corrupt or torn, not
// "not a cache").
export const boltMetaProbeOffsets = [1024, 2048, 4096, 8192, 16384, 32768, 65536];

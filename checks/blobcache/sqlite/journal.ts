// The rollback journal (`<db>-journal`, https://sqlite.org/fileformat2.html §4.1) as SQLite's
// own recovery reads it (pager.c pager_playback): which pages a rollback would write back into
// the database. Pure: takes the journal's bytes, never a path.

const journalMagic = Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);
const headerBytes = 28;
// SQLite caps the sector size it records (pager.c MAX_SECTOR_SIZE).
const maxSectorSize = 0x10000;

export interface JournalRecord {
  pgno: number;
  data: Uint8Array; // the page as it was when the interrupted transaction started
}

export type JournalState =
  // SQLite ignores it (empty, or a zeroed first byte = a finished PERSIST/TRUNCATE journal).
  | { kind: 'inert' }
  // Hot, but its header is not a journal header: recovery rolls back nothing and deletes it.
  | { kind: 'headerless' }
  // Hot, with a header SQLite refuses (SQLITE_CORRUPT): the next writer cannot open the cache.
  | { kind: 'invalid'; reason: string }
  | {
      kind: 'hot';
      pageSize: number;
      sectorSize: number;
      nonce: number;
      originalPages: number; // database size in pages when the transaction began
      records: JournalRecord[]; // pages recovery writes back (pgno <= originalPages), in order
    };

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

// pager.c pager_cksum: the nonce plus every 200th byte counted back from the page's end.
function recordChecksum(nonce: number, page: Uint8Array): number {
  let sum = nonce;
  for (let i = page.length - 200; i > 0; i -= 200) sum = (sum + page[i]) >>> 0;
  return sum >>> 0;
}

export function parseJournal(bytes: Uint8Array): JournalState {
  if (bytes.length === 0 || bytes[0] === 0) return { kind: 'inert' };
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (b.length < headerBytes || !b.subarray(0, 8).equals(journalMagic)) return { kind: 'headerless' };
  const sectorSize = b.readUInt32BE(20);
  const pageSize = b.readUInt32BE(24);
  if (
    !isPowerOfTwo(pageSize) ||
    pageSize < 512 ||
    pageSize > 65536 ||
    !isPowerOfTwo(sectorSize) ||
    sectorSize < 32 ||
    sectorSize > maxSectorSize
  ) {
    return { kind: 'invalid', reason: `journal header has page size ${pageSize} and sector size ${sectorSize}` };
  }
  const nonce = b.readUInt32BE(12);
  const originalPages = b.readUInt32BE(16);
  const records: JournalRecord[] = [];
  const recordSize = pageSize + 8;
  let hdr = 0;
  // Each sync of the journal starts a new header segment at the next sector boundary; the
  // loop is bounded by the file size since every pass advances by at least one sector.
  while (hdr + headerBytes <= b.length && b.subarray(hdr, hdr + 8).equals(journalMagic)) {
    let nRec = b.readUInt32BE(hdr + 8);
    const segNonce = b.readUInt32BE(hdr + 12);
    let off = hdr + sectorSize;
    // 0xFFFFFFFF: written in no-sync mode, the record count is whatever the file holds.
    if (nRec === 0xffffffff) nRec = Math.floor(Math.max(0, b.length - off) / recordSize);
    for (let i = 0; i < nRec; i++, off += recordSize) {
      if (off + recordSize > b.length) return { kind: 'hot', pageSize, sectorSize, nonce, originalPages, records };
      const pgno = b.readUInt32BE(off);
      const data = b.subarray(off + 4, off + 4 + pageSize);
      // A zero page number or a bad checksum ends playback (pager_playback_one_page: SQLITE_DONE).
      if (pgno === 0 || b.readUInt32BE(off + 4 + pageSize) !== recordChecksum(segNonce, data)) {
        return { kind: 'hot', pageSize, sectorSize, nonce, originalPages, records };
      }
      if (pgno <= originalPages) records.push({ pgno, data });
    }
    const next = Math.ceil(off / sectorSize) * sectorSize;
    if (next <= hdr) break;
    hdr = next;
  }
  return { kind: 'hot', pageSize, sectorSize, nonce, originalPages, records };
}

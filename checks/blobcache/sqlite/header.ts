// The 100-byte SQLite database header (https://sqlite.org/fileformat2.html §1.3): the one place
// that knows its offsets. Everything else asks these accessors.

export const sqliteMagic = Buffer.from('SQLite format 3\0', 'latin1');
export const databaseHeaderSize = 100;

export interface DatabaseHeader {
  pageSize: number; // 512..65536
  writeVersion: number; // 1 legacy (rollback journal), 2 WAL
  readVersion: number;
  reservedBytes: number;
  changeCounter: number; // offset 24: bumped by every commit in rollback mode
  pagesInHeader: number; // offset 28: database size in pages, trusted only when sizeValid
  versionValidFor: number; // offset 92: the change counter when offset 28 was last written
  sizeValid: boolean;
}

export type HeaderResult = { ok: true; header: DatabaseHeader } | { ok: false; reason: string };

export function hasSqliteMagic(bytes: Uint8Array): boolean {
  return (
    bytes.length >= sqliteMagic.length &&
    Buffer.from(bytes.buffer, bytes.byteOffset, sqliteMagic.length).equals(sqliteMagic)
  );
}

// Decodes and checks the fields SQLite itself refuses a file for (btree.c lockBtree): page
// size, versions, payload fractions. `reason` is what an operator reads.
export function parseDatabaseHeader(bytes: Uint8Array): HeaderResult {
  if (bytes.length < databaseHeaderSize)
    return { ok: false, reason: `header is ${bytes.length} bytes, needs ${databaseHeaderSize}` };
  if (!hasSqliteMagic(bytes)) return { ok: false, reason: 'no "SQLite format 3" magic string' };
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, databaseHeaderSize);
  const raw = b.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    return { ok: false, reason: `page size ${raw} is not a power of two between 512 and 65536` };
  }
  const writeVersion = b[18];
  const readVersion = b[19];
  if (readVersion > 2 || writeVersion < 1)
    return { ok: false, reason: `file format versions ${writeVersion}/${readVersion} are not 1 or 2` };
  const reservedBytes = b[20];
  if (pageSize - reservedBytes < 480)
    return { ok: false, reason: `reserved space ${reservedBytes} leaves too little of a ${pageSize}-byte page` };
  if (b[21] !== 64 || b[22] !== 32 || b[23] !== 32)
    return { ok: false, reason: 'payload fractions (offsets 21-23) are not 64/32/32' };
  const changeCounter = b.readUInt32BE(24);
  const versionValidFor = b.readUInt32BE(92);
  const pagesInHeader = b.readUInt32BE(28);
  return {
    ok: true,
    header: {
      pageSize,
      writeVersion,
      readVersion,
      reservedBytes,
      changeCounter,
      pagesInHeader,
      versionValidFor,
      sizeValid: pagesInHeader > 0 && versionValidFor === changeCounter,
    },
  };
}

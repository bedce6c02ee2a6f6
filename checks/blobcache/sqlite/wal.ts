// The write-ahead log (`<db>-wal`, https://sqlite.org/fileformat2.html §4.3) as SQLite's
// recovery reads it (wal.c walIndexRecover): how many frames a reader would replay. Pure.

const walMagicLE = 0x377f0682;
const walMagicBE = 0x377f0683;
const walHeaderBytes = 32;
const frameHeaderBytes = 24;

export type WalState =
  // Empty, or a header recovery rejects: SQLite replays nothing from it.
  | { kind: 'inert'; reason: string }
  | {
      kind: 'frames';
      pageSize: number;
      checkpointSeq: number;
      salt1: number;
      salt2: number;
      committedFrames: number; // frames up to the last valid commit frame: what a reader sees
      pagesTouched: number[]; // distinct page numbers in those frames, ascending
      databasePagesAfterCommit: number; // the last commit frame's database size
    };

// wal.c walChecksumBytes: pairs of 32-bit words, in the byte order the magic number selects.
function walChecksum(
  b: Buffer,
  start: number,
  end: number,
  s0: number,
  s1: number,
  bigEndian: boolean,
): [number, number] {
  for (let i = start; i < end; i += 8) {
    const x0 = bigEndian ? b.readUInt32BE(i) : b.readUInt32LE(i);
    const x1 = bigEndian ? b.readUInt32BE(i + 4) : b.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

export function parseWal(bytes: Uint8Array): WalState {
  if (bytes.length < walHeaderBytes)
    return { kind: 'inert', reason: `${bytes.length} bytes, shorter than a WAL header` };
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const magic = b.readUInt32BE(0);
  if (magic !== walMagicLE && magic !== walMagicBE) return { kind: 'inert', reason: 'no WAL magic number' };
  const bigEndian = magic === walMagicBE;
  const pageSize = b.readUInt32BE(8) === 1 ? 65536 : b.readUInt32BE(8);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0)
    return { kind: 'inert', reason: `WAL page size ${pageSize} is invalid` };
  let [s0, s1] = walChecksum(b, 0, 24, 0, 0, bigEndian);
  if (s0 !== b.readUInt32BE(24) || s1 !== b.readUInt32BE(28))
    return { kind: 'inert', reason: 'WAL header checksum does not match' };
  const salt1 = b.readUInt32BE(16);
  const salt2 = b.readUInt32BE(20);
  const frameSize = frameHeaderBytes + pageSize;
  let committedFrames = 0;
  let databasePagesAfterCommit = 0;
  const pending: number[] = [];
  const touched = new Set<number>();
  // Bounded by the file size: each frame advances by frameSize.
  for (let off = walHeaderBytes, n = 1; off + frameSize <= b.length; off += frameSize, n++) {
    const pgno = b.readUInt32BE(off);
    const commit = b.readUInt32BE(off + 4);
    if (pgno === 0 || b.readUInt32BE(off + 8) !== salt1 || b.readUInt32BE(off + 12) !== salt2) break;
    [s0, s1] = walChecksum(b, off, off + 8, s0, s1, bigEndian);
    [s0, s1] = walChecksum(b, off + frameHeaderBytes, off + frameSize, s0, s1, bigEndian);
    if (s0 !== b.readUInt32BE(off + 16) || s1 !== b.readUInt32BE(off + 20)) break;
    pending.push(pgno);
    if (commit !== 0) {
      committedFrames = n;
      databasePagesAfterCommit = commit;
      for (const p of pending) touched.add(p);
      pending.length = 0;
    }
  }
  if (committedFrames === 0) return { kind: 'inert', reason: 'no committed frame' };
  return {
    kind: 'frames',
    pageSize,
    checkpointSeq: b.readUInt32BE(12),
    salt1,
    salt2,
    committedFrames,
    pagesTouched: [...touched].sort((x, y) => x - y),
    databasePagesAfterCommit,
  };
}

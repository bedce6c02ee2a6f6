// Does a hot journal or a WAL beside the database belong to it? SQLite never asks: the next
// writer rolls back any hot `-journal` and replays any `-wal` into whatever file now has the
// name (measured: a stale WAL was replayed even into a rollback-mode file). A companion left
// beside a replaced database therefore writes foreign pages into it. These rules decide from
// the headers alone; verify.ts adds the backstop "the database alone checks clean but the
// recovered one does not" for the cases headers cannot tell apart.
import type { DatabaseHeader } from './header.ts';
import type { JournalState } from './journal.ts';
import type { WalState } from './wal.ts';

export type Ownership = { belongs: true } | { belongs: false; reason: string };

// Header fields no ordinary write transaction changes (page size and format bytes 16-23,
// largest root page / text encoding 52-59, incremental vacuum / application id 64-71).
const invariantRanges: Array<[number, number]> = [
  [16, 24],
  [52, 60],
  [64, 72],
];

function sameBytes(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  return Buffer.from(a.buffer, a.byteOffset + from, to - from).equals(
    Buffer.from(b.buffer, b.byteOffset + from, to - from),
  );
}

// Rule (rollback journal), from how pager.c writes: page 1 is journaled before it is changed,
// and whenever page 1 reaches the database file its change counter (offset 24) and
// version-valid-for (offset 92) become the journaled counter + 1 (pager_write_changecounter).
//  1. the journal's page size equals the database's;
//  2. page 1 journaled: the database's counter is the journaled one (page 1 not yet written:
//     then the database's page 1 is byte-identical to the journaled copy) or that + 1 (page 1
//     written: offset 92 agrees), and the invariant header fields match;
//  3. page 1 not journaled: page 1 was never touched, so the database's in-header size
//     (when valid) is the journal's "pages when the transaction began".
export function journalBelongs(
  journal: Extract<JournalState, { kind: 'hot' }>,
  db: DatabaseHeader,
  dbPage1: Uint8Array,
): Ownership {
  if (journal.pageSize !== db.pageSize) {
    return {
      belongs: false,
      reason: `journal page size ${journal.pageSize} differs from the database's ${db.pageSize}`,
    };
  }
  const page1 = journal.records.find((r) => r.pgno === 1);
  if (page1) {
    const jp = Buffer.from(page1.data.buffer, page1.data.byteOffset, page1.data.length);
    for (const [from, to] of invariantRanges) {
      if (!sameBytes(jp, dbPage1, from, to))
        return { belongs: false, reason: `database header bytes ${from}-${to - 1} differ from the journaled page 1` };
    }
    const journaled = jp.readUInt32BE(24);
    if (db.changeCounter === journaled) {
      if (dbPage1.length < jp.length || !sameBytes(jp, dbPage1, 0, jp.length)) {
        return {
          belongs: false,
          reason: `database page 1 has the journal's change counter ${journaled} but different content`,
        };
      }
      return { belongs: true };
    }
    if (db.changeCounter === (journaled + 1) >>> 0 && db.versionValidFor === db.changeCounter) return { belongs: true };
    return {
      belongs: false,
      reason: `database change counter ${db.changeCounter} is neither the journal's ${journaled} nor the next one`,
    };
  }
  if (db.sizeValid && db.pagesInHeader !== journal.originalPages) {
    return {
      belongs: false,
      reason: `database header says ${db.pagesInHeader} pages, the journal's transaction began at ${journal.originalPages}`,
    };
  }
  return { belongs: true };
}

// Rule (WAL): a WAL holds committed frames only for a database in WAL mode (header bytes
// 18/19 = 2: switching back to rollback mode checkpoints and deletes the WAL first), and its
// frames have the database's page size.
export function walBelongs(wal: Extract<WalState, { kind: 'frames' }>, db: DatabaseHeader): Ownership {
  if (db.writeVersion !== 2 || db.readVersion !== 2) {
    return {
      belongs: false,
      reason: `a WAL with ${wal.committedFrames} committed frames lies beside a rollback-journal database (header bytes 18/19 = ${db.writeVersion}/${db.readVersion})`,
    };
  }
  if (wal.pageSize !== db.pageSize)
    return { belongs: false, reason: `WAL page size ${wal.pageSize} differs from the database's ${db.pageSize}` };
  return { belongs: true };
}

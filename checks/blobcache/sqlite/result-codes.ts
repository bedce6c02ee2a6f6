// The SQLite result codes the verifier acts on (sqlite3.h). node:sqlite's errors carry the
// extended code in `errcode`; an extended code keeps its primary code in the low byte
// (SQLITE_CORRUPT_INDEX, 779, is SQLITE_CORRUPT, 11).
export const sqliteResult = {
  busy: 5, // SQLITE_BUSY
  locked: 6, // SQLITE_LOCKED
  corrupt: 11, // SQLITE_CORRUPT
  notADb: 26, // SQLITE_NOTADB
  readonlyRollback: 776, // SQLITE_READONLY_ROLLBACK (extended): a hot journal a read-only reader cannot roll back
} as const;

// The extended code of an SQLite error; -1 for anything else.
export function errcodeOf(err: unknown): number {
  const code = (err as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code : -1;
}

// The primary code of an SQLite error; -1 for anything else.
export function primaryCodeOf(err: unknown): number {
  const code = errcodeOf(err);
  return code < 0 ? -1 : code & 0xff;
}

// Takes a private, consistent copy of a live SQLite cache (and of the companions the next
// writer would use) into a 0700 temp directory, without changing anything beside the live
// file and without holding any lock on it for longer than `lockHoldMs` at a time.
//
// Why each copy is consistent while skopeo writes (containers/image: rollback journal,
// BEGIN EXCLUSIVE for every transaction, busy_timeout 5 s):
//  - Normal case: we hold SQLite's own SHARED lock (a read transaction on a read-only
//    connection) while copying. A rollback-mode writer must hold EXCLUSIVE to change the
//    database file, which it cannot get while any SHARED lock exists, so the bytes we copy are
//    one committed state; an in-progress writer's `-journal` (RESERVED, not hot) is not part of
//    that state and is not copied. Big files are copied in slices, each under its own short
//    lock; between slices writers get in (a waiting writer holds PENDING, so our next SHARED
//    waits behind it instead of starving it). Every re-lock compares the 100-byte header and
//    the size with the first slice's: in rollback mode each commit rewrites page 1 with a new
//    change counter, so an equal header means no commit happened in between and all slices
//    belong to the same committed state. Otherwise the attempt is retried, and after
//    `maxAttempts` the verdict is busy.
//  - Hot journal (a crashed writer's; our read fails with SQLITE_READONLY_ROLLBACK and no lock
//    can be had): nobody may write until someone rolls it back, so we copy the journal and the
//    database without a lock and accept the pair only if both files are unchanged before and
//    after (size, mtime, inode, header) and the journal is still hot afterwards. A recovery
//    racing our copy only writes back pages the journal holds, and rolling back is idempotent,
//    so a database copied half-way through such a recovery still rolls back to the same state.
//  - WAL mode (never c/image's; opening the live file through SQLite would create `-wal`/`-shm`
//    beside it) and files SQLite cannot lock because their header is damaged: copied without
//    a lock, accepted only when database and WAL are unchanged before and after. `-shm` is
//    never copied: the first connection to a WAL database without other users rebuilds the
//    wal-index from the WAL, exactly what happens to our snapshot.
// The file descriptor used for copying stays open until SQLite's connection is closed: POSIX
// record locks belong to the process, and closing any descriptor of the file would silently
// drop SQLite's SHARED lock.
//
// Bounded by the data, not by what a file claims (a user's cache extended with `truncate -s
// 50G` is 3 MB of data): under the SHARED lock only the pages the header counts are copied
// (SQLite itself ignores the rest of the file when that count is valid, btree.c lockBtree);
// every copy keeps holes (4 KiB blocks of zeros are skipped, the size set at the end), so a
// snapshot never takes more disk than the live file's data; and before copying, the free space
// of the snapshot directory is compared with what the copy can take.
import { DatabaseSync } from 'node:sqlite';
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isOpenFailure, openCacheFile, type OpenedCacheFile } from '../file-source.ts';
import type { CacheProblemCode } from '../../../lib/problem-codes.ts';
import { databaseHeaderSize, parseDatabaseHeader } from './header.ts';
import { errcodeOf, primaryCodeOf, sqliteResult } from './result-codes.ts';

export interface SnapshotOptions {
  busyTimeoutMs: number; // longest wait for our SHARED lock
  maxAttempts: number; // copies that raced a writer before giving up with busy
  lockHoldMs: number; // longest time one SHARED lock is held while copying
  snapshotDir: string; // where the private 0700 snapshot directory is created
  // Bytes free for the snapshot (default: statfs of the directory); tests hand in a full disk.
  freeBytes?: (dir: string) => number;
}

export type SnapshotMethod = 'shared-lock' | 'hot-journal' | 'wal' | 'no-lock';

export interface Snapshot {
  dir: string;
  dbPath: string;
  journalPath?: string; // present when a hot journal was copied
  walPath?: string; // present when a WAL was copied
  method: SnapshotMethod;
  attempts: number;
  liveSize: number;
}

export type SnapshotOutcome =
  | { kind: 'taken'; snapshot: Snapshot }
  | { kind: 'busy' | 'unreadable'; code: CacheProblemCode; message: string; attempts: number; liveSize?: number };

type Attempt =
  | { kind: 'taken'; method: SnapshotMethod; journal: boolean; wal: boolean }
  | { kind: 'retry'; why: string }
  | { kind: 'busy' | 'unreadable'; code: CacheProblemCode; message: string };

type LockState = 'held' | 'busy' | 'hot-journal' | 'unlockable' | { error: string };

const sliceBytes = 256 * 1024;
const snapshotName = 'cache.sqlite';
// A file written this recently may still be mid-write by a lock-free writer; wait it out.
const settleMs = 20;

// A read inside BEGIN takes SHARED and keeps it until COMMIT; `PRAGMA schema_version` reads
// only page 1, so a damaged schema does not stop us from locking.
function acquireShared(db: DatabaseSync): LockState {
  try {
    db.exec('BEGIN');
    db.prepare('PRAGMA schema_version').get();
    return 'held';
  } catch (err) {
    releaseShared(db);
    const primary = primaryCodeOf(err);
    if (errcodeOf(err) === sqliteResult.readonlyRollback) return 'hot-journal';
    if (primary === sqliteResult.busy || primary === sqliteResult.locked) return 'busy';
    if (primary === sqliteResult.notADb || primary === sqliteResult.corrupt) return 'unlockable';
    return { error: (err as Error).message };
  }
}

function releaseShared(db: DatabaseSync): void {
  try {
    db.exec('COMMIT');
  } catch {
    // No transaction was open: nothing to release.
  }
}

interface FileFingerprint {
  exists: boolean;
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  head: string;
}

function fingerprintPath(path: string, headBytes: number): FileFingerprint {
  const absent: FileFingerprint = { exists: false, dev: 0n, ino: 0n, size: 0n, mtimeNs: 0n, head: '' };
  let st;
  try {
    st = lstatSync(path, { bigint: true });
  } catch {
    return absent;
  }
  let head = '';
  const opened = openCacheFile(path);
  if (!isOpenFailure(opened)) {
    const bytes = opened.readAt(0, headBytes);
    opened.close();
    head = bytes instanceof Error ? 'error' : Buffer.from(bytes).toString('hex');
  }
  return { exists: true, dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, head };
}

function sameFingerprint(a: FileFingerprint, b: FileFingerprint): boolean {
  return (
    a.exists === b.exists &&
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.head === b.head
  );
}

// The live database through our descriptor: what the copy reads.
function fingerprintLive(live: OpenedCacheFile): { size: number; head: string } {
  const st = fstatSync(live.fd);
  const head = live.readAt(0, databaseHeaderSize);
  return { size: st.size, head: head instanceof Error ? 'error' : Buffer.from(head).toString('hex') };
}

function openDestination(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
}

// Copies [offset, offset + length) to the same offsets of dstFd, leaving holes where the
// source reads as zeros (the caller sets the final size with ftruncate).
function copyRange(srcFd: number, dstFd: number, offset: number, length: number, buf: Buffer): void {
  let done = 0;
  while (done < length) {
    const want = Math.min(buf.length, length - done);
    const n = readSync(srcFd, buf, 0, want, offset + done);
    if (n === 0) throw new Error(`file ended at ${offset + done} while copying`);
    writeNonZero(dstFd, buf, n, offset + done);
    done += n;
  }
}

const holeBlock = 4096;
const zeros = Buffer.alloc(holeBlock);

// Writes buf[0, n) at `at`, skipping every 4 KiB block that is all zeros.
function writeNonZero(dstFd: number, buf: Buffer, n: number, at: number): void {
  let runStart = -1;
  for (let b = 0; b < n; b += holeBlock) {
    const end = Math.min(b + holeBlock, n);
    const zero = buf.compare(zeros, 0, end - b, b, end) === 0;
    if (!zero && runStart < 0) runStart = b;
    if (zero && runStart >= 0) {
      writeSync(dstFd, buf, runStart, b - runStart, at + runStart);
      runStart = -1;
    }
  }
  if (runStart >= 0) writeSync(dstFd, buf, runStart, n - runStart, at + runStart);
}

// How many bytes of the live database the snapshot needs: the pages the header counts when
// that count is valid (SQLite reads no further), else the whole file.
function databaseBytes(head: Uint8Array | Error, fileSize: number): number {
  if (head instanceof Error) return fileSize;
  const parsed = parseDatabaseHeader(head);
  if (!parsed.ok || !parsed.header.sizeValid) return fileSize;
  return Math.min(fileSize, parsed.header.pagesInHeader * parsed.header.pageSize);
}

// Copies one companion; a companion that is a symlink or not a regular file is refused
// (a root agent never follows a link a user planted), one that vanished is a race.
function copyWholeFile(src: string, dst: string): 'copied' | 'vanished' | { refused: string } {
  const opened = openCacheFile(src);
  if (isOpenFailure(opened)) return opened.code === 'not-found' ? 'vanished' : { refused: opened.message };
  const out = openDestination(dst);
  try {
    copyRange(opened.fd, out, 0, opened.stat.size, Buffer.allocUnsafe(sliceBytes));
    ftruncateSync(out, opened.stat.size);
    return 'copied';
  } finally {
    closeSync(out);
    opened.close();
  }
}

async function copyUnderSharedLock(
  db: DatabaseSync,
  live: OpenedCacheFile,
  dbPath: string,
  opts: SnapshotOptions,
): Promise<Attempt> {
  // Called with SHARED held.
  let holdStart = performance.now();
  const first = fingerprintLive(live);
  const length = databaseBytes(live.readAt(0, databaseHeaderSize), first.size);
  const out = openDestination(dbPath);
  const buf = Buffer.allocUnsafe(sliceBytes);
  try {
    let off = 0;
    while (off < length) {
      const n = Math.min(sliceBytes, length - off);
      copyRange(live.fd, out, off, n, buf);
      off += n;
      if (off < length && performance.now() - holdStart >= opts.lockHoldMs) {
        releaseShared(db);
        await sleep(1);
        const again = acquireShared(db);
        if (again === 'busy')
          return {
            kind: 'busy',
            code: 'lock-timeout',
            message: `no SHARED lock within ${opts.busyTimeoutMs} ms while copying`,
          };
        if (again !== 'held') return { kind: 'retry', why: 'database state changed while copying' };
        holdStart = performance.now();
        const now = fingerprintLive(live);
        if (now.size !== first.size || now.head !== first.head)
          return { kind: 'retry', why: 'a writer committed while copying' };
      }
    }
    const last = fingerprintLive(live);
    if (last.size !== first.size || last.head !== first.head)
      return { kind: 'retry', why: 'a writer committed while copying' };
    ftruncateSync(out, length);
    return { kind: 'taken', method: 'shared-lock', journal: false, wal: false };
  } finally {
    releaseShared(db);
    closeSync(out);
  }
}

// Copies the database and the named companions with no lock, accepted only if nothing
// changed meanwhile; `stillSame` is an extra condition checked after the copy.
async function copyWithoutLock(
  path: string,
  dir: string,
  companions: string[],
  method: SnapshotMethod,
  stillSame: () => boolean,
): Promise<Attempt> {
  const names = ['', ...companions];
  let before = names.map((s) => fingerprintPath(path + s, 100));
  const newest = Math.max(...before.filter((f) => f.exists).map((f) => Number(f.mtimeNs / 1000000n)));
  if (Date.now() - newest < settleMs) {
    await sleep(settleMs);
    before = names.map((s) => fingerprintPath(path + s, 100));
  }
  if (!before[0].exists) return { kind: 'retry', why: 'database vanished' };
  // Companions first: a WAL or journal only grows or disappears under a writer, and any such
  // change shows in the after-fingerprint anyway.
  for (let i = names.length - 1; i >= 0; i--) {
    if (!before[i].exists) continue;
    let copied: ReturnType<typeof copyWholeFile>;
    try {
      copied = copyWholeFile(path + names[i], join(dir, snapshotName + names[i]));
    } catch (err) {
      // Typically the file shrank under a writer while we copied it.
      return { kind: 'retry', why: `copying ${path + names[i]}: ${(err as Error).message}` };
    }
    if (copied === 'vanished') return { kind: 'retry', why: `${path + names[i]} vanished` };
    if (copied !== 'copied') return { kind: 'unreadable', code: 'companion-refused', message: copied.refused };
  }
  const after = names.map((s) => fingerprintPath(path + s, 100));
  if (!after.every((f, i) => sameFingerprint(f, before[i])) || !stillSame())
    return { kind: 'retry', why: 'files changed while copying' };
  const copied = (suffix: string) => names.some((s, i) => s === suffix && before[i].exists);
  return { kind: 'taken', method, journal: copied('-journal'), wal: copied('-wal') };
}

function notRegularFile(path: string): string | undefined {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return `${path} is a symbolic link; refusing to follow it`;
    if (!st.isFile()) return `${path} is not a regular file`;
    return undefined;
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

async function attemptOnce(path: string, live: OpenedCacheFile, dir: string, opts: SnapshotOptions): Promise<Attempt> {
  // A companion copied by an earlier, rejected attempt must not leak into this one.
  for (const suffix of ['-journal', '-wal', '-shm']) rmSync(join(dir, snapshotName + suffix), { force: true });
  const head = live.readAt(0, databaseHeaderSize);
  if (head instanceof Error) return { kind: 'unreadable', code: 'io-error', message: `${path}: ${head.message}` };
  const walMode = head.length > 19 && (head[18] === 2 || head[19] === 2);
  // A -journal beside a WAL database is still rolled back first (pager.c checks for a hot
  // journal before it looks for a WAL), so it travels with the snapshot too.
  if (walMode || exists(`${path}-wal`)) return copyWithoutLock(path, dir, ['-wal', '-journal'], 'wal', () => true);
  // SQLite follows links and would block opening a FIFO planted as `-journal`; a root agent
  // refuses both before SQLite looks (a user swapping it in later is a residual race).
  const oddJournal = notRegularFile(`${path}-journal`);
  if (oddJournal) return { kind: 'unreadable', code: 'companion-refused', message: oddJournal };
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly: true });
  } catch (err) {
    return { kind: 'unreadable', code: 'io-error', message: `${path}: ${(err as Error).message}` };
  }
  try {
    db.exec(`PRAGMA busy_timeout=${Math.max(0, Math.floor(opts.busyTimeoutMs))}`);
    const lock = acquireShared(db);
    if (lock === 'busy')
      return {
        kind: 'busy',
        code: 'lock-timeout',
        message: `${path} stayed locked by a writer for more than ${opts.busyTimeoutMs} ms`,
      };
    if (lock === 'hot-journal') {
      return copyWithoutLock(path, dir, ['-journal'], 'hot-journal', () => {
        const again = acquireShared(db);
        releaseShared(db);
        return again === 'hot-journal';
      });
    }
    // Nobody can write a file SQLite cannot read, but copy defensively anyway.
    if (lock === 'unlockable') return copyWithoutLock(path, dir, ['-journal'], 'no-lock', () => true);
    if (lock !== 'held') return { kind: 'unreadable', code: 'io-error', message: `${path}: ${lock.error}` };
    return await copyUnderSharedLock(db, live, join(dir, snapshotName), opts);
  } finally {
    db.close();
  }
}

// Space kept free beside the snapshot, for the agent's own state writes.
const reserveBytes = 16 * 1024 * 1024;

function statfsFreeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

// The most disk a snapshot of `path` can take: the data the copies can meet (allocated blocks,
// holes excluded), the database's limited to the pages its header counts.
function snapshotBytesAtMost(path: string, live: OpenedCacheFile): number {
  const database = Math.min(live.stat.blocks * 512, databaseBytes(live.readAt(0, databaseHeaderSize), live.stat.size));
  let companions = 0;
  for (const suffix of ['-journal', '-wal']) {
    try {
      companions += lstatSync(path + suffix).blocks * 512;
    } catch {
      // absent
    }
  }
  // The whole file when it is copied without a lock, plus one copy for the rolled-in check.
  return 2 * Math.max(database, Math.min(live.stat.blocks * 512, live.stat.size)) + companions;
}

export async function takeSnapshot(path: string, opts: SnapshotOptions): Promise<SnapshotOutcome> {
  const live = openCacheFile(path);
  if (isOpenFailure(live)) return { kind: 'unreadable', code: live.code, message: live.message, attempts: 0 };
  const liveSize = live.stat.size;
  let dir: string | undefined;
  let taken = false;
  try {
    dir = mkdtempSync(join(opts.snapshotDir, 'buildfleet-sqlite-'));
    const need = snapshotBytesAtMost(path, live);
    const free = (opts.freeBytes ?? statfsFreeBytes)(dir);
    if (free < need + reserveBytes) {
      return {
        kind: 'unreadable',
        code: 'snapshot-no-space',
        attempts: 0,
        liveSize,
        message: `${path}: no room for a private copy in ${opts.snapshotDir} (${free} bytes free, the copy may take ${need} plus ${reserveBytes} kept free)`,
      };
    }
    let lastWhy = '';
    for (let attempt = 1; attempt <= opts.maxAttempts; attempt++) {
      const result = await attemptOnce(path, live, dir, opts);
      // The path must still name the file we hold open; otherwise SQLite may have locked a
      // different file than the one we copied.
      let sameFile = false;
      try {
        const st = lstatSync(path);
        sameFile = st.ino === live.stat.ino && st.dev === live.stat.dev;
      } catch {
        sameFile = false;
      }
      if (result.kind === 'taken' && sameFile) {
        const snapshot: Snapshot = {
          dir,
          dbPath: join(dir, snapshotName),
          method: result.method,
          attempts: attempt,
          liveSize,
        };
        if (result.journal) snapshot.journalPath = `${snapshot.dbPath}-journal`;
        if (result.wal) snapshot.walPath = `${snapshot.dbPath}-wal`;
        taken = true;
        return { kind: 'taken', snapshot };
      }
      if (result.kind === 'busy' || result.kind === 'unreadable') return { ...result, attempts: attempt, liveSize };
      lastWhy = result.kind === 'retry' ? result.why : `${path} was replaced while copying`;
      await sleep(5 * attempt);
    }
    return {
      kind: 'busy',
      code: 'changed-during-copy',
      message: `${path}: no consistent copy in ${opts.maxAttempts} attempts (${lastWhy})`,
      attempts: opts.maxAttempts,
      liveSize,
    };
  } catch (err) {
    return {
      kind: 'unreadable',
      code: 'snapshot-failed',
      message: `could not copy ${path} to a private snapshot: ${(err as Error).message}`,
      attempts: 0,
      liveSize,
    };
  } finally {
    live.close();
    if (dir !== undefined && !taken) removeSnapshotDir(dir);
  }
}

export function removeSnapshotDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // A leftover temp directory is harmless; never turn cleanup into a verdict.
  }
}

// A copy of a file inside the snapshot directory that keeps its holes (copyFileSync would fill
// them: a sparse snapshot copied for the "database alone" check would take its apparent size).
export function copySnapshotFile(src: string, dst: string): void {
  const from = openSync(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const size = fstatSync(from).size;
    const out = openDestination(dst);
    try {
      copyRange(from, out, 0, size, Buffer.allocUnsafe(sliceBytes));
      ftruncateSync(out, size);
    } finally {
      closeSync(out);
    }
  } finally {
    closeSync(from);
  }
}

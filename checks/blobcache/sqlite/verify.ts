// Verifies one SQLite blob-info cache (containers/image >= 5.28, skopeo >= 1.14) the way the
// next skopeo will meet it: a private snapshot of the file and its companions (snapshot.ts),
// the companions judged as belonging or stale (ownership.ts), SQLite's own recovery of the
// snapshot, then quick_check (integrity_check with `full`, and whenever a journal or WAL was
// rolled in). Never throws and never changes the live files; every failure is a verdict.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CacheFormat, CacheProblem, CacheStats, CacheVerdict, CacheVerdictKind } from '../verdict.ts';
import type { VerifyOptions } from '../verify.ts';
import { isOpenFailure, openCacheFile } from '../file-source.ts';
import { hasSqliteMagic, parseDatabaseHeader } from './header.ts';
import { parseJournal } from './journal.ts';
import { parseWal } from './wal.ts';
import { journalBelongs, walBelongs } from './ownership.ts';
import { copySnapshotFile, removeSnapshotDir, takeSnapshot, type Snapshot } from './snapshot.ts';
import { checkSnapshotDatabase, malformationOf, type SnapshotVisitor } from './check-snapshot.ts';

export interface SqliteVerifyOptions extends VerifyOptions {
  // Longest time one SHARED lock on the live file is held while copying (default 50 ms;
  // skopeo waits at most that long, far below its 5 s busy timeout).
  lockHoldMs?: number;
}

export const sqliteVerifyDefaults = { busyTimeoutMs: 1000, maxAttempts: 5, lockHoldMs: 50 } as const;

// containers/image's journals hold the pages of one small transaction.
const maxCompanionBytes = 64 * 1024 * 1024;

interface Companions {
  problems: CacheProblem[];
  warnings: CacheProblem[];
  rolledIn: boolean; // a journal or WAL with content will be applied by recovery
}

function readPrefix(path: string, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    return buf.subarray(0, readSync(fd, buf, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

// What the journal or WAL in the snapshot will do to the database, judged before recovery.
function judgeCompanions(snapshot: Snapshot): Companions {
  const out: Companions = { problems: [], warnings: [], rolledIn: false };
  const head = parseDatabaseHeader(readPrefix(snapshot.dbPath, 100));
  const page1 = head.ok ? readPrefix(snapshot.dbPath, head.header.pageSize) : new Uint8Array(0);
  if (snapshot.journalPath) {
    const journal = parseJournal(readFileSync(snapshot.journalPath));
    if (journal.kind === 'headerless') {
      out.warnings.push({
        code: 'journal-discarded',
        message: 'a hot journal without a valid header: the next writer deletes it without rolling anything back',
      });
    } else if (journal.kind === 'invalid') {
      out.problems.push({
        code: 'journal-invalid',
        message: `hot journal the next writer cannot roll back (${journal.reason}); skopeo will fall back to a memory-only cache`,
      });
    } else if (journal.kind === 'hot') {
      out.rolledIn = journal.records.length > 0;
      const own = head.ok ? journalBelongs(journal, head.header, page1) : { belongs: true as const };
      if (own.belongs) {
        out.warnings.push({
          code: 'hot-journal-recovered',
          message: `a crashed writer's journal: the next writer rolls back ${journal.records.length} page(s); the verdict is on the rolled-back state`,
        });
      } else {
        out.problems.push({
          code: 'stale-journal',
          message: `the -journal beside the database belongs to another database (${own.reason}); recovery would roll its pages into this one`,
        });
      }
    }
  }
  if (snapshot.walPath) {
    const wal = parseWal(readFileSync(snapshot.walPath));
    if (wal.kind === 'inert') {
      if (readFileSync(snapshot.walPath).length > 0)
        out.warnings.push({ code: 'wal-ignored', message: `a -wal file SQLite will not replay (${wal.reason})` });
    } else {
      out.rolledIn = true;
      const own = head.ok ? walBelongs(wal, head.header) : { belongs: true as const };
      if (own.belongs) {
        out.warnings.push({
          code: 'wal-recovered',
          message: `${wal.committedFrames} committed WAL frame(s) not yet checkpointed; the verdict includes them`,
        });
      } else {
        out.problems.push({
          code: 'stale-wal',
          message: `the -wal beside the database belongs to another database (${own.reason}); recovery would replay its pages into this one`,
        });
      }
    }
  }
  return out;
}

function verdictOf(
  path: string,
  format: CacheFormat,
  verdict: CacheVerdictKind,
  problems: CacheProblem[],
  warnings: CacheProblem[],
  stats: CacheStats,
  started: number,
): CacheVerdict {
  return {
    path,
    format,
    verdict,
    problems,
    warnings,
    stats,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
  };
}

export async function verifySqliteFileWith(
  path: string,
  opts: SqliteVerifyOptions,
  visit?: SnapshotVisitor,
): Promise<CacheVerdict> {
  const started = performance.now();
  try {
    const opened = openCacheFile(path);
    if (isOpenFailure(opened))
      return verdictOf(
        path,
        'unknown',
        'unreadable',
        [{ code: opened.code, message: opened.message }],
        [],
        {},
        started,
      );
    const size = opened.stat.size;
    const head = opened.readAt(0, 100);
    opened.close();
    if (head instanceof Error)
      return verdictOf(
        path,
        'unknown',
        'unreadable',
        [{ code: 'io-error', message: `${path}: ${head.message}` }],
        [],
        { sizeBytes: size },
        started,
      );
    if (size === 0) {
      return verdictOf(
        path,
        'empty',
        'healthy',
        [],
        [{ code: 'empty-file', message: 'zero-length file: SQLite initialises it on the next write' }],
        { sizeBytes: 0 },
        started,
      );
    }
    if (!hasSqliteMagic(head)) {
      return verdictOf(
        path,
        'unknown',
        'corrupt',
        [{ code: 'not-a-cache', message: 'not an SQLite database (no "SQLite format 3" header)' }],
        [],
        { sizeBytes: size },
        started,
      );
    }
    const taken = await takeSnapshot(path, {
      busyTimeoutMs: opts.busyTimeoutMs ?? sqliteVerifyDefaults.busyTimeoutMs,
      maxAttempts: Math.max(1, opts.maxAttempts ?? sqliteVerifyDefaults.maxAttempts),
      lockHoldMs: opts.lockHoldMs ?? sqliteVerifyDefaults.lockHoldMs,
      snapshotDir: opts.snapshotDir ?? tmpdir(),
    });
    if (taken.kind !== 'taken') {
      return verdictOf(
        path,
        'sqlite',
        taken.kind,
        [{ code: taken.code, message: taken.message }],
        [],
        { sizeBytes: taken.liveSize ?? size, attempts: taken.attempts },
        started,
      );
    }
    const snap = taken.snapshot;
    try {
      // Journals and WALs are parsed in memory: one far larger than c/image ever writes is not
      // read (a sparse one claiming gigabytes would be), and the file is not verified.
      for (const companion of [snap.journalPath, snap.walPath]) {
        if (companion === undefined || statSync(companion).size <= maxCompanionBytes) continue;
        const message = `${path}: its ${companion.endsWith('-wal') ? '-wal' : '-journal'} is ${statSync(companion).size} bytes, more than the ${maxCompanionBytes} the verifier reads`;
        return verdictOf(
          path,
          'sqlite',
          'unreadable',
          [{ code: 'companion-too-large', message }],
          [],
          { sizeBytes: snap.liveSize, attempts: snap.attempts },
          started,
        );
      }
      const companions = judgeCompanions(snap);
      const alonePath = join(snap.dir, 'alone.sqlite');
      if (companions.rolledIn) copySnapshotFile(snap.dbPath, alonePath);
      const checked = checkSnapshotDatabase(
        snap.dbPath,
        { full: opts.full === true || companions.rolledIn, expectWal: snap.walPath !== undefined },
        visit,
      );
      const stats: CacheStats = {
        pageSize: checked.pageSize,
        pages: checked.pages,
        tables: checked.tables,
        rows: checked.rows,
        sizeBytes: snap.liveSize,
        attempts: snap.attempts,
      };
      if (checked.unreadable)
        return verdictOf(path, 'sqlite', 'unreadable', [checked.unreadable], companions.warnings, stats, started);
      const problems = [...companions.problems, ...checked.problems];
      // Backstop for what headers cannot tell: the database alone is sound, but with the
      // journal or WAL rolled in it is not, so that companion came from another database.
      const damaged = checked.problems.some((p) => p.code !== 'not-a-cache' && p.code !== 'schema-incomplete');
      if (companions.rolledIn && damaged && companions.problems.length === 0) {
        const alone = checkSnapshotDatabase(alonePath, { full: true, expectWal: false });
        if (!alone.unreadable && alone.problems.length === 0) {
          const which = snap.journalPath ? 'stale-journal' : 'stale-wal';
          problems.unshift({
            code: which,
            message: `the database alone is consistent, but recovering it with its ${snap.journalPath ? '-journal' : '-wal'} damages it: that file belongs to another database`,
          });
          companions.warnings.length = 0;
        }
      }
      return verdictOf(
        path,
        'sqlite',
        problems.length > 0 ? 'corrupt' : 'healthy',
        problems,
        [...companions.warnings, ...checked.warnings],
        stats,
        started,
      );
    } finally {
      removeSnapshotDir(snap.dir);
    }
  } catch (err) {
    // SQLite saying "malformed" from anywhere is a verdict on the file; internal-error is kept
    // for faults of the agent and never judges the content (the check counts it as unverified).
    const malformed = malformationOf(err, `verifying ${path}`);
    if (malformed) return verdictOf(path, 'sqlite', 'corrupt', [malformed], [], {}, started);
    return verdictOf(
      path,
      'sqlite',
      'unreadable',
      [{ code: 'internal-error', message: `verifying ${path} failed: ${(err as Error).message}` }],
      [],
      {},
      started,
    );
  }
}

// One verification per path at a time in this process. POSIX record locks belong to the
// process: a second verification opening and closing the same file would silently drop the
// SHARED lock the first one holds.
const turns = new Map<string, Promise<unknown>>();

export function inTurn<T>(path: string, work: () => Promise<T>): Promise<T> {
  const previous = turns.get(path) ?? Promise.resolve();
  const mine = previous.then(work, work);
  const settled = mine.catch(() => undefined);
  turns.set(path, settled);
  void settled.then(() => {
    if (turns.get(path) === settled) turns.delete(path);
  });
  return mine;
}

export async function verifySqliteFile(path: string, opts: SqliteVerifyOptions = {}): Promise<CacheVerdict> {
  return inTurn(path, () => verifySqliteFileWith(path, opts));
}

// Verifies one SQLite blob-info cache (containers/image >= 5.28, skopeo >= 1.14) the way the
// next skopeo will meet it: a private snapshot of the file and its companions (snapshot.ts),
// the companions judged as belonging or stale (ownership.ts), SQLite's own recovery of the
// snapshot, then quick_check (integrity_check with `full`, and whenever a journal or WAL was
// rolled in). Never throws and never changes the live files; every failure is a verdict.
import { readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CacheFormat, CacheProblem, CacheStats, CacheVerdict, CacheVerdictKind } from '../verdict.ts';
import type { VerifyOptions } from '../verify.ts';
import { isOpenFailure, openCacheFile } from '../file-source.ts';
import { databaseHeaderSize, hasSqliteMagic, parseDatabaseHeader } from './header.ts';
import { readHead } from './read-head.ts';
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

// What the journal or WAL in the snapshot will do to the database, judged before recovery.
function judgeCompanions(snapshot: Snapshot): Companions {
  const out: Companions = { problems: [], warnings: [], rolledIn: false };
  const head = parseDatabaseHeader(readHead(snapshot.dbPath, databaseHeaderSize).bytes);
  const page1 = head.ok ? readHead(snapshot.dbPath, head.header.pageSize).bytes : new Uint8Array(0);
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

// A verdict on `path` timed from `started`: each part below says only what it found.
type Say = (
  format: CacheFormat,
  verdict: CacheVerdictKind,
  problems: CacheProblem[],
  warnings: CacheProblem[],
  stats: CacheStats,
) => CacheVerdict;

function sayFor(path: string, started: number): Say {
  return (format, verdict, problems, warnings, stats) => ({
    path,
    format,
    verdict,
    problems,
    warnings,
    stats,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
  });
}

// The live file's first 100 bytes, before any lock or copy: a file that cannot be opened or
// read, an empty one (healthy: SQLite initialises it) and one without the SQLite magic are
// judged here. Otherwise its size, for the verdict's stats.
function judgeLiveHead(path: string, say: Say): { size: number } | CacheVerdict {
  const opened = openCacheFile(path);
  if (isOpenFailure(opened))
    return say('unknown', 'unreadable', [{ code: opened.code, message: opened.message }], [], {});
  const size = opened.stat.size;
  const head = opened.readAt(0, databaseHeaderSize);
  opened.close();
  if (head instanceof Error)
    return say('unknown', 'unreadable', [{ code: 'io-error', message: `${path}: ${head.message}` }], [], {
      sizeBytes: size,
    });
  if (size === 0) {
    const warning: CacheProblem = {
      code: 'empty-file',
      message: 'zero-length file: SQLite initialises it on the next write',
    };
    return say('empty', 'healthy', [], [warning], { sizeBytes: 0 });
  }
  if (!hasSqliteMagic(head)) {
    const problem: CacheProblem = {
      code: 'not-a-cache',
      message: 'not an SQLite database (no "SQLite format 3" header)',
    };
    return say('unknown', 'corrupt', [problem], [], { sizeBytes: size });
  }
  return { size };
}

// Journals and WALs are parsed in memory: one far larger than c/image ever writes is not read
// (a sparse one claiming gigabytes would be), and the file is not verified.
function companionTooLarge(path: string, snap: Snapshot): CacheProblem | null {
  for (const companion of [snap.journalPath, snap.walPath]) {
    if (companion === undefined || statSync(companion).size <= maxCompanionBytes) continue;
    const which = companion.endsWith('-wal') ? '-wal' : '-journal';
    const message = `${path}: its ${which} is ${statSync(companion).size} bytes, more than the ${maxCompanionBytes} the verifier reads`;
    return { code: 'companion-too-large', message };
  }
  return null;
}

// Backstop for what headers cannot tell: the database alone is sound, but with the journal or
// WAL rolled in it is not, so that companion came from another database. The problem to put
// first, or null.
function staleCompanionFound(
  snap: Snapshot,
  alonePath: string,
  companions: Companions,
  damage: CacheProblem[],
): CacheProblem | null {
  const damaged = damage.some((p) => p.code !== 'not-a-cache' && p.code !== 'schema-incomplete');
  if (!companions.rolledIn || !damaged || companions.problems.length > 0) return null;
  const alone = checkSnapshotDatabase(alonePath, { full: true, expectWal: false });
  if (alone.unreadable || alone.problems.length > 0) return null;
  return {
    code: snap.journalPath ? 'stale-journal' : 'stale-wal',
    message: `the database alone is consistent, but recovering it with its ${snap.journalPath ? '-journal' : '-wal'} damages it: that file belongs to another database`,
  };
}

// The verdict on a snapshot: its companions judged, SQLite's recovery and check run on it.
function judgeSnapshot(
  path: string,
  snap: Snapshot,
  opts: SqliteVerifyOptions,
  visit: SnapshotVisitor | undefined,
  say: Say,
): CacheVerdict {
  const tooLarge = companionTooLarge(path, snap);
  if (tooLarge)
    return say('sqlite', 'unreadable', [tooLarge], [], { sizeBytes: snap.liveSize, attempts: snap.attempts });
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
  if (checked.unreadable) return say('sqlite', 'unreadable', [checked.unreadable], companions.warnings, stats);
  const problems = [...companions.problems, ...checked.problems];
  let warnings = companions.warnings;
  const stale = staleCompanionFound(snap, alonePath, companions, checked.problems);
  if (stale) {
    problems.unshift(stale);
    warnings = [];
  }
  const verdict = problems.length > 0 ? 'corrupt' : 'healthy';
  return say('sqlite', verdict, problems, [...warnings, ...checked.warnings], stats);
}

export async function verifySqliteFileWith(
  path: string,
  opts: SqliteVerifyOptions,
  visit?: SnapshotVisitor,
): Promise<CacheVerdict> {
  const say = sayFor(path, performance.now());
  try {
    const live = judgeLiveHead(path, say);
    if ('verdict' in live) return live;
    const taken = await takeSnapshot(path, {
      busyTimeoutMs: opts.busyTimeoutMs ?? sqliteVerifyDefaults.busyTimeoutMs,
      maxAttempts: Math.max(1, opts.maxAttempts ?? sqliteVerifyDefaults.maxAttempts),
      lockHoldMs: opts.lockHoldMs ?? sqliteVerifyDefaults.lockHoldMs,
      snapshotDir: opts.snapshotDir ?? tmpdir(),
    });
    if (taken.kind !== 'taken') {
      const stats = { sizeBytes: taken.liveSize ?? live.size, attempts: taken.attempts };
      return say('sqlite', taken.kind, [{ code: taken.code, message: taken.message }], [], stats);
    }
    try {
      return judgeSnapshot(path, taken.snapshot, opts, visit, say);
    } finally {
      removeSnapshotDir(taken.snapshot.dir);
    }
  } catch (err) {
    // SQLite saying "malformed" from anywhere is a verdict on the file; internal-error is kept
    // for faults of the agent and never judges the content (the check counts it as unverified).
    const malformed = malformationOf(err, `verifying ${path}`);
    if (malformed) return say('sqlite', 'corrupt', [malformed], [], {});
    const problem: CacheProblem = {
      code: 'internal-error',
      message: `verifying ${path} failed: ${(err as Error).message}`,
    };
    return say('sqlite', 'unreadable', [problem], [], {});
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

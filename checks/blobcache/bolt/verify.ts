// The bolt verifier over a page source: meta choice, tree walk, and the rule that makes it safe
// on a file that skopeo processes are committing to while we read.
//
// Why re-reading the metas is enough (bbolt's copy-on-write commit order, docs/formats.md §1.8):
// a write transaction T+1 only writes pages that were free in tree T, then fdatasyncs, and only
// then writes its meta into slot (T+1)%2. Pages of tree T become reusable when T+1 frees them,
// i.e. from transaction T+2 on — and T+2 cannot begin before T+1's meta is on disk. So if the
// newest valid meta is still T after the walk (both meta regions byte-identical to what we read
// first), no transaction past T+1 has started writing, and every page of tree T we read was
// intact. If the metas changed, what we read may mix two trees: the attempt proves nothing,
// whatever it found; we retry, and after a bounded number of attempts say `busy`, never
// `corrupt`. A torn meta read mid-write fails its checksum and counts as a change too.
// Assumes page-cache-coherent reads on one host (not NFS).
import type { ReadAt } from '../file-source.ts';
import type { CacheStats, CacheVerdict } from '../verdict.ts';
import { readBoltMetas, type MetaFailure, type MetaReading } from './meta.ts';
import { defaultWalkLimits, walkBoltTree, type WalkLimits, type WalkObserver } from './walk.ts';

export interface BoltVerifyOptions {
  maxAttempts?: number; // default 5
  retryDelayMs?: number; // first backoff; doubles each attempt (default 5)
  limits?: Partial<WalkLimits>;
  timeLimitMs?: number; // whole verification; past it the verdict is busy
  observer?: () => WalkObserver; // a fresh observer per attempt (for cache inspect)
}

// A verdict before the caller adds which file it was and how long it took.
export type BoltVerification = Omit<CacheVerdict, 'path' | 'durationMs'>;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

// `size` is a function for live files: it is asked after the metas are read, because a writer
// grows the file before it writes the meta that refers to the new pages.
export function verifyBoltSource(
  readAt: ReadAt,
  size: number | (() => number),
  opts: BoltVerifyOptions = {},
): BoltVerification {
  const sizeNow = typeof size === 'number' ? () => size : size;
  const initialSize = sizeNow();
  const maxAttempts = opts.maxAttempts ?? 5;
  const started = performance.now();
  const deadline = opts.timeLimitMs === undefined ? undefined : started + opts.timeLimitMs;
  const limits: WalkLimits = { ...defaultWalkLimits, ...opts.limits, deadline };

  if (initialSize === 0) {
    return {
      format: 'empty',
      verdict: 'healthy',
      problems: [],
      warnings: [{ code: 'empty-file', message: 'zero-length file; bbolt initialises it on the next write' }],
      stats: { sizeBytes: 0 },
    };
  }

  let delay = opts.retryDelayMs ?? 5;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const fileSize = sizeNow();
    const before = readBoltMetas(readAt, fileSize);
    const judged =
      before.kind === 'ok'
        ? walkOnce(readAt, sizeNow(), before, limits, attempt, opts)
        : judgeMetaFailure(readAt, sizeNow, before, fileSize, attempt, attempt < maxAttempts);
    if (judged !== null) return judged;
    if (attempt < maxAttempts) {
      sleepSync(delay);
      delay *= 2;
    }
    // Only a walk is stopped by the time limit between attempts (re-reading metas is cheap).
    if (before.kind === 'ok' && deadline !== undefined && performance.now() > deadline) break;
  }
  return {
    format: 'boltdb',
    verdict: 'busy',
    problems: [],
    warnings: [
      {
        code: 'concurrent-writes',
        message: `writers committed during each of ${maxAttempts} attempts; no consistent read (the next run tries again)`,
      },
    ],
    stats: { sizeBytes: sizeNow(), attempts: maxAttempts },
  };
}

// The metas did not read as a bolt file. A meta may be torn because a writer is writing it
// right now: look again before judging. null: changed meanwhile, try again.
function judgeMetaFailure(
  readAt: ReadAt,
  sizeNow: () => number,
  before: MetaFailure,
  fileSize: number,
  attempt: number,
  canRetry: boolean,
): BoltVerification | null {
  const again = readBoltMetas(readAt, sizeNow());
  const stable = again.kind === before.kind && JSON.stringify(again.problems) === JSON.stringify(before.problems);
  if (!stable && canRetry) return null;
  return {
    format: before.kind === 'not-bolt' ? 'unknown' : 'boltdb',
    verdict: before.kind === 'io-error' ? 'unreadable' : stable ? 'corrupt' : 'busy',
    problems: before.problems,
    warnings: [],
    stats: { sizeBytes: fileSize, pageSize: before.pageSize, attempts: attempt },
  };
}

// One walk of the tree `before` chose, judged only if the metas are unchanged after it (or the
// time limit stopped it). null: a writer committed meanwhile, try again.
function walkOnce(
  readAt: ReadAt,
  fileSize: number,
  before: MetaReading,
  limits: WalkLimits,
  attempt: number,
  opts: BoltVerifyOptions,
): BoltVerification | null {
  const walk = walkBoltTree(readAt, fileSize, before, limits, opts.observer?.());
  const after = readBoltMetas(readAt, fileSize);
  const unchanged = after.kind === 'ok' && after.fingerprint.equals(before.fingerprint);
  const stats: CacheStats = {
    pageSize: before.pageSize,
    pages: Number(before.meta.pgid),
    txid: Number(before.meta.txid),
    buckets: walk.buckets,
    keys: walk.keys,
    sizeBytes: fileSize,
    attempts: attempt,
  };
  if (walk.timedOut) {
    return {
      format: 'boltdb',
      verdict: 'busy',
      problems: [],
      warnings: [
        { code: 'time-limit', message: `verification stopped after ${opts.timeLimitMs} ms before the walk finished` },
      ],
      stats,
    };
  }
  if (!unchanged) return null;
  const io = walk.problems.some((p) => p.code === 'io-error');
  return {
    format: 'boltdb',
    verdict: io ? 'unreadable' : walk.problems.length > 0 ? 'corrupt' : 'healthy',
    problems: walk.problems,
    warnings: walk.warnings,
    stats,
  };
}

// The verdict on one blob-info cache file: the JSON shape of `cache check --json`
// (docs/conventions.md). Shared by the bolt and SQLite verifiers, the CLI and the daemon.

import { exitCodes, type ExitCode } from '../../lib/exit-codes.ts';
import type { CacheProblemCode } from '../../lib/problem-codes.ts';

// Always decided from the content, never from the file name.
export type CacheFormat = 'boltdb' | 'sqlite' | 'empty' | 'unknown';

// healthy: the format's own reader would get a complete, consistent tree.
// corrupt: readable, but not a healthy cache (damaged, truncated, not a cache at all).
// unreadable: the bytes could not be read (missing, permission, directory, I/O error).
// busy: no consistent read within the bounded wait; says nothing about health.
export type CacheVerdictKind = 'healthy' | 'corrupt' | 'unreadable' | 'busy';

export interface CacheProblem {
  code: CacheProblemCode; // stable kebab-case, lib/problem-codes.ts (docs/problem-codes.md)
  page?: number; // the page id (bolt) or page number (SQLite) where one applies
  message: string; // what an operator can act on
}

export interface CacheStats {
  pageSize?: number;
  pages?: number;
  txid?: number;
  buckets?: number;
  keys?: number;
  tables?: number;
  rows?: number;
  sizeBytes?: number;
  attempts?: number;
}

export interface CacheVerdict {
  path: string;
  format: CacheFormat;
  verdict: CacheVerdictKind;
  problems: CacheProblem[];
  warnings: CacheProblem[];
  stats: CacheStats;
  durationMs: number;
}

// Exit code of `cache check` for a set of verdicts: 1 if any is corrupt (the actionable
// finding wins), else 2 if any file could not be judged (unreadable or busy), else 0.
// Corrupt is a finding (1); unreadable or busy is no verdict at all (4), never healthy.
export function cacheCheckExitCode(verdicts: readonly CacheVerdict[]): ExitCode {
  if (verdicts.some((v) => v.verdict === 'corrupt')) return exitCodes.refuse;
  if (verdicts.some((v) => v.verdict === 'unreadable' || v.verdict === 'busy')) return exitCodes.noAnswer;
  return exitCodes.ok;
}

// A verdict made under another name of the file (a pinned /proc/self/fd path, the verifier
// child's fd 3) told under the name the caller knows: `path`, and every `seen` in a message
// replaced by `shown` (a RegExp must be global).
export function verdictUnderPath(v: CacheVerdict, path: string, seen: string | RegExp, shown: string): CacheVerdict {
  const fix = (p: CacheProblem): CacheProblem => ({ ...p, message: p.message.replaceAll(seen, () => shown) });
  return { ...v, path, problems: v.problems.map(fix), warnings: v.warnings.map(fix) };
}

// The verdict for a file whose bytes could not be read (open failed, read failed).
export function unreadableVerdict(
  path: string,
  problem: CacheProblem,
  startedAt: number,
  stats: CacheStats = {},
): CacheVerdict {
  return {
    path,
    format: 'unknown',
    verdict: 'unreadable',
    problems: [problem],
    warnings: [],
    stats,
    durationMs: performance.now() - startedAt,
  };
}

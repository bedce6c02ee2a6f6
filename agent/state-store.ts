// The last verdict of every check and the maintenance mode, kept in <stateDir>/state.json so a
// restarted agent remembers a sick host. Written atomically (temp file, fsync, rename, fsync of
// the directory): a crash or power loss leaves the old file or the new one, never half of one.
import { open, rename, unlink } from 'node:fs/promises';
import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckDetails, CheckReason, CheckScope, CheckStatus } from '../checks/types.ts';
import type { Maintenance } from './core-types.ts';
import { maintenanceFromJson } from './maintenance.ts';
import { ensurePrivateDir, privateFileMode } from './private-dir.ts';
import { detailsFromJson } from './restore-details.ts';

export const stateFileName = 'state.json';
const stateFormatVersion = 1;

export interface PersistedCheckState {
  scope: CheckScope;
  status: CheckStatus;
  rawStatus: CheckStatus;
  summary: string;
  reasons: CheckReason[];
  details: CheckDetails;
  observedAt: string; // ISO time of the run that produced it
  durationMs: number;
  consecutiveFailures: number;
}

export interface PersistedState {
  checks: Record<string, PersistedCheckState>;
  maintenance: Maintenance | null;
}

// `problem`: why the file, or part of it, was not used (unreadable, not JSON, another version,
// a malformed entry, a maintenance cut to 30 days). What was not used starts from nothing,
// which is safe: the agent refuses until every check has run.
export interface LoadedState {
  state: PersistedState;
  problem: string | null;
}

export interface StateStore {
  file: string;
  load(now: Date): LoadedState;
  // Resolves after this snapshot (or a newer one) is on disk; null, or the write error.
  save(state: PersistedState): Promise<Error | null>;
}

export function emptyState(): PersistedState {
  return { checks: {}, maintenance: null };
}

const statuses = new Set<string>(['ok', 'warning', 'critical', 'unknown']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkStateFromJson(v: unknown): PersistedCheckState | null {
  if (!isRecord(v)) return null;
  const okReasons =
    Array.isArray(v.reasons) &&
    v.reasons.every((r) => isRecord(r) && typeof r.code === 'string' && typeof r.message === 'string');
  if (
    (v.scope !== 'host' && v.scope !== 'shared') ||
    typeof v.status !== 'string' ||
    !statuses.has(v.status) ||
    typeof v.rawStatus !== 'string' ||
    !statuses.has(v.rawStatus) ||
    typeof v.summary !== 'string' ||
    !okReasons ||
    !isRecord(v.details) ||
    typeof v.observedAt !== 'string' ||
    !Number.isFinite(Date.parse(v.observedAt)) ||
    !isCount(v.durationMs) ||
    !isCount(v.consecutiveFailures)
  ) {
    return null;
  }
  return {
    scope: v.scope,
    status: v.status as CheckStatus,
    rawStatus: v.rawStatus as CheckStatus,
    summary: v.summary,
    reasons: (v.reasons as CheckReason[]).map((r) => ({ code: r.code, message: r.message })),
    details: detailsFromJson(v.details),
    observedAt: v.observedAt,
    durationMs: v.durationMs,
    consecutiveFailures: v.consecutiveFailures,
  };
}

// The same bounds a fresh result has: whole or fractional milliseconds, never negative, NaN or
// absurd (a damping counter of 1e300 would never reset).
function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;
}

export function parseStateText(text: string, now: Date): LoadedState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { state: emptyState(), problem: `not JSON: ${(err as Error).message}` };
  }
  if (!isRecord(json) || json.version !== stateFormatVersion || !isRecord(json.checks)) {
    return { state: emptyState(), problem: `not a version ${stateFormatVersion} state file` };
  }
  const state = emptyState();
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(json.checks)) {
    const check = checkStateFromJson(value);
    if (check) state.checks[name] = check;
    else dropped.push(name.slice(0, 64));
  }
  const restored = maintenanceFromJson(json.maintenance, now);
  state.maintenance = restored.maintenance;
  const problems = [
    ...(dropped.length > 0
      ? [
          `ignored malformed check entries: ${dropped.slice(0, 10).join(', ')}${dropped.length > 10 ? ` and ${dropped.length - 10} more` : ''}`,
        ]
      : []),
    ...(restored.problem ? [restored.problem] : []),
  ];
  return { state, problem: problems.length > 0 ? problems.join('; ') : null };
}

// Why `stateDir` cannot hold the state, found at start rather than at the first write: a
// regular file (or anything but a directory) at that path, or a path that cannot be looked at.
// A directory that does not exist yet is fine: the first write creates it.
export function stateDirProblem(stateDir: string): string | null {
  try {
    if (!statSync(stateDir).isDirectory()) return `stateDir ${stateDir}: exists and is not a directory`;
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    return `stateDir ${stateDir}: ${code === 'ENOTDIR' ? 'a component of the path is not a directory' : (err as Error).message}`;
  }
}

// Temporary files of writers that were killed between open and rename (the pid in the name is
// not this process): nothing refers to them. Removed at start.
export function removeStaleStateTemps(stateDir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(stateDir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = /^\.state\.json\.(\d+)\.tmp$/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      unlinkSync(join(stateDir, name));
      removed.push(name);
    } catch {
      // not removable: harmless, looked at again next start
    }
  }
  return removed;
}

export function createStateStore(stateDir: string): StateStore {
  const file = join(stateDir, stateFileName);
  const temp = join(stateDir, `.${stateFileName}.${process.pid}.tmp`);

  // One write at a time; a snapshot saved while a write runs replaces any older waiting one, so
  // a burst of state changes costs at most two writes.
  let writing: Promise<Error | null> | null = null;
  let next: { state: PersistedState; waiters: ((e: Error | null) => void)[] } | null = null;

  async function writeAtomically(state: PersistedState): Promise<Error | null> {
    const text = `${JSON.stringify({ version: stateFormatVersion, savedAt: new Date().toISOString(), ...state }, null, 1)}\n`;
    try {
      ensurePrivateDir(stateDir);
      const fh = await open(temp, 'w', privateFileMode);
      try {
        // A temp file left by a crash keeps its old mode through 'w': set it, the rename keeps it.
        await fh.chmod(privateFileMode);
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, file);
      // The rename itself is only durable once the directory entry is.
      const dir = await open(stateDir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      return null;
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      return err as Error;
    }
  }

  function drain(): void {
    if (writing || !next) return;
    const { state, waiters } = next;
    next = null;
    writing = writeAtomically(state);
    void writing.then((result) => {
      writing = null;
      for (const w of waiters) w(result);
      drain();
    });
  }

  return {
    file,
    load(now) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState(), problem: null };
        return { state: emptyState(), problem: `${file}: ${(err as Error).message}` };
      }
      const loaded = parseStateText(text, now);
      return loaded.problem ? { ...loaded, problem: `${file}: ${loaded.problem}` } : loaded;
    },
    save(state) {
      return new Promise((resolve) => {
        if (next) {
          next.state = state;
          next.waiters.push(resolve);
        } else {
          next = { state, waiters: [resolve] };
        }
        drain();
      });
    },
  };
}

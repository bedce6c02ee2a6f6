// The state file as the core keeps it: the verdicts and the maintenance read back at start, a
// save whenever a verdict or the maintenance changes, and a failed write tried again every
// stateRetryMs and shown on /healthz until one succeeds (the disk may fill and empty again while
// the agent runs).
import type { CheckState, Maintenance, StateWriteRefusal } from './core-types.ts';
import type { Logger } from './log.ts';
import {
  createStateStore,
  emptyState,
  removeStaleStateTemps,
  type PersistedCheckState,
  type PersistedState,
  type StateStore,
} from './state-store.ts';

// How often a failed state write is tried again.
export const stateRetryMs = 10_000;

export interface StatePersistenceOptions {
  stateDir: string | null; // null: no state file is read or written (the one-shot `check` verb)
  log: Logger;
  now: () => Date;
  retryMs?: number; // default stateRetryMs (tests: less)
  // What to write; null while there is nothing to write yet (the core has no runner).
  snapshot: () => { states: readonly CheckState[]; maintenance: Maintenance | null } | null;
}

export interface StatePersistence {
  // What the state file held at start (empty without one).
  restored: PersistedState;
  // Writes the snapshot; resolves with null or the write's error (and then retries by itself).
  save(): Promise<Error | null>;
  // A reload moved stateDir: later writes go to the new directory.
  moveTo(stateDir: string): void;
  // The failed write that keeps the agent from working (for /healthz); empty when all is well.
  problems(): string[];
  // Stopping: no more retries.
  stopRetrying(): void;
  // Resolves when the last write has finished.
  settled(): Promise<unknown>;
}

export function openStatePersistence(opts: StatePersistenceOptions): StatePersistence {
  const { log } = opts;
  let store: StateStore | null = opts.stateDir === null ? null : createStateStore(opts.stateDir);
  const restored = store && opts.stateDir !== null ? restore(store, opts.stateDir, opts.now(), log) : emptyState();
  let saving: Promise<unknown> = Promise.resolve();
  // The last write's failure, until a write succeeds.
  let writeFailure: { file: string; err: NodeJS.ErrnoException } | null = null;
  let retry: NodeJS.Timeout | null = null;

  function save(): Promise<Error | null> {
    const snapshot = opts.snapshot();
    if (!store || !snapshot) return Promise.resolve(null);
    const file = store.file;
    const written = store.save(persistedOf(snapshot)).then((err) => {
      if (err) {
        // Logged once per failing spell, not once per retry.
        if (!writeFailure)
          log.error(
            { event: 'state-write-failed', file, err: err.message },
            'could not write the state file; verdicts live in memory only until a write succeeds',
          );
        writeFailure = { file, err };
        retry ??= setTimeout(() => {
          retry = null;
          void save();
        }, opts.retryMs ?? stateRetryMs);
        retry.unref();
      } else if (writeFailure) {
        log.info({ event: 'state-write-recovered', file }, 'the state file is written again');
        writeFailure = null;
      }
      return err;
    });
    saving = written;
    return written;
  }

  return {
    restored,
    save,
    moveTo(stateDir) {
      if (store) store = createStateStore(stateDir);
    },
    problems: () => (writeFailure ? [`state-write-failed: ${writeFailure.file}: ${writeFailure.err.message}`] : []),
    stopRetrying() {
      if (retry) clearTimeout(retry);
    },
    settled: () => saving,
  };
}

// The state file's content at start, and the temporary files of an agent killed mid-write
// removed; what could not be used is logged.
function restore(store: StateStore, stateDir: string, now: Date, log: Logger): PersistedState {
  const loaded = store.load(now);
  if (loaded.problem)
    log.warn(
      { event: 'state-file-unusable', file: store.file, problem: loaded.problem },
      'state file not used, or not all of it; what was not used starts unchecked',
    );
  const temps = removeStaleStateTemps(stateDir);
  if (temps.length > 0)
    log.info(
      { event: 'state-temp-removed', files: temps },
      'removed temporary state files of an agent that was killed while writing',
    );
  return loaded.state;
}

function persistedOf(snapshot: { states: readonly CheckState[]; maintenance: Maintenance | null }): PersistedState {
  const persisted: PersistedState = { checks: {}, maintenance: snapshot.maintenance };
  for (const s of snapshot.states) {
    const p = toPersisted(s);
    if (p) persisted.checks[s.name] = p;
  }
  return persisted;
}

function toPersisted(s: CheckState): PersistedCheckState | null {
  if (s.observedAt === null) return null;
  return {
    scope: s.scope,
    status: s.status,
    rawStatus: s.rawStatus,
    summary: s.summary,
    reasons: s.reasons,
    details: s.details,
    observedAt: s.observedAt.toISOString(),
    durationMs: s.durationMs,
    consecutiveFailures: s.consecutiveFailures,
  };
}

// Whether a new state is worth an fsync'd write: the verdict moved, not just the measurements
// (free bytes, durations) of a check that keeps saying the same thing every minute.
export function verdictChanged(previous: CheckState, next: CheckState): boolean {
  return (
    previous.observedAt === null ||
    previous.status !== next.status ||
    previous.rawStatus !== next.rawStatus ||
    previous.summary !== next.summary ||
    previous.consecutiveFailures !== next.consecutiveFailures ||
    JSON.stringify(previous.reasons) !== JSON.stringify(next.reasons)
  );
}

// A change refused because the state file could not record it: nothing was changed.
export function stateWriteRefusal(err: NodeJS.ErrnoException): StateWriteRefusal {
  return {
    ok: false,
    noSpace: err.code === 'ENOSPC' || err.code === 'EDQUOT',
    message: `the state file could not be written, so nothing was changed: ${err.message}`,
  };
}

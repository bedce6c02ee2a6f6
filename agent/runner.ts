// Runs the checks: each on its own cron schedule with random jitter, each run bounded by a
// deadline, never two runs of one check at once, and every result turned into a damped
// CheckState that listeners (state file, metrics, logs) receive. A check that throws, times out
// or returns garbage becomes `unknown`; nothing a check does can take the runner down.
import { Cron } from 'croner';
import { cronMode } from './cron.ts';
import type {
  Check,
  CheckContext,
  CheckDetails,
  CheckReason,
  CheckResult,
  CheckStatus,
  CheckTrigger,
} from '../checks/types.ts';
import type { CheckState, RefreshOptions } from './core-types.ts';
import type { PersistedCheckState } from './state-store.ts';
import { silentLogger, type Logger } from './log.ts';

// Time and timers, injectable so tests drive the runner with a fake clock.
export interface Clock {
  now(): Date;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface ScheduledJob {
  stop(): void;
}

// Calls `tick` whenever the cron expression is due. Injectable: tests tick by hand.
export interface CheckScheduler {
  schedule(cron: string, tick: () => void, name: string): ScheduledJob;
}

export function cronScheduler(log: Logger): CheckScheduler {
  return {
    schedule(cron, tick, name) {
      // catch: a tick that throws is logged, never an unhandled error; protect: a tick still
      // running is not started again (the runner's single flight already ensures it; belt and
      // braces for the timer itself).
      const job = new Cron(
        cron,
        {
          mode: cronMode,
          protect: true,
          catch: (err) =>
            log.error({ event: 'scheduled-tick-failed', check: name, err: String(err) }, 'scheduled tick failed'),
        },
        () => tick(),
      );
      return { stop: () => job.stop() };
    },
  };
}

// How one check is run.
export interface RunnerEntry {
  check: Check;
  schedule: string;
  jitterSeconds: number;
  timeoutSeconds: number;
  failuresBeforeCritical: number;
  // A second, deeper way to run the same check on its own schedule (the blob caches' full
  // verification). It shares the check's state and never overlaps its ordinary runs.
  deep?: { run: Check['run']; schedule: string; timeoutSeconds: number };
}

export type StateListener = (state: CheckState, previous: CheckState) => void;

export interface RunnerOptions {
  clock?: Clock;
  scheduler?: CheckScheduler;
  random?: () => number; // 0 <= x < 1, for jitter
  log?: Logger;
  // The last verdicts from the state file: a sick verdict survives a restart until the check
  // has run again.
  initial?: Readonly<Record<string, PersistedCheckState>>;
  // States of a runner this one replaces (config reload): kept whole, counters included, so a
  // reload neither forgets verdicts nor sends *_total counters backwards. Wins over `initial`.
  carried?: readonly CheckState[];
  // false: one failure is enough for `critical` (the one-shot `check` verb has no history).
  damping?: boolean;
}

export interface Runner {
  names(): string[];
  states(): CheckState[];
  state(name: string): CheckState | undefined;
  // Runs now unless a run is in flight, whose result is then shared. undefined: no such check.
  run(name: string): Promise<CheckState | undefined>;
  runMany(names?: readonly string[]): Promise<CheckState[]>;
  // A run that starts after this call: when one is in flight (it may have read what changed
  // before the change), another follows it. For the blob caches' watcher (trigger `write`).
  runAfterChange(name: string, trigger: CheckTrigger): Promise<CheckState | undefined>;
  // Runs what is older than maxAgeSeconds (or has not run since start), sharing runs in flight.
  refresh(opts: RefreshOptions): Promise<CheckState[]>;
  // Installs the schedules and runs every check once at once.
  start(): void;
  // Removes the schedules and aborts runs in flight (their results are dropped).
  stop(): Promise<void>;
  onState(listener: StateListener): () => void;
}

// Stable reason codes the runner itself emits (docs/admission.md).
export const runnerReasonCodes = {
  error: 'check-error',
  timeout: 'check-timeout',
  stuck: 'check-stuck',
} as const;

interface Slot {
  entry: RunnerEntry;
  state: CheckState;
  inFlight: Promise<CheckState> | null;
  // A run that missed its deadline and has not settled yet (it ignored the abort).
  abandoned: Promise<unknown> | null;
  deepPending: boolean;
  // A run asked for while one was in flight that must start after it (runAfterChange).
  followUp: { trigger: CheckTrigger; promise: Promise<CheckState>; resolve: (s: CheckState) => void } | null;
  jitterPending: { ordinary: unknown; deep: unknown };
  controller: AbortController | null;
}

interface Outcome {
  status: CheckStatus;
  summary: string;
  reasons: CheckReason[];
  details: CheckDetails;
  timedOut: boolean;
}

export function neverRunState(check: Pick<Check, 'name' | 'scope'>): CheckState {
  return Object.freeze({
    name: check.name,
    scope: check.scope,
    status: 'unknown',
    rawStatus: 'unknown',
    summary: 'not checked yet',
    reasons: [],
    details: {},
    observedAt: null,
    durationMs: 0,
    consecutiveFailures: 0,
    runs: 0,
    failures: 0,
    timeouts: 0,
    statusChanges: 0,
  });
}

export function stateFromPersisted(check: Pick<Check, 'name' | 'scope'>, p: PersistedCheckState): CheckState {
  return Object.freeze({
    ...neverRunState(check),
    status: p.status,
    rawStatus: p.rawStatus,
    summary: p.summary,
    reasons: p.reasons,
    details: p.details,
    observedAt: new Date(p.observedAt),
    durationMs: p.durationMs,
    consecutiveFailures: p.consecutiveFailures,
  });
}

export function isFailure(status: CheckStatus): boolean {
  return status === 'critical' || status === 'unknown';
}

// Damping: a failing result (critical or unknown) counts only after `failuresBeforeCritical`
// consecutive failures; before that the check reports `warning` with the raw reasons, so one
// lost packet to a registry cannot flip the fleet.
export function nextState(
  previous: CheckState,
  outcome: Outcome,
  at: { observedAt: Date; durationMs: number; failuresBeforeCritical: number; damping: boolean },
): CheckState {
  const failed = isFailure(outcome.status);
  const consecutiveFailures = failed ? previous.consecutiveFailures + 1 : 0;
  const damped = failed && at.damping && consecutiveFailures < at.failuresBeforeCritical;
  const status: CheckStatus = damped ? 'warning' : outcome.status;
  const summary = damped
    ? `${outcome.summary} (failure ${consecutiveFailures} of ${at.failuresBeforeCritical} before ${outcome.status})`
    : outcome.summary;
  return Object.freeze({
    name: previous.name,
    scope: previous.scope,
    status,
    rawStatus: outcome.status,
    summary,
    reasons: outcome.reasons,
    details: outcome.details,
    observedAt: at.observedAt,
    durationMs: at.durationMs,
    consecutiveFailures,
    runs: previous.runs + 1,
    failures: previous.failures + (failed ? 1 : 0),
    timeouts: previous.timeouts + (outcome.timedOut ? 1 : 0),
    statusChanges: previous.statusChanges + (previous.observedAt !== null && previous.status !== status ? 1 : 0),
  });
}

const statuses = new Set<string>(['ok', 'warning', 'critical', 'unknown']);

// A check is someone else's code: its result is checked like input from outside.
function outcomeFromResult(name: string, r: unknown): Outcome {
  const v = r as Partial<CheckResult> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    typeof v.status !== 'string' ||
    !statuses.has(v.status) ||
    typeof v.summary !== 'string' ||
    !Array.isArray(v.reasons)
  ) {
    return failedOutcome(runnerReasonCodes.error, `check ${name} returned something that is not a check result`);
  }
  const details = v.details !== null && typeof v.details === 'object' ? v.details : {};
  return { status: v.status, summary: v.summary, reasons: v.reasons, details, timedOut: false };
}

function failedOutcome(code: string, message: string, timedOut = false): Outcome {
  return { status: 'unknown', summary: message, reasons: [{ code, message }], details: {}, timedOut };
}

export function createRunner(entries: readonly RunnerEntry[], opts: RunnerOptions = {}): Runner {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger();
  const scheduler = opts.scheduler ?? cronScheduler(log);
  const random = opts.random ?? Math.random;
  const damping = opts.damping ?? true;
  const listeners = new Set<StateListener>();
  const slots = new Map<string, Slot>();
  const jobs: ScheduledJob[] = [];
  let stopped = false;
  // One waiter per run in flight, removed when the run ends (a single shared never-resolving
  // promise would collect a reaction per run for the daemon's whole life).
  const stopWaiters = new Set<() => void>();

  for (const entry of entries) {
    const persisted = opts.initial?.[entry.check.name];
    const carried = opts.carried?.find((s) => s.name === entry.check.name);
    const state = carried
      ? Object.freeze({ ...carried, scope: entry.check.scope })
      : persisted
        ? stateFromPersisted(entry.check, persisted)
        : neverRunState(entry.check);
    slots.set(entry.check.name, {
      entry,
      state,
      inFlight: null,
      abandoned: null,
      deepPending: false,
      followUp: null,
      jitterPending: { ordinary: null, deep: null },
      controller: null,
    });
  }

  async function execute(slot: Slot, deep: boolean, trigger: CheckTrigger): Promise<CheckState> {
    const { entry } = slot;
    const name = entry.check.name;
    const startedAt = clock.now();
    let outcome: Outcome;
    if (slot.abandoned) {
      // Starting again would overlap the run that is still hanging on.
      outcome = failedOutcome(
        runnerReasonCodes.stuck,
        `check ${name}: the previous run is still running after its deadline`,
        true,
      );
    } else {
      const controller = new AbortController();
      slot.controller = controller;
      const timeoutSeconds = deep && entry.deep ? entry.deep.timeoutSeconds : entry.timeoutSeconds;
      const run = deep && entry.deep ? entry.deep.run : entry.check.run;
      const ctx: CheckContext = { signal: controller.signal, now: () => clock.now(), trigger: deep ? 'full' : trigger };
      const work: Promise<Outcome> = (async () => run(ctx))().then(
        (result) => outcomeFromResult(name, result),
        (err: unknown) =>
          failedOutcome(
            runnerReasonCodes.error,
            `check ${name} failed: ${err instanceof Error ? err.message : String(err)}`,
          ),
      );
      let timer: unknown = null;
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = clock.setTimeout(() => resolve('timeout'), timeoutSeconds * 1000);
      });
      let stopWaiter: () => void = () => undefined;
      const stopping = new Promise<'stopped'>((resolve) => {
        stopWaiter = () => resolve('stopped');
        stopWaiters.add(stopWaiter);
      });
      const first = await Promise.race([work, deadline, stopping]);
      clock.clearTimeout(timer);
      stopWaiters.delete(stopWaiter);
      slot.controller = null;
      if (first === 'stopped') {
        controller.abort(new Error('agent stopping'));
        return slot.state;
      }
      if (first === 'timeout') {
        controller.abort(new Error(`timed out after ${timeoutSeconds} s`));
        slot.abandoned = work;
        void work.then(() => {
          if (slot.abandoned === work) slot.abandoned = null;
        });
        outcome = failedOutcome(
          runnerReasonCodes.timeout,
          `check ${name} did not finish within ${timeoutSeconds} s`,
          true,
        );
      } else {
        outcome = first;
      }
    }
    const observedAt = clock.now();
    const previous = slot.state;
    const state = nextState(previous, outcome, {
      observedAt,
      durationMs: observedAt.getTime() - startedAt.getTime(),
      failuresBeforeCritical: entry.failuresBeforeCritical,
      damping,
    });
    slot.state = state;
    if (state.status !== previous.status && previous.observedAt !== null) {
      // A check leaving `ok` is worth a warning in the journal; coming back is news, not a problem.
      const level = state.status === 'ok' ? 'info' : 'warn';
      log[level](
        { event: 'check-status-changed', check: name, from: previous.status, to: state.status, summary: state.summary },
        'check status changed',
      );
    }
    log.debug(
      { event: 'check-ran', check: name, status: state.status, durationMs: state.durationMs, deep },
      'check ran',
    );
    for (const listener of listeners) {
      try {
        listener(state, previous);
      } catch (err) {
        log.error({ event: 'state-listener-failed', check: name, err }, 'state listener failed');
      }
    }
    return state;
  }

  // Single flight: one run per check at a time; callers during a run share its result.
  function runSlot(slot: Slot, deep: boolean, trigger: CheckTrigger = 'request'): Promise<CheckState> {
    if (slot.inFlight) {
      if (deep) slot.deepPending = true;
      return slot.inFlight;
    }
    if (stopped) return Promise.resolve(slot.state);
    const flight = execute(slot, deep, trigger).finally(() => {
      slot.inFlight = null;
      if (slot.deepPending && !stopped) {
        slot.deepPending = false;
        void runSlot(slot, true);
      } else if (slot.followUp) {
        const follow = slot.followUp;
        slot.followUp = null;
        if (stopped) follow.resolve(slot.state);
        else void runSlot(slot, false, follow.trigger).then(follow.resolve);
      }
    });
    slot.inFlight = flight;
    return flight;
  }

  // A schedule fired: wait a random part of the jitter window (so a fleet started at once does
  // not probe a registry in the same second), then run. A tick while a jittered start is still
  // waiting is dropped; the waiting start covers it.
  function onTick(slot: Slot, deep: boolean): void {
    if (stopped) return;
    const key = deep ? 'deep' : 'ordinary';
    if (slot.jitterPending[key] !== null) return;
    const delayMs = Math.floor(random() * slot.entry.jitterSeconds * 1000);
    if (delayMs <= 0) {
      void runSlot(slot, deep);
      return;
    }
    slot.jitterPending[key] = clock.setTimeout(() => {
      slot.jitterPending[key] = null;
      void runSlot(slot, deep);
    }, delayMs);
  }

  const runner: Runner = {
    names: () => [...slots.keys()],
    states: () => [...slots.values()].map((s) => s.state),
    state: (name) => slots.get(name)?.state,
    async run(name) {
      const slot = slots.get(name);
      return slot ? runSlot(slot, false) : undefined;
    },
    async runAfterChange(name, trigger) {
      const slot = slots.get(name);
      if (!slot) return undefined;
      if (!slot.inFlight) return runSlot(slot, false, trigger);
      if (!slot.followUp) {
        let resolve: (s: CheckState) => void = () => undefined;
        const promise = new Promise<CheckState>((r) => {
          resolve = r;
        });
        slot.followUp = { trigger, promise, resolve };
      }
      return slot.followUp.promise;
    },
    async runMany(names) {
      const chosen = (names ?? [...slots.keys()]).map((n) => slots.get(n)).filter((s): s is Slot => s !== undefined);
      return Promise.all(chosen.map((s) => runSlot(s, false)));
    },
    async refresh({ names, maxAgeSeconds }) {
      const chosen = (names ?? [...slots.keys()]).map((n) => slots.get(n)).filter((s): s is Slot => s !== undefined);
      const now = clock.now().getTime();
      return Promise.all(
        chosen.map((slot) => {
          if (maxAgeSeconds === undefined) return slot.state;
          const { observedAt, runs } = slot.state;
          const stale = runs === 0 || observedAt === null || (now - observedAt.getTime()) / 1000 > maxAgeSeconds;
          return stale ? runSlot(slot, false) : slot.state;
        }),
      );
    },
    start() {
      if (stopped || jobs.length > 0) return;
      for (const slot of slots.values()) {
        const name = slot.entry.check.name;
        jobs.push(scheduler.schedule(slot.entry.schedule, () => onTick(slot, false), name));
        if (slot.entry.deep) {
          jobs.push(scheduler.schedule(slot.entry.deep.schedule, () => onTick(slot, true), `${name} (deep)`));
        }
        void runSlot(slot, false, 'schedule');
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const waiter of stopWaiters) waiter();
      for (const job of jobs.splice(0)) job.stop();
      const inFlight: Promise<CheckState>[] = [];
      for (const slot of slots.values()) {
        for (const key of ['ordinary', 'deep'] as const) {
          if (slot.jitterPending[key] !== null) clock.clearTimeout(slot.jitterPending[key]);
          slot.jitterPending[key] = null;
        }
        slot.deepPending = false;
        if (slot.followUp) {
          slot.followUp.resolve(slot.state);
          slot.followUp = null;
        }
        slot.controller?.abort(new Error('agent stopping'));
        if (slot.inFlight) inFlight.push(slot.inFlight);
      }
      await Promise.all(inFlight);
    },
    onState(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return runner;
}

// Runs the checks: each on its own cron schedule with random jitter, each run bounded by a
// deadline, never two runs of one check at once, and every result turned into a damped
// CheckState that listeners (state file, metrics, logs) receive. A check that throws, times out
// or returns garbage becomes `unknown`; nothing a check does can take the runner down.
import { Cron } from 'croner';
import { cronMode } from './cron.ts';
import type { Check, CheckContext, CheckTrigger } from '../checks/types.ts';
import type { CheckState, RefreshOptions } from './core-types.ts';
import type { PersistedCheckState } from './state-store.ts';
import {
  failedOutcome,
  neverRunState,
  nextState,
  outcomeFromResult,
  runnerReasonCodes,
  stateFromPersisted,
  type Outcome,
} from './check-state.ts';
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

// What the functions below share: one per runner.
interface RunnerParts {
  clock: Clock;
  log: Logger;
  scheduler: CheckScheduler;
  random: () => number;
  damping: boolean;
  listeners: Set<StateListener>;
  slots: Map<string, Slot>;
  jobs: ScheduledJob[];
  stopped: boolean;
  // One waiter per run in flight, removed when the run ends (a single shared never-resolving
  // promise would collect a reaction per run for the daemon's whole life).
  stopWaiters: Set<() => void>;
}

export function createRunner(entries: readonly RunnerEntry[], opts: RunnerOptions = {}): Runner {
  const log = opts.log ?? silentLogger();
  const r: RunnerParts = {
    clock: opts.clock ?? systemClock,
    log,
    scheduler: opts.scheduler ?? cronScheduler(log),
    random: opts.random ?? Math.random,
    damping: opts.damping ?? true,
    listeners: new Set(),
    slots: new Map(entries.map((entry) => [entry.check.name, createSlot(entry, opts)])),
    jobs: [],
    stopped: false,
    stopWaiters: new Set(),
  };
  return {
    names: () => [...r.slots.keys()],
    states: () => [...r.slots.values()].map((s) => s.state),
    state: (name) => r.slots.get(name)?.state,
    async run(name) {
      const slot = r.slots.get(name);
      return slot ? runSlot(r, slot, false) : undefined;
    },
    async runAfterChange(name, trigger) {
      const slot = r.slots.get(name);
      return slot ? runAfterChange(r, slot, trigger) : undefined;
    },
    async runMany(names) {
      return Promise.all(chosenSlots(r, names).map((s) => runSlot(r, s, false)));
    },
    refresh: (request) => refresh(r, request),
    start: () => start(r),
    stop: () => stop(r),
    onState(listener) {
      r.listeners.add(listener);
      return () => r.listeners.delete(listener);
    },
  };
}

// A slot starts from the state of the runner it replaces, else from the state file, else from
// nothing.
function createSlot(entry: RunnerEntry, opts: RunnerOptions): Slot {
  const persisted = opts.initial?.[entry.check.name];
  const carried = opts.carried?.find((s) => s.name === entry.check.name);
  const state = carried
    ? Object.freeze({ ...carried, scope: entry.check.scope })
    : persisted
      ? stateFromPersisted(entry.check, persisted)
      : neverRunState(entry.check);
  return {
    entry,
    state,
    inFlight: null,
    abandoned: null,
    deepPending: false,
    followUp: null,
    jitterPending: { ordinary: null, deep: null },
    controller: null,
  };
}

// The slots of these names (unknown names left out), or every slot.
function chosenSlots(r: RunnerParts, names: readonly string[] | undefined): Slot[] {
  return (names ?? [...r.slots.keys()]).map((n) => r.slots.get(n)).filter((s): s is Slot => s !== undefined);
}

// Calls every listener; one that throws is logged and the others still hear of the state.
export function notifyListeners(
  listeners: Iterable<StateListener>,
  log: Logger,
  state: CheckState,
  previous: CheckState,
): void {
  for (const listener of listeners) {
    try {
      listener(state, previous);
    } catch (err) {
      log.error({ event: 'state-listener-failed', check: state.name, err }, 'state listener failed');
    }
  }
}

async function execute(r: RunnerParts, slot: Slot, deep: boolean, trigger: CheckTrigger): Promise<CheckState> {
  const startedAt = r.clock.now();
  // Starting again would overlap the run that is still hanging on.
  const outcome = slot.abandoned ? stuckOutcome(slot.entry.check.name) : await runUnderDeadline(r, slot, deep, trigger);
  if (outcome === 'stopped') return slot.state;
  return recordOutcome(r, slot, outcome, { startedAt, deep });
}

function stuckOutcome(name: string): Outcome {
  const message = `check ${name}: the previous run is still running after its deadline`;
  return failedOutcome(runnerReasonCodes.stuck, message, true);
}

// One run of the check, raced against its deadline and against the runner stopping ('stopped':
// the result is dropped). A run past its deadline is aborted and remembered as abandoned until
// it settles.
async function runUnderDeadline(
  r: RunnerParts,
  slot: Slot,
  deep: boolean,
  trigger: CheckTrigger,
): Promise<Outcome | 'stopped'> {
  const { entry } = slot;
  const name = entry.check.name;
  const controller = new AbortController();
  slot.controller = controller;
  const timeoutSeconds = deep && entry.deep ? entry.deep.timeoutSeconds : entry.timeoutSeconds;
  const run = deep && entry.deep ? entry.deep.run : entry.check.run;
  const ctx: CheckContext = { signal: controller.signal, now: () => r.clock.now(), trigger: deep ? 'full' : trigger };
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
    timer = r.clock.setTimeout(() => resolve('timeout'), timeoutSeconds * 1000);
  });
  let stopWaiter: () => void = () => undefined;
  const stopping = new Promise<'stopped'>((resolve) => {
    stopWaiter = () => resolve('stopped');
    r.stopWaiters.add(stopWaiter);
  });
  const first = await Promise.race([work, deadline, stopping]);
  r.clock.clearTimeout(timer);
  r.stopWaiters.delete(stopWaiter);
  slot.controller = null;
  if (first === 'stopped') {
    controller.abort(new Error('agent stopping'));
    return 'stopped';
  }
  if (first !== 'timeout') return first;
  controller.abort(new Error(`timed out after ${timeoutSeconds} s`));
  slot.abandoned = work;
  void work.then(() => {
    if (slot.abandoned === work) slot.abandoned = null;
  });
  return failedOutcome(runnerReasonCodes.timeout, `check ${name} did not finish within ${timeoutSeconds} s`, true);
}

// The run's outcome becomes the slot's next (damped) state; the change is logged and the
// listeners hear of it.
function recordOutcome(
  r: RunnerParts,
  slot: Slot,
  outcome: Outcome,
  run: { startedAt: Date; deep: boolean },
): CheckState {
  const name = slot.entry.check.name;
  const observedAt = r.clock.now();
  const previous = slot.state;
  const state = nextState(previous, outcome, {
    observedAt,
    durationMs: observedAt.getTime() - run.startedAt.getTime(),
    failuresBeforeCritical: slot.entry.failuresBeforeCritical,
    damping: r.damping,
  });
  slot.state = state;
  if (state.status !== previous.status && previous.observedAt !== null) {
    // A check leaving `ok` is worth a warning in the journal; coming back is news, not a problem.
    const level = state.status === 'ok' ? 'info' : 'warn';
    r.log[level](
      { event: 'check-status-changed', check: name, from: previous.status, to: state.status, summary: state.summary },
      'check status changed',
    );
  }
  r.log.debug(
    { event: 'check-ran', check: name, status: state.status, durationMs: state.durationMs, deep: run.deep },
    'check ran',
  );
  notifyListeners(r.listeners, r.log, state, previous);
  return state;
}

// Single flight: one run per check at a time; callers during a run share its result.
function runSlot(r: RunnerParts, slot: Slot, deep: boolean, trigger: CheckTrigger = 'request'): Promise<CheckState> {
  if (slot.inFlight) {
    if (deep) slot.deepPending = true;
    return slot.inFlight;
  }
  if (r.stopped) return Promise.resolve(slot.state);
  const flight = execute(r, slot, deep, trigger).finally(() => {
    slot.inFlight = null;
    startWhatWaited(r, slot);
  });
  slot.inFlight = flight;
  return flight;
}

// After a run: a deep run asked for meanwhile goes first, else a run that must follow a change.
function startWhatWaited(r: RunnerParts, slot: Slot): void {
  if (slot.deepPending && !r.stopped) {
    slot.deepPending = false;
    void runSlot(r, slot, true);
  } else if (slot.followUp) {
    const follow = slot.followUp;
    slot.followUp = null;
    if (r.stopped) follow.resolve(slot.state);
    else void runSlot(r, slot, false, follow.trigger).then(follow.resolve);
  }
}

function runAfterChange(r: RunnerParts, slot: Slot, trigger: CheckTrigger): Promise<CheckState> {
  if (!slot.inFlight) return runSlot(r, slot, false, trigger);
  if (!slot.followUp) {
    let resolve: (s: CheckState) => void = () => undefined;
    const promise = new Promise<CheckState>((done) => {
      resolve = done;
    });
    slot.followUp = { trigger, promise, resolve };
  }
  return slot.followUp.promise;
}

async function refresh(r: RunnerParts, { names, maxAgeSeconds }: RefreshOptions): Promise<CheckState[]> {
  const now = r.clock.now().getTime();
  return Promise.all(
    chosenSlots(r, names).map((slot) => {
      if (maxAgeSeconds === undefined) return slot.state;
      const { observedAt, runs } = slot.state;
      const stale = runs === 0 || observedAt === null || (now - observedAt.getTime()) / 1000 > maxAgeSeconds;
      return stale ? runSlot(r, slot, false) : slot.state;
    }),
  );
}

// A schedule fired: wait a random part of the jitter window (so a fleet started at once does
// not probe a registry in the same second), then run. A tick while a jittered start is still
// waiting is dropped; the waiting start covers it.
function onTick(r: RunnerParts, slot: Slot, deep: boolean): void {
  if (r.stopped) return;
  const key = deep ? 'deep' : 'ordinary';
  if (slot.jitterPending[key] !== null) return;
  const delayMs = Math.floor(r.random() * slot.entry.jitterSeconds * 1000);
  if (delayMs <= 0) {
    void runSlot(r, slot, deep, 'schedule');
    return;
  }
  slot.jitterPending[key] = r.clock.setTimeout(() => {
    slot.jitterPending[key] = null;
    void runSlot(r, slot, deep, 'schedule');
  }, delayMs);
}

function start(r: RunnerParts): void {
  if (r.stopped || r.jobs.length > 0) return;
  for (const slot of r.slots.values()) {
    const name = slot.entry.check.name;
    r.jobs.push(r.scheduler.schedule(slot.entry.schedule, () => onTick(r, slot, false), name));
    if (slot.entry.deep) {
      r.jobs.push(r.scheduler.schedule(slot.entry.deep.schedule, () => onTick(r, slot, true), `${name} (deep)`));
    }
    void runSlot(r, slot, false, 'schedule');
  }
}

async function stop(r: RunnerParts): Promise<void> {
  if (r.stopped) return;
  r.stopped = true;
  for (const waiter of r.stopWaiters) waiter();
  for (const job of r.jobs.splice(0)) job.stop();
  const inFlight: Promise<CheckState>[] = [];
  for (const slot of r.slots.values()) {
    for (const key of ['ordinary', 'deep'] as const) {
      if (slot.jitterPending[key] !== null) r.clock.clearTimeout(slot.jitterPending[key]);
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
}

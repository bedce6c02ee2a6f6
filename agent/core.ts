// Builds the agent's core from a config and runs it: the checks (agent/checks-from-config.ts),
// the runner that schedules them, the state file (agent/state-persistence.ts), the maintenance
// mode (agent/maintenance-keeper.ts), the cache-work lock (agent/cache-work-lock.ts) and the
// event history, put together here; the HTTP server, the metrics and the CLI `check` verb talk
// to the result through AgentCore (agent/core-api.ts). Start, stop and reload are here.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createCacheVerdictMemory } from '../checks/blobcache/verdict-memory.ts';
import type { AgentConfig } from './config.ts';
import type { AgentCore, CheckState } from './core-types.ts';
import { createCoreApi, type LiveCore } from './core-api.ts';
import {
  buildChecksFromConfig,
  checkNameOfSection,
  type BuiltChecks,
  type CheckEnvironment,
} from './checks-from-config.ts';
import { createExclusive } from './cache-work-lock.ts';
import { skopeoInfoFrom } from './skopeo-info.ts';
import { quarantineNow, recordQuarantineEvents } from './quarantine-now.ts';
import { openStatePersistence, verdictChanged, type StatePersistence } from './state-persistence.ts';
import { createMaintenanceKeeper } from './maintenance-keeper.ts';
import {
  createRunner,
  notifyListeners,
  systemClock,
  type CheckScheduler,
  type Clock,
  type Runner,
  type RunnerEntry,
  type StateListener,
} from './runner.ts';
import { stateDirProblem } from './state-store.ts';
import { createChildVerifier, type CacheVerifier } from './cache-verify-child.ts';
import { createCacheWatcher, type CacheWatcher } from './cache-watch.ts';
import { silentLogger, type Logger } from './log.ts';
import { agentVersion } from './version.ts';
import { createEventLog, type EventLog } from './events/event-log.ts';

export interface AgentCoreOptions {
  log?: Logger;
  clock?: Clock;
  scheduler?: CheckScheduler;
  random?: () => number;
  host?: string; // default: os.hostname()
  // false: no watching of the cache directories (the one-shot `check` verb). Default true.
  watchCaches?: boolean;
  // false: no state file is read or written (the one-shot `check` verb must not disturb the
  // daemon's verdicts). Default true.
  persist?: boolean;
  // false: no damping, one failure is critical (see RunnerOptions). Default true.
  damping?: boolean;
  // false: read-only; autoQuarantine is ignored (the `check` verb). Default true.
  allowRemediation?: boolean;
  // How long after a failed state write it is tried again; default stateRetryMs (tests: less).
  stateRetryMs?: number;
  // Replaces the real check factories (tests): how to build the runner entries for a config.
  buildChecks?: (config: AgentConfig, env: CheckEnvironment) => Promise<BuiltChecks>;
}

export type ReloadOutcome = { ok: true } | { ok: false; errors: string[] };

export interface RunningAgentCore extends AgentCore {
  // Schedules every check and runs each once at once.
  start(): void;
  // Stops the schedules, aborts runs in flight and waits for the state file to be written.
  stop(): Promise<void>;
  // Applies a new config (SIGHUP). On error the running checks and config stay as they were.
  reload(config: AgentConfig): Promise<ReloadOutcome>;
  // The daemon read a bad config file on SIGHUP: keep going, but say so (configReloadOk()).
  reloadFailed(errors: string[]): void;
  config(): AgentConfig;
  onState(listener: StateListener): () => void;
  // What keeps the agent itself from working (for /healthz): today a state file that cannot be
  // written. Empty when all is well.
  healthProblems(): string[];
}

export type CreatedCore = { core: RunningAgentCore } | { errors: string[] };

// <stateDir>/snapshots: the cache verifier's private copies of SQLite caches while they are checked.
export const snapshotDirName = 'snapshots';

// The parts start, stop and reload work on.
interface CoreParts {
  opts: AgentCoreOptions;
  log: Logger;
  host: string;
  live: LiveCore;
  api: AgentCore;
  env: CheckEnvironment;
  verifier: CacheVerifier;
  watcher: CacheWatcher | null;
  persistence: StatePersistence;
  events: EventLog;
  listeners: Set<StateListener>;
  makeRunner: (entries: RunnerEntry[], carried: readonly CheckState[]) => Runner;
}

export async function createAgentCore(initialConfig: AgentConfig, opts: AgentCoreOptions = {}): Promise<CreatedCore> {
  // A stateDir that cannot be a directory is a config problem, found now and not at the first
  // write (which would lose that write).
  const stateDirBroken = (opts.persist ?? true) ? stateDirProblem(initialConfig.stateDir) : null;
  if (stateDirBroken) return { errors: [stateDirBroken] };
  const parts = await assemble(initialConfig, opts);
  return 'errors' in parts ? parts : { core: runningCore(parts) };
}

// The core's parts, put together in the order they depend on each other.
async function assemble(initialConfig: AgentConfig, opts: AgentCoreOptions): Promise<CoreParts | { errors: string[] }> {
  const log = opts.log ?? silentLogger();
  const clock = opts.clock ?? systemClock;
  const now = () => clock.now();
  // Set once the runner exists. Until then the config is the initial one and there is no
  // runner; the check environment only needs them once checks run, which is later.
  const ref: { live: LiveCore | null } = { live: null };
  const config = () => ref.live?.config ?? initialConfig;
  const runner = () => ref.live?.runner ?? null;
  const { env, verifier, watcher } = checkEnvironment(initialConfig, opts, { log, now, config, runner });
  const built = await (opts.buildChecks ?? buildChecksFromConfig)(initialConfig, env);
  if ('errors' in built) {
    await verifier.close();
    return { errors: built.errors };
  }
  const persistence = openStatePersistence({
    stateDir: (opts.persist ?? true) ? initialConfig.stateDir : null,
    log,
    now,
    retryMs: opts.stateRetryMs,
    snapshot: () => ref.live && { states: ref.live.runner.states(), maintenance: maintenance.value() },
  });
  const events = openEventHistory((opts.persist ?? true) ? initialConfig.stateDir : null, now, log);
  const maintenance = createMaintenanceKeeper({
    restored: persistence.restored.maintenance,
    now,
    log,
    events,
    save: () => persistence.save(),
  });
  const listeners = new Set<StateListener>();
  const wiring = { opts, clock, log, persistence, events, watcher, listeners, ref };
  const makeRunner = (entries: RunnerEntry[], carried: readonly CheckState[]) => wireRunner(wiring, entries, carried);
  const live: LiveCore = {
    config: initialConfig,
    runner: makeRunner(built.entries, []),
    started: false,
    reloadOk: true,
  };
  ref.live = live;
  const quarantine = quarantineNow({
    config,
    runner,
    lock: env.cacheExclusive,
    verify: env.verify,
    skopeoInfo: env.skopeoInfo,
    events,
    log,
    now,
  });
  const host = opts.host ?? hostname();
  const api = createCoreApi({ host, clock, live, maintenance, events, quarantine });
  return { opts, log, host, live, api, env, verifier, watcher, persistence, events, listeners, makeRunner };
}

// What the checks get from the core: the verifier child, skopeo's version, the cache-work lock;
// and the watcher that runs the blob-cache check when a cache directory is written.
function checkEnvironment(
  initialConfig: AgentConfig,
  opts: AgentCoreOptions,
  core: { log: Logger; now: () => Date; config: () => AgentConfig; runner: () => Runner | null },
): { env: CheckEnvironment; verifier: CacheVerifier; watcher: CacheWatcher | null } {
  const c = initialConfig.checks.blobinfocache;
  // SQLite snapshots go to the state directory (root's own, sized for the agent), never /tmp.
  const verifier = createChildVerifier({
    maxVerifySeconds: Math.max(c.timeoutSeconds, c.fullTimeoutSeconds),
    snapshotRoot: () => join(core.config().stateDir, snapshotDirName),
  });
  const env: CheckEnvironment = {
    log: core.log,
    now: core.now,
    verify: (p, o) => verifier.verify(p, o),
    skopeoInfo: skopeoInfoFrom(core),
    allowRemediation: opts.allowRemediation ?? true,
    cacheExclusive: createExclusive(),
    cacheMemory: createCacheVerdictMemory(),
  };
  // A write seen in a cache directory runs the blob-cache check (after any run in flight, which
  // may have read the file before the write); only the caches whose stamp moved are verified.
  const watcher =
    (opts.watchCaches ?? true)
      ? createCacheWatcher({
          log: core.log,
          onWrite: () => void core.runner()?.runAfterChange(checkNameOfSection.blobinfocache, 'write'),
        })
      : null;
  return { env, verifier, watcher };
}

// The event history lives beside the state file, in the state directory the agent started
// with (a reload that moves stateDir moves the state file, not the history).
function openEventHistory(stateDir: string | null, now: () => Date, log: Logger): EventLog {
  const events = createEventLog({ stateDir, now, log });
  if (events.loadProblem)
    log.warn(
      { event: 'event-history-unreadable', problem: events.loadProblem },
      'event history partly unreadable; what could be read is kept',
    );
  return events;
}

interface RunnerWiring {
  opts: AgentCoreOptions;
  clock: Clock;
  log: Logger;
  persistence: StatePersistence;
  events: EventLog;
  watcher: CacheWatcher | null;
  listeners: Set<StateListener>;
  ref: { live: LiveCore | null };
}

// A runner whose every new state is saved when the verdict moved, re-arms the cache watcher,
// goes to the event history, and then to the core's own listeners (the daemon's metrics).
function wireRunner(w: RunnerWiring, entries: RunnerEntry[], carried: readonly CheckState[]): Runner {
  const { opts, events } = w;
  const runner = createRunner(entries, {
    clock: w.clock,
    log: w.log,
    scheduler: opts.scheduler,
    random: opts.random,
    damping: opts.damping,
    initial: w.persistence.restored.checks,
    carried,
  });
  runner.onState((state, previous) => {
    if (verdictChanged(previous, state)) void w.persistence.save();
    armWatcher(w, state);
    if (previous.observedAt !== null && previous.status !== state.status) {
      events.record({
        type: 'status-changed',
        check: state.name,
        from: previous.status,
        to: state.status,
        summary: state.summary,
        reasons: state.reasons,
      });
    }
    if (state.details.kind === 'blobinfocache') recordQuarantineEvents(events, state.details.audit, 'daemon');
    notifyListeners(w.listeners, w.log, state, previous);
  });
  return runner;
}

// The watcher follows the blob-cache check: the configured directories and every directory
// the last run found a cache in.
function armWatcher(w: RunnerWiring, state: CheckState): void {
  const live = w.ref.live;
  if (!w.watcher || !live?.started || state.name !== checkNameOfSection.blobinfocache) return;
  const caches = state.details.kind === 'blobinfocache' ? state.details.caches : [];
  const dirs = new Set<string>(live.config.checks.blobinfocache.dirs);
  for (const c of caches) dirs.add(c.dir);
  w.watcher.arm([...dirs]);
}

// The core with its life: start, stop, reload.
function runningCore(p: CoreParts): RunningAgentCore {
  const { live, events, log } = p;
  const reloadFailed = (errors: string[]): void => {
    live.reloadOk = false;
    log.error({ event: 'config-reload-failed', errors }, 'config reload failed; the last good config stays in use');
    events.record({ type: 'config-reloaded', ok: false, errors });
  };
  return {
    ...p.api,
    healthProblems: () => p.persistence.problems(),
    start() {
      if (!live.started) events.record({ type: 'agent-started', version: agentVersion, host: p.host });
      live.started = true;
      live.runner.start();
    },
    stop: () => stop(p),
    reload: (next) => reload(p, next, reloadFailed),
    reloadFailed,
    config: () => live.config,
    onState(listener) {
      p.listeners.add(listener);
      return () => p.listeners.delete(listener);
    },
  };
}

async function stop(p: CoreParts): Promise<void> {
  p.live.started = false;
  p.watcher?.close();
  p.persistence.stopRetrying();
  await p.live.runner.stop();
  await p.verifier.close();
  await p.persistence.settled();
  await p.events.flushed();
}

// A new config: new checks and a new runner that carries the old one's states. A config whose
// checks cannot be built changes nothing.
async function reload(
  p: CoreParts,
  next: AgentConfig,
  reloadFailed: (errors: string[]) => void,
): Promise<ReloadOutcome> {
  const { live, log } = p;
  const rebuilt = await (p.opts.buildChecks ?? buildChecksFromConfig)(next, p.env);
  if ('errors' in rebuilt) {
    reloadFailed(rebuilt.errors);
    return { ok: false, errors: rebuilt.errors };
  }
  const carried = live.runner.states();
  await live.runner.stop();
  live.config = next;
  // The daemon's logger follows the config; a core without one stays silent.
  if (p.opts.log) log.level = next.logLevel;
  p.persistence.moveTo(next.stateDir);
  live.runner = p.makeRunner(rebuilt.entries, carried);
  if (live.started) live.runner.start();
  if (!next.checks.blobinfocache.enabled) p.watcher?.arm([]);
  live.reloadOk = true;
  p.events.record({ type: 'config-reloaded', ok: true, errors: [] });
  void p.persistence.save();
  log.info({ event: 'config-reloaded', checks: live.runner.names() }, 'config reloaded');
  return { ok: true };
}

// Builds the agent's core from a config: the checks (from their factories in checks/), the
// runner that schedules them, the state file that remembers the last verdicts and the
// maintenance mode, and admission on top. The HTTP server, the metrics and the CLI `check`
// verb all talk to the result through AgentCore (agent/core-types.ts).
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Check, CheckDetails } from '../checks/types.ts';
import { summariseForUser, type SkopeoCacheInfo, type VerifyCacheFn } from '../checks/blobcache/check.ts';
import { buildSkopeoOf } from '../checks/skopeo.ts';
import type { AgentConfig } from './config.ts';
import type {
  AgentCore,
  CheckState,
  Maintenance,
  Preflight,
  QuarantineAnswer,
  RefreshOptions,
  StateWriteRefusal,
} from './core-types.ts';
import { evaluatePreflight } from './admission.ts';
import { activeMaintenance, startMaintenance } from './maintenance.ts';
import {
  createRunner,
  type CheckScheduler,
  type Clock,
  type Runner,
  type RunnerEntry,
  type StateListener,
  systemClock,
} from './runner.ts';
import {
  createStateStore,
  removeStaleStateTemps,
  stateDirProblem,
  type PersistedCheckState,
  type PersistedState,
  type StateStore,
} from './state-store.ts';
import { createChildVerifier } from './cache-verify-child.ts';
import { createCacheWatcher, type CacheWatcher } from './cache-watch.ts';
import { createCacheVerdictMemory, type CacheVerdictMemory } from '../checks/blobcache/verdict-memory.ts';
import { silentLogger, type Logger } from './log.ts';
import { agentVersion } from './version.ts';
import { createEventLog } from './events/event-log.ts';
import { describeSchedule } from './check-schedules.ts';
import type { Actor } from './remediation/audit.ts';
import type { ChangeRecord } from '../checks/blobcache/remediation.ts';

// What the check factories get from the core besides the config.
export interface CheckEnvironment {
  log: Logger;
  now: () => Date;
  // Cache verification in a short-lived child process (agent/cache-verify-child.ts).
  verify: VerifyCacheFn;
  // The installed skopeo's version and cache format, for the blob-cache check.
  skopeoInfo: () => Promise<SkopeoCacheInfo>;
  // false: no check may change files (autoQuarantine is off whatever the config says).
  allowRemediation: boolean;
  // Runs cache work one job at a time: a blob-cache verification and a quarantine must not
  // overlap, or the quarantine finds the agent's own verification child holding the file open
  // and says busy.
  cacheExclusive: <T>(work: () => Promise<T>) => Promise<T>;
  // Verdicts of unchanged caches, kept for the core's life (across reloads): the ordinary and
  // the deep blob-cache check share it.
  cacheMemory?: CacheVerdictMemory;
}

// A promise-chain mutex: each job starts when the one before it has settled.
export function createExclusive(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const result = tail.then(work, work);
    tail = result.catch(() => undefined);
    return result;
  };
}

export type BuiltChecks = { entries: RunnerEntry[] } | { errors: string[] };

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

// How often a failed state write is tried again.
export const stateRetryMs = 10_000;

function stateWriteRefusal(err: NodeJS.ErrnoException): StateWriteRefusal {
  return {
    ok: false,
    noSpace: err.code === 'ENOSPC' || err.code === 'EDQUOT',
    message: `the state file could not be written, so nothing was changed: ${err.message}`,
  };
}

export type CreatedCore = { core: RunningAgentCore } | { errors: string[] };

// The checks' own per-operation timeouts (skopeo, statfs) equal the config's timeoutSeconds;
// the runner's deadline is this much later, so the check's own, more specific "timed out"
// result wins over the runner's generic one.
export const checkGraceSeconds = 2;

// <stateDir>/snapshots: the cache verifier's private copies of SQLite caches while they are checked.
export const snapshotDirName = 'snapshots';

// The names the check factories give their checks (`--only`, ?checks=, metric labels).
export const checkNameOfSection = {
  skopeo: 'skopeo',
  blobinfocache: 'blobinfocache',
  disk: 'disk',
  registries: 'registry',
} as const;

// A missing check module (not written yet, or left out of a build) is a clear error, not a crash.
async function importModule<T>(load: () => Promise<T>, file: string): Promise<T | string> {
  try {
    return await load();
  } catch (err) {
    return `${file} could not be loaded: ${(err as Error).message}`;
  }
}

// The skopeo check's options from its (frozen) config section.
function skopeoCheckOptions(s: AgentConfig['checks']['skopeo']) {
  return {
    binaries: [...s.binaries],
    minVersion: s.minVersion,
    recommendedVersion: s.recommendedVersion,
    deny: [...s.deny],
    timeoutSeconds: s.timeoutSeconds,
  };
}

// The real checks for a config: one runner entry per enabled section.
export async function buildChecksFromConfig(config: AgentConfig, env: CheckEnvironment): Promise<BuiltChecks> {
  const { skopeo, blobinfocache, disk, registries } = config.checks;
  const entries: RunnerEntry[] = [];
  const errors: string[] = [];
  const runKeys = (c: { schedule: string; jitterSeconds: number; failuresBeforeCritical: number }) => ({
    schedule: c.schedule,
    jitterSeconds: c.jitterSeconds,
    failuresBeforeCritical: c.failuresBeforeCritical,
  });

  if (skopeo.enabled) {
    const mod = await importModule(() => import('../checks/skopeo.ts'), 'checks/skopeo.ts');
    if (typeof mod === 'string') errors.push(`checks.skopeo: ${mod}`);
    else {
      const check = mod.createSkopeoCheck(skopeoCheckOptions(skopeo));
      entries.push({ check, ...runKeys(skopeo), timeoutSeconds: skopeo.timeoutSeconds + checkGraceSeconds });
    }
  }
  if (blobinfocache.enabled) {
    const mod = await importModule(() => import('../checks/blobcache/check.ts'), 'checks/blobcache/check.ts');
    if (typeof mod === 'string') errors.push(`checks.blobinfocache: ${mod}`);
    else {
      const { createCacheRemediation } = await import('./remediation/cache-remediation.ts');
      const remediation = (full: boolean) =>
        createCacheRemediation({
          moves: blobinfocache.autoQuarantine && env.allowRemediation,
          actor: 'daemon',
          stateDir: config.stateDir,
          keep: blobinfocache.keep,
          maxQuarantineBytes: blobinfocache.maxQuarantineBytes,
          verify: env.verify,
          verifyOptions: { full },
          now: env.now,
        });
      const opts = {
        dirs: [...blobinfocache.dirs],
        discoverUsers: blobinfocache.discoverUsers,
        buildUsers: [...blobinfocache.buildUsers],
        verify: env.verify,
        skopeoInfo: env.skopeoInfo,
        remediation: remediation(false),
        memory: env.cacheMemory ?? createCacheVerdictMemory(),
      };
      const plain: Check = mod.createBlobCacheCheck(opts);
      const check: Check = { ...plain, run: (ctx) => env.cacheExclusive(() => plain.run(ctx)) };
      const entry: RunnerEntry = { check, ...runKeys(blobinfocache), timeoutSeconds: blobinfocache.timeoutSeconds };
      if (blobinfocache.fullSchedule !== null) {
        const full: Check = mod.createBlobCacheCheck({ ...opts, full: true, remediation: remediation(true) });
        entry.deep = {
          run: (ctx) => env.cacheExclusive(() => full.run(ctx)),
          schedule: blobinfocache.fullSchedule,
          timeoutSeconds: blobinfocache.fullTimeoutSeconds,
        };
      }
      entries.push(entry);
    }
  }
  if (disk.enabled) {
    const mod = await importModule(() => import('../checks/disk.ts'), 'checks/disk.ts');
    if (typeof mod === 'string') errors.push(`checks.disk: ${mod}`);
    else {
      const check = mod.createDiskCheck({
        paths: disk.paths.map((p) => ({
          path: p.path,
          warnFree: { ...p.warnFree },
          criticalFree: { ...p.criticalFree },
        })),
        timeoutSeconds: disk.timeoutSeconds,
      });
      entries.push({ check, ...runKeys(disk), timeoutSeconds: disk.timeoutSeconds + checkGraceSeconds });
    }
  }
  if (registries.enabled) {
    const mod = await importModule(() => import('../checks/registry.ts'), 'checks/registry.ts');
    if (typeof mod === 'string') errors.push(`checks.registries: ${mod}`);
    else {
      const check = mod.createRegistryCheck({ targets: registries.targets.map((t) => ({ ...t })) });
      entries.push({ check, ...runKeys(registries), timeoutSeconds: registries.timeoutSeconds });
    }
  }
  return errors.length > 0 ? { errors } : { entries };
}

// The blob-cache check's state as a job running as `user` sees it (?user=NAME): the same
// details, summarised with only root's and that user's caches deciding.
function forUser(state: CheckState, user: string): CheckState {
  if (state.observedAt === null || state.details.kind !== 'blobinfocache') return state;
  const r = summariseForUser(state.details, user);
  return { ...state, status: r.status, rawStatus: r.status, summary: r.summary, reasons: r.reasons };
}

function skopeoInfoFromDetails(details: CheckDetails): SkopeoCacheInfo {
  const used = buildSkopeoOf(details);
  return { skopeoVersion: used.version, cacheFormatInUse: used.cacheFormat };
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

export async function createAgentCore(initialConfig: AgentConfig, opts: AgentCoreOptions = {}): Promise<CreatedCore> {
  const log = opts.log ?? silentLogger();
  const clock = opts.clock ?? systemClock;
  const host = opts.host ?? hostname();
  const persist = opts.persist ?? true;
  const allowRemediation = opts.allowRemediation ?? true;
  const buildChecks = opts.buildChecks ?? buildChecksFromConfig;
  const now = () => clock.now();

  let config = initialConfig;
  // A stateDir that cannot be a directory is a config problem, found now and not at the first
  // write (which would lose that write).
  const stateDirBroken = persist ? stateDirProblem(config.stateDir) : null;
  if (stateDirBroken) return { errors: [stateDirBroken] };
  const verifyBound = (c: AgentConfig) =>
    Math.max(c.checks.blobinfocache.timeoutSeconds, c.checks.blobinfocache.fullTimeoutSeconds);
  // SQLite snapshots go to the state directory (root's own, sized for the agent), never /tmp.
  const verifier = createChildVerifier({
    maxVerifySeconds: verifyBound(config),
    snapshotRoot: () => join(config.stateDir, snapshotDirName),
  });
  // Assigned below; the blob-cache check only calls skopeoInfo while running, after that.
  let runner: Runner | null = null;

  async function skopeoInfo(): Promise<SkopeoCacheInfo> {
    const name = checkNameOfSection.skopeo;
    let state = runner?.state(name);
    // Shares the skopeo check's run in flight (single flight) rather than starting another.
    if (runner && state && state.runs === 0) state = await runner.run(name);
    if (state && state.observedAt !== null) return skopeoInfoFromDetails(state.details);
    // The skopeo check is disabled: ask the configured skopeo directly.
    const mod = await importModule(() => import('../checks/skopeo.ts'), 'checks/skopeo.ts');
    if (typeof mod === 'string') return { skopeoVersion: null, cacheFormatInUse: null };
    const s = config.checks.skopeo;
    const check = mod.createSkopeoCheck(skopeoCheckOptions(s));
    const result = await check.run({ signal: AbortSignal.timeout((s.timeoutSeconds + checkGraceSeconds) * 1000), now });
    return skopeoInfoFromDetails(result.details);
  }

  const cacheExclusive = createExclusive();
  const env: CheckEnvironment = {
    log,
    now,
    verify: (p, o) => verifier.verify(p, o),
    skopeoInfo,
    allowRemediation,
    cacheExclusive,
    cacheMemory: createCacheVerdictMemory(),
  };
  // A write seen in a cache directory runs the blob-cache check (after any run in flight, which
  // may have read the file before the write); only the caches whose stamp moved are verified.
  const watcher: CacheWatcher | null =
    (opts.watchCaches ?? true)
      ? createCacheWatcher({
          log,
          onWrite: () => void runner?.runAfterChange(checkNameOfSection.blobinfocache, 'write'),
        })
      : null;
  const armWatcher = (state: CheckState): void => {
    if (!watcher || !started || state.name !== checkNameOfSection.blobinfocache) return;
    const caches = state.details.kind === 'blobinfocache' ? state.details.caches : [];
    const dirs = new Set<string>(config.checks.blobinfocache.dirs);
    for (const c of caches) dirs.add(c.dir);
    watcher.arm([...dirs]);
  };
  const built = await buildChecks(initialConfig, env);
  if ('errors' in built) {
    await verifier.close();
    return { errors: built.errors };
  }

  let store: StateStore | null = persist ? createStateStore(config.stateDir) : null;
  let persisted: PersistedState = { checks: {}, maintenance: null };
  if (store) {
    const loaded = store.load(clock.now());
    if (loaded.problem)
      log.warn(
        { event: 'state-file-unusable', file: store.file, problem: loaded.problem },
        'state file not used, or not all of it; what was not used starts unchecked',
      );
    persisted = loaded.state;
    const temps = removeStaleStateTemps(config.stateDir);
    if (temps.length > 0)
      log.info(
        { event: 'state-temp-removed', files: temps },
        'removed temporary state files of an agent that was killed while writing',
      );
  }
  // The event history lives beside the state file, in the state directory the agent started
  // with (a reload that moves stateDir moves the state file, not the history).
  const events = createEventLog({ stateDir: persist ? config.stateDir : null, now, log });
  if (events.loadProblem)
    log.warn(
      { event: 'event-history-unreadable', problem: events.loadProblem },
      'event history partly unreadable; what could be read is kept',
    );
  const recordAudit = (records: readonly ChangeRecord[], actor: Actor): void => {
    for (const audit of records)
      events.record({
        type: 'quarantine',
        actor,
        action: audit.action,
        path: audit.path,
        newPath: audit.newPath,
        audit,
      });
  };
  let maintenance: Maintenance | null = activeMaintenance(persisted.maintenance, clock.now());
  // A maintenance that expired while the agent was down ended then: say so in the history.
  if (persisted.maintenance !== null && maintenance === null) {
    events.record({ type: 'maintenance-cleared', reason: persisted.maintenance.reason, by: 'expired' });
  }
  let reloadOk = true;
  let started = false;
  let saving: Promise<unknown> = Promise.resolve();
  const listeners = new Set<StateListener>();

  // The last write's failure, until a write succeeds: /healthz shows it, and a failed write is
  // tried again every stateRetryMs, so the problem clears by itself once the disk has room.
  let writeFailure: { file: string; err: NodeJS.ErrnoException } | null = null;
  let retry: NodeJS.Timeout | null = null;

  function save(): Promise<Error | null> {
    if (!store || !runner) return Promise.resolve(null);
    const snapshot: PersistedState = { checks: {}, maintenance };
    for (const s of runner.states()) {
      const p = toPersisted(s);
      if (p) snapshot.checks[s.name] = p;
    }
    const file = store.file;
    const written = store.save(snapshot).then((err) => {
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
        }, opts.stateRetryMs ?? stateRetryMs);
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

  // A maintenance change the state file could not record is undone (unless a newer change
  // replaced it meanwhile), so the answer "failed" means "nothing changed", also after a restart.
  async function changeMaintenance(next: Maintenance | null): Promise<Error | null> {
    const before = maintenance;
    maintenance = next;
    const err = await save();
    if (err && maintenance === next) maintenance = before;
    return err;
  }

  function makeRunner(entries: RunnerEntry[], carried: readonly CheckState[]): Runner {
    const r = createRunner(entries, {
      clock,
      log,
      scheduler: opts.scheduler,
      random: opts.random,
      damping: opts.damping,
      initial: persisted.checks,
      carried,
    });
    r.onState((state, previous) => {
      if (verdictChanged(previous, state)) save();
      armWatcher(state);
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
      if (state.details.kind === 'blobinfocache') recordAudit(state.details.audit, 'daemon');
      for (const listener of listeners) {
        try {
          listener(state, previous);
        } catch (err) {
          log.error({ event: 'state-listener-failed', check: state.name, err }, 'state listener failed');
        }
      }
    });
    return r;
  }

  let active = makeRunner(built.entries, []);
  runner = active;

  function currentMaintenance(): Maintenance | null {
    const inForce = activeMaintenance(maintenance, clock.now());
    if (maintenance !== null && inForce === null) {
      log.info(
        { event: 'maintenance-expired', reason: maintenance.reason, expiresAt: maintenance.expiresAt },
        'maintenance expired',
      );
      events.record({ type: 'maintenance-cleared', reason: maintenance.reason, by: 'expired' });
      maintenance = null;
      save();
    }
    return inForce;
  }

  // Moves confirmed corrupt caches aside now (POST /v1/caches/quarantine), with the same rules
  // and modules as `cache quarantine`, then runs the blob-cache check again so the verdict
  // follows. Runs under cacheExclusive.
  async function quarantineNow(actor: 'api' | 'daemon' | 'cli'): Promise<QuarantineAnswer> {
    const remediation = await importModule(
      () => import('./remediation/run-quarantine.ts'),
      'agent/remediation/run-quarantine.ts',
    );
    if (typeof remediation === 'string') return { error: `quarantine is not available: ${remediation}` };
    const c = config.checks.blobinfocache;
    const info = await skopeoInfo();
    const report = await remediation.runQuarantine({
      files: [],
      dryRun: false,
      actor,
      stateDir: config.stateDir,
      dirs: [...c.dirs],
      discoverUsers: c.discoverUsers,
      keep: c.keep,
      maxQuarantineBytes: c.maxQuarantineBytes,
      verify: env.verify,
      verifyOptions: { full: false },
      skopeoVersion: info.skopeoVersion,
      cacheFormatInUse: info.cacheFormatInUse,
      now,
    });
    for (const a of report.audit)
      log.warn(
        { event: 'cache-quarantine', actor, action: a.action, path: a.path, newPath: a.newPath },
        'cache quarantine',
      );
    recordAudit(report.audit, actor);
    if (runner?.names().includes(checkNameOfSection.blobinfocache)) void runner.run(checkNameOfSection.blobinfocache);
    return report;
  }

  const core: RunningAgentCore = {
    checkNames: () => active.names(),
    states: () => active.states(),
    async preflight(request: RefreshOptions): Promise<Preflight> {
      const known = new Set(active.names());
      const requested = request.names ?? active.names();
      const existing = requested.filter((n) => known.has(n));
      const unknownChecks = requested.filter((n) => !known.has(n));
      const refreshed = await active.refresh({ names: existing, maxAgeSeconds: request.maxAgeSeconds });
      const states = request.user === undefined ? refreshed : refreshed.map((s) => forUser(s, request.user!));
      return evaluatePreflight(states, currentMaintenance(), clock.now(), { host, agentVersion, unknownChecks });
    },
    runChecks: (names) => active.runMany(names),
    maintenance: () => currentMaintenance(),
    async setMaintenance(request) {
      const m = startMaintenance(request, clock.now());
      const err = await changeMaintenance(m);
      if (err) return stateWriteRefusal(err);
      log.warn(
        { event: 'maintenance-started', reason: m.reason, expiresAt: m.expiresAt, by: m.by },
        'maintenance started',
      );
      events.record({ type: 'maintenance-set', reason: m.reason, by: m.by, expiresAt: m.expiresAt });
      return { ok: true, maintenance: m };
    },
    async clearMaintenance(by = 'api') {
      const was = currentMaintenance();
      if (was === null) return { ok: true, was: null };
      const err = await changeMaintenance(null);
      if (err) return stateWriteRefusal(err);
      log.warn({ event: 'maintenance-ended', reason: was.reason }, 'maintenance ended');
      events.record({ type: 'maintenance-cleared', reason: was.reason, by });
      return { ok: true, was };
    },
    healthProblems: () =>
      writeFailure ? [`state-write-failed: ${writeFailure.file}: ${writeFailure.err.message}`] : [],
    // Waits for a verification in flight and holds the next one off until the move is done.
    quarantine(actor) {
      return cacheExclusive(() => quarantineNow(actor)).catch((err: unknown) => ({
        error: `quarantine failed: ${err instanceof Error ? err.message : String(err)}`,
      }));
    },
    configReloadOk: () => reloadOk,
    events: (query) => events.query(query),
    eventCounts: () => events.counts(),
    schedules() {
      const names = new Set(active.names());
      return Object.entries(checkNameOfSection)
        .filter(([, name]) => names.has(name))
        .map(([section, name]) =>
          describeSchedule(name, config.checks[section as keyof typeof checkNameOfSection].schedule, clock.now()),
        );
    },
    start() {
      if (!started) events.record({ type: 'agent-started', version: agentVersion, host });
      started = true;
      active.start();
    },
    async stop() {
      started = false;
      watcher?.close();
      if (retry) clearTimeout(retry);
      await active.stop();
      await verifier.close();
      await saving;
      await events.flushed();
    },
    async reload(next) {
      const rebuilt = await buildChecks(next, env);
      if ('errors' in rebuilt) {
        core.reloadFailed(rebuilt.errors);
        return { ok: false, errors: rebuilt.errors };
      }
      const old = active;
      const carried = old.states();
      await old.stop();
      config = next;
      // The daemon's logger follows the config; a core without one stays silent.
      if (opts.log) log.level = next.logLevel;
      if (persist) store = createStateStore(next.stateDir);
      active = makeRunner(rebuilt.entries, carried);
      runner = active;
      if (started) active.start();
      if (!next.checks.blobinfocache.enabled) watcher?.arm([]);
      reloadOk = true;
      events.record({ type: 'config-reloaded', ok: true, errors: [] });
      save();
      log.info({ event: 'config-reloaded', checks: active.names() }, 'config reloaded');
      return { ok: true };
    },
    reloadFailed(errors) {
      reloadOk = false;
      log.error({ event: 'config-reload-failed', errors }, 'config reload failed; the last good config stays in use');
      events.record({ type: 'config-reloaded', ok: false, errors });
    },
    config: () => config,
    onState(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { core };
}

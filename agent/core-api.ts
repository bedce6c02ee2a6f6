// The core as the HTTP server, the metrics and the CLI `check` verb see it (AgentCore,
// agent/core-types.ts): preflight answers, runs on request, maintenance, quarantine, the event
// history and the schedules, all over the current runner and config.
import { summariseForUser } from '../checks/blobcache/check.ts';
import type { AgentConfig } from './config.ts';
import type { AgentCore, CheckState, Preflight, QuarantineAnswer, RefreshOptions } from './core-types.ts';
import { evaluatePreflight } from './admission.ts';
import { describeSchedule, type CheckSchedule } from './check-schedules.ts';
import { checkNameOfSection } from './checks-from-config.ts';
import type { EventLog } from './events/event-log.ts';
import type { MaintenanceKeeper } from './maintenance-keeper.ts';
import type { Actor } from './remediation/audit.ts';
import type { Clock, Runner } from './runner.ts';
import { agentVersion } from './version.ts';

// What a reload replaces (the config and the runner built for it) and the core's switches.
export interface LiveCore {
  config: AgentConfig;
  runner: Runner;
  started: boolean;
  reloadOk: boolean; // false after a SIGHUP with a bad config
}

export interface CoreApiParts {
  host: string;
  clock: Clock;
  live: LiveCore;
  maintenance: MaintenanceKeeper;
  events: EventLog;
  quarantine: (actor: Actor) => Promise<QuarantineAnswer>;
}

export function createCoreApi(p: CoreApiParts): AgentCore {
  const { live } = p;
  return {
    checkNames: () => live.runner.names(),
    states: () => live.runner.states(),
    preflight: (request) => preflight(p, request),
    runChecks: (names) => live.runner.runMany(names),
    maintenance: () => p.maintenance.current(),
    setMaintenance: (request) => p.maintenance.set(request),
    clearMaintenance: (by = 'api') => p.maintenance.clear(by),
    quarantine: (actor) => p.quarantine(actor),
    configReloadOk: () => live.reloadOk,
    events: (query) => p.events.query(query),
    eventCounts: () => p.events.counts(),
    schedules: () => schedules(live, p.clock),
  };
}

// Runs what the request finds too old, then decides; names the runner does not know refuse.
async function preflight(p: CoreApiParts, request: RefreshOptions): Promise<Preflight> {
  const runner = p.live.runner;
  const known = new Set(runner.names());
  const requested = request.names ?? runner.names();
  const existing = requested.filter((n) => known.has(n));
  const unknownChecks = requested.filter((n) => !known.has(n));
  const refreshed = await runner.refresh({ names: existing, maxAgeSeconds: request.maxAgeSeconds });
  const user = request.user;
  const states = user === undefined ? refreshed : refreshed.map((s) => forUser(s, user));
  const maintenance = p.maintenance.current();
  return evaluatePreflight(states, maintenance, p.clock.now(), { host: p.host, agentVersion, unknownChecks });
}

// The blob-cache check's state as a job running as `user` sees it (?user=NAME): the same
// details, summarised with only root's and that user's caches deciding.
function forUser(state: CheckState, user: string): CheckState {
  if (state.observedAt === null || state.details.kind !== 'blobinfocache') return state;
  const r = summariseForUser(state.details, user);
  return { ...state, status: r.status, rawStatus: r.status, summary: r.summary, reasons: r.reasons };
}

// Each running check's schedule, from its section of the config.
function schedules(live: LiveCore, clock: Clock): CheckSchedule[] {
  const names = new Set(live.runner.names());
  return Object.entries(checkNameOfSection)
    .filter(([, name]) => names.has(name))
    .map(([section, name]) =>
      describeSchedule(name, live.config.checks[section as keyof typeof checkNameOfSection].schedule, clock.now()),
    );
}

// The contract between the agent's core (runner, admission, maintenance, quarantine) and its
// front ends (HTTP server, metrics, CLI `check`). Both sides are written against these types.
import type { CheckDetails, CheckReason, CheckScope, CheckStatus } from '../checks/types.ts';
import type { QuarantineReport } from './remediation/run-quarantine.ts';
import type { AgentEvent, EventQuery, EventType } from './events/types.ts';
import type { CheckSchedule } from './check-schedules.ts';

// The latest known state of one check, as the runner keeps it (after damping).
export interface CheckState {
  name: string;
  scope: CheckScope;
  status: CheckStatus; // damped: critical only after N consecutive failures
  rawStatus: CheckStatus; // what the last run itself said
  summary: string;
  reasons: CheckReason[];
  details: CheckDetails;
  observedAt: Date | null; // null: never ran since start (and nothing persisted)
  durationMs: number;
  consecutiveFailures: number;
  runs: number; // counters since start, for *_total metrics
  failures: number;
  timeouts: number;
  statusChanges: number;
}

export type Decision = 'accept' | 'degraded' | 'refuse';

export interface Maintenance {
  reason: string;
  since: string; // ISO time
  expiresAt: string; // ISO time
  by: string; // who set it (api, cli)
}

// The /v1/preflight body (docs/conventions.md).
export interface Preflight {
  decision: Decision;
  host: string;
  agentVersion: string;
  evaluatedAt: string;
  reasons: { check: string; code: CheckReason['code']; message: string }[];
  maintenance: Maintenance | null;
  checks: {
    name: string;
    status: CheckStatus;
    scope: CheckScope;
    summary: string;
    observedAt: string | null;
    ageSeconds: number | null;
    durationMs: number;
    details: CheckDetails;
  }[];
}

// A change refused because the state file could not record it (durable or not at all).
// noSpace: the disk or quota is full (HTTP 507); otherwise 503.
export interface StateWriteRefusal {
  ok: false;
  noSpace: boolean;
  message: string;
}

// What POST /v1/caches/quarantine gets from the core: the report of a pass that ran, or why
// none could run at all (a module missing, an exception).
export type QuarantineAnswer = QuarantineReport | { error: string };

export interface RefreshOptions {
  names?: string[]; // a subset; default every check
  maxAgeSeconds?: number; // results older than this run again first; default: no refresh
  user?: string; // the answer for a job that runs as this user: root's cache plus this user's decide
}

// What the HTTP server and the CLI need from the core. The daemon (agent/daemon.ts) builds one.
export interface AgentCore {
  checkNames(): string[];
  states(): CheckState[];
  // Runs (single-flight per check) whatever is older than maxAgeSeconds, then evaluates.
  preflight(opts: RefreshOptions): Promise<Preflight>;
  runChecks(names?: string[]): Promise<CheckState[]>;
  maintenance(): Maintenance | null;
  // Resolve once the change is in the state file; when it cannot be written nothing changes.
  setMaintenance(m: {
    reason: string;
    expiresAt: Date;
    by: string;
  }): Promise<{ ok: true; maintenance: Maintenance } | StateWriteRefusal>;
  // by: who ends it (api, cli), for the event history.
  clearMaintenance(by?: string): Promise<{ ok: true; was: Maintenance | null } | StateWriteRefusal>;
  quarantine(actor: 'api' | 'daemon' | 'cli'): Promise<QuarantineAnswer>;
  configReloadOk(): boolean; // false after a SIGHUP with a bad config (last good one kept)
  // The event history (agent/events): GET /v1/events, the status page, buildfleet_events_total.
  events(query: EventQuery): { events: AgentEvent[]; more: boolean };
  eventCounts(): ReadonlyMap<EventType, number>;
  // Each configured check's schedule and next run (the status page).
  schedules(): CheckSchedule[];
}

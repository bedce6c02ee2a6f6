// What the event history records: the things that happened on the host that a person on call
// wants to see in order (GET /v1/events, the status page). One typed shape per event type.
import type { CheckReason, CheckStatus } from '../../checks/types.ts';
import type { ChangeRecord } from '../../checks/blobcache/remediation.ts';
import type { Actor } from '../remediation/audit.ts';

export const eventTypes = [
  'agent-started',
  'status-changed',
  'quarantine',
  'maintenance-set',
  'maintenance-cleared',
  'config-reloaded',
] as const;

export type EventType = (typeof eventTypes)[number];

interface EventBase {
  id: number; // increasing across restarts; ?since=ID pages through the history
  time: string; // ISO 8601 UTC
}

export interface AgentStartedEvent extends EventBase {
  type: 'agent-started';
  version: string;
  host: string;
}

// A check's (damped) status moved, with the reasons of the new state.
export interface StatusChangedEvent extends EventBase {
  type: 'status-changed';
  check: string;
  from: CheckStatus;
  to: CheckStatus;
  summary: string;
  reasons: CheckReason[];
}

// A cache moved aside (or a quarantine action that changed files: retention, a resumed move),
// with its audit record (agent/remediation/audit.ts; typed here as far as the blob-cache check
// reports it, the record's other fields pass through).
export interface QuarantineEvent extends EventBase {
  type: 'quarantine';
  actor: Actor;
  action: string;
  path: string;
  newPath: string | null;
  audit: ChangeRecord;
}

export interface MaintenanceSetEvent extends EventBase {
  type: 'maintenance-set';
  reason: string;
  by: string;
  expiresAt: string;
}

// `by`: who ended it (api, cli), or `expired`.
export interface MaintenanceClearedEvent extends EventBase {
  type: 'maintenance-cleared';
  reason: string;
  by: string;
}

export interface ConfigReloadedEvent extends EventBase {
  type: 'config-reloaded';
  ok: boolean;
  errors: string[]; // why a reload failed (the last good config stays in use)
}

export type AgentEvent =
  | AgentStartedEvent
  | StatusChangedEvent
  | QuarantineEvent
  | MaintenanceSetEvent
  | MaintenanceClearedEvent
  | ConfigReloadedEvent;

// An event before the log numbers and stamps it.
export type NewEvent = AgentEvent extends infer E ? (E extends AgentEvent ? Omit<E, 'id' | 'time'> : never) : never;

export interface EventQuery {
  since?: { id: number } | { time: Date };
  limit?: number;
}

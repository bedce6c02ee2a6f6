// Maintenance mode: an operator takes the host out of rotation with a reason and an expiry.
// Pure functions over the Maintenance value; the core keeps the current one and persists it.
import type { Maintenance } from './core-types.ts';

export type { Maintenance } from './core-types.ts';

// Long enough for any human explanation, short enough that a JSON body cannot bloat the state
// file and every preflight answer.
export const maxMaintenanceReasonLength = 500;

export interface MaintenanceRequest {
  reason: string;
  expiresAt: Date;
  by: string;
}

export function startMaintenance(request: MaintenanceRequest, now: Date): Maintenance {
  const reason = request.reason.trim().slice(0, maxMaintenanceReasonLength) || 'maintenance';
  return {
    reason,
    since: now.toISOString(),
    expiresAt: request.expiresAt.toISOString(),
    by: request.by,
  };
}

// The maintenance still in force at `now`, or null once it has expired: an operator who forgets
// to end it must not keep the host out of rotation forever.
export function activeMaintenance(m: Maintenance | null, now: Date): Maintenance | null {
  if (m === null) return null;
  const expires = Date.parse(m.expiresAt);
  if (!Number.isFinite(expires) || expires <= now.getTime()) return null;
  return m;
}

// A maintenance read back from the state file, or null when it is not one.
export function maintenanceFromJson(value: unknown): Maintenance | null {
  if (value === null || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  if (typeof v.reason !== 'string' || typeof v.since !== 'string' || typeof v.expiresAt !== 'string' || typeof v.by !== 'string') {
    return null;
  }
  return { reason: v.reason, since: v.since, expiresAt: v.expiresAt, by: v.by };
}

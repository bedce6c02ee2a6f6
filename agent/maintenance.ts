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

// The longest maintenance: a forgotten drain ends by itself. The API refuses more; a state file
// asking for more (edited by hand, or written by an older agent) is cut to it.
export const maxMaintenanceSeconds = 30 * 24 * 3600;

// A maintenance read back from the state file, checked by the rules new input meets: a reason
// of at most 500 characters, real times, and at most 30 days from `now` (cut to that, so a
// restored maintenance can never last until year 9999). `problem` says what was wrong; a
// malformed entry is dropped with a problem, never silently.
export function maintenanceFromJson(
  value: unknown,
  now: Date,
): { maintenance: Maintenance | null; problem: string | null } {
  if (value === null || value === undefined) return { maintenance: null, problem: null };
  const dropped = (why: string) => ({ maintenance: null, problem: `maintenance dropped: ${why}` });
  if (typeof value !== 'object' || Array.isArray(value)) return dropped('not an object');
  const v = value as Record<string, unknown>;
  if (typeof v.reason !== 'string' || v.reason.trim() === '' || v.reason.length > maxMaintenanceReasonLength) {
    return dropped(`reason must be a non-empty string of at most ${maxMaintenanceReasonLength} characters`);
  }
  if (typeof v.by !== 'string' || v.by === '' || v.by.length > 64)
    return dropped('by must be a short non-empty string');
  const since = typeof v.since === 'string' ? Date.parse(v.since) : NaN;
  const expires = typeof v.expiresAt === 'string' ? Date.parse(v.expiresAt) : NaN;
  if (!Number.isFinite(since) || !Number.isFinite(expires))
    return dropped('since and expiresAt must be ISO 8601 times');
  const latest = now.getTime() + maxMaintenanceSeconds * 1000;
  const m = {
    reason: v.reason,
    since: new Date(since).toISOString(),
    expiresAt: new Date(expires).toISOString(),
    by: v.by,
  };
  if (expires > latest) {
    const cut = new Date(latest).toISOString();
    return {
      maintenance: { ...m, expiresAt: cut },
      problem: `maintenance expiry ${String(v.expiresAt).slice(0, 40)} is more than 30 days ahead; cut to ${cut}`,
    };
  }
  return { maintenance: m, problem: null };
}

// Validates the body of POST /v1/maintenance: {reason, expiresInSeconds} or {reason, expiresAt}.
// Maintenance always expires, so a forgotten drain cannot keep a host out of rotation forever.

import { maxMaintenanceReasonLength as maxReasonLength, maxMaintenanceSeconds } from '../maintenance.ts';

export { maxMaintenanceSeconds };

export type MaintenanceRequest = { ok: true; reason: string; expiresAt: Date } | { ok: false; message: string };

export function parseMaintenanceRequest(body: unknown, now: Date): MaintenanceRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'body must be a JSON object {reason, expiresInSeconds | expiresAt}' };
  }
  const b = body as Record<string, unknown>;
  const unknownKeys = Object.keys(b).filter((k) => k !== 'reason' && k !== 'expiresInSeconds' && k !== 'expiresAt');
  if (unknownKeys.length > 0) return { ok: false, message: `unknown key(s): ${unknownKeys.join(', ')}` };
  if (typeof b.reason !== 'string' || b.reason.trim() === '')
    return { ok: false, message: 'reason: a non-empty string is required' };
  if (b.reason.length > maxReasonLength) return { ok: false, message: `reason: at most ${maxReasonLength} characters` };
  const hasIn = b.expiresInSeconds !== undefined;
  const hasAt = b.expiresAt !== undefined;
  if (hasIn === hasAt) return { ok: false, message: 'give exactly one of expiresInSeconds and expiresAt' };
  let expiresAt: Date;
  if (hasIn) {
    const s = b.expiresInSeconds;
    if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) {
      return { ok: false, message: 'expiresInSeconds: a positive number is required' };
    }
    // Checked before any date arithmetic: 1e21 seconds is past JavaScript's last date, and an
    // invalid Date compares false with everything, so the cap below would let it through.
    if (s > maxMaintenanceSeconds) {
      return { ok: false, message: `maintenance can last at most ${maxMaintenanceSeconds} seconds (30 days)` };
    }
    expiresAt = new Date(now.getTime() + s * 1000);
  } else {
    if (typeof b.expiresAt !== 'string' || Number.isNaN(Date.parse(b.expiresAt))) {
      return { ok: false, message: 'expiresAt: an ISO 8601 time is required, e.g. 2026-11-28T18:00:00Z' };
    }
    expiresAt = new Date(b.expiresAt);
    if (!Number.isFinite(expiresAt.getTime())) {
      return { ok: false, message: 'expiresAt: an ISO 8601 time is required, e.g. 2026-11-28T18:00:00Z' };
    }
    if (expiresAt.getTime() <= now.getTime()) return { ok: false, message: 'expiresAt: must be in the future' };
  }
  if (!(expiresAt.getTime() - now.getTime() <= maxMaintenanceSeconds * 1000)) {
    return { ok: false, message: `maintenance can last at most ${maxMaintenanceSeconds} seconds (30 days)` };
  }
  return { ok: true, reason: b.reason.trim(), expiresAt };
}

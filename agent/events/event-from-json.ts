// The persistence boundary of the event history: a line of events.jsonl (written by this agent,
// an older one, or damaged) back into a typed event, or null when it is not one. A line that is
// not an event is dropped, never trusted.
import type { CheckReason, CheckStatus } from '../../checks/types.ts';
import type { ChangeRecord } from '../../checks/blobcache/remediation.ts';
import type { Actor } from '../remediation/audit.ts';
import type { AgentEvent } from './types.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const statuses = new Set<string>(['ok', 'warning', 'critical', 'unknown']);
const actors = new Set<string>(['cli', 'daemon', 'api']);

function reasonsFromJson(v: unknown): CheckReason[] {
  return Array.isArray(v)
    ? v
        .filter(isObject)
        .filter((r) => isString(r.code) && isString(r.message))
        // A code this agent wrote (or an older one): passed through as it was, not checked again.
        .map((r) => ({ code: r.code as CheckReason['code'], message: r.message as string }))
    : [];
}

function auditFromJson(v: unknown): ChangeRecord | null {
  if (!isObject(v) || !isString(v.path) || !isString(v.action)) return null;
  return { ...v, action: v.action, path: v.path, newPath: isString(v.newPath) ? v.newPath : null }; // shown, never acted on
}

export function eventFromJson(v: unknown): AgentEvent | null {
  if (
    !isObject(v) ||
    typeof v.id !== 'number' ||
    !Number.isSafeInteger(v.id) ||
    !isString(v.time) ||
    !Number.isFinite(Date.parse(v.time))
  )
    return null;
  const base = { id: v.id, time: v.time };
  switch (v.type) {
    case 'agent-started':
      return isString(v.version) && isString(v.host)
        ? { ...base, type: v.type, version: v.version, host: v.host }
        : null;
    case 'status-changed':
      if (!isString(v.check) || !isString(v.from) || !statuses.has(v.from) || !isString(v.to) || !statuses.has(v.to))
        return null;
      return {
        ...base,
        type: v.type,
        check: v.check,
        from: v.from as CheckStatus,
        to: v.to as CheckStatus,
        summary: isString(v.summary) ? v.summary : '',
        reasons: reasonsFromJson(v.reasons),
      };
    case 'quarantine': {
      const audit = auditFromJson(v.audit);
      if (audit === null || !isString(v.actor) || !actors.has(v.actor)) return null;
      return {
        ...base,
        type: v.type,
        actor: v.actor as Actor,
        action: audit.action,
        path: audit.path,
        newPath: audit.newPath,
        audit,
      };
    }
    case 'maintenance-set':
      return isString(v.reason) && isString(v.by) && isString(v.expiresAt)
        ? { ...base, type: v.type, reason: v.reason, by: v.by, expiresAt: v.expiresAt }
        : null;
    case 'maintenance-cleared':
      return isString(v.reason) && isString(v.by) ? { ...base, type: v.type, reason: v.reason, by: v.by } : null;
    case 'config-reloaded':
      return typeof v.ok === 'boolean'
        ? { ...base, type: v.type, ok: v.ok, errors: Array.isArray(v.errors) ? v.errors.filter(isString) : [] }
        : null;
    default:
      return null;
  }
}

// Parses the query of GET /v1/events: ?since= (an event id, or an ISO 8601 time) and ?limit=
// (1 to the number of events kept). Like /v1/preflight's, a malformed or unknown parameter is a
// 400, never silently ignored.
import type { EventQuery } from '../events/types.ts';
import { defaultMaxEvents } from '../events/event-log.ts';
import type { ApiError } from './respond.ts';

export type EventsQuery = { ok: true; query: EventQuery } | { ok: false; code: ApiError['code']; message: string };

export function parseEventsQuery(params: URLSearchParams): EventsQuery {
  for (const key of params.keys()) {
    if (key !== 'since' && key !== 'limit')
      return {
        ok: false,
        code: 'unknown-parameter',
        message: `unknown query parameter "${key}" (known: since, limit)`,
      };
  }
  const query: EventQuery = {};
  const since = params.getAll('since');
  if (since.length > 1) return { ok: false, code: 'invalid-since', message: 'since given more than once' };
  if (since.length === 1) {
    const text = since[0];
    if (/^\d{1,15}$/.test(text)) query.since = { id: Number(text) };
    else if (/^\d{4}-\d\d-\d\dT/.test(text) && Number.isFinite(Date.parse(text)))
      query.since = { time: new Date(text) };
    else
      return {
        ok: false,
        code: 'invalid-since',
        message: `since must be an event id or an ISO 8601 time, got "${text}"`,
      };
  }
  const limits = params.getAll('limit');
  if (limits.length > 1) return { ok: false, code: 'invalid-limit', message: 'limit given more than once' };
  if (limits.length === 1) {
    const n = /^\d{1,4}$/.test(limits[0]) ? Number(limits[0]) : NaN;
    if (!(n >= 1 && n <= defaultMaxEvents))
      return {
        ok: false,
        code: 'invalid-limit',
        message: `limit must be a whole number from 1 to ${defaultMaxEvents}, got "${limits[0]}"`,
      };
    query.limit = n;
  }
  return { ok: true, query };
}

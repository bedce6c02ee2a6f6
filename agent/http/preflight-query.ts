// Parses the query of GET /v1/preflight: ?max_age=SECONDS, ?checks=a,b and ?user=NAME. Unknown check names
// and malformed numbers are the caller's mistake (400), never silently ignored: a scheduler
// asking about a check that does not exist must find out.
import type { RefreshOptions } from '../core-types.ts';
import { echoList, echoText, type ApiError } from './respond.ts';

export type PreflightQuery =
  { ok: true; options: RefreshOptions } | { ok: false; code: ApiError['code']; message: string };

export function parsePreflightQuery(query: URLSearchParams, knownChecks: readonly string[]): PreflightQuery {
  const options: RefreshOptions = {};
  for (const key of query.keys()) {
    if (key !== 'max_age' && key !== 'checks' && key !== 'user') {
      return {
        ok: false,
        code: 'unknown-parameter',
        message: `unknown query parameter "${echoText(key)}" (known: max_age, checks, user)`,
      };
    }
  }
  const maxAges = query.getAll('max_age');
  if (maxAges.length > 1) return { ok: false, code: 'invalid-max-age', message: 'max_age given more than once' };
  if (maxAges.length === 1) {
    const text = maxAges[0];
    if (!/^\d{1,9}(\.\d{1,6})?$/.test(text)) {
      return {
        ok: false,
        code: 'invalid-max-age',
        message: `max_age must be a non-negative number of seconds, got "${echoText(text)}"`,
      };
    }
    options.maxAgeSeconds = Number(text);
  }
  const users = query.getAll('user');
  if (users.length > 1) return { ok: false, code: 'invalid-user', message: 'user given more than once' };
  if (users.length === 1) {
    if (!/^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}\$?$/.test(users[0])) {
      return { ok: false, code: 'invalid-user', message: `user must be a user name, got "${echoText(users[0])}"` };
    }
    options.user = users[0];
  }
  const checkLists = query.getAll('checks');
  if (checkLists.length > 0) {
    const names = [
      ...new Set(
        checkLists
          .flatMap((s) => s.split(','))
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      ),
    ];
    if (names.length === 0) return { ok: false, code: 'unknown-check', message: 'checks is empty' };
    const unknown = names.filter((n) => !knownChecks.includes(n));
    if (unknown.length > 0) {
      return {
        ok: false,
        code: 'unknown-check',
        message: `unknown check(s): ${echoList(unknown)} (known: ${knownChecks.join(', ')})`,
      };
    }
    options.names = names;
  }
  return { ok: true, options };
}

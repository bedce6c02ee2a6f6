// The mutating endpoints (bearer token checked by the server before these run): run checks,
// quarantine corrupt caches, and set or clear maintenance.
import { checkView } from '../admission.ts';
import type { StateWriteRefusal } from '../core-types.ts';
import type { RouteHandler } from './context.ts';
import { parseMaintenanceRequest } from './maintenance-request.ts';
import { readJsonBody } from './request-body.ts';
import { echoList, sendError, sendJson } from './respond.ts';

export const postChecksRun: RouteHandler = async (ctx, req, res, query) => {
  const body = await readJsonBody(req);
  if (!body.ok) return sendError(res, body.status, { code: body.code, message: body.message });
  // Which checks: ?checks=a,b or {"checks": ["a","b"]}; every check when neither is given.
  let names: string[] | undefined;
  const fromQuery = query.get('checks');
  if (fromQuery !== null)
    names = fromQuery
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  if (body.value !== undefined) {
    const v = body.value as { checks?: unknown };
    if (
      typeof body.value !== 'object' ||
      body.value === null ||
      Array.isArray(body.value) ||
      Object.keys(body.value).some((k) => k !== 'checks') ||
      (v.checks !== undefined && (!Array.isArray(v.checks) || !v.checks.every((c) => typeof c === 'string')))
    ) {
      return sendError(res, 400, { code: 'invalid-body', message: 'body must be {"checks": ["name", ...]} or empty' });
    }
    if (v.checks !== undefined) names = v.checks as string[];
  }
  const known = ctx.core.checkNames();
  if (names !== undefined) {
    // Each check once: 8000 copies of one name would otherwise answer 8000 entries.
    names = [...new Set(names)];
    const unknown = names.filter((n) => !known.includes(n));
    if (unknown.length > 0 || names.length === 0) {
      return sendError(res, 400, {
        code: 'unknown-check',
        message: `unknown check(s): ${echoList(unknown) || '(none given)'} (known: ${known.join(', ')})`,
      });
    }
  }
  ctx.log.info({ event: 'api-checks-run', checks: names ?? known }, 'checks run through the API');
  const states = await ctx.core.runChecks(names);
  const now = ctx.now();
  sendJson(res, 200, { checks: states.map((s) => ({ ...checkView(s, now), reasons: s.reasons })) });
};

export const postQuarantine: RouteHandler = async (ctx, req, res) => {
  const body = await readJsonBody(req);
  if (!body.ok) return sendError(res, body.status, { code: body.code, message: body.message });
  ctx.log.info({ event: 'api-quarantine' }, 'cache quarantine requested through the API');
  const report = await ctx.core.quarantine('api');
  // The core answers {error} when the quarantine could not run at all (a module missing); a
  // report of a pass that ran, even one that refused to move something, is a 200.
  if ('error' in report) {
    ctx.log.error({ event: 'api-quarantine-failed', error: report.error }, 'cache quarantine could not run');
    return sendError(res, 500, { code: 'quarantine-unavailable', message: report.error });
  }
  ctx.metrics.recordQuarantineReport(report);
  sendJson(res, 200, report);
};

export const postMaintenance: RouteHandler = async (ctx, req, res) => {
  const body = await readJsonBody(req);
  if (!body.ok) return sendError(res, body.status, { code: body.code, message: body.message });
  const parsed = parseMaintenanceRequest(body.value, ctx.now());
  if (!parsed.ok) return sendError(res, 400, { code: 'invalid-maintenance', message: parsed.message });
  const set = await ctx.core.setMaintenance({ reason: parsed.reason, expiresAt: parsed.expiresAt, by: 'api' });
  if (!set.ok) return refuseUnrecorded(res, set);
  ctx.metrics.invalidate();
  sendJson(res, 200, { maintenance: set.maintenance });
};

export const deleteMaintenance: RouteHandler = async (ctx, req, res) => {
  req.resume();
  const cleared = await ctx.core.clearMaintenance('api');
  if (!cleared.ok) return refuseUnrecorded(res, cleared);
  ctx.metrics.invalidate();
  sendJson(res, 200, { maintenance: null, cleared: cleared.was !== null });
};

// Durable or not at all: a change the state file could not hold is refused, never a 200 that
// a restart would take back. 507 when the disk is full, 503 for any other write failure.
function refuseUnrecorded(res: Parameters<RouteHandler>[2], refusal: StateWriteRefusal): void {
  sendError(res, refusal.noSpace ? 507 : 503, { code: 'state-write-failed', message: refusal.message });
}

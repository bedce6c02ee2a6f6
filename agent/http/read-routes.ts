// The read-only endpoints: /v1/preflight, /metrics, /healthz and the status page. These are
// what schedulers and Prometheus hit, so they never run checks unless asked to (?max_age).
import { decisionHttpStatus } from '../admission.ts';
import type { RouteHandler } from './context.ts';
import type { PreflightAnswer } from './preflight-answers.ts';
import { parsePreflightQuery } from './preflight-query.ts';
import { jsonContentType, send, sendError, sendJson } from './respond.ts';
import { renderStatusPage } from './status-page.ts';
import { parseEventsQuery } from './events-query.ts';
import { fullyQualifiedName } from './fqdn.ts';

export const getPreflight: RouteHandler = async (ctx, _req, res, query) => {
  const parsed = parsePreflightQuery(query, ctx.core.checkNames());
  if (!parsed.ok) return sendError(res, 400, { code: parsed.code, message: parsed.message });
  // With max_age checks may run: always evaluate. Without, an unchanged answer can be reused.
  const reusable = parsed.options.maxAgeSeconds === undefined;
  const key = `${parsed.options.names?.join(',') ?? ''}|${parsed.options.user ?? ''}`;
  if (reusable) {
    const known = ctx.preflightAnswers.get(key);
    if (known !== null) return send(res, known.status, jsonContentType, known.body, known.headers);
  }
  const basis = ctx.preflightAnswers.snapshot();
  const p = await ctx.sharedPreflight(parsed.options);
  // Degraded means "a shared dependency is down": the scheduler should try again later rather
  // than drain the host, and Retry-After says when.
  const answer: PreflightAnswer = {
    status: decisionHttpStatus(p.decision),
    headers: p.decision === 'degraded' ? { 'Retry-After': ctx.retryAfterSeconds } : {},
    body: Buffer.from(`${JSON.stringify(p)}\n`, 'utf8'),
  };
  if (reusable) ctx.preflightAnswers.put(key, basis, answer);
  send(res, answer.status, jsonContentType, answer.body, answer.headers);
};

export const getMetrics: RouteHandler = async (ctx, req, res) => {
  const m = await ctx.metrics.render(req.headers.accept);
  send(res, 200, m.contentType, m.body);
};

export const getHealthz: RouteHandler = (ctx, _req, res) => {
  const h = ctx.health();
  const ok = h.state === 'running' && h.problems.length === 0;
  sendJson(res, ok ? 200 : 503, {
    status: ok ? 'ok' : h.state === 'running' ? 'unhealthy' : h.state,
    problems: h.problems,
    configReloadOk: ctx.core.configReloadOk(),
    uptimeSeconds: Math.round(process.uptime()),
  });
};

export const getEvents: RouteHandler = (ctx, _req, res, query) => {
  const parsed = parseEventsQuery(query);
  if (!parsed.ok) return sendError(res, 400, { code: parsed.code, message: parsed.message });
  sendJson(res, 200, ctx.core.events(parsed.query));
};

export const getStatusPage: RouteHandler = async (ctx, req, res) => {
  const preflight = await ctx.sharedPreflight({});
  const now = ctx.now();
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const html = renderStatusPage({
    preflight,
    states: ctx.core.states(),
    schedules: ctx.core.schedules(),
    events: ctx.core.events({ limit: 30 }).events,
    agent: {
      fqdn: await fullyQualifiedName(preflight.host),
      uptimeSeconds: process.uptime(),
      configReloadOk: ctx.core.configReloadOk(),
      health: ctx.health(),
    },
    now,
    page: { base: `${encrypted ? 'https' : 'http'}://${req.headers.host ?? 'HOST:20580'}` },
  });
  send(res, 200, 'text/html; charset=utf-8', html, {
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
  });
};

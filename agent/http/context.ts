// What every route handler receives: the core, the metrics, the current token, and the
// daemon's view of its own health. Built once by the server; the token and health are getters
// because SIGHUP can replace the token and the daemon's state changes over its life.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentCore, Preflight, RefreshOptions } from '../core-types.ts';
import type { LogFields } from '../log.ts';
import type { AgentMetrics } from '../metrics.ts';
import type { BearerToken } from './auth.ts';
import type { PreflightAnswers } from './preflight-answers.ts';

export interface AgentHealth {
  state: 'starting' | 'running' | 'stopping';
  problems: string[]; // empty when the agent itself works
}

export interface HttpLog {
  info(fields: LogFields, msg?: string): void;
  warn(fields: LogFields, msg?: string): void;
  error(fields: LogFields, msg?: string): void;
}

export interface RouteContext {
  core: AgentCore;
  metrics: AgentMetrics;
  token: () => BearerToken | null;
  health: () => AgentHealth;
  log: HttpLog;
  retryAfterSeconds: number;
  now: () => Date;
  // Identical concurrent preflight requests share one evaluation (and so one check run).
  sharedPreflight: (opts: RefreshOptions) => Promise<Preflight>;
  preflightAnswers: PreflightAnswers;
}

export type RouteHandler = (
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
) => Promise<void> | void;

export interface Route {
  // Mutating routes need the bearer token and do not exist at all without a token file.
  authenticated: boolean;
  methods: Partial<Record<'GET' | 'POST' | 'DELETE', RouteHandler>>;
}

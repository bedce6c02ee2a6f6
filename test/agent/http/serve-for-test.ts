// Starts the agent's real HTTP server on 127.0.0.1 with an in-memory core, for the HTTP and
// metrics tests. Returns the base URL and a stop function.
import {
  createAgentHttpServer,
  type AgentHealth,
  type ServerLimits,
  type TlsFiles,
} from '../../../agent/http/server.ts';
import type { ConnectionBudget } from '../../../agent/http/connection-budget.ts';
import type { BearerToken } from '../../../agent/http/auth.ts';
import { createAgentMetrics, type AgentMetrics } from '../../../agent/metrics.ts';
import type { AgentCore } from '../../../agent/core-types.ts';

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg?: string;
}

export async function serveForTest(
  core: AgentCore,
  opts: {
    token?: BearerToken | null;
    health?: () => AgentHealth;
    tls?: TlsFiles;
    metrics?: AgentMetrics;
    limits?: Partial<ServerLimits>;
    connections?: ConnectionBudget;
  } = {},
) {
  const logs: LogLine[] = [];
  const metrics = opts.metrics ?? createAgentMetrics(core);
  const http = createAgentHttpServer({
    core,
    metrics,
    token: opts.token ?? null,
    health: opts.health ?? (() => ({ state: 'running', problems: [] })),
    tls: opts.tls,
    limits: opts.limits,
    connections: opts.connections,
    log: {
      info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
      warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
      error: (obj, msg) => logs.push({ level: 'error', obj, msg }),
    },
  });
  const listened = await http.listen({ host: '127.0.0.1', port: 0 });
  if (!listened.ok) throw new Error(listened.error);
  const base = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${listened.port}`;
  return { base, port: listened.port, http, metrics, logs, stop: () => http.close(1000) };
}

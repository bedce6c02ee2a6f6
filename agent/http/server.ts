// The agent's HTTP(S) server: the route table, authentication of the mutating endpoints, and
// the connection limits (timeouts, keep-alive, body cap). A request goes socket -> dispatch()
// -> one handler in read-routes.ts or admin-routes.ts -> the core; nothing else sits between.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as NetServer } from 'node:net';
import type { SecureContextOptions, Server as TlsServer } from 'node:tls';
import type { AgentCore, Preflight, RefreshOptions } from '../core-types.ts';
import type { AgentMetrics } from '../metrics.ts';
import { listenWithLanes, type ListenOutcome } from './accept-lanes.ts';
import { deleteMaintenance, postChecksRun, postMaintenance, postQuarantine } from './admin-routes.ts';
import { bearerChallenge, checkBearer, type BearerToken } from './auth.ts';
import {
  defaultConnectionBudget,
  enforceConnectionBudget,
  type ConnectionBudget,
  type ConnectionTracker,
} from './connection-budget.ts';
import type { AgentHealth, HttpLog, Route, RouteContext } from './context.ts';
import type { ListenAddress } from '../../lib/listen-address.ts';
import { createPreflightAnswers } from './preflight-answers.ts';
import { getEvents, getHealthz, getMetrics, getPreflight, getStatusPage } from './read-routes.ts';
import { sendError } from './respond.ts';

export type { AgentHealth, HttpLog } from './context.ts';

export const routes: Record<string, Route> = {
  '/': { authenticated: false, methods: { GET: getStatusPage } },
  '/v1/preflight': { authenticated: false, methods: { GET: getPreflight } },
  '/v1/events': { authenticated: false, methods: { GET: getEvents } },
  '/metrics': { authenticated: false, methods: { GET: getMetrics } },
  '/healthz': { authenticated: false, methods: { GET: getHealthz } },
  '/v1/checks/run': { authenticated: true, methods: { POST: postChecksRun } },
  '/v1/caches/quarantine': { authenticated: true, methods: { POST: postQuarantine } },
  '/v1/maintenance': { authenticated: true, methods: { POST: postMaintenance, DELETE: deleteMaintenance } },
};

export interface TlsFiles {
  cert: Buffer | string;
  key: Buffer | string;
  ca: Buffer | string | null; // client CA bundle: when set, clients must present a certificate it signed
}

// TLS 1.2 at least, whatever NODE_OPTIONS=--tls-min-v1.0 says; the client CA when configured.
export function tlsContextOptions(tls: TlsFiles): SecureContextOptions {
  return { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ...(tls.ca !== null ? { ca: tls.ca } : {}) };
}

export interface AgentHttpServerOptions {
  core: AgentCore;
  metrics: AgentMetrics;
  token: BearerToken | null; // null: no token file configured, mutating endpoints are 404
  health: () => AgentHealth;
  log: HttpLog;
  tls?: TlsFiles | null;
  retryAfterSeconds?: number; // on 429 (degraded); default 60
  // How long an unchanged /v1/preflight answer may be reused (preflight-answers.ts); default 100.
  preflightReuseMs?: number;
  now?: () => Date;
  limits?: Partial<ServerLimits>; // tests shorten the timeouts
  connections?: ConnectionBudget; // default: from the descriptor limit (connection-budget.ts)
}

export interface AgentHttpServer {
  server: Server;
  listen(address: ListenAddress): Promise<ListenOutcome>;
  // Stops accepting, lets in-flight requests finish for up to graceMs, then cuts what is left.
  close(graceMs: number): Promise<void>;
  setToken(token: BearerToken | null): void; // SIGHUP may rotate or remove the token
  // SIGHUP re-reads the certificate, key and client CA: new connections use them, open ones
  // keep theirs. Whether client certificates are required is fixed at start (a restart).
  setTls(tls: TlsFiles): { ok: true } | { ok: false; error: string };
  connections: ConnectionTracker;
}

// Limits: small bodies, a bounded wait for slow clients, and keep-alive so schedulers polling
// /v1/preflight reuse connections. Node checks the header and request timeouts only every
// `connectionsCheckingInterval` (30 s by default, which held slow clients 21-56 s); checked
// every second they hold as documented, give or take that second.
export interface ServerLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  timeoutCheckIntervalMs: number;
}

export const serverLimits: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  timeoutCheckIntervalMs: 1_000,
};

export function createAgentHttpServer(opts: AgentHttpServerOptions): AgentHttpServer {
  let token = opts.token;
  const inFlightPreflights = new Map<string, Promise<Preflight>>();
  const ctx: RouteContext = {
    core: opts.core,
    metrics: opts.metrics,
    token: () => token,
    health: opts.health,
    log: opts.log,
    retryAfterSeconds: opts.retryAfterSeconds ?? 60,
    now: opts.now ?? (() => new Date()),
    preflightAnswers: createPreflightAnswers(opts.core, opts.preflightReuseMs ?? 100),
    sharedPreflight(refresh: RefreshOptions) {
      // Without max_age nothing runs: the core only evaluates the last results, cheaply.
      if (refresh.maxAgeSeconds === undefined) return opts.core.preflight(refresh);
      // The core single-flights each check; sharing the whole evaluation here as well keeps a
      // burst of identical requests to one call, whatever the core does.
      const key = `${refresh.maxAgeSeconds ?? ''}|${refresh.names?.join(',') ?? ''}|${refresh.user ?? ''}`;
      const running = inFlightPreflights.get(key);
      if (running) return running;
      const p = opts.core.preflight(refresh).finally(() => inFlightPreflights.delete(key));
      inFlightPreflights.set(key, p);
      return p;
    },
  };

  const limits = { ...serverLimits, ...opts.limits };
  const serverOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    dispatch(ctx, req, res).catch((err: unknown) => {
      opts.log.error(
        { event: 'http-handler-failed', method: req.method, path: pathOf(req.url), err: errorText(err) },
        'request handler failed',
      );
      sendError(res, 500, { code: 'internal-error', message: 'the agent failed to answer; see its log' });
    });
  };
  const clientCertRequired = opts.tls !== undefined && opts.tls !== null && opts.tls.ca !== null;
  const server: Server = opts.tls
    ? (createHttpsServer({
        ...serverOptions,
        ...tlsContextOptions(opts.tls),
        requestCert: clientCertRequired,
        rejectUnauthorized: clientCertRequired,
      }) as unknown as Server)
    : createHttpServer(serverOptions);
  // The budget's listeners go first, so an answer sent at once already sees its decision.
  const budget = opts.connections ?? defaultConnectionBudget();
  const connections = enforceConnectionBudget(server, budget);
  const acceptLanes: NetServer[] = [];
  server.on('request', onRequest);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Malformed requests and timeouts: answer 400/408 when the socket still takes it, never throw.
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    socket.end(
      `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    );
  });

  return {
    server,
    async listen(address) {
      const { outcome, lanes } = await listenWithLanes(server, address, budget.acceptLanes, (error) =>
        opts.log.error({ event: 'http-accept-lane-failed', err: error }, 'an accept lane failed'),
      );
      if (!outcome.ok) return outcome;
      acceptLanes.push(...lanes);
      server.on('error', (err) =>
        opts.log.error({ event: 'http-server-error', err: errorText(err) }, 'HTTP server error'),
      );
      return outcome;
    },
    close(graceMs) {
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        // A keep-alive connection whose request finishes during the stop turns idle afterwards;
        // close those as they appear instead of waiting for the keep-alive timeout.
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        sweep.unref();
        // Each listener counts the connections it accepted, so the stop waits for every one.
        const listeners = [server, ...acceptLanes.splice(0)];
        void Promise.all(listeners.map((l) => new Promise((done) => l.close(done)))).then(() => {
          clearTimeout(timer);
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
    setToken(t) {
      token = t;
    },
    setTls(tls) {
      if (!opts.tls) return { ok: false, error: 'the agent serves plain HTTP; TLS takes effect at the next restart' };
      if ((tls.ca !== null) !== clientCertRequired)
        return { ok: false, error: 'adding or removing tls.clientCAFile takes effect at the next restart' };
      try {
        (server as unknown as TlsServer).setSecureContext(tlsContextOptions(tls));
      } catch (err) {
        return { ok: false, error: `tls: ${errorText(err)}` };
      }
      return { ok: true };
    },
    connections,
  };
}

async function dispatch(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
  const token = ctx.token();
  // Without a token file the mutating endpoints do not exist, whatever the method.
  // Error answers close the connection (respond.ts) instead of reading a body nobody wants.
  if (route === undefined || (route.authenticated && token === null)) {
    return sendError(res, 404, { code: 'not-found', message: `no endpoint ${path.slice(0, 200)}` });
  }
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const handler = route.methods[method as 'GET' | 'POST' | 'DELETE'];
  if (handler === undefined) {
    const allowed = Object.keys(route.methods);
    if (allowed.includes('GET')) allowed.push('HEAD');
    return sendError(
      res,
      405,
      { code: 'method-not-allowed', message: `${req.method} is not allowed on ${path}` },
      { Allow: allowed.join(', ') },
    );
  }
  if (route.authenticated && token !== null) {
    const outcome = checkBearer(req.headers.authorization, token);
    if (outcome !== 'ok') {
      ctx.log.warn(
        { event: 'http-auth-failed', path, outcome, remote: req.socket.remoteAddress },
        'rejected a request without a valid bearer token',
      );
      return sendError(
        res,
        401,
        {
          code: outcome === 'missing' ? 'token-missing' : 'token-invalid',
          message: 'a valid bearer token is required',
        },
        {
          'WWW-Authenticate': bearerChallenge(outcome),
        },
      );
    }
  }
  const query = q < 0 ? emptyQuery : new URLSearchParams(url.slice(q + 1));
  await handler(ctx, req, res, query);
}

const emptyQuery = new URLSearchParams();

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?')[0].slice(0, 200);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

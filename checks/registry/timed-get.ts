// One HTTP(S) GET with its phases timed (resolve, connect, TLS, total) and its failure sorted
// into the reason the registry metrics use. The name is resolved here, through an injectable
// lookup, so its time is measured on its own and tests can resolve without a network. A fresh
// connection every time (no agent, no keep-alive): the probe measures a connection as a build
// would make it. Never throws.
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { whenAborted } from '../../lib/deadline.ts';

export type RegistryLookup = (hostname: string) => Promise<{ address: string; family: number }>;

export interface ProbePhases {
  // Seconds; null when the probe never reached that phase (or it does not apply: tls on http).
  resolve: number | null;
  connect: number | null;
  tls: number | null;
  total: number | null;
}

export type TransportReason = 'dns' | 'connect' | 'tls' | 'timeout';

export type TimedGetOutcome =
  | {
      ok: true;
      status: number;
      headers: http.IncomingHttpHeaders;
      body: string;
      phases: ProbePhases;
      certNotAfter: number | null;
    }
  | { ok: false; reason: TransportReason; message: string; phases: ProbePhases; certNotAfter: number | null };

export interface TimedGetOptions {
  url: URL;
  headers?: Record<string, string>;
  ca: Buffer | null;
  insecure: boolean;
  lookup: RegistryLookup;
  // Aborting it means the probe's time is up: the request is cut and the reason is `timeout`.
  deadline: AbortSignal;
  timeoutSeconds: number;
}

// /v2/ answers and token responses are tiny; anything bigger is not worth holding.
const maxBodyBytes = 64 * 1024;

function seconds(fromMs: number, toMs: number): number {
  return (toMs - fromMs) / 1000;
}

async function resolveHost(
  hostname: string,
  opts: TimedGetOptions,
): Promise<{ address: string; family: number } | { reason: 'dns' | 'timeout'; message: string }> {
  if (isIP(hostname) !== 0) return { address: hostname, family: isIP(hostname) };
  const answer = await Promise.race([
    opts.lookup(hostname).catch((err: NodeJS.ErrnoException) => err),
    whenAborted(opts.deadline, 'aborted' as const),
  ]);
  if (answer === 'aborted')
    return { reason: 'timeout', message: `resolving ${hostname} took longer than ${opts.timeoutSeconds} s` };
  if (answer instanceof Error) {
    return {
      reason: 'dns',
      message: `cannot resolve ${hostname}: ${(answer as NodeJS.ErrnoException).code ?? answer.message}`,
    };
  }
  return answer;
}

// One TLS context per CA (by its bytes; null: the system's roots), reused by every probe:
// without it each probe builds an OpenSSL context and parses the CA again, which on a schedule
// of seconds is steady allocation churn in the daemon. A changed caFile is a new key; a handful
// of keys is all a config has, the bound only stops a CA that changes every run from piling up.
const secureContexts = new Map<string, SecureContext>();
const maxSecureContexts = 16;

function secureContextFor(ca: Buffer | null): SecureContext {
  const key = ca === null ? '' : ca.toString('latin1');
  let context = secureContexts.get(key);
  if (context === undefined) {
    if (secureContexts.size >= maxSecureContexts) secureContexts.delete(secureContexts.keys().next().value!);
    context = createSecureContext(ca === null ? {} : { ca });
    secureContexts.set(key, context);
  }
  return context;
}

function notAfterOf(socket: TLSSocket): number | null {
  const validTo = socket.getPeerX509Certificate?.()?.validTo;
  return validTo === undefined ? null : Math.floor(Date.parse(validTo) / 1000);
}

// After a failed verification the handshake's certificate is gone with the socket. Its expiry
// is most wanted exactly then (an expired certificate), so take one more handshake that only
// reads the certificate: verification off, no byte of HTTP sent, closed at once.
function peekCertificateNotAfter(
  address: string,
  port: number,
  servername: string | undefined,
  deadline: AbortSignal,
): Promise<number | null> {
  return new Promise((resolve) => {
    if (deadline.aborted) {
      resolve(null);
      return;
    }
    const socket = tlsConnect({ host: address, port, servername, rejectUnauthorized: false });
    const done = (value: number | null) => {
      deadline.removeEventListener('abort', onDeadline);
      socket.destroy();
      resolve(value);
    };
    const onDeadline = () => done(null);
    deadline.addEventListener('abort', onDeadline, { once: true });
    socket.once('secureConnect', () => done(notAfterOf(socket)));
    socket.once('error', () => done(null));
  });
}

// When each phase of one request ended, set by its socket's events as they come.
interface Moments {
  resolvedAt: number;
  connectedAt: number | null;
  securedAt: number | null;
  certNotAfter: number | null;
}

type Resolved = { address: string; family: number };

function requestOptionsFor(
  opts: TimedGetOptions,
  hostname: string,
  resolved: Resolved,
  secure: boolean,
): https.RequestOptions {
  // Connect to the address resolved above while keeping the name for the Host header, SNI and
  // certificate name checks.
  const pinnedLookup: LookupFunction = (_name, options, callback) => {
    if (options.all) callback(null, [{ address: resolved.address, family: resolved.family }]);
    else callback(null, resolved.address, resolved.family);
  };
  return {
    host: hostname,
    port: opts.url.port === '' ? (secure ? 443 : 80) : Number(opts.url.port),
    path: `${opts.url.pathname}${opts.url.search}`,
    method: 'GET',
    headers: { 'User-Agent': 'buildfleet-agent', Accept: 'application/json', ...opts.headers },
    agent: false,
    lookup: pinnedLookup,
    ...(secure
      ? {
          secureContext: secureContextFor(opts.ca),
          rejectUnauthorized: !opts.insecure,
          servername: isIP(hostname) === 0 ? hostname : undefined,
        }
      : {}),
  };
}

function timePhases(request: http.ClientRequest, phases: ProbePhases, m: Moments): void {
  request.on('socket', (socket) => {
    socket.once('connect', () => {
      m.connectedAt = performance.now();
      phases.connect = seconds(m.resolvedAt, m.connectedAt);
    });
    socket.once('secureConnect', () => {
      m.securedAt = performance.now();
      phases.tls = seconds(m.connectedAt ?? m.resolvedAt, m.securedAt);
      m.certNotAfter = notAfterOf(socket as TLSSocket);
    });
  });
}

// A failed request sorted by how far it got: the deadline, no connection, the TLS handshake
// (the caller then reads the certificate's expiry), or the connection lost mid-answer.
function failureOf(
  err: NodeJS.ErrnoException,
  opts: TimedGetOptions,
  where: { address: string; port: number; secure: boolean },
  phases: ProbePhases,
  m: Moments,
): TimedGetOutcome & { ok: false } {
  const detail = err.code ?? err.message;
  const certNotAfter = m.certNotAfter;
  if (opts.deadline.aborted) {
    const stage =
      m.connectedAt === null
        ? 'connecting'
        : where.secure && m.securedAt === null
          ? 'in the TLS handshake'
          : 'waiting for the answer';
    const message = `no answer within ${opts.timeoutSeconds} s (${stage})`;
    return { ok: false, reason: 'timeout', message, phases, certNotAfter };
  }
  if (m.connectedAt === null) {
    const message = `cannot connect to ${where.address}:${where.port}: ${detail}`;
    return { ok: false, reason: 'connect', message, phases, certNotAfter };
  }
  if (where.secure && m.securedAt === null)
    return { ok: false, reason: 'tls', message: `TLS handshake failed: ${err.message}`, phases, certNotAfter };
  const message = `connection lost before a complete answer: ${detail}`;
  return { ok: false, reason: 'connect', message, phases, certNotAfter };
}

// The answer's body, of which at most maxBodyBytes are kept; `failed` when it is cut mid-body.
function readAnswer(
  response: http.IncomingMessage,
  done: (body: string) => void,
  failed: (err: NodeJS.ErrnoException) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  response.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= maxBodyBytes) chunks.push(chunk);
  });
  response.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
  response.on('error', failed);
}

function requestTimed(
  opts: TimedGetOptions,
  hostname: string,
  resolved: Resolved,
  started: number,
  phases: ProbePhases,
  m: Moments,
): Promise<TimedGetOutcome> {
  const secure = opts.url.protocol === 'https:';
  const requestOptions = requestOptionsFor(opts, hostname, resolved, secure);
  const where = { address: resolved.address, port: Number(requestOptions.port), secure };
  return new Promise<TimedGetOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: TimedGetOutcome) => {
      if (settled) return;
      settled = true;
      opts.deadline.removeEventListener('abort', onDeadline);
      outcome.phases.total = seconds(started, performance.now());
      resolve(outcome);
    };
    const request = (secure ? https : http).request(requestOptions);
    const onDeadline = () => request.destroy(new Error('deadline'));
    opts.deadline.addEventListener('abort', onDeadline, { once: true });
    if (opts.deadline.aborted) onDeadline();
    timePhases(request, phases, m);
    const onError = (err: NodeJS.ErrnoException) => {
      const failed = failureOf(err, opts, where, phases, m);
      if (failed.reason !== 'tls') return finish(failed);
      void peekCertificateNotAfter(resolved.address, where.port, requestOptions.servername, opts.deadline).then(
        (notAfter) => finish({ ...failed, certNotAfter: notAfter }),
      );
    };
    request.on('error', onError);
    request.on('response', (response) => {
      const answered = (body: string) =>
        finish({
          ok: true,
          status: response.statusCode ?? 0,
          headers: response.headers,
          body,
          phases,
          certNotAfter: m.certNotAfter,
        });
      // Cut mid-body (by the server or our deadline): same classification as the request.
      readAnswer(response, answered, onError);
    });
    request.end();
  });
}

export async function timedGet(opts: TimedGetOptions): Promise<TimedGetOutcome> {
  const started = performance.now();
  const phases: ProbePhases = { resolve: null, connect: null, tls: null, total: null };
  const hostname = opts.url.hostname.replace(/^\[(.*)\]$/, '$1');
  const resolved = await resolveHost(hostname, opts);
  const resolvedAt = performance.now();
  if ('reason' in resolved) {
    phases.total = seconds(started, resolvedAt);
    return { ok: false, reason: resolved.reason, message: resolved.message, phases, certNotAfter: null };
  }
  phases.resolve = seconds(started, resolvedAt);
  const moments: Moments = { resolvedAt, connectedAt: null, securedAt: null, certNotAfter: null };
  return requestTimed(opts, hostname, resolved, started, phases, moments);
}

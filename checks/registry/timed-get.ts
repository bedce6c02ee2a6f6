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

  const secure = opts.url.protocol === 'https:';
  // Connect to the address resolved above while keeping the name for the Host header, SNI and
  // certificate name checks.
  const pinnedLookup: LookupFunction = (_name, options, callback) => {
    if (options.all) callback(null, [{ address: resolved.address, family: resolved.family }]);
    else callback(null, resolved.address, resolved.family);
  };
  return new Promise<TimedGetOutcome>((resolve) => {
    let connectedAt: number | null = null;
    let securedAt: number | null = null;
    let certNotAfter: number | null = null;
    let settled = false;
    const finish = (outcome: TimedGetOutcome) => {
      if (settled) return;
      settled = true;
      opts.deadline.removeEventListener('abort', onDeadline);
      outcome.phases.total = seconds(started, performance.now());
      resolve(outcome);
    };
    const requestOptions: https.RequestOptions = {
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
    const request = (secure ? https : http).request(requestOptions);
    const onDeadline = () => request.destroy(new Error('deadline'));
    opts.deadline.addEventListener('abort', onDeadline, { once: true });
    if (opts.deadline.aborted) onDeadline();

    request.on('socket', (socket) => {
      socket.once('connect', () => {
        connectedAt = performance.now();
        phases.connect = seconds(resolvedAt, connectedAt);
      });
      socket.once('secureConnect', () => {
        securedAt = performance.now();
        phases.tls = seconds(connectedAt ?? resolvedAt, securedAt);
        certNotAfter = notAfterOf(socket as TLSSocket);
      });
    });
    const onError = (err: NodeJS.ErrnoException) => {
      const detail = err.code ?? err.message;
      if (opts.deadline.aborted) {
        const stage =
          connectedAt === null
            ? 'connecting'
            : secure && securedAt === null
              ? 'in the TLS handshake'
              : 'waiting for the answer';
        finish({
          ok: false,
          reason: 'timeout',
          message: `no answer within ${opts.timeoutSeconds} s (${stage})`,
          phases,
          certNotAfter,
        });
      } else if (connectedAt === null) {
        finish({
          ok: false,
          reason: 'connect',
          message: `cannot connect to ${resolved.address}:${requestOptions.port}: ${detail}`,
          phases,
          certNotAfter,
        });
      } else if (secure && securedAt === null) {
        const message = `TLS handshake failed: ${err.message}`;
        void peekCertificateNotAfter(
          resolved.address,
          Number(requestOptions.port),
          requestOptions.servername,
          opts.deadline,
        ).then((notAfter) => finish({ ok: false, reason: 'tls', message, phases, certNotAfter: notAfter }));
      } else {
        finish({
          ok: false,
          reason: 'connect',
          message: `connection lost before a complete answer: ${detail}`,
          phases,
          certNotAfter,
        });
      }
    };
    request.on('error', onError);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxBodyBytes) chunks.push(chunk);
      });
      response.on('end', () =>
        finish({
          ok: true,
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          phases,
          certNotAfter,
        }),
      );
      // Cut mid-body (by the server or our deadline): same classification as the request.
      response.on('error', onError);
    });
    request.end();
  });
}

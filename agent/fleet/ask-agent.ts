// Asks one agent GET /v1/preflight and turns whatever happens into a value: the agent's answer,
// or one of a few stable error codes. One request, no keep-alive (a fleet sweep talks to each
// host once; pooled idle sockets would only hold the process open), one deadline covering
// connect, headers and body.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Preflight } from '../core-types.ts';
import type { FleetTarget } from './targets.ts';
import type { CodeIn } from '../../lib/problem-codes.ts';

// Why an agent gave no usable answer. Stable strings (lib/problem-codes.ts, docs/scheduler.md).
export type AskErrorCode = CodeIn<'fleetError'>;

export type AgentAnswer =
  | { ok: true; httpStatus: number; preflight: Preflight; latencyMs: number }
  | { ok: false; error: AskErrorCode; message: string; httpStatus: number | null; latencyMs: number };

export interface AskOptions {
  timeoutMs: number;
  maxAgeSeconds: number | null; // passed on as ?max_age=: the agent re-runs older checks first
  maxBodyBytes?: number;
  // HTTPS agents (the agent's `tls:` section): the CA that signed their certificates, PEM; null
  // trusts the system's CAs. Absent: plain HTTP.
  tls?: { ca: Buffer | null };
}

const statusOfDecision: Record<Preflight['decision'], number> = { accept: 200, degraded: 429, refuse: 503 };

export function askAgent(target: FleetTarget, opts: AskOptions): Promise<AgentAnswer> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  const maxBody = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  const path = opts.maxAgeSeconds === null ? '/v1/preflight' : `/v1/preflight?max_age=${opts.maxAgeSeconds}`;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: AgentAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.destroy();
      resolve(answer);
    };
    const fail = (error: AskErrorCode, message: string, httpStatus: number | null = null) =>
      finish({ ok: false, error, message, httpStatus, latencyMs: latencyMs() });

    const common = {
      host: target.host,
      port: target.port,
      path,
      method: 'GET',
      agent: false,
      headers: { Accept: 'application/json', Connection: 'close', 'User-Agent': 'buildfleet-agent-fleet-status' },
    } as const;
    const req = opts.tls
      ? httpsRequest({ ...common, ...(opts.tls.ca ? { ca: opts.tls.ca } : {}) })
      : httpRequest(common);
    const deadline = setTimeout(
      () => fail('timeout', `no complete answer within ${opts.timeoutMs} ms`),
      opts.timeoutMs,
    );
    let connected = false;
    // A TLS failure (untrusted certificate, wrong name) happens after the TCP connect, before
    // any answer: the host cannot be asked, so it is unreachable, with the TLS error as message.
    req.on('socket', (socket) =>
      socket
        .once('connect', () => {
          connected = !opts.tls;
        })
        .once('secureConnect', () => {
          connected = true;
        }),
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Before the connection stands the host is unreachable; after, the answer was cut off.
      if (err.code?.startsWith('HPE_')) fail('bad-answer', `not an HTTP answer (${err.code})`);
      else if (connected)
        fail('connection-lost', `connection lost before a complete answer (${err.code ?? err.message})`);
      else fail('unreachable', `cannot connect: ${err.message}`);
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBody) fail('bad-answer', `answer larger than ${maxBody} bytes`, status);
        else chunks.push(chunk);
      });
      res.on('error', () => fail('connection-lost', 'connection lost while reading the answer', status));
      res.on('aborted', () => fail('connection-lost', 'connection lost while reading the answer', status));
      res.on('end', () => {
        if (res.complete === false) {
          fail('connection-lost', 'connection lost while reading the answer', status);
          return;
        }
        const body = Buffer.concat(chunks).toString('utf8');
        if (status !== 200 && status !== 429 && status !== 503) {
          fail('unexpected-status', `HTTP ${status}${errorCodeIn(body)} (not a preflight answer)`, status);
          return;
        }
        let doc: unknown;
        try {
          doc = JSON.parse(body);
        } catch {
          fail('bad-json', `HTTP ${status} with a body that is not JSON: ${JSON.stringify(body.slice(0, 80))}`, status);
          return;
        }
        const problem = preflightProblem(doc, status);
        if (problem !== null) fail('bad-answer', problem, status);
        // Its reason codes are those of that agent's version; they are shown, never matched on.
        else finish({ ok: true, httpStatus: status, preflight: doc as Preflight, latencyMs: latencyMs() });
      });
    });
    req.end();
  });
}

// The few fields the fleet view relies on; anything else in the document is passed through.
function preflightProblem(doc: unknown, status: number): string | null {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'the answer is not a preflight document';
  const p = doc as Record<string, unknown>;
  if (p.decision !== 'accept' && p.decision !== 'degraded' && p.decision !== 'refuse')
    return `"decision" is ${JSON.stringify(p.decision)}, not accept, degraded or refuse`;
  if (!Array.isArray(p.reasons) || !Array.isArray(p.checks)) return 'the answer lacks "reasons" or "checks" lists';
  // A proxy or a different program could answer 200 with some JSON; the status and the
  // decision must agree for the answer to be trusted.
  if (statusOfDecision[p.decision] !== status) return `HTTP ${status} does not match decision "${p.decision}"`;
  return null;
}

// The agent's own error bodies say what was wrong ({"error":{"code":...}}); show the code.
function errorCodeIn(body: string): string {
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? `: ${code}` : '';
  } catch {
    return '';
  }
}

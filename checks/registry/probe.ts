// Probes one registry the way the distribution API defines a live registry: `GET /v2/` answers
// 200, or 401 with a WWW-Authenticate challenge. With credentials from an auth.json it goes on
// to prove they work: for a Bearer challenge it fetches a token from the realm with basic auth
// and presents it to /v2/; for a Basic challenge it presents the credentials directly.
import { deadlineWithin } from '../../lib/deadline.ts';
import type { CodeIn } from '../../lib/problem-codes.ts';
import { readFile } from 'node:fs/promises';
import { parseAuthChallenge, type AuthChallenge } from './challenge.ts';
import { readRegistryCredentials, type RegistryCredentials } from './auth-file.ts';
import { timedGet, type ProbePhases, type RegistryLookup, type TimedGetOutcome } from './timed-get.ts';

export interface RegistryTarget {
  name: string;
  url: string;
  caFile: string | null;
  insecure: boolean;
  timeoutSeconds: number;
  authFile: string | null;
}

// The `reason` label of buildfleet_registry_probe_failure_info.
export type RegistryFailureReason = CodeIn<'registryFailure'>;

export interface RegistryProbeReport {
  name: string;
  url: string;
  success: boolean;
  reason: RegistryFailureReason | null;
  // The last status /v2/ answered (401 when only the challenge was seen); null if none came.
  httpStatus: number | null;
  phases: ProbePhases;
  // The server certificate's notAfter, unix seconds (read even when verification failed); null
  // for http or when no certificate could be read.
  certNotAfter: number | null;
  // true: credentials were proven (token obtained and accepted, or basic auth accepted);
  // null: not tried (no authFile, no entry for this host, or /v2/ needed no credentials).
  credentialsVerified: boolean | null;
  message: string;
}

interface ProbeContext {
  target: RegistryTarget;
  ca: Buffer | null;
  lookup: RegistryLookup;
  deadline: AbortSignal;
}

function get(ctx: ProbeContext, url: URL, headers: Record<string, string> = {}): Promise<TimedGetOutcome> {
  return timedGet({
    url,
    headers,
    ca: ctx.ca,
    insecure: ctx.target.insecure,
    lookup: ctx.lookup,
    deadline: ctx.deadline,
    timeoutSeconds: ctx.target.timeoutSeconds,
  });
}

function basicAuth(creds: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

type AuthOutcome =
  | { ok: true; status: number; message: string }
  | { ok: false; reason: 'auth' | 'http_status' | 'timeout'; status: number | null; message: string };

// Reads the token the realm returned: `token`, or OAuth2's `access_token` (both are in the spec).
function tokenFromBody(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { token?: unknown; access_token?: unknown };
    const token = parsed.token ?? parsed.access_token;
    return typeof token === 'string' && token !== '' ? token : null;
  } catch {
    return null;
  }
}

async function presentToRegistry(
  ctx: ProbeContext,
  v2: URL,
  authorization: string,
  what: string,
): Promise<AuthOutcome> {
  const answer = await get(ctx, v2, { Authorization: authorization });
  if (!answer.ok) {
    return {
      ok: false,
      reason: answer.reason === 'timeout' ? 'timeout' : 'auth',
      status: null,
      message: `/v2/ with ${what}: ${answer.message}`,
    };
  }
  if (answer.status === 200) return { ok: true, status: 200, message: `${what} accepted` };
  if (answer.status === 401 || answer.status === 403) {
    return {
      ok: false,
      reason: 'auth',
      status: answer.status,
      message: `the registry refused the ${what} (HTTP ${answer.status})`,
    };
  }
  return {
    ok: false,
    reason: 'http_status',
    status: answer.status,
    message: `/v2/ with ${what} answered HTTP ${answer.status}`,
  };
}

async function proveBearer(
  ctx: ProbeContext,
  v2: URL,
  challenge: AuthChallenge,
  creds: RegistryCredentials,
): Promise<AuthOutcome> {
  let realm: URL;
  try {
    realm = new URL(challenge.params.realm ?? '');
  } catch {
    return {
      ok: false,
      reason: 'auth',
      status: 401,
      message: `the Bearer challenge has no usable realm: ${JSON.stringify(challenge.params.realm ?? null)}`,
    };
  }
  if (challenge.params.service !== undefined) realm.searchParams.set('service', challenge.params.service);
  if (challenge.params.scope !== undefined) realm.searchParams.set('scope', challenge.params.scope);
  const answer = await get(ctx, realm, { Authorization: basicAuth(creds) });
  if (!answer.ok) {
    return {
      ok: false,
      reason: answer.reason === 'timeout' ? 'timeout' : 'auth',
      status: 401,
      message: `token server ${realm.origin}: ${answer.message}`,
    };
  }
  if (answer.status !== 200) {
    const refused = answer.status === 401 || answer.status === 403;
    return {
      ok: false,
      reason: 'auth',
      status: 401,
      message: refused
        ? `token server ${realm.origin} refused the credentials of ${creds.username} (HTTP ${answer.status})`
        : `token server ${realm.origin} answered HTTP ${answer.status}`,
    };
  }
  const token = tokenFromBody(answer.body);
  if (token === null)
    return {
      ok: false,
      reason: 'auth',
      status: 401,
      message: `token server ${realm.origin} answered 200 without a token`,
    };
  return presentToRegistry(ctx, v2, `Bearer ${token}`, `token from ${realm.origin}`);
}

function failure(
  target: RegistryTarget,
  reason: RegistryFailureReason,
  message: string,
  extra: Partial<RegistryProbeReport> = {},
): RegistryProbeReport {
  return {
    name: target.name,
    url: target.url,
    success: false,
    reason,
    httpStatus: null,
    phases: { resolve: null, connect: null, tls: null, total: null },
    certNotAfter: null,
    credentialsVerified: null,
    ...extra,
    message: `${target.name}: ${message}`,
  };
}

export async function probeRegistry(
  target: RegistryTarget,
  lookup: RegistryLookup,
  runSignal: AbortSignal,
): Promise<RegistryProbeReport> {
  const started = performance.now();
  let v2: URL;
  try {
    v2 = new URL('v2/', target.url.endsWith('/') ? target.url : `${target.url}/`);
  } catch {
    return failure(target, 'connect', `"${target.url}" is not a URL`);
  }
  let ca: Buffer | null = null;
  if (target.caFile !== null) {
    try {
      ca = await readFile(target.caFile);
    } catch (err) {
      return failure(target, 'tls', `cannot read caFile ${target.caFile}: ${(err as Error).message}`);
    }
  }
  // A referenced timer (lib/deadline.ts): a one-shot `check` must wait for it.
  const deadline = deadlineWithin(runSignal, target.timeoutSeconds * 1000);
  const ctx: ProbeContext = { target, ca, lookup, deadline: deadline.signal };
  try {
    const first = await get(ctx, v2);
    const seen = { phases: first.phases, certNotAfter: first.certNotAfter };
    const total = () => ({ ...first.phases, total: (performance.now() - started) / 1000 });
    if (!first.ok) return failure(target, first.reason, first.message, seen);
    const reachable = { ...seen, httpStatus: first.status };
    if (first.status !== 200 && first.status !== 401) {
      return failure(
        target,
        'http_status',
        `GET ${v2.pathname} answered HTTP ${first.status} (expected 200 or 401)`,
        reachable,
      );
    }
    const challenge = parseAuthChallenge(first.headers['www-authenticate']);
    if (first.status === 401 && challenge === null) {
      return failure(
        target,
        'http_status',
        'HTTP 401 without a WWW-Authenticate challenge: not a distribution registry?',
        reachable,
      );
    }
    const creds = target.authFile === null ? null : await readRegistryCredentials(target.authFile, v2.host);
    const ok = (message: string, extra: Partial<RegistryProbeReport> = {}): RegistryProbeReport => ({
      name: target.name,
      url: target.url,
      success: true,
      reason: null,
      httpStatus: first.status,
      phases: total(),
      certNotAfter: first.certNotAfter,
      credentialsVerified: null,
      ...extra,
      message: `${target.name}: ${message}`,
    });
    if (creds instanceof Error) return failure(target, 'auth', creds.message, { ...reachable, phases: total() });
    if (first.status === 200) return ok('reachable (HTTP 200, no credentials needed)');
    if (challenge === null) return ok('reachable');
    if (creds === null) {
      const why = target.authFile === null ? 'no authFile configured' : `no entry for ${v2.host} in ${target.authFile}`;
      return ok(`reachable (HTTP 401 with a ${challenge.scheme} challenge; credentials not checked: ${why})`);
    }
    let proof: AuthOutcome;
    if (challenge.scheme === 'bearer') proof = await proveBearer(ctx, v2, challenge, creds);
    else if (challenge.scheme === 'basic')
      proof = await presentToRegistry(ctx, v2, basicAuth(creds), 'basic credentials');
    else return ok(`reachable (HTTP 401 with an unsupported ${challenge.scheme} challenge; credentials not checked)`);
    if (!proof.ok) {
      return failure(target, proof.reason, proof.message, {
        ...reachable,
        httpStatus: proof.status ?? first.status,
        phases: total(),
        credentialsVerified: false,
      });
    }
    return ok(`reachable, credentials of ${creds.username} proven: ${proof.message}`, {
      httpStatus: proof.status,
      credentialsVerified: true,
    });
  } finally {
    deadline.done();
  }
}

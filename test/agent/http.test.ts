// The agent's HTTP API against its real server on 127.0.0.1: every endpoint and status code,
// the bearer token rules, request limits and bad input.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryCore, controllableCheck, critical, ok } from './http/in-memory-core.ts';
import { serveForTest } from './http/serve-for-test.ts';
import { checkBearer, loadBearerToken, type BearerToken } from '../../agent/http/auth.ts';
import { parseListenAddress } from '../../lib/listen-address.ts';
import { escapeHtml } from '../../agent/http/status-page.ts';
import { needTools } from '../support/tools.ts';
import type { QuarantineOutcome } from '../../agent/remediation/quarantine.ts';
import { makeSelfSignedCert } from '../support/tls.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bfa-http-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// Response bodies are read as loosely typed JSON; the assertions check their shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const jsonOf = (res: Response): Promise<any> => res.json();

function tokenFile(name: string, content: string, mode: number): string {
  const file = join(scratch, name);
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

function loadToken(content = 'secret-token-0123456789\n'): BearerToken {
  const loaded = loadBearerToken(tokenFile(`token-${Math.random()}`, content, 0o600));
  assert.ok(loaded.ok, 'token loads');
  return loaded.token;
}

// Sends raw bytes and returns whatever the server answers before it closes or goes quiet.
function rawRequest(port: number, text: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => {
      data += d.toString('latin1');
    });
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
    socket.setTimeout(2000, () => socket.destroy());
    socket.end(text);
  });
}

function threeChecks() {
  const skopeo = controllableCheck('skopeo', 'host', ok('skopeo 1.14.2'));
  const disk = controllableCheck('disk', 'host', ok('plenty of space'));
  const registry = controllableCheck('registries', 'shared', ok('harbor reachable'));
  const core = new InMemoryCore([skopeo.check, disk.check, registry.check]);
  return { core, skopeo, disk, registry };
}

describe('GET /v1/preflight', () => {
  const { core, disk, registry } = threeChecks();
  let srv: Awaited<ReturnType<typeof serveForTest>>;
  before(async () => {
    srv = await serveForTest(core);
  });
  after(() => srv.stop());

  test('refuses with not-yet-checked until every check ran once', async () => {
    const res = await fetch(`${srv.base}/v1/preflight`);
    assert.equal(res.status, 503);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = await jsonOf(res);
    assert.equal(body.decision, 'refuse');
    assert.deepEqual(new Set(body.reasons.map((r: { code: string }) => r.code)), new Set(['not-yet-checked']));
    assert.equal(body.checks.length, 3);
  });

  test('200 accept once every check is ok', async () => {
    await core.runChecks();
    const res = await fetch(`${srv.base}/v1/preflight`);
    assert.equal(res.status, 200);
    const body = await jsonOf(res);
    assert.equal(body.decision, 'accept');
    assert.equal(res.headers.get('retry-after'), null);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    for (const key of ['decision', 'host', 'agentVersion', 'evaluatedAt', 'reasons', 'maintenance', 'checks'])
      assert.ok(key in body, key);
  });

  test('429 with Retry-After when only a shared check fails', async () => {
    registry.set(critical('registry-connect', 'harbor: connection refused'));
    await core.runChecks(['registries']);
    const res = await fetch(`${srv.base}/v1/preflight`);
    assert.equal(res.status, 429);
    assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
    const body = await jsonOf(res);
    assert.equal(body.decision, 'degraded');
    assert.equal(body.reasons[0].code, 'registry-connect');
  });

  test('503 when a host check fails', async () => {
    disk.set(critical('disk-critical', '/tmp: 10 MiB free'));
    await core.runChecks(['disk']);
    const res = await fetch(`${srv.base}/v1/preflight`);
    assert.equal(res.status, 503);
    assert.equal((await jsonOf(res)).decision, 'refuse');
  });

  test('?checks= evaluates a subset', async () => {
    const res = await fetch(`${srv.base}/v1/preflight?checks=skopeo`);
    assert.equal(res.status, 200);
    const body = await jsonOf(res);
    assert.deepEqual(
      body.checks.map((c: { name: string }) => c.name),
      ['skopeo'],
    );
    const two = await jsonOf(await fetch(`${srv.base}/v1/preflight?checks=skopeo,registries`));
    assert.deepEqual(
      two.checks.map((c: { name: string }) => c.name),
      ['skopeo', 'registries'],
    );
  });

  test('400 for an unknown check, a bad max_age or an unknown parameter', async () => {
    for (const [query, code] of [
      ['checks=skopeo,nope', 'unknown-check'],
      ['checks=', 'unknown-check'],
      ['max_age=-1', 'invalid-max-age'],
      ['max_age=abc', 'invalid-max-age'],
      ['max_age=1&max_age=2', 'invalid-max-age'],
      ['maxage=3', 'unknown-parameter'],
      ['user=a&user=b', 'invalid-user'],
      ['user=no%20such%20name', 'invalid-user'],
    ]) {
      const res = await fetch(`${srv.base}/v1/preflight?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal((await jsonOf(res)).error.code, code, query);
    }
  });
});

test('?max_age: concurrent requests share one run of each stale check', async () => {
  const { core, skopeo } = threeChecks();
  await core.runChecks();
  const srv = await serveForTest(core);
  try {
    const before = core.runStarts.get('skopeo');
    skopeo.hold();
    let arrived = 0;
    srv.http.server.on('request', () => arrived++);
    const requests = Array.from({ length: 8 }, () => fetch(`${srv.base}/v1/preflight?max_age=0`));
    // Let every request reach the server before the held run may finish (counted, not timed: a
    // busy machine can take longer than any fixed pause).
    const startedAt = Date.now();
    while (arrived < 8 && Date.now() - startedAt < 10_000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(arrived, 8, 'every request reached the server');
    await new Promise((r) => setImmediate(r)); // and its handler ran
    skopeo.release();
    const answers = await Promise.all(requests);
    for (const a of answers) assert.equal(a.status, 200);
    assert.equal(core.runStarts.get('skopeo'), (before ?? 0) + 1, 'one run shared by 8 requests');
    // A fresh enough result is not run again.
    await fetch(`${srv.base}/v1/preflight?max_age=3600`);
    assert.equal(core.runStarts.get('skopeo'), (before ?? 0) + 1);
  } finally {
    skopeo.release();
    await srv.stop();
  }
});

describe('GET /healthz, GET /, GET /metrics', () => {
  const { core, skopeo } = threeChecks();
  let health: 'starting' | 'running' | 'stopping' = 'running';
  let srv: Awaited<ReturnType<typeof serveForTest>>;
  before(async () => {
    srv = await serveForTest(core, { health: () => ({ state: health, problems: [] }) });
  });
  after(() => srv.stop());

  test('/healthz is 200 while running and 503 while starting or stopping', async () => {
    let res = await fetch(`${srv.base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal((await jsonOf(res)).status, 'ok');
    health = 'starting';
    res = await fetch(`${srv.base}/healthz`);
    assert.equal(res.status, 503);
    assert.equal((await jsonOf(res)).status, 'starting');
    health = 'running';
  });

  test('/ is an HTML page with every check and escapes what checks say', async () => {
    skopeo.set(critical('skopeo-denied', '<script>alert("x")</script> & co'));
    await core.runChecks();
    const res = await fetch(`${srv.base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    const html = await res.text();
    assert.ok(!html.includes('<script>'), 'no raw script tag');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co'));
    for (const name of ['skopeo', 'disk', 'registries']) assert.ok(html.includes(`<code>${name}</code>`), name);
    assert.match(html, /<div class="banner d-refuse" role="status">/);
    assert.ok(!html.includes('<script'), 'no script of its own: works without JavaScript');
    assert.equal(escapeHtml(`'"<>&`), '&#39;&quot;&lt;&gt;&amp;');
  });

  test('/metrics answers in the text format by default', async () => {
    const res = await fetch(`${srv.base}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    assert.match(text, /^buildfleet_build_info\{version="[^"]+",nodejs_version="[^"]+"\} 1$/m);
    assert.match(text, /^buildfleet_check_runs_total\{check="skopeo"\} \d+$/m);
  });

  test('HEAD works wherever GET does', async () => {
    const res = await fetch(`${srv.base}/healthz`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });

  test('405 with Allow for a wrong method, 404 for an unknown path', async () => {
    let res = await fetch(`${srv.base}/v1/preflight`, { method: 'POST' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    assert.equal((await jsonOf(res)).error.code, 'method-not-allowed');
    res = await fetch(`${srv.base}/v2/preflight`);
    assert.equal(res.status, 404);
    assert.equal((await jsonOf(res)).error.code, 'not-found');
    res = await fetch(`${srv.base}/__proto__`);
    assert.equal(res.status, 404);
  });
});

describe('mutating endpoints without a token file', () => {
  const { core } = threeChecks();
  let srv: Awaited<ReturnType<typeof serveForTest>>;
  before(async () => {
    srv = await serveForTest(core, { token: null });
  });
  after(() => srv.stop());

  test('do not exist: 404 for every method, with or without a token', async () => {
    for (const [method, path] of [
      ['POST', '/v1/checks/run'],
      ['POST', '/v1/caches/quarantine'],
      ['POST', '/v1/maintenance'],
      ['DELETE', '/v1/maintenance'],
      ['GET', '/v1/maintenance'],
    ]) {
      const res = await fetch(`${srv.base}${path}`, {
        method,
        headers: { authorization: 'Bearer secret-token-0123456789' },
      });
      assert.equal(res.status, 404, `${method} ${path}`);
      await res.body?.cancel();
    }
    assert.equal(core.quarantineCalls.length, 0);
  });
});

describe('mutating endpoints with a token file', () => {
  const { core } = threeChecks();
  const token = loadToken();
  const auth = { authorization: 'Bearer secret-token-0123456789', 'content-type': 'application/json' };
  let srv: Awaited<ReturnType<typeof serveForTest>>;
  before(async () => {
    srv = await serveForTest(core, { token });
  });
  after(() => srv.stop());

  test('401 with WWW-Authenticate without a token, with a wrong one, or another scheme', async () => {
    for (const authorization of [
      undefined,
      'Bearer wrong',
      'Bearer secret-token-0123456789x',
      'Basic c2VjcmV0',
      'Bearer',
      'Bearer ' + 'a'.repeat(5000),
    ]) {
      const res = await fetch(`${srv.base}/v1/checks/run`, {
        method: 'POST',
        headers: authorization ? { authorization } : {},
      });
      assert.equal(res.status, 401, String(authorization).slice(0, 40));
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="buildfleet-agent"/);
      const body = await jsonOf(res);
      assert.ok(['token-missing', 'token-invalid'].includes(body.error.code));
    }
    const wrong = await fetch(`${srv.base}/v1/maintenance`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer nope' },
    });
    assert.equal(wrong.headers.get('www-authenticate'), 'Bearer realm="buildfleet-agent", error="invalid_token"');
    await wrong.body?.cancel();
    assert.ok(srv.logs.some((l) => l.level === 'warn' && (l.obj as { event?: string }).event === 'http-auth-failed'));
    assert.ok(!JSON.stringify(srv.logs).includes('secret-token'), 'the token never reaches the log');
  });

  test('POST /v1/checks/run runs every check, or the named ones', async () => {
    let res = await fetch(`${srv.base}/v1/checks/run`, { method: 'POST', headers: auth });
    assert.equal(res.status, 200);
    let body = await jsonOf(res);
    assert.deepEqual(
      body.checks.map((c: { name: string }) => c.name),
      ['skopeo', 'disk', 'registries'],
    );
    assert.ok(body.checks.every((c: { observedAt: string | null }) => c.observedAt !== null));
    res = await fetch(`${srv.base}/v1/checks/run`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ checks: ['disk'] }),
    });
    body = await jsonOf(res);
    assert.deepEqual(
      body.checks.map((c: { name: string }) => c.name),
      ['disk'],
    );
    res = await fetch(`${srv.base}/v1/checks/run?checks=skopeo`, { method: 'POST', headers: auth });
    assert.deepEqual(
      (await jsonOf(res)).checks.map((c: { name: string }) => c.name),
      ['skopeo'],
    );
  });

  test('POST /v1/checks/run rejects unknown checks and malformed bodies', async () => {
    for (const body of [
      JSON.stringify({ checks: ['nope'] }),
      JSON.stringify({ checks: 'disk' }),
      JSON.stringify([1]),
      '{"checks":',
      JSON.stringify({ other: 1 }),
    ]) {
      const res = await fetch(`${srv.base}/v1/checks/run`, { method: 'POST', headers: auth, body });
      assert.equal(res.status, 400, body);
      assert.ok(['unknown-check', 'invalid-body', 'invalid-json'].includes((await jsonOf(res)).error.code));
    }
    const res = await fetch(`${srv.base}/v1/checks/run`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: 'run please',
    });
    assert.equal(res.status, 415);
    await res.body?.cancel();
  });

  test("POST /v1/caches/quarantine hands the core's report back", async () => {
    const res = await fetch(`${srv.base}/v1/caches/quarantine`, { method: 'POST', headers: auth });
    assert.equal(res.status, 200);
    assert.deepEqual(await jsonOf(res), {
      dryRun: false,
      skopeoVersion: null,
      results: [],
      interrupted: [],
      audit: [],
      exitCode: 0,
    });
    assert.deepEqual(core.quarantineCalls, ['api']);

    // What it moved is counted in buildfleet_blobinfocache_quarantined_total.
    const outcome = (
      path: string,
      result: QuarantineOutcome['result'],
      format: 'boltdb' | 'sqlite',
      verdict: 'corrupt' | 'healthy',
    ): QuarantineOutcome => ({
      path,
      formatByName: format,
      result,
      code: result as QuarantineOutcome['code'], // any string will do for the counter
      message: result,
      newPath: null,
      companions: [],
      holders: [],
      audit: [],
      verdict: { path, format, verdict, problems: [], warnings: [], stats: {}, durationMs: 1 },
    });
    core.quarantineReport = {
      dryRun: false,
      skopeoVersion: '1.9.3',
      interrupted: [],
      audit: [],
      results: [
        outcome('/c/blob-info-cache-v1.boltdb', 'quarantined', 'boltdb', 'corrupt'),
        outcome('/c/blob-info-cache-v1.sqlite', 'not-corrupt', 'sqlite', 'healthy'),
      ],
      exitCode: 0,
    };
    const moved = await fetch(`${srv.base}/v1/caches/quarantine`, { method: 'POST', headers: auth });
    assert.equal(moved.status, 200);
    await moved.body?.cancel();
    const metrics = await (await fetch(`${srv.base}/metrics`)).text();
    assert.match(metrics, /^buildfleet_blobinfocache_quarantined_total\{format="boltdb"\} 1$/m);
    assert.match(metrics, /^buildfleet_blobinfocache_quarantined_total\{format="sqlite"\} 0$/m);

    // A quarantine that could not run at all is a 500 with the core's message.
    core.quarantineReport = { error: 'quarantine is not available: module missing' };
    const failed = await fetch(`${srv.base}/v1/caches/quarantine`, { method: 'POST', headers: auth });
    assert.equal(failed.status, 500);
    assert.deepEqual((await jsonOf(failed)).error, {
      code: 'quarantine-unavailable',
      message: 'quarantine is not available: module missing',
    });
    core.quarantineReport = null;
  });

  test('POST and DELETE /v1/maintenance take the host out of rotation and back', async () => {
    await core.runChecks();
    let res = await fetch(`${srv.base}/v1/maintenance`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ reason: 'kernel update', expiresInSeconds: 600 }),
    });
    assert.equal(res.status, 200);
    const set = await jsonOf(res);
    assert.equal(set.maintenance.reason, 'kernel update');
    assert.equal(set.maintenance.by, 'api');
    const expiresIn = (Date.parse(set.maintenance.expiresAt) - Date.now()) / 1000;
    assert.ok(expiresIn > 500 && expiresIn <= 600, `expires in ${expiresIn}`);
    res = await fetch(`${srv.base}/v1/preflight`);
    assert.equal(res.status, 503);
    assert.equal((await jsonOf(res)).maintenance.reason, 'kernel update');
    const metrics = await (await fetch(`${srv.base}/metrics`)).text();
    assert.match(metrics, /^buildfleet_maintenance_enabled 1$/m);

    const at = new Date(Date.now() + 3600_000).toISOString();
    res = await fetch(`${srv.base}/v1/maintenance`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ reason: 'disk swap', expiresAt: at }),
    });
    assert.equal(res.status, 200);
    assert.equal((await jsonOf(res)).maintenance.expiresAt, at);

    res = await fetch(`${srv.base}/v1/maintenance`, { method: 'DELETE', headers: auth });
    assert.equal(res.status, 200);
    assert.deepEqual(await jsonOf(res), { maintenance: null, cleared: true });
    res = await fetch(`${srv.base}/v1/preflight`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });

  test('POST /v1/maintenance rejects bodies without a reason or a sane expiry', async () => {
    const past = new Date(Date.now() - 1000).toISOString();
    for (const body of [
      {},
      { reason: '' },
      { reason: 'x' },
      { reason: 'x', expiresInSeconds: 0 },
      { reason: 'x', expiresInSeconds: -5 },
      { reason: 'x', expiresInSeconds: '60' },
      { reason: 'x', expiresAt: past },
      { reason: 'x', expiresAt: 'tomorrow' },
      { reason: 'x', expiresInSeconds: 60, expiresAt: past },
      { reason: 'x', expiresInSeconds: 1e9 },
      // Past the last JavaScript date: an invalid Date once slipped by the 30-day cap into a 500.
      { reason: 'x', expiresInSeconds: 1e21 },
      { reason: 'x', expiresInSeconds: 8.64e15 },
      { reason: 'x', expiresInSeconds: 60, extra: true },
      { reason: 7, expiresInSeconds: 60 },
      [1, 2],
      'text',
      null,
    ]) {
      const res = await fetch(`${srv.base}/v1/maintenance`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal((await jsonOf(res)).error.code, 'invalid-maintenance', JSON.stringify(body));
    }
    assert.equal(core.maintenance(), null);
  });

  test('bodies above 64 KiB are refused with 413', async () => {
    const big = JSON.stringify({ reason: 'x'.repeat(70 * 1024), expiresInSeconds: 60 });
    const res = await fetch(`${srv.base}/v1/maintenance`, { method: 'POST', headers: auth, body: big });
    assert.equal(res.status, 413);
    assert.equal((await jsonOf(res)).error.code, 'body-too-large');
    // Chunked, without a Content-Length: the cap applies while reading.
    const raw = await rawRequest(
      srv.port,
      `POST /v1/maintenance HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token-0123456789\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n${(70 * 1024).toString(16)}\r\n${'y'.repeat(70 * 1024)}\r\n0\r\n\r\n`,
    );
    assert.match(raw, /^HTTP\/1\.1 413 /);
  });
});

describe('token file', () => {
  test('refused when group or others may read or write it', () => {
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602, 0o666]) {
      const loaded = loadBearerToken(tokenFile(`t${mode.toString(8)}`, 'abc', mode));
      assert.equal(loaded.ok, false, mode.toString(8));
      if (!loaded.ok) {
        assert.equal(loaded.code, 'token-file-permissions');
        assert.match(loaded.error, /chmod 600/);
      }
    }
    for (const mode of [0o600, 0o400, 0o700])
      assert.equal(loadBearerToken(tokenFile(`ok${mode.toString(8)}`, 'abc', mode)).ok, true);
  });

  test('refused when missing, empty, holding spaces, or not a file', () => {
    const cases: [string, string][] = [
      [join(scratch, 'absent'), 'token-file-unreadable'],
      [tokenFile('empty', '\n', 0o600), 'token-file-empty'],
      [tokenFile('spaces', 'two words', 0o600), 'token-file-empty'],
      [scratch, 'token-file-not-regular'],
    ];
    for (const [file, code] of cases) {
      const loaded = loadBearerToken(file);
      assert.equal(loaded.ok ? 'ok' : loaded.code, code, file);
    }
  });

  test('comparison hashes both sides, so tokens of any length compare without throwing', () => {
    const token = loadToken('secret-token-0123456789\n');
    assert.equal(checkBearer('Bearer secret-token-0123456789', token), 'ok');
    assert.equal(checkBearer('bearer   secret-token-0123456789 ', token), 'ok');
    assert.equal(checkBearer('Bearer s', token), 'invalid');
    assert.equal(checkBearer(`Bearer ${'s'.repeat(100000)}`, token), 'invalid');
    assert.equal(checkBearer('Bearer secret-token-0123456788', token), 'invalid');
    assert.equal(checkBearer(undefined, token), 'missing');
    assert.equal(checkBearer('Token secret-token-0123456789', token), 'missing');
    assert.equal(token.digest.length, 32);
    assert.ok(!JSON.stringify(token).includes('secret'), 'only the digest is kept');
  });
});

describe('bad input never takes the server down', () => {
  test('malformed requests get 400, a failing core gets 500, and the server keeps answering', async () => {
    const { core } = threeChecks();
    const srv = await serveForTest(core);
    try {
      assert.match(await rawRequest(srv.port, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400 /);
      assert.match(
        await rawRequest(srv.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`),
        /^HTTP\/1\.1 431 /,
      );
      assert.match(await rawRequest(srv.port, Buffer.from([0, 1, 2, 255, 13, 10, 13, 10])), /^HTTP\/1\.1 400 /);
      assert.match(
        await rawRequest(
          srv.port,
          'GET /v1/preflight?checks=%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        ),
        /^HTTP\/1\.1 400 /,
      );
      core.preflight = async () => {
        throw new Error('core exploded');
      };
      const res = await fetch(`${srv.base}/v1/preflight`);
      assert.equal(res.status, 500);
      assert.equal((await jsonOf(res)).error.code, 'internal-error');
      assert.ok(srv.logs.some((l) => l.level === 'error' && JSON.stringify(l.obj).includes('core exploded')));
      assert.equal((await fetch(`${srv.base}/healthz`)).status, 200);
    } finally {
      await srv.stop();
    }
  });

  test('keep-alive: many requests over one connection', async () => {
    const { core } = threeChecks();
    const srv = await serveForTest(core);
    try {
      const one = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
      const raw = await rawRequest(
        srv.port,
        one.repeat(5) + 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      assert.equal(raw.match(/HTTP\/1\.1 200 OK/g)?.length, 6);
      assert.match(raw, /Keep-Alive: timeout=5/);
    } finally {
      await srv.stop();
    }
  });
});

test('listen addresses', () => {
  assert.deepEqual(parseListenAddress(':20580'), { ok: true, address: { host: undefined, port: 20580 } });
  assert.deepEqual(parseListenAddress('127.0.0.1:0'), { ok: true, address: { host: '127.0.0.1', port: 0 } });
  assert.deepEqual(parseListenAddress('[::1]:8080'), { ok: true, address: { host: '::1', port: 8080 } });
  for (const bad of ['20580', '::1:80', 'host:99999', 'host:', 'a b:80', '[::1]80'])
    assert.equal(parseListenAddress(bad).ok, false, bad);
});

test('optional TLS: the same API over HTTPS with the configured certificate', async (t) => {
  if (!needTools(t, 'openssl')) return;
  const { key, cert } = makeSelfSignedCert(scratch);
  const { core } = threeChecks();
  const srv = await serveForTest(core, { tls: { cert: readFileSync(cert), key: readFileSync(key), ca: null } });
  try {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(`${srv.base}/healthz`, { ca: readFileSync(cert) }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer.status, 200);
    assert.equal(JSON.parse(answer.body).status, 'ok');
    // Plain HTTP to the TLS port gets nothing usable.
    assert.doesNotMatch(await rawRequest(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 200/);
  } finally {
    await srv.stop();
  }
});

test('an unchanged preflight answer is reused briefly; any new check result shows at once', async () => {
  const { core, disk } = threeChecks();
  await core.runChecks();
  const srv = await serveForTest(core);
  try {
    const calls = core.preflightCalls;
    const a = await jsonOf(await fetch(`${srv.base}/v1/preflight`));
    const b = await jsonOf(await fetch(`${srv.base}/v1/preflight`));
    // Either reused (same evaluation) or, on a slow machine, evaluated again after 100 ms.
    assert.ok(b.evaluatedAt === a.evaluatedAt ? core.preflightCalls === calls + 1 : core.preflightCalls === calls + 2);
    disk.set(critical('disk-free-critical', '/tmp full'));
    await core.runChecks(['disk']);
    const c = await fetch(`${srv.base}/v1/preflight`);
    assert.equal(c.status, 503, 'the new result is not hidden by a reused answer');
    assert.equal((await jsonOf(c)).reasons[0].code, 'disk-free-critical');
    // A subset is its own answer.
    const d = await fetch(`${srv.base}/v1/preflight?checks=skopeo`);
    assert.equal(d.status, 200);
    await d.body?.cancel();
  } finally {
    await srv.stop();
  }
});

test('closing lets a request in flight finish, then closes its keep-alive connection', async () => {
  const { core, skopeo } = threeChecks();
  await core.runChecks();
  const srv = await serveForTest(core);
  skopeo.hold();
  const inFlight = fetch(`${srv.base}/v1/preflight?max_age=0`);
  while ((core.runStarts.get('skopeo') ?? 0) < 2) await new Promise((r) => setTimeout(r, 10));
  const closed = srv.http.close(60_000);
  let closedYet = false;
  void closed.then(() => {
    closedYet = true;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(closedYet, false, 'the server waits for the request in flight');
  skopeo.release();
  const res = await inFlight;
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await closed;
  await assert.rejects(fetch(`${srv.base}/healthz`), 'no longer listening');
});

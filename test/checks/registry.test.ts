// The registry check against Debian's real docker-registry on 127.0.0.1 (plain, TLS from a test
// CA, an expired certificate, token auth with a tiny token server, htpasswd auth), a stopped
// registry, a port that accepts but never answers, a local server answering 500, and a name
// that does not resolve.
//
// Name resolution: this machine's resolver forwards every name it does not know, .invalid
// included, to an off-box nameserver (/etc/resolv.conf). So the DNS test resolves through a
// real DNS exchange with a tiny NXDOMAIN-answering server on 127.0.0.1, injected as the check's
// lookup; no query leaves the machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket, type AddressInfo } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needTools } from '../support/tools.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { makeExpiredServerCert, makeTestPki, opensslNotAfter, type TestPki } from '../support/tls.ts';
import { startTokenServer, type TokenServer } from '../support/token-server.ts';
import {
  createRegistryCheck,
  parseAuthChallenge,
  credentialsFromAuthJson,
  type RegistryCheckDetails,
  type RegistryCheckDeps,
  type RegistryTarget,
} from '../../checks/registry.ts';
import type { CheckResult } from '../../checks/types.ts';

const target = (over: Partial<RegistryTarget> & { url: string }): RegistryTarget => ({
  name: 'test',
  caFile: null,
  insecure: false,
  timeoutSeconds: 5,
  authFile: null,
  ...over,
});

async function probe(t: RegistryTarget, deps: RegistryCheckDeps = {}) {
  const result = await createRegistryCheck({ targets: [t] }, deps).run({
    signal: new AbortController().signal,
    now: () => new Date(),
  });
  return { result, report: (result.details as unknown as RegistryCheckDetails).registries[0] };
}

let dir: string;
let pki: TestPki;
const cleanups: (() => Promise<void> | void)[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'registry-check-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function writeAuthJson(name: string, host: string, user: string, password: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }),
  );
  return file;
}

// --- pure parts ---------------------------------------------------------------------------

test('WWW-Authenticate challenges parse', () => {
  assert.deepEqual(
    parseAuthChallenge(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
    ),
    {
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
    },
  );
  assert.deepEqual(parseAuthChallenge('Basic realm="basic-realm"'), {
    scheme: 'basic',
    params: { realm: 'basic-realm' },
  });
  assert.deepEqual(parseAuthChallenge('Bearer realm=plain, service="x\\"y"'), {
    scheme: 'bearer',
    params: { realm: 'plain', service: 'x"y' },
  });
  assert.equal(parseAuthChallenge(undefined), null);
  assert.equal(parseAuthChallenge(''), null);
});

test('auth.json entries are found by host, bare host before per-namespace entries', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const json = {
    auths: {
      'reg.example:5000/team': { auth: b64('team:t') },
      'https://reg.example:5000': { auth: b64('host:h') },
      'other.example': { auth: b64('o:o') },
    },
  };
  assert.deepEqual(credentialsFromAuthJson(json, 'reg.example:5000'), { username: 'host', password: 'h' });
  assert.deepEqual(
    credentialsFromAuthJson({ auths: { 'reg.example:5000/team': { auth: b64('team:p:w') } } }, 'reg.example:5000'),
    { username: 'team', password: 'p:w' },
  );
  assert.equal(credentialsFromAuthJson(json, 'reg.example'), null);
  assert.ok(credentialsFromAuthJson({}, 'x') instanceof Error);
  assert.ok(credentialsFromAuthJson({ auths: { x: { auth: b64('no-colon') } } }, 'x') instanceof Error);
});

// --- the real registry --------------------------------------------------------------------

test('plain http registry: reachable with 200, phases measured, no TLS', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry();
  cleanups.push(() => registry.stop());
  const { result, report } = await probe(target({ url: registry.url }));
  assert.equal(result.status, 'ok', report.message);
  assert.equal(report.success, true);
  assert.equal(report.reason, null);
  assert.equal(report.httpStatus, 200);
  assert.equal(report.certNotAfter, null);
  assert.equal(report.phases.tls, null);
  for (const phase of ['resolve', 'connect', 'total'] as const)
    assert.equal(typeof report.phases[phase], 'number', phase);
});

test('stopped registry: connect', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry();
  await registry.stop();
  const { result, report } = await probe(target({ url: registry.url }));
  assert.equal(result.status, 'critical');
  assert.equal(report.reason, 'connect');
  assert.match(report.message, /ECONNREFUSED/);
  assert.deepEqual(
    result.reasons.map((r) => r.code),
    ['registry-unreachable'],
  );
});

test('TLS from a test CA: ok with caFile, tls failure without it, ok with insecure; expiry reported', async (t) => {
  if (!needTools(t, 'docker-registry', 'openssl')) return;
  pki = makeTestPki(dir, { dns: ['localhost', 'registry.buildfleet.test'], ip: ['127.0.0.1'] });
  const registry = await startRegistry({ tls: { certFile: pki.certFile, keyFile: pki.keyFile } });
  cleanups.push(() => registry.stop());
  const notAfter = opensslNotAfter(pki.certFile);

  const trusted = await probe(target({ url: registry.url, caFile: pki.caFile }));
  assert.equal(trusted.result.status, 'ok', trusted.report.message);
  assert.equal(trusted.report.httpStatus, 200);
  assert.equal(trusted.report.certNotAfter, notAfter);
  for (const phase of ['resolve', 'connect', 'tls', 'total'] as const)
    assert.equal(typeof trusted.report.phases[phase], 'number', phase);

  // By name: resolved by an injected lookup (the name exists nowhere else), checked against the
  // certificate's DNS name, sent as SNI.
  const byName = await probe(target({ url: `https://registry.buildfleet.test:${registry.port}`, caFile: pki.caFile }), {
    lookup: async (name) => {
      assert.equal(name, 'registry.buildfleet.test');
      return { address: '127.0.0.1', family: 4 };
    },
  });
  assert.equal(byName.result.status, 'ok', byName.report.message);

  const untrusted = await probe(target({ url: registry.url }));
  assert.equal(untrusted.result.status, 'critical');
  assert.equal(untrusted.report.reason, 'tls');
  assert.deepEqual(
    untrusted.result.reasons.map((r) => r.code),
    ['registry-tls-failed'],
  );
  assert.equal(untrusted.report.httpStatus, null);
  assert.equal(untrusted.report.certNotAfter, notAfter, 'the expiry is reported even when verification fails');

  const wrongName = await probe(target({ url: `https://wrong.buildfleet.test:${registry.port}`, caFile: pki.caFile }), {
    lookup: async () => ({ address: '127.0.0.1', family: 4 }),
  });
  assert.equal(wrongName.report.reason, 'tls');
  assert.match(wrongName.report.message, /wrong\.buildfleet\.test/);

  const insecure = await probe(target({ url: registry.url, insecure: true }));
  assert.equal(insecure.result.status, 'ok', insecure.report.message);
  assert.equal(insecure.report.certNotAfter, notAfter);

  const plainToTls = await probe(target({ url: `http://127.0.0.1:${registry.port}` }));
  assert.equal(plainToTls.report.reason, 'http_status');
  assert.equal(plainToTls.report.httpStatus, 400);

  const missingCa = await probe(target({ url: registry.url, caFile: join(dir, 'no-such-ca.pem') }));
  assert.equal(missingCa.report.reason, 'tls');
  assert.match(missingCa.report.message, /caFile/);
});

test('an expired certificate: tls, with its (past) expiry reported', async (t) => {
  if (!needTools(t, 'docker-registry', 'openssl')) return;
  const pkiDir = mkdtempSync(join(dir, 'expired-'));
  const fresh = makeTestPki(pkiDir);
  const expired = makeExpiredServerCert(pkiDir);
  const registry = await startRegistry({ tls: expired });
  cleanups.push(() => registry.stop());
  const { result, report } = await probe(target({ url: registry.url, caFile: fresh.caFile }));
  assert.equal(result.status, 'critical');
  assert.equal(report.reason, 'tls');
  assert.match(report.message, /expired/);
  assert.equal(report.certNotAfter, opensslNotAfter(expired.certFile));
  assert.ok((report.certNotAfter ?? Infinity) < Date.now() / 1000);
});

test('token auth: the challenge is reachable; good credentials get a token the registry accepts; wrong ones are auth', async (t) => {
  if (!needTools(t, 'docker-registry', 'openssl')) return;
  const tokens: TokenServer = await startTokenServer({ dir, users: { builder: 's3cret' } });
  cleanups.push(() => tokens.stop());
  const registry: RunningRegistry = await startRegistry({
    extraConfig: {
      auth: {
        token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootcertbundle: tokens.certFile },
      },
    },
  });
  cleanups.push(() => registry.stop());

  const anonymous = await probe(target({ url: registry.url }));
  assert.equal(anonymous.result.status, 'ok', anonymous.report.message);
  assert.equal(anonymous.report.httpStatus, 401);
  assert.equal(anonymous.report.credentialsVerified, null);

  const good = await probe(
    target({ url: registry.url, authFile: writeAuthJson('good.json', registry.host, 'builder', 's3cret') }),
  );
  assert.equal(good.result.status, 'ok', `${good.report.message}\n${registry.logs()}`);
  assert.equal(good.report.credentialsVerified, true);
  assert.equal(good.report.httpStatus, 200);
  assert.equal(tokens.issued(), 1);

  const refusedBefore = tokens.refused();
  const wrong = await probe(
    target({ url: registry.url, authFile: writeAuthJson('wrong.json', registry.host, 'builder', 'guess') }),
  );
  assert.equal(wrong.result.status, 'critical');
  assert.equal(wrong.report.reason, 'auth');
  assert.equal(wrong.report.credentialsVerified, false);
  assert.deepEqual(
    wrong.result.reasons.map((r) => r.code),
    ['registry-auth-failed'],
  );
  assert.equal(tokens.refused(), refusedBefore + 1);

  const otherHost = await probe(
    target({ url: registry.url, authFile: writeAuthJson('other.json', 'elsewhere.example', 'builder', 's3cret') }),
  );
  assert.equal(otherHost.result.status, 'ok');
  assert.equal(otherHost.report.credentialsVerified, null);
  assert.match(otherHost.report.message, /no entry for/);

  const unreadable = await probe(target({ url: registry.url, authFile: join(dir, 'no-such-auth.json') }));
  assert.equal(unreadable.report.reason, 'auth');
});

test('htpasswd (basic) auth: the challenge is reachable; good credentials are accepted; wrong ones are auth', async (t) => {
  if (!needTools(t, 'docker-registry', 'htpasswd')) return;
  const users = join(dir, 'htpasswd');
  execFileSync('htpasswd', ['-cbB', users, 'builder', 's3cret'], { stdio: 'ignore' });
  const registry = await startRegistry({
    extraConfig: { auth: { htpasswd: { realm: 'buildfleet-test', path: users } } },
  });
  cleanups.push(() => registry.stop());

  const anonymous = await probe(target({ url: registry.url }));
  assert.equal(anonymous.result.status, 'ok', anonymous.report.message);
  assert.equal(anonymous.report.httpStatus, 401);
  assert.match(anonymous.report.message, /basic challenge/);

  const good = await probe(
    target({ url: registry.url, authFile: writeAuthJson('basic-good.json', registry.host, 'builder', 's3cret') }),
  );
  assert.equal(good.result.status, 'ok', good.report.message);
  assert.equal(good.report.credentialsVerified, true);
  assert.equal(good.report.httpStatus, 200);

  const wrong = await probe(
    target({ url: registry.url, authFile: writeAuthJson('basic-wrong.json', registry.host, 'builder', 'guess') }),
  );
  assert.equal(wrong.report.reason, 'auth');
  assert.equal(wrong.report.httpStatus, 401);
  assert.equal(wrong.report.credentialsVerified, false);
});

// --- local stand-ins for failures a real registry does not produce on demand --------------

test('a port that accepts but never answers: timeout', async () => {
  const held: Socket[] = [];
  const silent: TcpServer = createTcpServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of held) socket.destroy();
        silent.close(() => resolve());
      }),
  );
  const { port } = silent.address() as AddressInfo;
  const { result, report } = await probe(target({ url: `http://127.0.0.1:${port}`, timeoutSeconds: 1 }));
  assert.equal(result.status, 'critical');
  assert.equal(report.reason, 'timeout');
  assert.equal(typeof report.phases.connect, 'number', 'the connection itself was made');
  assert.deepEqual(
    result.reasons.map((r) => r.code),
    ['registry-unreachable'],
  );
});

test('unexpected HTTP status (500) and a 401 without challenge: http_status', async () => {
  const server: HttpServer = createServer((req, res) => {
    if (req.url === '/broken/v2/') res.writeHead(500).end('internal error');
    else res.writeHead(401).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const broken = await probe(target({ url: `http://127.0.0.1:${port}/broken` }));
  assert.equal(broken.report.reason, 'http_status');
  assert.equal(broken.report.httpStatus, 500);
  assert.deepEqual(
    broken.result.reasons.map((r) => r.code),
    ['registry-unexpected-status'],
  );
  const bare = await probe(target({ url: `http://127.0.0.1:${port}` }));
  assert.equal(bare.report.reason, 'http_status');
  assert.equal(bare.report.httpStatus, 401);
});

// A DNS server that knows no names: every question gets NXDOMAIN.
async function startNxdomainServer(): Promise<{ port: number; questions: string[]; socket: UdpSocket }> {
  const socket = createSocket('udp4');
  const questions: string[] = [];
  socket.on('message', (query, peer) => {
    let offset = 12;
    const labels: string[] = [];
    while (offset < query.length && query[offset] !== 0) {
      labels.push(query.subarray(offset + 1, offset + 1 + query[offset]).toString('ascii'));
      offset += 1 + query[offset];
    }
    questions.push(labels.join('.'));
    const question = query.subarray(12, offset + 5);
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | 3, 2); // response, RD, RA, NXDOMAIN
    header.writeUInt16BE(1, 4); // one question, no answers
    socket.send(Buffer.concat([header, question]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, questions, socket };
}

test('a name that does not resolve: dns (through a local NXDOMAIN server, nothing sent off-box)', async () => {
  const dns = await startNxdomainServer();
  cleanups.push(() => {
    dns.socket.close();
  });
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${dns.port}`]);
  const lookup = async (name: string) => ({ address: (await resolver.resolve4(name))[0], family: 4 });
  const { result, report } = await probe(target({ url: 'https://no-such-registry.buildfleet.invalid' }), { lookup });
  assert.equal(result.status, 'critical');
  assert.equal(report.reason, 'dns');
  assert.match(report.message, /ENOTFOUND/);
  assert.equal(report.phases.connect, null);
  assert.deepEqual(dns.questions, ['no-such-registry.buildfleet.invalid']);
  assert.deepEqual(
    result.reasons.map((r) => r.code),
    ['registry-unreachable'],
  );
});

test('several targets: each reported, critical when any fails, scope shared', async () => {
  const server: HttpServer = createServer((_req, res) => res.writeHead(200).end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const closedPort = await new Promise<number>((resolve) => {
    const probeServer = createTcpServer().listen(0, '127.0.0.1', () => {
      const p = (probeServer.address() as AddressInfo).port;
      probeServer.close(() => resolve(p));
    });
  });
  const check = createRegistryCheck({
    targets: [
      target({ name: 'up', url: `http://127.0.0.1:${port}` }),
      target({ name: 'down', url: `http://127.0.0.1:${closedPort}` }),
    ],
  });
  assert.equal(check.scope, 'shared');
  assert.equal(check.name, 'registry');
  const result: CheckResult = await check.run({ signal: new AbortController().signal, now: () => new Date() });
  const registries = (result.details as unknown as RegistryCheckDetails).registries;
  assert.deepEqual(
    registries.map((r) => [r.name, r.success, r.reason]),
    [
      ['up', true, null],
      ['down', false, 'connect'],
    ],
  );
  assert.equal(result.status, 'critical');
  assert.match(result.summary, /1 of 2/);
});

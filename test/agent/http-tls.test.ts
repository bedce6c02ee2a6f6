// The agent's HTTPS as operators run it, with a test CA made by the real openssl: server
// authentication, client certificates required when tls.clientCAFile is set (and only then),
// TLS 1.2 at least, and certificates replaced without a restart (what SIGHUP does).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import tlsDefaults, { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TlsFiles } from '../../agent/http/server.ts';
import { needTools } from '../support/tools.ts';
import { makeClientCert, makeTestPki, type TestPki } from '../support/tls.ts';
import { InMemoryCore } from './http/in-memory-core.ts';
import { serveForTest } from './http/serve-for-test.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bfa-tls-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let pki: TestPki; // the CA the agent's certificate and the good client certificate come from
let other: TestPki; // an unrelated CA: its certificates must be refused
let client: { certFile: string; keyFile: string };
let stranger: { certFile: string; keyFile: string };
let haveOpenssl = true;

before(() => {
  try {
    for (const d of ['a', 'b']) mkdirSync(join(scratch, d));
    pki = makeTestPki(join(scratch, 'a'));
    other = makeTestPki(join(scratch, 'b'));
    client = makeClientCert(join(scratch, 'a'), 'builder');
    stranger = makeClientCert(join(scratch, 'b'), 'stranger');
  } catch {
    haveOpenssl = false;
  }
});

const files = (p: TestPki, clientCA: string | null): TlsFiles => ({
  cert: readFileSync(p.certFile),
  key: readFileSync(p.keyFile),
  ca: clientCA === null ? null : readFileSync(clientCA),
});

// GET /healthz over HTTPS: the status, or the error code of a failed handshake.
function get(base: string, opts: { ca?: string; cert?: string; key?: string } = {}): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      `${base}/healthz`,
      {
        ca: opts.ca ? readFileSync(opts.ca) : undefined,
        cert: opts.cert ? readFileSync(opts.cert) : undefined,
        key: opts.key ? readFileSync(opts.key) : undefined,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

// A bare TLS handshake: 'ok' or the error code.
function handshake(port: number, opts: ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
      socket.end();
      resolve('ok');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

const core = () => new InMemoryCore([]);

test('server authentication: a client that trusts the test CA gets in, one that does not is refused', async (t) => {
  if (!needTools(t, 'openssl') || !haveOpenssl) return;
  const srv = await serveForTest(core(), { tls: files(pki, null) });
  try {
    assert.equal(await get(srv.base, { ca: pki.caFile }), 200);
    assert.equal(await get(srv.base, {}), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    assert.equal(await get(srv.base, { ca: other.caFile }), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // No clientCAFile: no client certificate is asked for.
    assert.equal(await get(srv.base, { ca: pki.caFile, cert: stranger.certFile, key: stranger.keyFile }), 200);
  } finally {
    await srv.stop();
  }
});

test('tls.clientCAFile: only clients with a certificate that CA signed get an answer, /healthz included', async (t) => {
  if (!needTools(t, 'openssl') || !haveOpenssl) return;
  const srv = await serveForTest(core(), { tls: files(pki, pki.caFile) });
  try {
    assert.equal(await get(srv.base, { ca: pki.caFile, cert: client.certFile, key: client.keyFile }), 200);
    assert.notEqual(await get(srv.base, { ca: pki.caFile }), 200, 'no client certificate');
    assert.notEqual(
      await get(srv.base, { ca: pki.caFile, cert: stranger.certFile, key: stranger.keyFile }),
      200,
      'another CA',
    );
  } finally {
    await srv.stop();
  }
});

// The process defaults lowered as NODE_OPTIONS="--tls-min-v1.0 --tls-cipher-list=DEFAULT:@SECLEVEL=0"
// would (a site's old clients): a server that takes Node's defaults then speaks TLS 1.1, the
// agent still does not.
test('TLS 1.2 at least, whatever the process defaults: a TLS 1.1 client is refused', async (t) => {
  if (!needTools(t, 'openssl') || !haveOpenssl) return;
  const old: ConnectionOptions = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' };
  const saved = { min: tlsDefaults.DEFAULT_MIN_VERSION, ciphers: tlsDefaults.DEFAULT_CIPHERS };
  tlsDefaults.DEFAULT_MIN_VERSION = 'TLSv1';
  tlsDefaults.DEFAULT_CIPHERS = 'DEFAULT:@SECLEVEL=0';
  // The control: a server on those defaults takes this client, so a refusal below is the agent's doing.
  const lax = createTlsServer({ cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) }, (s) => s.end());
  await new Promise<void>((resolve) => lax.listen(0, '127.0.0.1', resolve));
  const srv = await serveForTest(core(), { tls: files(pki, null) });
  tlsDefaults.DEFAULT_MIN_VERSION = saved.min;
  tlsDefaults.DEFAULT_CIPHERS = saved.ciphers;
  try {
    assert.equal(await handshake((lax.address() as AddressInfo).port, old), 'ok');
    assert.notEqual(await handshake(srv.port, old), 'ok');
    assert.equal(await handshake(srv.port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), 'ok');
  } finally {
    lax.close();
    await srv.stop();
  }
});

test('setTls (SIGHUP): new connections get the new certificate and client CA; requiring client certificates needs a restart', async (t) => {
  if (!needTools(t, 'openssl') || !haveOpenssl) return;
  const srv = await serveForTest(core(), { tls: files(pki, pki.caFile) });
  try {
    const mine = { cert: client.certFile, key: client.keyFile };
    assert.equal(await get(srv.base, { ca: pki.caFile, ...mine }), 200);
    // Renewed: the server certificate now comes from the other CA, and so do the clients'.
    assert.deepEqual(srv.http.setTls(files(other, other.caFile)), { ok: true });
    assert.equal(await get(srv.base, { ca: other.caFile, cert: stranger.certFile, key: stranger.keyFile }), 200);
    assert.match(
      String(await get(srv.base, { ca: pki.caFile, ...mine })),
      /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)$/,
      'the old certificate is gone',
    );
    // Dropping the client CA would open the server to everyone: refused until a restart.
    const toggled = srv.http.setTls(files(pki, null));
    assert.equal(toggled.ok, false);
    assert.notEqual(await get(srv.base, { ca: other.caFile }), 200, 'still requires a client certificate');
    // A key that is not the certificate's is refused; the server keeps what it had.
    const mismatched = srv.http.setTls({ ...files(other, other.caFile), key: readFileSync(pki.keyFile) });
    assert.equal(mismatched.ok, false);
    assert.equal(await get(srv.base, { ca: other.caFile, cert: stranger.certFile, key: stranger.keyFile }), 200);
  } finally {
    await srv.stop();
  }
});

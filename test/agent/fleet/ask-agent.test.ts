// askAgent against loopback servers that answer in the odd ways a fleet produces.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { askAgent } from '../../../agent/fleet/ask-agent.ts';
import { parseTarget, type FleetTarget } from '../../../agent/fleet/targets.ts';

const closers: (() => void)[] = [];
after(() => closers.forEach((c) => c()));

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<FleetTarget> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  const p = parseTarget(`127.0.0.1:${(server.address() as AddressInfo).port}`);
  assert.ok(p.ok);
  return p.target;
}

const preflight = (decision: string) =>
  JSON.stringify({
    decision,
    host: 'x',
    agentVersion: '0.1.0',
    evaluatedAt: '',
    reasons: [],
    maintenance: null,
    checks: [],
  });

test('passes ?max_age on, asks without keep-alive, takes a well-formed answer', async () => {
  let seen: IncomingMessage | null = null;
  const t = await serve((req, res) => {
    seen = req;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(preflight('accept'));
  });
  const a = await askAgent(t, { timeoutMs: 5000, maxAgeSeconds: 30 });
  assert.ok(a.ok);
  assert.equal(a.preflight.decision, 'accept');
  assert.equal(seen!.url, '/v1/preflight?max_age=30');
  assert.equal(seen!.headers.connection, 'close');
});

test('an answer whose status and decision disagree is not trusted', async () => {
  const t = await serve((_req, res) => res.writeHead(200).end(preflight('refuse')));
  const a = await askAgent(t, { timeoutMs: 5000, maxAgeSeconds: null });
  assert.ok(
    !a.ok && a.error === 'bad-answer' && /HTTP 200 does not match decision "refuse"/.test(a.message),
    JSON.stringify(a),
  );
});

test('JSON that is not a preflight, an oversized body, an agent error status', async () => {
  const notPreflight = await serve((_req, res) => res.writeHead(200).end('{"status":"ok"}'));
  const a = await askAgent(notPreflight, { timeoutMs: 5000, maxAgeSeconds: null });
  assert.ok(!a.ok && a.error === 'bad-answer');
  const big = await serve((_req, res) => res.writeHead(200).end(`"${'x'.repeat(20_000)}"`));
  const b = await askAgent(big, { timeoutMs: 5000, maxAgeSeconds: null, maxBodyBytes: 1000 });
  assert.ok(!b.ok && b.error === 'bad-answer' && /larger than 1000 bytes/.test(b.message), JSON.stringify(b));
  const badQuery = await serve((_req, res) =>
    res.writeHead(400).end('{"error":{"code":"invalid-max-age","message":"m"}}'),
  );
  const c = await askAgent(badQuery, { timeoutMs: 5000, maxAgeSeconds: 1 });
  assert.ok(
    !c.ok && c.error === 'unexpected-status' && c.httpStatus === 400 && /invalid-max-age/.test(c.message),
    JSON.stringify(c),
  );
});

test('something that does not speak HTTP is a bad answer', async () => {
  const tcp = createTcpServer((socket) => socket.end('SSH-2.0-OpenSSH_8.0\r\n'));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  closers.push(() => tcp.close());
  const p = parseTarget(`127.0.0.1:${(tcp.address() as AddressInfo).port}`);
  assert.ok(p.ok);
  const a = await askAgent(p.target, { timeoutMs: 5000, maxAgeSeconds: null });
  assert.ok(!a.ok && a.error === 'bad-answer' && /not an HTTP answer/.test(a.message), JSON.stringify(a));
});

test('a body that stops half-way is a lost connection, a stalled one a timeout', async () => {
  const cut = await serve((req, res) => {
    res.writeHead(200, { 'Content-Length': 1000 });
    res.write('{"decision":');
    setImmediate(() => req.socket.destroy());
  });
  const a = await askAgent(cut, { timeoutMs: 5000, maxAgeSeconds: null });
  assert.ok(!a.ok && a.error === 'connection-lost', JSON.stringify(a));
  const stalled = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Length': 1000 });
    res.write('{"decision":');
  });
  const b = await askAgent(stalled, { timeoutMs: 300, maxAgeSeconds: null });
  assert.ok(!b.ok && b.error === 'timeout' && b.httpStatus === null, JSON.stringify(b));
});

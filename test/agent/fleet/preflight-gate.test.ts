// deploy/scheduler/preflight-gate.sh run by dash (POSIX sh, as on a build host) against two
// real agents (accepting; refusing because the real skopeo 1.9.3 is below the minimum) and a
// loopback server for what a real agent cannot be made to do on demand (degraded, hanging,
// answering as something else). With jq and without it (the fallback prints check: code).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { needTools } from '../../support/tools.ts';
import { makeClientCert, makeTestPki } from '../../support/tls.ts';
import { neverSchedule, startRealAgent, type RealAgent } from './real-agent.ts';
import { closedPorts } from './closed-ports.ts';
import { childOutput, type ChildOutput } from '../../support/child-output.ts';

const gate = fileURLToPath(new URL('../../../deploy/scheduler/preflight-gate.sh', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'bfa-gate-'));
let accepting: RealAgent | null = null;
let refusing: RealAgent | null = null;
let fake: Server;
let fakeUrl = '';
let mode: 'degraded' | 'hang' | 'not-found' | 'impostor' = 'degraded';
const fakeRequests: string[] = [];

const checks = (skopeo: string) => `  skopeo: ${skopeo}
  blobinfocache: { enabled: false }
  registries: { enabled: false }
  disk:
    schedule: "${neverSchedule}"
    jitterSeconds: 0
    paths: [ { path: ${scratch}, warnFree: "0%", criticalFree: "0%" } ]
`;

before(async () => {
  fake = createServer((req, res) => {
    fakeRequests.push(req.url ?? '');
    if (mode === 'hang') return;
    if (mode === 'not-found') return void res.writeHead(404).end('{"error":{"code":"not-found","message":"m"}}');
    if (mode === 'impostor')
      return void res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>welcome to nginx</html>');
    res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '60' }).end(
      JSON.stringify({
        decision: 'degraded',
        host: 'fake',
        agentVersion: '0.1.0',
        evaluatedAt: '',
        maintenance: null,
        checks: [],
        reasons: [{ check: 'registry', code: 'registry-unreachable', message: 'harbor: connect ECONNREFUSED' }],
      }),
    );
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  [accepting, refusing] = await Promise.all([
    startRealAgent(scratch, 'gate-accepting', checks('{ enabled: false }')),
    startRealAgent(
      scratch,
      'gate-refusing',
      checks(`{ minVersion: "1.14.0", schedule: "${neverSchedule}", jitterSeconds: 0 }`),
    ),
  ]);
});

after(async () => {
  await Promise.all([accepting?.stop(), refusing?.stop()]);
  fake.closeAllConnections();
  fake.close();
  rmSync(scratch, { recursive: true, force: true });
});

function runGate(args: string[], env: Record<string, string> = {}): Promise<ChildOutput> {
  const child = spawn('dash', [gate, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return childOutput(child, 30_000);
}

test('accept: exit 0 (and silent with --quiet)', async (t) => {
  if (!needTools(t, 'dash', 'curl')) return;
  const url = `http://${accepting!.address}`;
  const r = await runGate(['--url', url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /accept: this host may build/);
  const quiet = await runGate(['--quiet'], { BUILDFLEET_AGENT_URL: url });
  assert.deepEqual([quiet.code, quiet.stderr, quiet.stdout], [0, '', '']);
});

test('refuse: exit 1 with the reasons, with jq and without', async (t) => {
  if (!needTools(t, 'dash', 'curl', 'jq', 'skopeo')) return;
  const url = `http://${refusing!.address}`;
  const r = await runGate(['--url', url, '--max-age', '60']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /refuse: this host must not build now/);
  assert.match(r.stderr, /^ {2}skopeo: skopeo-below-minimum: .*1\.9\.3/m);
  const noJq = await runGate(['--url', url], { BUILDFLEET_GATE_JQ: 'none' });
  assert.equal(noJq.code, 1);
  assert.match(noJq.stderr, /^ {2}skopeo: skopeo-below-minimum$/m);
});

test('degraded: allowed with a warning by default, refused on request; ?max_age is passed on', async (t) => {
  if (!needTools(t, 'dash', 'curl')) return;
  mode = 'degraded';
  const r = await runGate(['--url', fakeUrl]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /WARNING: degraded/);
  assert.match(r.stderr, /registry: registry-unreachable: harbor: connect ECONNREFUSED/);
  const refused = await runGate(['--url', fakeUrl, '--max-age', '30'], { BUILDFLEET_GATE_DEGRADED: 'refuse' });
  assert.equal(refused.code, 3, 'degraded, not refuse');
  assert.match(refused.stderr, /not building \(--degraded refuse\)/);
  assert.equal(fakeRequests.at(-1), '/v1/preflight?max_age=30');
});

test('agent down, hanging, or not an agent: exit 4 (fail-closed), or 0 with a warning (fail-open)', async (t) => {
  if (!needTools(t, 'dash', 'curl')) return;
  const [deadPort] = await closedPorts(1);
  const deadUrl = `http://127.0.0.1:${deadPort}`;

  const down = await runGate(['--url', deadUrl]);
  assert.equal(down.code, 4, down.stderr);
  assert.match(down.stderr, /cannot ask the agent .*not building \(--agent-down fail-closed\)/);
  const open = await runGate(['--url', deadUrl], { BUILDFLEET_GATE_AGENT_DOWN: 'fail-open' });
  assert.equal(open.code, 0);
  assert.match(open.stderr, /WARNING: cannot ask the agent/);

  mode = 'hang';
  const hung = await runGate(['--url', fakeUrl, '--timeout', '1']);
  assert.equal(hung.code, 4);
  assert.match(hung.stderr, /timed out/i);
  mode = 'not-found';
  const notFound = await runGate(['--url', fakeUrl]);
  assert.equal(notFound.code, 4);
  assert.match(notFound.stderr, /HTTP 404/);
  mode = 'impostor';
  const impostor = await runGate(['--url', fakeUrl, '--agent-down', 'fail-open']);
  assert.equal(impostor.code, 0);
  assert.match(impostor.stderr, /WARNING: .*not a buildfleet-agent answer/);
});

test('usage errors exit 2', async (t) => {
  if (!needTools(t, 'dash', 'curl')) return;
  for (const args of [
    ['--timeout', 'soon'],
    ['--degraded', 'maybe'],
    ['--agent-down', 'open'],
    ['--bogus'],
    ['--url'],
  ]) {
    const r = await runGate(args);
    assert.equal(r.code, 2, args.join(' '));
  }
  const help = await runGate(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit codes: 0 build/);
});

// An agent on HTTPS with a test CA that requires client certificates (tls.clientCAFile): the
// gate reaches it only with --cacert and a client certificate; without either it cannot ask (4).
test("https: --cacert trusts the agent's CA, --cert/--key answer its client-certificate demand", async (t) => {
  if (!needTools(t, 'dash', 'curl', 'openssl')) return;
  const dir = join(scratch, 'tls');
  mkdirSync(dir);
  const pki = makeTestPki(dir);
  const client = makeClientCert(dir, 'jenkins');
  const tlsYaml = `tls:\n  certFile: ${pki.certFile}\n  keyFile: ${pki.keyFile}\n  clientCAFile: ${pki.caFile}\n`;
  const agent = await startRealAgent(scratch, 'gate-tls', `${checks('{ enabled: false }')}${tlsYaml}`, {
    https: { ca: pki.caFile, cert: client.certFile, key: client.keyFile },
  });
  try {
    const url = `https://${agent.address}`;
    const untrusted = await runGate(['--url', url]);
    assert.equal(untrusted.code, 4, untrusted.stderr);
    assert.match(untrusted.stderr, /certificate/i);
    const noClientCert = await runGate(['--url', url, '--cacert', pki.caFile]);
    assert.equal(noClientCert.code, 4, noClientCert.stderr);
    const ok = await runGate(['--url', url, '--cert', client.certFile, '--key', client.keyFile], {
      BUILDFLEET_GATE_CACERT: pki.caFile,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /accept: this host may build/);
    assert.equal(
      (await runGate(['--url', url, '--cacert', pki.caFile, '--cert', client.certFile])).code,
      2,
      '--cert without --key',
    );
    assert.equal(
      (await runGate(['--url', url, '--cacert', join(dir, 'no-such.pem')])).code,
      2,
      'an unreadable CA file',
    );
  } finally {
    await agent.stop();
  }
});

// The daemon as a child process (`node agent/bin.ts serve --config FILE`) with the real core on
// 127.0.0.1: SIGHUP with a bad config keeps the last good one, SIGTERM during a check exits 0,
// a restart keeps the last verdict, and concurrent ?max_age requests share one check run.
// The one check that must be slow or hang is skopeo, replaced by a small fake script (hangs
// are what the real skopeo cannot produce on demand); disk runs for real on the scratch dir.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { needTools } from '../support/tools.ts';
import { makeClientCert, makeTestPki, type TestPki, makeSelfSignedCert } from '../support/tls.ts';
import { collectLogLines } from '../support/log-lines.ts';

const bin = fileURLToPath(new URL('../../agent/bin.ts', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'bfa-daemon-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// Response bodies are read as loosely typed JSON; the assertions check their shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const jsonOf = (res: Response): Promise<any> => res.json();

interface FakeSkopeo {
  path: string;
  dir: string;
  invocations(): number[];
  setVersion(v: string): void;
  setMode(mode: 'fast' | 'slow' | 'hang'): void;
}

// A stand-in skopeo: prints the version in ./version; with ./slow it takes a second, with ./hang
// it never answers. Each call appends its pid to ./invocations (with `exec sleep`, that pid is
// the process that has to be killed).
function fakeSkopeo(name: string): FakeSkopeo {
  const dir = join(scratch, name);
  rmSync(dir, { recursive: true, force: true });
  const path = join(dir, 'skopeo');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path,
    `#!/bin/sh
d=$(dirname "$0")
echo $$ >> "$d/invocations"
if [ -f "$d/hang" ]; then exec sleep 120; fi
if [ -f "$d/slow" ]; then sleep 1; fi
echo "skopeo version $(cat "$d/version")"
`,
  );
  chmodSync(path, 0o755);
  writeFileSync(join(dir, 'version'), '1.16.0');
  return {
    path,
    dir,
    invocations: () =>
      existsSync(join(dir, 'invocations'))
        ? readFileSync(join(dir, 'invocations'), 'utf8').trim().split('\n').filter(Boolean).map(Number)
        : [],
    setVersion: (v) => writeFileSync(join(dir, 'version'), v),
    setMode(mode) {
      for (const m of ['slow', 'hang']) rmSync(join(dir, m), { force: true });
      if (mode !== 'fast') writeFileSync(join(dir, mode), '');
    },
  };
}

// Never fires during a test: every run is the start-up run or one the test asks for.
const never = '0 0 1 1 *';

function configYaml(o: {
  stateDir: string;
  skopeo: string;
  extra?: string;
  diskCritical?: string;
  tokenFile?: string;
  minVersion?: string;
}): string {
  return `listen: "127.0.0.1:0"
stateDir: ${o.stateDir}
logLevel: info
${o.tokenFile ? `auth:\n  tokenFile: ${o.tokenFile}\n` : ''}checks:
  skopeo:
    binaries: [${o.skopeo}]${o.minVersion ? `\n    minVersion: "${o.minVersion}"` : ''}
    schedule: "${never}"
    jitterSeconds: 0
    timeoutSeconds: 30
    failuresBeforeCritical: 1
  blobinfocache: { enabled: false }
  registries: { enabled: false }
  disk:
    schedule: "${never}"
    jitterSeconds: 0
    paths:
      - { path: ${scratch}, warnFree: "0%", criticalFree: "${o.diskCritical ?? '0%'}" }${o.extra ?? ''}
`;
}

interface Daemon {
  child: ChildProcess;
  base: string;
  logs: Record<string, unknown>[];
  waitForLog(
    pred: (l: Record<string, unknown>) => boolean,
    what: string,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startDaemon(configFile: string): Promise<Daemon> {
  const child = spawn(process.execPath, [bin, 'serve', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const waiters = new Set<() => void>();
  const logs = collectLogLines(child.stderr, () => {
    for (const w of waiters) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const w of waiters) w();
    });
  });
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, what: string, ms = 15_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const look = () => {
        const hit = logs.find(pred);
        if (hit) {
          clearTimeout(timer);
          waiters.delete(look);
          resolve(hit);
        } else if (child.exitCode !== null) {
          clearTimeout(timer);
          waiters.delete(look);
          reject(new Error(`daemon exited (${child.exitCode}) before: ${what}\n${JSON.stringify(logs, null, 1)}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(look);
        reject(new Error(`no log line: ${what}\n${JSON.stringify(logs, null, 1)}`));
      }, ms);
      waiters.add(look);
      look();
    });
  const started = await waitForLog((l) => l.event === 'daemon-started', 'daemon-started');
  return { child, base: `http://${started.listen as string}`, logs, waitForLog, exited };
}

async function stopDaemon(d: Daemon): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
  return d.exited;
}

// Polls until the preflight shows every check observed (the start-up runs are done).
async function waitForChecks(base: string, names: string[]): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const body = await jsonOf(await fetch(`${base}/v1/preflight`));
    const done = names.every((n) =>
      body.checks.some((c: { name: string; observedAt: string | null }) => c.name === n && c.observedAt !== null),
    );
    if (done) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`checks ${names.join(', ')} never ran`);
}

function metricValue(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

test('SIGHUP with a bad config keeps serving the last good one; a good one applies', async () => {
  const skopeo = fakeSkopeo('hup');
  const configFile = join(scratch, 'hup.yaml');
  const stateDir = join(scratch, 'hup-state');
  writeFileSync(configFile, configYaml({ stateDir, skopeo: skopeo.path }));
  const d = await startDaemon(configFile);
  try {
    const first = await waitForChecks(d.base, ['skopeo', 'disk']);
    assert.equal(first.decision, 'accept');

    writeFileSync(configFile, `${configYaml({ stateDir, skopeo: skopeo.path })}bogusKey: 1\n`);
    d.child.kill('SIGHUP');
    const failed = await d.waitForLog((l) => l.event === 'config-reload-failed', 'config-reload-failed');
    assert.match(JSON.stringify(failed.errors), /bogusKey/);
    const metrics = await (await fetch(`${d.base}/metrics`)).text();
    assert.equal(metricValue(metrics, 'buildfleet_config_reload_success'), 0);
    const health = await jsonOf(await fetch(`${d.base}/healthz`));
    assert.equal(health.configReloadOk, false);
    const still = await fetch(`${d.base}/v1/preflight`);
    assert.equal(still.status, 200, 'the last good config keeps serving');
    assert.deepEqual((await jsonOf(still)).checks.map((c: { name: string }) => c.name).sort(), ['disk', 'skopeo']);

    // A good config with a second disk path: applied, and the metric says so.
    const second = join(scratch, 'hup-state');
    writeFileSync(
      configFile,
      configYaml({
        stateDir,
        skopeo: skopeo.path,
        extra: `\n      - { path: ${second}, warnFree: "0%", criticalFree: "0%" }`,
      }),
    );
    d.child.kill('SIGHUP');
    await d.waitForLog((l) => l.event === 'config-reloaded', 'config-reloaded');
    const after = await (await fetch(`${d.base}/metrics`)).text();
    assert.equal(metricValue(after, 'buildfleet_config_reload_success'), 1);
    const run = await jsonOf(await fetch(`${d.base}/v1/preflight?max_age=0&checks=disk`));
    assert.deepEqual(
      run.checks[0].details.paths.map((p: { path: string }) => p.path),
      [scratch, second],
    );
  } finally {
    const { code } = await stopDaemon(d);
    assert.equal(code, 0);
  }
  // One line per happening, and every line names its event.
  const count = (event: string) => d.logs.filter((l) => l.event === event).length;
  assert.equal(count('config-reload-failed'), 1, JSON.stringify(d.logs));
  assert.equal(count('config-reloaded'), 1, JSON.stringify(d.logs));
  assert.deepEqual(
    d.logs.filter((l) => typeof l.event !== 'string' || typeof l.level !== 'string'),
    [],
  );
});

test('SIGTERM during a check: the check is stopped and the daemon exits 0', async () => {
  const skopeo = fakeSkopeo('term');
  skopeo.setMode('hang');
  const configFile = join(scratch, 'term.yaml');
  writeFileSync(configFile, configYaml({ stateDir: join(scratch, 'term-state'), skopeo: skopeo.path }));
  const d = await startDaemon(configFile);
  // The start-up run of skopeo is now hanging in the fake.
  for (let i = 0; i < 200 && skopeo.invocations().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  const [hung] = skopeo.invocations();
  assert.ok(hung > 0, 'the fake skopeo is running');
  d.child.kill('SIGTERM');
  const { code, signal } = await d.exited;
  assert.equal(signal, null);
  assert.equal(code, 0, JSON.stringify(d.logs));
  assert.ok(d.logs.some((l) => l.event === 'daemon-stopped'));
  // The hung child did not outlive the agent.
  let alive = true;
  for (let i = 0; i < 100 && alive; i++) {
    try {
      process.kill(hung, 0);
      await new Promise((r) => setTimeout(r, 50));
    } catch {
      alive = false;
    }
  }
  assert.equal(alive, false, `fake skopeo ${hung} still running after the agent stopped`);
});

test('a restart keeps the last verdict: a sick host stays refused until its check runs again', async () => {
  const skopeo = fakeSkopeo('restart');
  skopeo.setVersion('1.9.3'); // below the operator's minimum 1.14.0: critical
  const configFile = join(scratch, 'restart.yaml');
  writeFileSync(
    configFile,
    configYaml({ stateDir: join(scratch, 'restart-state'), skopeo: skopeo.path, minVersion: '1.14.0' }),
  );
  const first = await startDaemon(configFile);
  let verdict;
  try {
    verdict = await waitForChecks(first.base, ['skopeo', 'disk']);
    assert.equal(verdict.decision, 'refuse');
    assert.ok(
      (verdict.reasons as { code: string }[]).some((r) => r.code === 'skopeo-below-minimum'),
      JSON.stringify(verdict.reasons),
    );
  } finally {
    assert.equal((await stopDaemon(first)).code, 0);
  }

  // Second life: skopeo hangs, so the only knowledge about it is the persisted verdict.
  skopeo.setMode('hang');
  const second = await startDaemon(configFile);
  try {
    const res = await fetch(`${second.base}/v1/preflight`);
    assert.equal(res.status, 503);
    const body = await jsonOf(res);
    assert.ok(
      body.reasons.some((r: { code: string }) => r.code === 'skopeo-below-minimum'),
      JSON.stringify(body.reasons),
    );
    const before = (verdict.checks as { name: string; observedAt: string }[]).find((c) => c.name === 'skopeo');
    assert.equal(body.checks.find((c: { name: string }) => c.name === 'skopeo').observedAt, before?.observedAt);
  } finally {
    assert.equal((await stopDaemon(second)).code, 0);
  }
});

test('concurrent ?max_age=0 requests share one run of the real check', async (t) => {
  const skopeo = fakeSkopeo('share');
  const configFile = join(scratch, 'share.yaml');
  writeFileSync(configFile, configYaml({ stateDir: join(scratch, 'share-state'), skopeo: skopeo.path }));
  const d = await startDaemon(configFile);
  try {
    await waitForChecks(d.base, ['skopeo', 'disk']);
    const calls = skopeo.invocations().length;
    skopeo.setMode('slow'); // each run takes a second: every request below arrives during it
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => fetch(`${d.base}/v1/preflight?max_age=0&checks=skopeo`)),
    );
    for (const a of answers) assert.equal(a.status, 200);
    const bodies = await Promise.all(answers.map(jsonOf));
    assert.equal(new Set(bodies.map((b) => b.checks[0].observedAt)).size, 1, 'every answer carries the same run');
    assert.equal(skopeo.invocations().length, calls + 1, 'one skopeo run for six requests');
    const metrics = await (await fetch(`${d.base}/metrics`)).text();
    assert.equal(metricValue(metrics, 'buildfleet_check_runs_total{check="skopeo"}'), 2);
    // The live exposition of the real core and checks passes promtool's linter.
    if (needTools(t, 'promtool')) {
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
      assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);
      assert.match(metrics, /^buildfleet_disk_avail_bytes\{path="[^"]+",mountpoint="[^"]+"\} \d+$/m);
      assert.match(metrics, /^buildfleet_skopeo_info\{version="1\.16\.0",blobinfocache_format="sqlite"\} 1$/m);
    }
  } finally {
    assert.equal((await stopDaemon(d)).code, 0);
  }
});

test('a token file readable by others stops the start with a clear error (exit 2)', async () => {
  const skopeo = fakeSkopeo('token');
  const tokenFile = join(scratch, 'api-token');
  writeFileSync(tokenFile, 'secret-token-0123456789\n');
  chmodSync(tokenFile, 0o644);
  const configFile = join(scratch, 'token.yaml');
  writeFileSync(configFile, configYaml({ stateDir: join(scratch, 'token-state'), skopeo: skopeo.path, tokenFile }));
  const child = spawn(process.execPath, [bin, 'serve', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 2);
  assert.match(stderr, /mode 644 lets group or others read or write the token; run: chmod 600/);
  assert.equal(skopeo.invocations().length, 0, 'no check ran');

  // With 0600 the same config serves, and the API takes the token.
  chmodSync(tokenFile, 0o600);
  const d = await startDaemon(configFile);
  try {
    const denied = await fetch(`${d.base}/v1/maintenance`, { method: 'DELETE' });
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const set = await fetch(`${d.base}/v1/maintenance`, {
      method: 'POST',
      headers: { authorization: 'Bearer secret-token-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'test drain', expiresInSeconds: 60 }),
    });
    assert.equal(set.status, 200);
    await set.body?.cancel();
    await waitForChecks(d.base, ['skopeo', 'disk']);
    const pre = await fetch(`${d.base}/v1/preflight`);
    assert.equal(pre.status, 503);
    assert.equal((await jsonOf(pre)).maintenance.reason, 'test drain');
  } finally {
    assert.equal((await stopDaemon(d)).code, 0);
  }
});

test('tls in the config: the daemon serves HTTPS; an unreadable key stops the start (exit 2)', async (t) => {
  if (!needTools(t, 'openssl')) return;
  const skopeo = fakeSkopeo('tls');
  const { key, cert } = makeSelfSignedCert(scratch);
  const configFile = join(scratch, 'tls.yaml');
  const tlsYaml = (keyFile: string) =>
    `${configYaml({ stateDir: join(scratch, 'tls-state'), skopeo: skopeo.path })}tls:\n  certFile: ${cert}\n  keyFile: ${keyFile}\n`;

  writeFileSync(configFile, tlsYaml(join(scratch, 'no-such.key')));
  const child = spawn(process.execPath, [bin, 'serve', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  assert.equal(await new Promise((resolve) => child.on('exit', resolve)), 2);
  assert.match(stderr, /tls: .*no-such\.key/);

  writeFileSync(configFile, tlsYaml(key));
  const d = await startDaemon(configFile);
  try {
    assert.equal(d.logs.find((l) => l.event === 'daemon-started')?.tls, true);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(`https://${new URL(d.base).host}/healthz`, { ca: readFileSync(cert) }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer.status, 200);
    assert.equal(JSON.parse(answer.body).status, 'ok');
  } finally {
    assert.equal((await stopDaemon(d)).code, 0);
  }
});

// GET /healthz over HTTPS with the given trust and client certificate: the status or the error code.
function httpsStatus(base: string, o: { ca: string; cert?: string; key?: string }): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      `https://${new URL(base).host}/healthz`,
      {
        ca: readFileSync(o.ca),
        cert: o.cert ? readFileSync(o.cert) : undefined,
        key: o.key ? readFileSync(o.key) : undefined,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

test('tls.clientCAFile requires client certificates; SIGHUP re-reads renewed certificates and keeps the old ones on a bad pair', async (t) => {
  if (!needTools(t, 'openssl')) return;
  const skopeo = fakeSkopeo('tls-renew');
  const dirs = ['tls-a', 'tls-b', 'tls-live'].map((n) => join(scratch, n));
  for (const dir of dirs) mkdirSync(dir, { recursive: true });
  const [a, b] = [makeTestPki(dirs[0]), makeTestPki(dirs[1])];
  const [clientA, clientB] = [makeClientCert(dirs[0], 'builder'), makeClientCert(dirs[1], 'builder')];
  // The files the config names, as a certificate manager would replace them.
  const live = { cert: join(dirs[2], 'agent.pem'), key: join(dirs[2], 'agent.key'), ca: join(dirs[2], 'clients.pem') };
  const install = (p: TestPki, key = p.keyFile) => {
    copyFileSync(p.certFile, live.cert);
    copyFileSync(key, live.key);
    copyFileSync(p.caFile, live.ca);
  };
  install(a);
  const configFile = join(scratch, 'tls-renew.yaml');
  writeFileSync(
    configFile,
    `${configYaml({ stateDir: join(scratch, 'tls-renew-state'), skopeo: skopeo.path })}tls:\n  certFile: ${live.cert}\n  keyFile: ${live.key}\n  clientCAFile: ${live.ca}\n`,
  );
  const d = await startDaemon(configFile);
  try {
    assert.equal(await httpsStatus(d.base, { ca: a.caFile, cert: clientA.certFile, key: clientA.keyFile }), 200);
    assert.notEqual(await httpsStatus(d.base, { ca: a.caFile }), 200, 'no client certificate, no answer');

    install(b, a.keyFile); // a certificate and a key that do not belong together
    d.child.kill('SIGHUP');
    const failed = await d.waitForLog((l) => l.event === 'config-reload-failed', 'config-reload-failed');
    assert.match(JSON.stringify(failed.errors), /tls: /);
    assert.equal(
      await httpsStatus(d.base, { ca: a.caFile, cert: clientA.certFile, key: clientA.keyFile }),
      200,
      'the old pair serves on',
    );

    install(b);
    d.child.kill('SIGHUP');
    await d.waitForLog((l) => l.event === 'config-reloaded', 'config-reloaded');
    assert.equal(
      await httpsStatus(d.base, { ca: b.caFile, cert: clientB.certFile, key: clientB.keyFile }),
      200,
      'renewed without a restart',
    );
    assert.notEqual(
      await httpsStatus(d.base, { ca: b.caFile, cert: clientA.certFile, key: clientA.keyFile }),
      200,
      'the old client CA is gone',
    );
    assert.equal(d.logs.filter((l) => l.event === 'reload-needs-restart').length, 0);
  } finally {
    assert.equal((await stopDaemon(d)).code, 0);
  }
});

test('a corrupt cache refuses with cache-corrupt within one schedule; with autoQuarantine it is moved aside and the host accepts', async () => {
  const skopeo = fakeSkopeo('auto');
  skopeo.setVersion('1.9.3'); // an old skopeo: the bolt cache is the one in use
  const cacheDir = join(scratch, 'auto-cache');
  mkdirSync(cacheDir, { mode: 0o700 });
  const cacheFile = join(cacheDir, 'blob-info-cache-v1.boltdb');
  writeFileSync(
    cacheFile,
    readFileSync(
      fileURLToPath(new URL('../fixtures/bolt/skopeo-1.9.3-bucket-root-is-freelist.boltdb', import.meta.url)),
    ),
  );
  const stateDir = join(scratch, 'auto-state');
  const configFile = join(scratch, 'auto.yaml');
  const config = (autoQuarantine: boolean) => `listen: "127.0.0.1:0"
stateDir: ${stateDir}
checks:
  skopeo: { binaries: [${skopeo.path}], minVersion: "1.9.0", schedule: "${never}", jitterSeconds: 0 }
  blobinfocache: { dirs: [${cacheDir}], discoverUsers: false, autoQuarantine: ${autoQuarantine}, schedule: "* * * * * *", jitterSeconds: 0 }
  registries: { enabled: false }
  disk: { enabled: false }
`;
  writeFileSync(configFile, config(false));
  const d = await startDaemon(configFile);
  try {
    await waitForChecks(d.base, ['skopeo', 'blobinfocache']);
    let res = await fetch(`${d.base}/v1/preflight`);
    let body = await jsonOf(res);
    assert.equal(res.status, 503);
    assert.ok(
      body.reasons.some(
        (r: { check: string; code: string }) => r.check === 'blobinfocache' && r.code === 'cache-corrupt',
      ),
      JSON.stringify(body.reasons),
    );
    const metrics = await (await fetch(`${d.base}/metrics`)).text();
    assert.equal(
      metricValue(metrics, `buildfleet_blobinfocache_healthy{path="${cacheFile}",format="boltdb"}`),
      0,
      metrics
        .split('\n')
        .filter((l) => l.includes('blobinfocache_healthy'))
        .join('\n'),
    );

    writeFileSync(configFile, config(true));
    d.child.kill('SIGHUP');
    let accepted = false;
    for (let i = 0; i < 100 && !accepted; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await fetch(`${d.base}/v1/preflight`);
      body = await jsonOf(res);
      accepted = res.status === 200;
    }
    assert.ok(accepted, `the host accepts again: ${JSON.stringify(body.reasons)}`);
    assert.equal(existsSync(cacheFile), false, 'the corrupt cache was moved away from its name');
    const moved = readdirSync(cacheDir).filter((f) => /^blob-info-cache-v1\.boltdb\.corrupt-\d{8}T\d{6}Z$/.test(f));
    assert.equal(moved.length, 1, readdirSync(cacheDir).join(','));
    const audit = readFileSync(join(stateDir, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(
      audit.some((a) => a.actor === 'daemon' && a.path === cacheFile),
      JSON.stringify(audit),
    );
    const after = await (await fetch(`${d.base}/metrics`)).text();
    assert.equal(metricValue(after, 'buildfleet_blobinfocache_quarantined_total{format="boltdb"}'), 1);
  } finally {
    assert.deepEqual(await stopDaemon(d), { code: 0, signal: null });
  }
});

// Benchmark (not a test, not in CI): issue 12's soak. The bundled daemon under `ulimit -n 1024`
// (connection cap 512) for --seconds (default 600) while, all at once:
//  - wrk holds the connection cap on /v1/preflight (512 connections, keep-alive);
//  - slow clients: 40 that send headers one line a second, 10 that send a body a byte a
//    second, each reconnecting when the agent cuts it;
//  - 4 clients asking /v1/preflight?max_age=0 back to back (every check runs again);
//  - a verification every 5 s: the bolt cache is replaced by a fresh copy (a new file, so the
//    verdict memory cannot carry the last one) and ?max_age=0&checks=blobinfocache asks for it;
//  - a /healthz probe on a fresh connection every 100 ms, timed.
// Records: /healthz p50/p99/max and failures, RSS (median, max, last) and descriptors (max),
// wrk's requests and errors, verifications done, and whether the daemon stayed up.
// Usage: node bench/resilience-soak.ts [--seconds 600] [--out FILE] [--wrk-threads 2]
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { daemonEnvironment } from '../deploy/daemon-environment.ts';
import { buildBundle, percentile, startAgent, writeAgentFiles } from '../test/resilience/http-daemon.ts';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    out: { type: 'string' },
    'wrk-threads': { type: 'string', default: '2' },
  },
});
const seconds = Number(values.seconds);
const fixture = join(root, 'test/fixtures/bolt/skopeo-1.9.3-healthy.boltdb');

const work = mkdtempSync(join(tmpdir(), 'bfa-res-soak-'));
try {
  const bundle = await buildBundle(work);
  const cacheDir = join(work, 'cache');
  mkdirSync(cacheDir);
  const cacheFile = join(cacheDir, 'blob-info-cache-v1.boltdb');
  copyFileSync(fixture, cacheFile);
  const files = writeAgentFiles(join(work, 'agent'), {
    extra: '',
  });
  // The blob-cache check on (writeAgentFiles turns it off), verifying the scratch cache.
  const config = readFileSync(files.configFile, 'utf8').replace(
    '  blobinfocache: { enabled: false }',
    `  blobinfocache: { dirs: [${cacheDir}], discoverUsers: false, schedule: "*/5 * * * * *", jitterSeconds: 0, fullSchedule: null }`,
  );
  writeFileSync(files.configFile, config);
  Object.assign(process.env, daemonEnvironment);
  const agent = await startAgent(bundle, files.configFile, { nofile: 1024 });
  const deadline = Date.now() + seconds * 1000;
  const running = () => Date.now() < deadline;
  const loadStart = loadavg();

  // wrk at the connection cap.
  const wrk = spawn(
    'wrk',
    ['-t', values['wrk-threads'], '-c', '512', '-d', `${seconds}s`, '--timeout', '10s', `${agent.base}/v1/preflight`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let wrkOut = '';
  wrk.stdout.setEncoding('utf8').on('data', (d: string) => (wrkOut += d));
  wrk.stderr.setEncoding('utf8').on('data', (d: string) => (wrkOut += d));
  const wrkDone = new Promise((r) => wrk.on('exit', r));

  // Slow clients, reconnecting whenever they are cut.
  let slowCuts = 0;
  const slowSockets = new Set<Socket>();
  function slowClient(kind: 'headers' | 'body'): void {
    if (!running()) return;
    const s = connect(agent.port, '127.0.0.1');
    slowSockets.add(s);
    let timer: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      s.write(
        kind === 'headers'
          ? 'GET /healthz HTTP/1.1\r\nHost: x\r\n'
          : 'POST /v1/checks/run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n',
      );
      timer = setInterval(() => s.write(kind === 'headers' ? 'X-Slow: 1\r\n' : ' '), 1000);
    });
    s.on('error', () => undefined);
    s.resume();
    s.on('close', () => {
      clearInterval(timer);
      slowSockets.delete(s);
      slowCuts++;
      setTimeout(() => slowClient(kind), 200);
    });
  }
  for (let i = 0; i < 40; i++) slowClient('headers');
  for (let i = 0; i < 10; i++) slowClient('body');

  // ?max_age=0 back to back.
  let maxAgeRuns = 0;
  const maxAgeErrors: string[] = [];
  const maxAgeLoops = Array.from({ length: 4 }, async () => {
    while (running()) {
      try {
        const res = await fetch(`${agent.base}/v1/preflight?max_age=0`, { signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        maxAgeRuns++;
      } catch (err) {
        maxAgeErrors.push((err as Error).message);
        await sleep(100);
      }
    }
  });

  // A verification every 5 s, of a file the agent has not seen.
  let verifications = 0;
  const verifyErrors: string[] = [];
  const verifyLoop = (async () => {
    let n = 0;
    while (running()) {
      const fresh = join(cacheDir, `.fresh-${n++}`);
      copyFileSync(fixture, fresh);
      renameSync(fresh, cacheFile);
      try {
        const res = await fetch(`${agent.base}/v1/preflight?max_age=0&checks=blobinfocache`, {
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await res.json()) as { checks: { status: string }[] };
        if (body.checks[0]?.status === 'ok') verifications++;
        else verifyErrors.push(JSON.stringify(body.checks[0]).slice(0, 300));
      } catch (err) {
        verifyErrors.push((err as Error).message);
      }
      await sleep(5000);
    }
  })();

  // /healthz every 100 ms on a fresh connection; RSS and descriptors every second.
  const healthMs: number[] = [];
  const connectMs: number[] = [];
  const healthFailures: string[] = [];
  const rssMiB: number[] = [];
  let maxFds = 0;
  let lastSample = 0;
  while (running() && agent.alive()) {
    const t0 = performance.now();
    const probe = await probeHealthz(agent.port);
    if (probe.error) healthFailures.push(probe.error);
    else connectMs.push(probe.connectedMs);
    healthMs.push(performance.now() - t0);
    if (Date.now() - lastSample >= 1000) {
      lastSample = Date.now();
      rssMiB.push(agent.rssMiB());
      maxFds = Math.max(maxFds, readdirSync(`/proc/${agent.process.pid}/fd`).length);
    }
    await sleep(100);
  }
  const alive = agent.alive();
  const loadEnd = loadavg();
  await Promise.all([wrkDone, ...maxAgeLoops, verifyLoop]);
  for (const s of slowSockets) s.destroy();
  const stopped = await agent.stop();

  const sorted = [...healthMs].sort((a, b) => a - b);
  const sortedConnect = [...connectMs].sort((a, b) => a - b);
  const sortedRss = [...rssMiB].sort((a, b) => a - b);
  const wrkLine = (re: RegExp) => re.exec(wrkOut)?.[0].trim() ?? '(not reported)';
  const report = [
    `Bundled daemon (Node ${process.versions.node}) under \`ulimit -n 1024\` (connection cap 512 + 32 reserve), ${seconds} s; load average ${loadStart.map((l) => l.toFixed(1)).join(' ')} at start, ${loadEnd.map((l) => l.toFixed(1)).join(' ')} at the end (2 cores).`,
    '',
    '| measure | value |',
    '|---|---|',
    `| /healthz on a fresh connection every 100 ms: p50 / p99 / max of ${sorted.length} | ${percentile(sorted, 50).toFixed(1)} / ${percentile(sorted, 99).toFixed(1)} / ${sorted.at(-1)?.toFixed(1)} ms |`,
    `| of which TCP connect: p50 / p99 / max | ${percentile(sortedConnect, 50).toFixed(1)} / ${percentile(sortedConnect, 99).toFixed(1)} / ${sortedConnect.at(-1)?.toFixed(1)} ms |`,
    `| /healthz failures | ${healthFailures.length}${healthFailures.length ? ` (${[...new Set(healthFailures)].slice(0, 3).join('; ')})` : ''} |`,
    `| daemon RSS, 1 s samples: median / max / last | ${percentile(sortedRss, 50).toFixed(1)} / ${sortedRss.at(-1)?.toFixed(1)} / ${rssMiB.at(-1)?.toFixed(1)} MiB |`,
    `| descriptors held, max | ${maxFds} |`,
    `| wrk (${values['wrk-threads']} thread(s), 512 connections) on /v1/preflight | ${wrkLine(/\d+ requests in [^\n]+/)}; ${wrkLine(/Requests\/sec:\s+[\d.]+/)} |`,
    `| wrk errors | ${wrkLine(/Socket errors:[^\n]+/)}${/Non-2xx/.test(wrkOut) ? `; ${wrkLine(/Non-2xx[^\n]+/)}` : ''} |`,
    `| slow clients (40 headers, 10 bodies) cut and reconnected | ${slowCuts} |`,
    `| ?max_age=0 answers (4 clients back to back) / errors | ${maxAgeRuns} / ${maxAgeErrors.length} |`,
    `| verifications of a fresh cache every 5 s: ok / failed | ${verifications} / ${verifyErrors.length}${verifyErrors.length ? ` (${verifyErrors.slice(0, 2).join('; ')})` : ''} |`,
    `| daemon alive at the end; exit after SIGTERM | ${alive ? 'yes' : 'NO'}; ${stopped.code ?? stopped.signal} |`,
  ].join('\n');
  process.stdout.write(`${report}\n`);
  if (values.out) writeFileSync(values.out, `${report}\n`);
  if (!alive) process.stderr.write(`daemon log tail:\n${agent.logTail(40)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

// One /healthz on a connection of its own (fetch would reuse its pool's keep-alive sockets,
// which the agent is the first to close over the cap), timing the TCP connect apart from the
// answer, so a wait in the accept queue shows apart from a wait for the event loop.
function probeHealthz(port: number): Promise<{ connectedMs: number; error?: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let connectedMs = -1;
    let answer = '';
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => finish('timed out after 5 s'), 5000);
    function finish(error?: string): void {
      clearTimeout(timer);
      s.destroy();
      resolve({ connectedMs, error });
    }
    s.on('connect', () => {
      connectedMs = performance.now() - t0;
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => (answer += d));
    s.on('error', (err) => finish(err.message));
    s.on('end', () =>
      finish(/^HTTP\/1\.1 200 /.test(answer) ? undefined : `answer ${answer.slice(0, 40) || '(none)'}`),
    );
  });
}

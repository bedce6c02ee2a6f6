// Benchmark (not a test): the agent's HTTP server against a bare node:http server answering the
// same bytes, both under wrk on 127.0.0.1 in one run, for /v1/preflight and /metrics.
// Rounds alternate which server goes first; the table shows medians. Target: the agent serves
// at least 80 % of the bare server's requests per second.
//
// Usage: node bench/http-load.ts [--duration 10] [--rounds 3] [--connections 32] [--write-docs]
//        [--node-args=--optimize-for-size]   (flags to try on the agent's node, space-separated)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RecordedResponse } from './bare-server.ts';
import { daemonEnvironment } from '../deploy/daemon-environment.ts';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    'write-docs': { type: 'boolean', default: false },
    'node-args': { type: 'string', default: '' },
  },
});
const nodeArgs = values['node-args'].split(' ').filter(Boolean);
const duration = Number(values.duration);
const rounds = Number(values.rounds);
const connections = Number(values.connections);

if (spawnSync('wrk', ['--version']).error) {
  process.stderr.write('wrk is not installed (apt-get install wrk)\n');
  process.exit(2);
}

interface Server {
  name: string;
  port: number;
  child: ChildProcess;
}

// Starts a child that prints {"port": N} on its first stdout line.
function startChild(name: string, args: string[], env: Readonly<Record<string, string>> = {}): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ name, port: JSON.parse(out.slice(0, nl)).port, child });
    });
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code} before listening`)));
  });
}

function stop(s: Server): Promise<void> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null) return resolve();
    s.child.on('exit', () => resolve());
    s.child.kill('SIGTERM');
  });
}

async function record(port: number, path: string): Promise<RecordedResponse> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const headers: Record<string, string> = {};
  for (const [k, v] of res.headers) if (!['date', 'connection', 'keep-alive'].includes(k)) headers[k] = v;
  return { path, status: res.status, headers, body: await res.text() };
}

interface WrkResult {
  rps: number;
  cpuUsPerRequest: number; // the server's own CPU time per answered request (user + system)
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

// CPU seconds a process has used (user + system), from /proc: unlike requests per second on a
// shared machine, this does not depend on what else the machine is running.
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks; // utime, stime (fields 14 and 15)
}

function runWrk(url: string, pid: number): WrkResult {
  const cpuBefore = cpuSeconds(pid);
  const r = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${duration}s`, '--latency', url], { encoding: 'utf8' });
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '';
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '';
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  if (!Number.isFinite(rps)) throw new Error(`wrk output not understood:\n${out}${r.stderr}`);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const cpuUsPerRequest = ((cpuSeconds(pid) - cpuBefore) * 1e6) / requests;
  return { rps, cpuUsPerRequest, p50Ms: toMs(p50), p99Ms: toMs(p99), non2xx, errors };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const scratch = mkdtempSync(join(tmpdir(), 'bfa-bench-'));
// A realistic small host: skopeo (the one installed) and disk, on their default schedules. The
// cache and registry checks are off: they need caches and a registry the bench does not set up.
const configFile = join(scratch, 'config.yaml');
writeFileSync(
  configFile,
  `listen: "127.0.0.1:0"
stateDir: ${join(scratch, 'state')}
logLevel: warn
checks:
  skopeo: { minVersion: "1.0.0" }
  blobinfocache: { enabled: false }
  registries: { enabled: false }
  disk:
    paths:
      - { path: ${scratch}, warnFree: "1%", criticalFree: "0%" }
`,
);

const servers: Server[] = [];
try {
  const agents = [
    await startChild('agent', [...nodeArgs, here('./agent-server.ts'), configFile, '1000'], daemonEnvironment),
    await startChild(
      'agent, no /metrics cache',
      [...nodeArgs, here('./agent-server.ts'), configFile, '0'],
      daemonEnvironment,
    ),
  ];
  servers.push(...agents);
  // Wait until every check has run once, so /v1/preflight answers with real results.
  for (let i = 0; i < 300; i++) {
    const body = (await (await fetch(`http://127.0.0.1:${agents[0].port}/v1/preflight`)).json()) as {
      reasons: { code: string }[];
    };
    const body2 = (await (await fetch(`http://127.0.0.1:${agents[1].port}/v1/preflight`)).json()) as {
      reasons: { code: string }[];
    };
    if (![...body.reasons, ...body2.reasons].some((r) => r.code === 'not-yet-checked')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const recording = [await record(agents[0].port, '/v1/preflight'), await record(agents[0].port, '/metrics')];
  const recordingFile = join(scratch, 'recording.json');
  writeFileSync(recordingFile, JSON.stringify(recording));
  const bare = await startChild('bare node:http', [here('./bare-server.ts'), recordingFile]);
  servers.push(bare);

  const endpoints = ['/v1/preflight', '/metrics'];
  const plan: { endpoint: string; server: Server }[] = [
    ...endpoints.flatMap((endpoint) => [
      { endpoint, server: agents[0] },
      { endpoint, server: bare },
    ]),
    { endpoint: '/metrics', server: agents[1] },
  ];
  const results = new Map<string, WrkResult[]>();
  for (let round = 0; round < rounds; round++) {
    // Alternate the order so warm-up and background load do not always favour one side.
    const order = round % 2 === 0 ? plan : [...plan].reverse();
    for (const { endpoint, server } of order) {
      const r = runWrk(`http://127.0.0.1:${server.port}${endpoint}`, server.child.pid as number);
      const key = `${endpoint}|${server.name}`;
      results.set(key, [...(results.get(key) ?? []), r]);
      process.stderr.write(
        `round ${round + 1} ${endpoint} ${server.name}: ${r.rps.toFixed(0)} req/s, ${r.cpuUsPerRequest.toFixed(1)} CPU µs/req, p99 ${r.p99Ms} ms\n`,
      );
    }
  }

  const rows: string[] = [];
  const summary = (key: string) => {
    const rs = results.get(key) ?? [];
    return {
      rps: median(rs.map((r) => r.rps)),
      cpu: median(rs.map((r) => r.cpuUsPerRequest)),
      p50: median(rs.map((r) => r.p50Ms)),
      p99: median(rs.map((r) => r.p99Ms)),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      all: rs.map((r) => r.rps.toFixed(0)).join(' / '),
    };
  };
  let met = true;
  for (const { endpoint, server } of plan) {
    const s = summary(`${endpoint}|${server.name}`);
    const base = summary(`${endpoint}|${bare.name}`);
    const ratio = s.rps / base.rps;
    if (server === agents[0]) met &&= ratio >= 0.8;
    const bytes = recording.find((r) => r.path === endpoint)?.body.length ?? 0;
    const cpuRatio = base.cpu / s.cpu;
    rows.push(
      `| \`${endpoint}\` (${bytes} B) | ${server.name} | ${s.rps.toFixed(0)} | ${s.all} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${server === bare ? '100 %' : `${(ratio * 100).toFixed(0)} %`} | ${s.cpu.toFixed(1)} | ${server === bare ? '100 %' : `${(cpuRatio * 100).toFixed(0)} %`} | ${s.errors} |`,
    );
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const table = [
    '| endpoint (body) | server | req/s (median) | req/s per round | p50 ms | p99 ms | req/s vs bare | server CPU µs/req | CPU efficiency vs bare | socket errors |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
  const setup =
    `wrk -t1 -c${connections} -d${duration}s, ${rounds} rounds (order alternating), medians; ` +
    `Node.js ${process.versions.node}, ${cpus().length} × ${cpu}, all on 127.0.0.1; ` +
    `agent status of /v1/preflight: ${recording[0].status}.`;
  process.stdout.write(
    `${setup}\n\n${table}\n\nTarget (agent ≥ 80 % of bare req/s on both endpoints): ${met ? 'met' : 'NOT met'}\n`,
  );
  if (values['write-docs']) {
    const doc = `# HTTP benchmark: the agent against a bare node:http server

Produced by \`node bench/http-load.ts --write-docs\` (${new Date().toISOString()}). The lead merges this into
\`docs/benchmarks.md\`.

## What is measured
- **agent**: the real daemon (\`agent/daemon.ts\`: config, core, the skopeo and disk checks on their
  schedules, the HTTP server and prom-client metrics), in its own process, with the environment
  it is deployed with (${Object.entries(daemonEnvironment)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}; deploy/daemon-environment.ts).
- **bare node:http**: a server that answers the same paths with the bytes (status, headers, body)
  recorded from the agent just before the run, and does nothing else (\`bench/bare-server.ts\`).
- **agent, no /metrics cache**: the same daemon with the /metrics render cache off, to show what the
  cache buys; every scrape then renders prom-client's registry (reads /proc, walks every series).
- Setup: ${setup}

## Results
${table}

Target — the agent answers at least 80 % of the bare server's requests per second on both
endpoints: **${met ? 'met' : 'not met'}**.

## Reading the figures
- The machine is shared (2 cores, other engineers' builds and tests running); the per-round
  figures show the spread. wrk and the server compete for the same two cores.
- "server CPU µs/req" is the server process's own CPU time (user + system, from /proc) divided by
  the requests it answered. It does not depend on what else the machine runs, so "CPU
  efficiency vs bare" (bare's µs/req divided by the agent's) is the steadier estimate of the
  ratio an idle machine would show.
- \`/v1/preflight\` without \`?max_age\` never runs a check: it evaluates the last results and
  serialises them. An unchanged answer is reused for up to 100 ms, only while every check state
  and the maintenance mode are the very same objects (docs/http-api.md); without that reuse the
  evaluation and JSON serialisation cost about 10 µs more per request (CPU efficiency about 60 %).
- \`/metrics\` renders at most once per second per format (and again at once after any check state,
  config or maintenance change); Prometheus scrapes every 15 s or so, so a real scraper always gets
  a fresh rendering, and a burst of clients costs one rendering.
`;
    writeFileSync(here('../docs/benchmarks-http.md'), doc);
    process.stderr.write('wrote docs/benchmarks-http.md\n');
  }
} finally {
  await Promise.all(servers.map(stop));
  rmSync(scratch, { recursive: true, force: true });
}

// The agent as a host runs it, for the HTTP, config and state attacks: the esbuild bundle
// started as `node BUNDLE serve --config FILE` on 127.0.0.1, optionally under `ulimit -n`,
// with a fake skopeo (so no check waits on the network) and the disk check on a scratch dir.
// Gives what every replay asserts: alive, /healthz answering (and how fast), RSS.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleAgent } from '../../deploy/build-bundle.ts';
import { pollUntil } from '../e2e/support/poll.ts';
import { collectLogLines, type LogLine } from '../support/log-lines.ts';

// One bundle per test file; esbuild takes about a second.
export async function buildBundle(dir: string): Promise<string> {
  const outfile = join(dir, 'buildfleet-agent.mjs');
  const built = await bundleAgent({ outfile });
  if (!built.ok) throw new Error(`bundle: ${built.errors.join('\n')}`);
  return outfile;
}

export const token = 'resilience-token-5d1c0e9a7b3f';

// A scratch directory holding a config, a token file and a fake skopeo that answers at once.
export function writeAgentFiles(
  dir: string,
  o: { stateDir?: string; extra?: string } = {},
): { configFile: string; stateDir: string } {
  mkdirSync(dir, { recursive: true });
  const skopeo = join(dir, 'skopeo');
  writeFileSync(skopeo, '#!/bin/sh\necho "skopeo version 1.16.0"\n');
  chmodSync(skopeo, 0o755);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`);
  chmodSync(tokenFile, 0o600);
  const stateDir = o.stateDir ?? join(dir, 'state');
  const configFile = join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    `listen: "127.0.0.1:0"
stateDir: ${stateDir}
auth: { tokenFile: ${tokenFile} }
checks:
  skopeo: { binaries: [${skopeo}], schedule: "0 0 1 1 *", jitterSeconds: 0 }
  blobinfocache: { enabled: false }
  registries: { enabled: false }
  disk:
    schedule: "0 0 1 1 *"
    jitterSeconds: 0
    paths: [{ path: ${dir}, warnFree: "0%", criticalFree: "0%" }]
${o.extra ?? ''}`,
  );
  return { configFile, stateDir };
}

export interface RunningAgent {
  base: string;
  port: number;
  process: ChildProcess;
  logs: LogLine[];
  stderr: () => string;
  logTail: (n?: number) => string;
  alive: () => boolean;
  rssMiB: () => number;
  openDescriptors: () => number;
  stop: () => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// Starts the bundle; `nofile` runs it under that descriptor limit (via the shell's ulimit, so
// the agent process itself is the one limited). Resolves once it logged daemon-started, or
// with the exit when it stopped before (for start-up refusals, `expectExit`).
export async function startAgent(
  bundle: string,
  configFile: string,
  o: { nofile?: number; expectExit?: boolean } = {},
): Promise<RunningAgent> {
  const command = o.nofile
    ? spawn(
        'sh',
        ['-c', `ulimit -n ${o.nofile} && exec "$0" "$@"`, process.execPath, bundle, 'serve', '--config', configFile],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      )
    : spawn(process.execPath, [bundle, 'serve', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  const logs = collectLogLines(command.stderr);
  let raw = '';
  command.stderr?.on('data', (chunk: string) => (raw += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    command.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const alive = () => command.exitCode === null && command.signalCode === null;
  const logTail = (n = 30) =>
    logs
      .slice(-n)
      .map((l) => JSON.stringify(l))
      .join('\n');
  const stop = async () => {
    if (alive()) {
      command.kill('SIGTERM');
      const killer = setTimeout(() => command.kill('SIGKILL'), 15_000);
      const r = await exited;
      clearTimeout(killer);
      return r;
    }
    return exited;
  };
  const procFile = (name: string) => `/proc/${command.pid}/${name}`;
  const agent: Omit<RunningAgent, 'base' | 'port'> = {
    process: command,
    logs,
    stderr: () => raw,
    logTail,
    alive,
    stop,
    exited,
    rssMiB: () => {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(procFile('status'), 'utf8'));
      return m ? Number(m[1]) / 1024 : NaN;
    },
    openDescriptors: () => readdirSync(procFile('fd')).length, // as the kernel counts them
  };
  const started = await pollUntil(
    'the agent to log daemon-started',
    async () => {
      if (!alive()) return { done: true, value: null };
      const line = logs.find((l) => l.event === 'daemon-started');
      return line ? { done: true, value: line } : { done: false, seen: logTail(5) };
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  );
  if (started === null) {
    await exited;
    if (o.expectExit) return { ...agent, base: '', port: 0 };
    throw new Error(
      `the agent exited (${command.exitCode ?? command.signalCode}) before serving:\n${raw.slice(-3000)}`,
    );
  }
  const listen = String(started.listen);
  return { ...agent, base: `http://${listen}`, port: Number(listen.split(':').pop()) };
}

// Times `count` sequential GET /healthz on fresh connections; returns the sorted times in ms
// and how many did not answer 200.
export async function probeHealthz(base: string, count: number): Promise<{ times: number[]; failures: string[] }> {
  const times: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    try {
      const res = await fetch(`${base}/healthz`, {
        headers: { connection: 'close' },
        signal: AbortSignal.timeout(5000),
      });
      await res.body?.cancel();
      if (res.status !== 200) failures.push(`status ${res.status}`);
    } catch (err) {
      failures.push((err as Error).message);
    }
    times.push(performance.now() - t0);
  }
  return { times: times.sort((a, b) => a - b), failures };
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

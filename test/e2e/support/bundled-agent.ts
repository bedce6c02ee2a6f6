// The agent as a host runs it: the esbuild bundle (deploy/build-bundle.ts) started with this
// Node.js as `node BUNDLE serve --config FILE`, its JSON log lines collected from stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { pollUntil } from './poll.ts';
import { collectLogLines, type LogLine } from '../../support/log-lines.ts';

export interface BundledAgent {
  base: string; // http://127.0.0.1:PORT
  listen: string; // 127.0.0.1:PORT, as the agent logged it
  process: ChildProcess;
  logs: LogLine[];
  logTail: (lines?: number) => string;
  stop: () => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartAgentOptions {
  bundle: string;
  configFile: string;
  startTimeoutMs?: number; // default 15000
}

export async function startBundledAgent(options: StartAgentOptions): Promise<BundledAgent> {
  const child = spawn(process.execPath, [options.bundle, 'serve', '--config', options.configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs = collectLogLines(child.stderr);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  child.on('error', (err) => logs.push({ raw: `spawn failed: ${err.message}` }));
  const logTail = (lines = 40) =>
    logs
      .slice(-lines)
      .map((l) => JSON.stringify(l))
      .join('\n');

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      // The daemon gives running checks up to 10 s on SIGTERM; past that it is stuck.
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const result = await exited;
      clearTimeout(killer);
      return result;
    }
    return exited;
  };

  try {
    // An agent that exits ends the wait at once (the value is then null), with its log.
    const started = await pollUntil(
      'the agent to log daemon-started',
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) return { done: true, value: null };
        const line = logs.find((l) => l.event === 'daemon-started');
        return line ? { done: true, value: line } : { done: false, seen: logTail(5) };
      },
      { timeoutMs: options.startTimeoutMs ?? 15_000, intervalMs: 50 },
    );
    if (started === null)
      throw new Error(`the agent exited (${child.exitCode ?? child.signalCode}) before serving:\n${logTail()}`);
    const listen = String(started.listen);
    return { base: `http://${listen}`, listen, process: child, logs, logTail, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

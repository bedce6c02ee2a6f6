// A real Prometheus (Debian's `prometheus`) on 127.0.0.1 for the end-to-end test: scrapes one
// target every second, evaluates the given rule file every second, keeps its TSDB in a
// temporary directory. Alerts are read the way an operator's tooling would: /api/v1/alerts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../support/registry.ts';
import { pollUntil } from './poll.ts';

export interface PrometheusOptions {
  target: string; // HOST:PORT of the agent
  jobName: string; // the rules select on job="buildfleet-agent"
  ruleFiles: string[];
  startTimeoutMs?: number; // default 20000
}

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  activeAt?: string;
  value?: string;
}

export interface RunningPrometheus {
  url: string;
  process: ChildProcess;
  logs: () => string; // the last 64 KiB of Prometheus' output
  alerts: () => Promise<PrometheusAlert[]>;
  query: (expr: string) => Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop: () => Promise<void>;
}

interface ApiAnswer<T> {
  status: string;
  data: T;
  error?: string;
}

async function apiGet<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = (await res.json()) as ApiAnswer<T>;
  if (body.status !== 'success') throw new Error(`${url}: ${res.status} ${body.error ?? ''}`);
  return body.data;
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'buildfleet-e2e-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: options.ruleFiles,
      scrape_configs: [{ job_name: options.jobName, static_configs: [{ targets: [options.target] }] }],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString('utf8')).slice(-64 * 1024));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => (output += `\nspawn failed: ${err.message}`));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const alerts = async () => (await apiGet<{ alerts: PrometheusAlert[] }>(`${url}/api/v1/alerts`)).alerts;
  const query = async (expr: string) =>
    (
      await apiGet<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}`,
      )
    ).result;

  try {
    // Ready means: serving, the rules loaded, and the target scraped successfully once.
    await pollUntil(
      'Prometheus to scrape the agent',
      async () => {
        if (child.exitCode !== null) return { done: true, value: undefined };
        const targets = await apiGet<{ activeTargets: { health: string; lastError: string }[] }>(
          `${url}/api/v1/targets`,
        );
        const target = targets.activeTargets[0];
        return target?.health === 'up'
          ? { done: true, value: undefined }
          : { done: false, seen: target ?? 'no target yet' };
      },
      { timeoutMs: options.startTimeoutMs ?? 20_000, intervalMs: 100 },
    );
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${output}`);
  } catch (err) {
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nprometheus output:\n${output.slice(-4000)}`, {
      cause: err,
    });
  }
  return { url, process: child, logs: () => output, alerts, query, stop };
}

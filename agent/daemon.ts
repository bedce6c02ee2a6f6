// The daemon's life: load the config, build the core, listen, start the schedules; on SIGHUP
// reload the config and keep the last good one when the new one is bad; on SIGTERM/SIGINT stop
// scheduling, give a running check a bounded time, close the server and return.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { loadConfig, isConfigError, type AgentConfig } from './config.ts';
import { createAgentCore, type RunningAgentCore } from './core.ts';
import {
  createAgentHttpServer,
  tlsContextOptions,
  type AgentHealth,
  type AgentHttpServer,
  type TlsFiles,
} from './http/server.ts';
import { loadBearerToken, type BearerToken } from './http/auth.ts';
import { formatListenAddress, parseListenAddress, type ListenAddress } from '../lib/listen-address.ts';
import { createAgentMetrics, type AgentMetrics } from './metrics.ts';
import type { Logger } from './log.ts';
import { exitCodes } from '../lib/exit-codes.ts';

export interface DaemonOptions {
  configPath: string | null; // null: the default path, built-in defaults when it does not exist
  listen?: string; // --listen: overrides the config's listen address
  log: Logger;
  // How long a stop waits for a running check and open requests before cutting them off.
  stopGraceMs?: number;
  // Scrapes within this window share one rendering of /metrics (see AgentMetricsOptions).
  metricsRenderCacheMs?: number;
}

export type ReloadResult = { ok: true } | { ok: false; errors: string[] };

export interface RunningDaemon {
  address: { host: string; port: number };
  core: RunningAgentCore;
  metrics: AgentMetrics;
  reload(): Promise<ReloadResult>;
  stop(why: string): Promise<void>;
}

// Problems that stop the daemon before it serves: each names the setting and the cause.
export type DaemonStart =
  | { ok: true; daemon: RunningDaemon }
  | { ok: false; errors: string[]; exitCode: typeof exitCodes.refuse | typeof exitCodes.usage };

export const defaultStopGraceMs = 10_000;
// Short enough that nothing a person or Prometheus looks at is visibly stale; every state change
// clears it anyway.
export const defaultMetricsRenderCacheMs = 1000;

interface Secrets {
  token: BearerToken | null;
  tls: TlsFiles | null;
}

// The token and TLS files named by a config, read and checked; errors name the config key.
function loadSecrets(config: AgentConfig): { ok: true; secrets: Secrets } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  let token: BearerToken | null = null;
  if (config.auth.tokenFile !== null) {
    const loaded = loadBearerToken(config.auth.tokenFile);
    if (loaded.ok) token = loaded.token;
    else errors.push(loaded.error);
  }
  let tls: TlsFiles | null = null;
  if (config.tls !== null) {
    const c = config.tls;
    try {
      tls = {
        cert: readFileSync(c.certFile),
        key: readFileSync(c.keyFile),
        ca: c.clientCAFile === null ? null : readFileSync(c.clientCAFile),
      };
      // A key that does not match the certificate, or a file that is not PEM, is refused here
      // (exit 2 at start, the old files kept on SIGHUP) instead of failing every handshake.
      createSecureContext(tlsContextOptions(tls));
    } catch (err) {
      tls = null;
      errors.push(`tls: ${(err as Error).message}`);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, secrets: { token, tls } };
}

export async function startDaemon(opts: DaemonOptions): Promise<DaemonStart> {
  const { log } = opts;
  const loaded = loadConfig(opts.configPath);
  if (isConfigError(loaded)) return { ok: false, errors: loaded.errors, exitCode: exitCodes.usage };
  const config = loaded.config;
  log.level = config.logLevel;
  const listen = listenAddress(config, opts);
  if (!listen.ok) return { ok: false, errors: [listen.error], exitCode: exitCodes.usage };
  const secrets = loadSecrets(config);
  if (!secrets.ok) return { ok: false, errors: secrets.errors, exitCode: exitCodes.usage };

  const created = await createAgentCore(config, { log });
  if ('errors' in created) return { ok: false, errors: created.errors, exitCode: exitCodes.usage };
  const core = created.core;
  const metrics = createAgentMetrics(core, { renderCacheMs: opts.metricsRenderCacheMs ?? defaultMetricsRenderCacheMs });
  metrics.recordConfigLoad(true, new Date());
  core.onState((state) => metrics.observeState(state));

  const lifecycle: { state: AgentHealth['state'] } = { state: 'starting' };
  const http: AgentHttpServer = createAgentHttpServer({
    core,
    metrics,
    token: secrets.secrets.token,
    tls: secrets.secrets.tls,
    log,
    health: () => ({ state: lifecycle.state, problems: core.healthProblems() }),
  });
  // Listen before the first check runs: a port already taken fails the start at once.
  const listening = await http.listen(listen.address);
  if (!listening.ok) {
    await core.stop();
    return { ok: false, errors: [listening.error], exitCode: exitCodes.refuse };
  }
  core.start();
  lifecycle.state = 'running';
  log.info(
    {
      event: 'daemon-started',
      listen: formatListenAddress({ host: listen.address.host, port: listening.port }),
      tls: secrets.secrets.tls !== null,
      api: secrets.secrets.token !== null,
      checks: core.checkNames(),
      config: opts.configPath ?? '(default)',
    },
    'buildfleet-agent serving',
  );
  const parts: DaemonParts = {
    opts,
    log,
    core,
    metrics,
    http,
    config,
    lifecycle,
    reloading: Promise.resolve({ ok: true }),
    stopping: null,
  };
  return { ok: true, daemon: runningDaemon(parts, { host: listening.host, port: listening.port }) };
}

// The config's listen address, or --listen's.
function listenAddress(
  config: AgentConfig,
  opts: DaemonOptions,
): { ok: true; address: ListenAddress } | { ok: false; error: string } {
  if (opts.listen === undefined) return { ok: true, address: config.listen };
  const parsed = parseListenAddress(opts.listen);
  return parsed.ok ? { ok: true, address: parsed.address } : { ok: false, error: `--listen: ${parsed.error}` };
}

// What a serving daemon holds; reload and stop work on it.
interface DaemonParts {
  opts: DaemonOptions;
  log: Logger;
  core: RunningAgentCore;
  metrics: AgentMetrics;
  http: AgentHttpServer;
  config: AgentConfig; // the last config applied
  lifecycle: { state: AgentHealth['state'] };
  // The last of the reloads, which run one after another, and the stop once asked for.
  reloading: Promise<ReloadResult>;
  stopping: Promise<void> | null;
}

function runningDaemon(p: DaemonParts, address: { host: string; port: number }): RunningDaemon {
  return {
    address,
    core: p.core,
    metrics: p.metrics,
    reload() {
      if (p.stopping) {
        p.log.warn({ event: 'config-reload-skipped', why: 'stopping' }, 'not reloading: the agent is stopping');
        return Promise.resolve({ ok: false, errors: ['the agent is stopping'] });
      }
      // One reload at a time: two quick SIGHUPs apply in order, never interleaved.
      const safeReload = () => reloadSafely(p);
      p.reloading = p.reloading.then(safeReload, safeReload);
      return p.reloading;
    },
    stop(why) {
      p.stopping ??= stopDaemon(p, why);
      return p.stopping;
    },
  };
}

// Stops scheduling, gives a running check and open requests stopGraceMs, closes the server.
async function stopDaemon(p: DaemonParts, why: string): Promise<void> {
  const { log } = p;
  const stopGraceMs = p.opts.stopGraceMs ?? defaultStopGraceMs;
  p.lifecycle.state = 'stopping';
  log.info({ event: 'daemon-stopping', why, graceMs: stopGraceMs }, 'stopping');
  const outOfTime = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), stopGraceMs).unref());
  // A reload in progress finishes first, so the core is not rebuilt while it stops.
  await Promise.race([p.reloading, outOfTime]);
  const coreStopped = p.core.stop().then(() => 'stopped' as const);
  const [coreOutcome] = await Promise.all([Promise.race([coreStopped, outOfTime]), p.http.close(stopGraceMs)]);
  if (coreOutcome === 'timeout')
    log.warn({ event: 'daemon-stop-timeout', graceMs: stopGraceMs }, 'checks did not stop in time; leaving them');
  log.info({ event: 'daemon-stopped', why }, 'stopped');
}

// A reload that throws (a bug, not a bad config) must not take the serving daemon down.
async function reloadSafely(p: DaemonParts): Promise<ReloadResult> {
  try {
    return await reloadDaemon(p);
  } catch (err) {
    return reloadRefused(p, [`reload failed: ${(err as Error).message}`]);
  }
}

function reloadRefused(p: DaemonParts, errors: string[]): ReloadResult {
  p.core.reloadFailed(errors);
  p.metrics.recordConfigLoad(false, new Date());
  return { ok: false, errors };
}

// SIGHUP: the config file and the secrets it names are read again and applied, or refused
// whole with the last good config kept.
async function reloadDaemon(p: DaemonParts): Promise<ReloadResult> {
  const next = loadConfig(p.opts.configPath);
  if (isConfigError(next)) return reloadRefused(p, next.errors);
  const nextSecrets = loadSecrets(next.config);
  if (!nextSecrets.ok) return reloadRefused(p, nextSecrets.errors);
  const applied = await p.core.reload(next.config);
  if (!applied.ok) {
    p.metrics.recordConfigLoad(false, new Date());
    return applied;
  }
  // The socket stays as it is: rebinding would drop every scraper's connection for a setting
  // that rarely changes. Say so instead of silently ignoring it.
  if (p.opts.listen === undefined && formatListenAddress(next.config.listen) !== formatListenAddress(p.config.listen)) {
    p.log.warn(
      { event: 'reload-needs-restart', key: 'listen' },
      'the new listen address takes effect at the next restart',
    );
  }
  applyTls(p, nextSecrets.secrets.tls);
  p.http.setToken(nextSecrets.secrets.token);
  p.config = next.config;
  p.metrics.recordConfigLoad(true, new Date());
  return { ok: true };
}

// Certificates are read again on every reload (a renewed certificate keeps its path); turning
// TLS or client certificates on or off needs a new server, so a restart.
function applyTls(p: DaemonParts, nextTls: TlsFiles | null): void {
  const restart = (why: string) =>
    p.log.warn(
      { event: 'reload-needs-restart', key: 'tls', why },
      'the new TLS settings take effect at the next restart',
    );
  if (nextTls !== null) {
    const applied = p.http.setTls(nextTls);
    if (!applied.ok) restart(applied.error);
  } else if (p.config.tls !== null) {
    restart('TLS removed');
  }
}

// Wires the process signals to a running daemon. Resolves with the exit code once the daemon
// has stopped: 0 after a clean stop; a second SIGTERM/SIGINT while stopping exits at once with 1.
export function runUntilSignalled(daemon: RunningDaemon, log: Logger): Promise<number> {
  return new Promise((resolve) => {
    const onHup = (): void => {
      // The core logs the outcome (config-reloaded or config-reload-failed), once per reload.
      void daemon.reload();
    };
    let stopRequested = false;
    const onStop = (signal: NodeJS.Signals): void => {
      if (stopRequested) {
        log.warn({ event: 'second-signal', signal }, 'second stop signal: exiting now');
        process.exit(1);
      }
      stopRequested = true;
      void daemon.stop(signal).then(() => {
        process.off('SIGHUP', onHup);
        process.off('SIGTERM', onStop);
        process.off('SIGINT', onStop);
        resolve(0);
      });
    };
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
  });
}

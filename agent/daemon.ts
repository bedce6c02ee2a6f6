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
import { formatListenAddress, parseListenAddress, type ListenAddress } from './http/listen-address.ts';
import { createAgentMetrics, type AgentMetrics } from './metrics.ts';
import type { Logger } from './log.ts';

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
export type DaemonStart = { ok: true; daemon: RunningDaemon } | { ok: false; errors: string[]; exitCode: 1 | 2 };

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
  const stopGraceMs = opts.stopGraceMs ?? defaultStopGraceMs;
  const loaded = loadConfig(opts.configPath);
  if (isConfigError(loaded)) return { ok: false, errors: loaded.errors, exitCode: 2 };
  let config = loaded.config;
  log.level = config.logLevel;

  let listen: ListenAddress = config.listen;
  if (opts.listen !== undefined) {
    const parsed = parseListenAddress(opts.listen);
    if (!parsed.ok) return { ok: false, errors: [`--listen: ${parsed.error}`], exitCode: 2 };
    listen = parsed.address;
  }
  const secrets = loadSecrets(config);
  if (!secrets.ok) return { ok: false, errors: secrets.errors, exitCode: 2 };

  const created = await createAgentCore(config, { log });
  if ('errors' in created) return { ok: false, errors: created.errors, exitCode: 2 };
  const core = created.core;

  const metrics = createAgentMetrics(core, { renderCacheMs: opts.metricsRenderCacheMs ?? defaultMetricsRenderCacheMs });
  metrics.recordConfigLoad(true, new Date());
  core.onState((state) => metrics.observeState(state));

  let lifecycle: AgentHealth['state'] = 'starting';
  const http: AgentHttpServer = createAgentHttpServer({
    core,
    metrics,
    token: secrets.secrets.token,
    tls: secrets.secrets.tls,
    log,
    health: () => ({ state: lifecycle, problems: core.healthProblems() }),
  });
  // Listen before the first check runs: a port already taken fails the start at once.
  const listening = await http.listen(listen);
  if (!listening.ok) {
    await core.stop();
    return { ok: false, errors: [listening.error], exitCode: 1 };
  }
  core.start();
  lifecycle = 'running';
  log.info(
    {
      event: 'daemon-started',
      listen: formatListenAddress({ host: listen.host, port: listening.port }),
      tls: secrets.secrets.tls !== null,
      api: secrets.secrets.token !== null,
      checks: core.checkNames(),
      config: opts.configPath ?? '(default)',
    },
    'buildfleet-agent serving',
  );

  let reloading: Promise<ReloadResult> = Promise.resolve({ ok: true });
  let stopping: Promise<void> | null = null;

  async function reloadOnce(): Promise<ReloadResult> {
    const fail = (errors: string[]): ReloadResult => {
      core.reloadFailed(errors);
      metrics.recordConfigLoad(false, new Date());
      return { ok: false, errors };
    };
    const next = loadConfig(opts.configPath);
    if (isConfigError(next)) return fail(next.errors);
    const nextSecrets = loadSecrets(next.config);
    if (!nextSecrets.ok) return fail(nextSecrets.errors);
    const applied = await core.reload(next.config);
    if (!applied.ok) {
      metrics.recordConfigLoad(false, new Date());
      return applied;
    }
    // The socket stays as it is: rebinding would drop every scraper's connection for a setting
    // that rarely changes. Say so instead of silently ignoring it.
    if (opts.listen === undefined && formatListenAddress(next.config.listen) !== formatListenAddress(config.listen)) {
      log.warn(
        { event: 'reload-needs-restart', key: 'listen' },
        'the new listen address takes effect at the next restart',
      );
    }
    // Certificates are read again on every reload (a renewed certificate keeps its path);
    // turning TLS or client certificates on or off needs a new server, so a restart.
    const nextTls = nextSecrets.secrets.tls;
    if (nextTls !== null) {
      const applied = http.setTls(nextTls);
      if (!applied.ok)
        log.warn(
          { event: 'reload-needs-restart', key: 'tls', why: applied.error },
          'the new TLS settings take effect at the next restart',
        );
    } else if (config.tls !== null) {
      log.warn(
        { event: 'reload-needs-restart', key: 'tls', why: 'TLS removed' },
        'the new TLS settings take effect at the next restart',
      );
    }
    http.setToken(nextSecrets.secrets.token);
    config = next.config;
    metrics.recordConfigLoad(true, new Date());
    return { ok: true };
  }

  // A reload that throws (a bug, not a bad config) must not take the serving daemon down.
  async function safeReload(): Promise<ReloadResult> {
    try {
      return await reloadOnce();
    } catch (err) {
      const errors = [`reload failed: ${(err as Error).message}`];
      core.reloadFailed(errors);
      metrics.recordConfigLoad(false, new Date());
      return { ok: false, errors };
    }
  }

  const daemon: RunningDaemon = {
    address: { host: listening.host, port: listening.port },
    core,
    metrics,
    reload() {
      if (stopping) {
        log.warn({ event: 'config-reload-skipped', why: 'stopping' }, 'not reloading: the agent is stopping');
        return Promise.resolve({ ok: false, errors: ['the agent is stopping'] });
      }
      // One reload at a time: two quick SIGHUPs apply in order, never interleaved.
      reloading = reloading.then(safeReload, safeReload);
      return reloading;
    },
    stop(why) {
      if (stopping) return stopping;
      lifecycle = 'stopping';
      log.info({ event: 'daemon-stopping', why, graceMs: stopGraceMs }, 'stopping');
      stopping = (async () => {
        const outOfTime = new Promise<'timeout'>((resolve) =>
          setTimeout(() => resolve('timeout'), stopGraceMs).unref(),
        );
        // A reload in progress finishes first, so the core is not rebuilt while it stops.
        await Promise.race([reloading, outOfTime]);
        const coreStopped = core.stop().then(() => 'stopped' as const);
        const [coreOutcome] = await Promise.all([Promise.race([coreStopped, outOfTime]), http.close(stopGraceMs)]);
        if (coreOutcome === 'timeout')
          log.warn({ event: 'daemon-stop-timeout', graceMs: stopGraceMs }, 'checks did not stop in time; leaving them');
        log.info({ event: 'daemon-stopped', why }, 'stopped');
      })();
      return stopping;
    },
  };
  return { ok: true, daemon };
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

import { createLogger, journalStreamIsStderr } from '../log.ts';
import { runUntilSignalled, startDaemon } from '../daemon.ts';
import { startHeapTrim } from '../heap-trim.ts';
import { parseVerbArgs } from './usage-error.ts';

export const help = `Usage: buildfleet-agent serve [--config FILE] [--listen ADDR]

Runs the agent: schedules every check and serves HTTP (/v1/preflight, /metrics, /healthz, /,
and the token-protected POST endpoints). Logs are JSON lines on stderr.

Options:
  --config FILE   config file (default /etc/buildfleet-agent/config.yaml; built-in defaults
                  when that file does not exist; a FILE given here must exist)
  --listen ADDR   listen address, overriding the config: ":20580", "127.0.0.1:20580", "[::1]:0"

Signals: SIGHUP reloads the config (a bad one is refused and the last good one stays in use);
SIGTERM or SIGINT stop gracefully (a running check gets a bounded time to finish).
Exit codes: 0 clean stop, 1 could not serve (e.g. the port is taken), 2 config or usage error.`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseVerbArgs('serve', { args, options: { config: { type: 'string' }, listen: { type: 'string' } } });
  if (typeof parsed === 'number') return parsed;
  const log = createLogger({ level: 'info' });
  // The checks start inside startDaemon, before the stop handlers are wired: a SIGTERM in that
  // window would take the default action and kill the agent with a check's child still running.
  // Remember it and deliver it again once the handlers are in place (a SIGHUP then is moot: the
  // config is being read anyway).
  let early: NodeJS.Signals | null = null;
  const remember = (signal: NodeJS.Signals): void => {
    if (signal !== 'SIGHUP') early ??= signal;
  };
  const startupSignals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  for (const s of startupSignals) process.on(s, remember);
  const started = await startDaemon({ configPath: parsed.values.config ?? null, listen: parsed.values.listen, log });
  if (!started.ok) {
    for (const s of startupSignals) process.off(s, remember);
    log.fatal({ event: 'daemon-start-failed', errors: started.errors }, 'cannot start');
    // The same errors as plain lines for a person at a terminal; in the journal they would be
    // second copies without a priority (the fatal line above already holds them).
    if (!journalStreamIsStderr()) for (const e of started.errors) process.stderr.write(`serve: ${e}\n`);
    return started.exitCode;
  }
  const heapTrim = startHeapTrim();
  const stopped = runUntilSignalled(started.daemon, log);
  for (const s of startupSignals) process.off(s, remember);
  if (early) process.kill(process.pid, early);
  const code = await stopped;
  heapTrim.stop();
  // Whatever a library left behind (a timer, a socket a check forgot) must not keep a stopped
  // agent alive; the state file is already written and the log is synchronous.
  setTimeout(() => process.exit(code), 2000).unref();
  return code;
}

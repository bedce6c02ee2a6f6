// Structured logs: one JSON object per line on stderr. journald (and any log shipper) stores
// stderr lines as they come; level names instead of pino's numbers and ISO times make a line
// readable with `journalctl -o cat` and queryable with jq. No colours, no pretty printer.
import { pino } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export type Logger = pino.Logger;

export interface LoggerOptions {
  level: LogLevel;
  // Where lines go; stderr by default. Tests hand in a stream to read them back.
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  // Synchronous writes: a daemon that is stopped (or crashes) right after logging must not lose
  // the line that says why. Log volume is a few lines a minute, so the cost does not matter.
  const destination = opts.destination ?? pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level: opts.level,
      // journald already records host and pid; repeating them is noise.
      base: { name: 'buildfleet-agent' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

// For code paths (tests, one-shot CLI verbs) that want no log output at all.
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

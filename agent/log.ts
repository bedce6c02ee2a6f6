// Structured logs: one JSON object per line on stderr. journald (and any log shipper) stores
// stderr lines as they come; level names and ISO times make a line readable with
// `journalctl -o cat` and queryable with jq. No colours, no pretty printer.
//
// Hand-written rather than pino: the agent logs a few lines a minute, and pino's code cost the
// daemon ~12 MB of resident memory (measured, docs/benchmarks.md) against an 80 MB budget. The
// call shape is pino's (`log.info({ key }, 'message')`, `child`, a settable `level`), so it
// reads the same to anyone who knows pino.
import { writeSync } from 'node:fs';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const severity: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

type LogMethod = (objOrMessage?: object | string, message?: string) => void;

export interface Logger {
  level: LogLevel;
  fatal: LogMethod;
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
  trace: LogMethod;
  child: (bindings: Record<string, unknown>) => Logger;
}

// Where lines go: anything with a write(line) method. Tests hand in one to read lines back.
export interface LogDestination {
  write: (line: string) => unknown;
}

export interface LoggerOptions {
  level: LogLevel;
  destination?: LogDestination;
}

// Synchronous writes: a daemon that is stopped (or crashes) right after logging must not lose
// the line that says why.
const stderrDestination: LogDestination = {
  write: (line) => {
    try {
      writeSync(2, line);
    } catch {
      // stderr gone (EPIPE, EAGAIN): nothing better to do with a log line
    }
  },
};

// Errors become {type, message, stack, code}: JSON.stringify would drop all of them.
function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    return { type: value.name, message: value.message, stack: value.stack, ...(code ? { code } : {}) };
  }
  return value;
}

function makeLogger(state: { level: LogLevel }, bindings: Record<string, unknown>, destination: LogDestination): Logger {
  const emit = (level: LogLevel): LogMethod => (objOrMessage, message) => {
    if (severity[level] < severity[state.level]) return;
    const fields = typeof objOrMessage === 'object' && objOrMessage !== null ? objOrMessage : {};
    const msg = typeof objOrMessage === 'string' ? objOrMessage : message;
    const record: Record<string, unknown> = { level, time: new Date().toISOString(), name: 'buildfleet-agent', ...bindings };
    for (const [k, v] of Object.entries(fields as Record<string, unknown>)) record[k] = serialise(v);
    if (msg !== undefined) record.msg = msg;
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ level, time: record.time, name: 'buildfleet-agent', msg, logError: 'fields not serialisable' });
    }
    destination.write(`${line}\n`);
  };
  return {
    get level() { return state.level; },
    set level(next: LogLevel) { state.level = next; },
    fatal: emit('fatal'),
    error: emit('error'),
    warn: emit('warn'),
    info: emit('info'),
    debug: emit('debug'),
    trace: emit('trace'),
    // A child shares its parent's level: setting the level on the root changes them all.
    child: (more) => makeLogger(state, { ...bindings, ...more }, destination),
  };
}

export function createLogger(opts: LoggerOptions): Logger {
  return makeLogger({ level: opts.level }, {}, opts.destination ?? stderrDestination);
}

// For code paths (tests, one-shot CLI verbs) that want no log output at all.
export function silentLogger(): Logger {
  return createLogger({ level: 'silent' });
}

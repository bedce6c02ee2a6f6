// Structured logs: one JSON object per line on stderr, each with a `level` and an `event` (a
// stable kebab-case name of what happened, for queries and alerts; the message is for people).
// Under systemd, stderr is a journal stream: each line then starts with the sd-daemon priority
// prefix (`<3>` for an error), which journald strips and stores as the entry's PRIORITY, so
// `journalctl -p err -u buildfleet-agent` finds the agent's errors. Elsewhere (a terminal, a
// file, a log shipper) the line is plain JSON and `level` says the same thing.
//
// Hand-written rather than pino: the agent logs a few lines a minute, and pino's code cost the
// daemon ~5 MB of resident memory (measured when it was replaced, commit 79b09c1; README.md,
// "No logging library") against an 80 MB budget. The
// call shape is pino's (`log.info({ event, key }, 'message')`, `child`, a settable `level`), so
// it reads the same to anyone who knows pino.
import { fstatSync, writeSync } from 'node:fs';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const severity: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};

// syslog(3) priorities, as journald reads them from the `<N>` prefix: crit, err, warning, info, debug.
export const syslogPriority: Record<Exclude<LogLevel, 'silent'>, number> = {
  fatal: 2,
  error: 3,
  warn: 4,
  info: 6,
  debug: 7,
  trace: 7,
};

// Every line names what happened: the type makes a call without an `event` a compile error.
export type LogFields = { event: string } & Record<string, unknown>;

type LogMethod = (fields: LogFields, message?: string) => void;

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
  // Prefix each line with `<N>`. Default: whether stderr is the journal (journalStreamIsStderr).
  journal?: boolean;
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

// systemd sets JOURNAL_STREAM=DEV:INODE when it connects stdout/stderr to the journal. The
// variable is inherited by children whose stderr may be something else (a pipe, a file), so it
// counts only when it names the very file stderr is (sd_journal_stream_fd(3), systemd.exec(5)).
export function journalStreamMatches(
  journalStream: string | undefined,
  stderr: { dev: bigint; ino: bigint } | null,
): boolean {
  if (!journalStream || !stderr) return false;
  const m = /^(\d+):(\d+)$/.exec(journalStream.trim());
  if (!m) return false;
  return BigInt(m[1]) === stderr.dev && BigInt(m[2]) === stderr.ino;
}

export function journalStreamIsStderr(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!env.JOURNAL_STREAM) return false;
  let stat: { dev: bigint; ino: bigint } | null = null;
  try {
    stat = fstatSync(2, { bigint: true });
  } catch {
    // no stderr at all: not the journal
  }
  return journalStreamMatches(env.JOURNAL_STREAM, stat);
}

// Errors become {type, message, stack, code}: JSON.stringify would drop all of them.
function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    return { type: value.name, message: value.message, stack: value.stack, ...(code ? { code } : {}) };
  }
  return value;
}

interface Sink {
  destination: LogDestination;
  journal: boolean;
}

function makeLogger(state: { level: LogLevel }, bindings: Record<string, unknown>, sink: Sink): Logger {
  const emit =
    (level: Exclude<LogLevel, 'silent'>): LogMethod =>
    (fields, msg) => {
      if (severity[level] < severity[state.level]) return;
      const record: Record<string, unknown> = {
        level,
        time: new Date().toISOString(),
        name: 'buildfleet-agent',
        ...bindings,
      };
      for (const [k, v] of Object.entries(fields)) record[k] = serialise(v);
      if (msg !== undefined) record.msg = msg;
      let line: string;
      try {
        line = JSON.stringify(record);
      } catch {
        line = JSON.stringify({
          level,
          time: record.time,
          name: 'buildfleet-agent',
          event: fields.event,
          msg,
          logError: 'fields not serialisable',
        });
      }
      // One write per line: the journal reads the prefix only at the start of a line.
      sink.destination.write(`${sink.journal ? `<${syslogPriority[level]}>` : ''}${line}\n`);
    };
  return {
    get level() {
      return state.level;
    },
    set level(next: LogLevel) {
      state.level = next;
    },
    fatal: emit('fatal'),
    error: emit('error'),
    warn: emit('warn'),
    info: emit('info'),
    debug: emit('debug'),
    trace: emit('trace'),
    // A child shares its parent's level: setting the level on the root changes them all.
    child: (more) => makeLogger(state, { ...bindings, ...more }, sink),
  };
}

export function createLogger(opts: LoggerOptions): Logger {
  const destination = opts.destination ?? stderrDestination;
  const journal = opts.journal ?? (opts.destination === undefined && journalStreamIsStderr());
  return makeLogger({ level: opts.level }, {}, { destination, journal });
}

// For code paths (tests, one-shot CLI verbs) that want no log output at all.
export function silentLogger(): Logger {
  return createLogger({ level: 'silent', journal: false });
}

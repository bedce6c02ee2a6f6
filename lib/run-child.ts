// The one way the agent runs a child process (skopeo --version, the statfs helper, the cache
// verifier): bounded in time, output and descriptors, and never able to crash the daemon.
//
// - A spawn that fails (EMFILE or ENFILE with every descriptor taken, EAGAIN, ENOMEM, ENOENT,
//   EACCES) is an outcome, never a throw and never an unhandled 'error' event: Node reports
//   EMFILE by returning a child without pipes and emitting 'error' a tick later, so the
//   listener goes on before anything else touches the child.
// - The child leads its own process group (a new session), and every signal goes to the whole
//   group: a shell script that is "skopeo" cannot leave its `sleep` behind as an orphan.
// - One kill policy: at the deadline, or when the caller's signal aborts, SIGTERM to the group,
//   SIGKILL termGraceMs later; the answer comes when the child is gone, and at the latest
//   reapGraceMs after the SIGKILL, even if something (a process stuck in the kernel on a dead
//   NFS mount) still holds the pipes: then it is abandoned, its pipes closed. The deadline
//   fires termGraceMs early, so a run answers within timeoutMs + reapGraceMs.
// - When the child exits, what is left of its group is SIGKILLed.
// - stdout is kept up to maxStdoutBytes (past it the group is stopped: the outcome is
//   'output-overflow'); stderr keeps its last maxStderrBytes, for the message.
// - A daemon that exits kills the groups still running.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

export interface ChildRunOptions {
  file: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv; // default: empty (nothing of the daemon's, such as NODE_OPTIONS)
  passFds?: readonly number[]; // the caller's descriptors, as the child's fd 3, 4, ...
  // Run with these ids instead of the agent's (e.g. a cache owner's rights).
  uid?: number;
  gid?: number;
  timeoutMs?: number; // absent: only `signal` ends a child that does not exit
  signal?: AbortSignal; // the caller's deadline or shutdown: stops the child like the timeout
  maxStdoutBytes: number;
  maxStderrBytes?: number; // default 4096
  termGraceMs?: number; // SIGTERM to SIGKILL; default 500 (at most half the timeout)
  reapGraceMs?: number; // SIGKILL to giving up on the child; default 100
}

interface Collected {
  stdout: Buffer;
  stderr: string; // its last maxStderrBytes, UTF-8
  durationMs: number;
}

export type ChildOutcome =
  | ({ kind: 'exited'; code: number } & Collected)
  // Died of a signal the runner did not send (a crash, the OOM killer, an operator).
  | ({ kind: 'signalled'; signal: NodeJS.Signals } & Collected)
  | ({ kind: 'timed-out' } & Collected)
  | ({ kind: 'aborted' } & Collected)
  | ({ kind: 'output-overflow' } & Collected)
  | { kind: 'spawn-failed'; errno: string | undefined; message: string; durationMs: number };

const defaultTermGraceMs = 500;
const defaultReapGraceMs = 100;
const defaultMaxStderrBytes = 4096;
const maxTimerMs = 2 ** 31 - 1;

// Process groups still running, killed if the agent exits before they are done.
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the whole group is gone already.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of liveGroups) signalGroup(pid, 'SIGKILL');
  });
}

export function runChild(opts: ChildRunOptions): Promise<ChildOutcome> {
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;
  if (opts.signal?.aborted) {
    return Promise.resolve({ kind: 'aborted', stdout: Buffer.alloc(0), stderr: '', durationMs: 0 });
  }
  const termGraceMs = Math.min(opts.termGraceMs ?? defaultTermGraceMs, (opts.timeoutMs ?? Infinity) / 2);
  const reapGraceMs = opts.reapGraceMs ?? defaultReapGraceMs;
  const maxStderrBytes = opts.maxStderrBytes ?? defaultMaxStderrBytes;
  const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', ...(opts.passFds ?? [])];

  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(opts.file, opts.args, { stdio, env: opts.env ?? {}, detached: true, uid: opts.uid, gid: opts.gid });
    } catch (err) {
      // Node throws for some errnos (ENOMEM, E2BIG, EINVAL) instead of emitting them.
      const e = err as NodeJS.ErrnoException;
      resolve({ kind: 'spawn-failed', errno: e.code, message: e.message, durationMs: elapsed() });
      return;
    }
    const pid = child.pid;
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let settled = false;
    let stopReason: 'timed-out' | 'aborted' | 'output-overflow' | null = null;
    const timers: NodeJS.Timeout[] = [];
    let onAbort = (): void => undefined; // set once the child runs

    const settle = (outcome: ChildOutcome): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const collected = (): Collected => ({ stdout: Buffer.concat(stdout), stderr, durationMs: elapsed() });

    // Always listened for: an 'error' without a listener would end the daemon.
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (pid === undefined) {
        child.stdout?.destroy();
        child.stderr?.destroy();
        settle({ kind: 'spawn-failed', errno: err.code, message: err.message, durationMs: elapsed() });
        return;
      }
      // A started child's errors (a failed kill) change nothing: its exit or the deadline ends it.
    });
    if (pid === undefined) return; // the 'error' above follows on the next tick

    liveGroups.add(pid);
    installExitHook();

    const abandon = (): void => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.unref();
    };
    const stop = (why: NonNullable<typeof stopReason>): void => {
      if (stopReason !== null || settled) return;
      stopReason = why;
      signalGroup(pid, 'SIGTERM');
      timers.push(setTimeout(() => signalGroup(pid, 'SIGKILL'), termGraceMs));
      timers.push(
        setTimeout(() => {
          abandon();
          settle({ kind: why, ...collected() });
        }, termGraceMs + reapGraceMs),
      );
    };
    onAbort = (): void => stop('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.timeoutMs !== undefined) {
      // Past 2^31 - 1 ms Node fires a timer at once; no child needs 24 days.
      const ms = Math.min(Math.max(0, opts.timeoutMs - termGraceMs), maxTimerMs);
      timers.push(setTimeout(() => stop('timed-out'), ms));
    }

    child.stdout?.on('error', () => undefined);
    child.stderr?.on('error', () => undefined);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (stopReason !== null) return;
      if (stdoutBytes + chunk.length > opts.maxStdoutBytes) {
        stdout.push(chunk.subarray(0, opts.maxStdoutBytes - stdoutBytes));
        stdoutBytes = opts.maxStdoutBytes;
        stop('output-overflow');
        return;
      }
      stdout.push(chunk);
      stdoutBytes += chunk.length;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-maxStderrBytes);
    });
    // The leader is gone: so is whatever it left in its group (a backgrounded grandchild would
    // otherwise hold the pipes, and 'close' never come).
    child.on('exit', () => {
      signalGroup(pid, 'SIGKILL');
      liveGroups.delete(pid);
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (stopReason !== null) {
        settle({ kind: stopReason, ...collected() });
      } else if (signal !== null) {
        settle({ kind: 'signalled', signal, ...collected() });
      } else {
        settle({ kind: 'exited', code: code ?? -1, ...collected() });
      }
    });
  });
}

// One line for messages: the last non-empty line of a child's stderr, at most 200 characters.
export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const line = lines[lines.length - 1] ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

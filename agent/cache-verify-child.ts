// Cache verification in a short-lived child process: the agent's own CLI, run as
// `cache check --json [--full] <path>`, one file per child, one child at a time.
//
// Why a child process and not a worker thread:
// - A worker thread cannot be terminated while it is blocked in a read() on a hung network mount
//   (home directories, and the caches in them, can be on NFS). A child can be SIGKILLed and
//   forgotten; checks/disk/statfs-in-child.ts does the same for statfs.
// - Memory: a worker is a second V8 isolate inside the daemon (measured +35..45 MiB RSS while
//   alive) against an RSS target of 80 MB. A child exists only while it verifies.
//
// The blobcache check and the quarantine hand over paths through a pinned directory descriptor
// (`/proc/self/fd/<N>/<name>`, lib/pinned-dir.ts). Descriptors are per process, so
// fd N is passed on as the child's fd 3, the child is given `/proc/self/fd/3/<name>`, and the
// verdict is mapped back to the caller's path.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unreadableVerdict, type CacheProblem, type CacheVerdict } from '../checks/blobcache/verdict.ts';
import type { VerifyOptions } from '../checks/blobcache/verify.ts';

export interface CacheVerifier {
  verify(path: string, opts?: VerifyOptions): Promise<CacheVerdict>;
  close(): Promise<void>;
}

export interface ChildVerifierOptions {
  // A child still running after this long is SIGKILLed and its file judged unreadable.
  maxVerifySeconds: number;
  // Replaces `node <flags> <agent CLI>` (tests: a script that hangs or prints garbage). The
  // child's arguments are appended: `cache check --json [--full] <path>`.
  command?: { file: string; args: string[] };
}

// Problem codes this module adds to verdicts (docs/admission.md).
export const verifyProcessCodes = { timeout: 'verify-timeout', failed: 'verify-process-failed' } as const;

// In the esbuild bundle every module's import.meta.url is the bundle file, which is the CLI; in
// the source tree the CLI is agent/bin.ts next to this file.
const self = fileURLToPath(import.meta.url);
const entry = self.endsWith('.ts') ? join(dirname(self), 'bin.ts') : self;

// The walk's memory is bounded by design (docs/bolt-verifier.md); a heap far past that bound is
// a bug, and ends as a failed verification instead of a child that grows.
const defaultCommand = { file: process.execPath, args: ['--max-old-space-size=96', entry] };

// One verdict as JSON is a few KiB; megabytes of output is a broken child, not a verdict.
const maxStdoutBytes = 8 * 1024 * 1024;

const fdPath = /^\/proc\/self\/fd\/(\d+)(\/.*)?$/;
const childFd = 3;
const childFdPrefix = new RegExp(`/proc/self/fd/${childFd}(?![0-9])`, 'g');

interface Request {
  path: string;
  full: boolean;
  resolve: (v: CacheVerdict) => void;
}

// The request in flight: its child (once spawned) and how to settle it, exactly once.
interface Running {
  path: string;
  child: ChildProcess | null;
  finish: (v: CacheVerdict) => void;
}

function unreadable(path: string, code: string, message: string): CacheVerdict {
  return unreadableVerdict(path, { code, message }, performance.now());
}

const verdictKinds = new Set(['healthy', 'corrupt', 'unreadable', 'busy']);

function isProblemList(x: unknown): x is CacheProblem[] {
  return Array.isArray(x) && x.every((p: unknown) => typeof p === 'object' && p !== null
    && typeof (p as CacheProblem).code === 'string' && typeof (p as CacheProblem).message === 'string');
}

function isVerdictFor(x: unknown, path: string): x is CacheVerdict {
  if (typeof x !== 'object' || x === null) return false;
  const v = x as Record<string, unknown>;
  return v.path === path && typeof v.format === 'string' && typeof v.verdict === 'string' && verdictKinds.has(v.verdict)
    && isProblemList(v.problems) && isProblemList(v.warnings) && typeof v.stats === 'object' && v.stats !== null
    && typeof v.durationMs === 'number';
}

// What the child is given for a caller's path, the descriptor it inherits as fd 3, and how its
// texts are turned back into the caller's path.
function childView(path: string): { childPath: string; fd: number | null; back: (s: string) => string } {
  const m = fdPath.exec(path);
  if (!m) return { childPath: path, fd: null, back: (s) => s };
  const callerPrefix = `/proc/self/fd/${m[1]}`;
  return {
    childPath: `/proc/self/fd/${childFd}${m[2] ?? ''}`,
    fd: Number(m[1]),
    back: (s) => s.replace(childFdPrefix, callerPrefix),
  };
}

function mapVerdict(v: CacheVerdict, back: (s: string) => string): CacheVerdict {
  const mapProblem = (p: CacheProblem): CacheProblem => ({ ...p, message: back(p.message) });
  return { ...v, path: back(v.path), problems: v.problems.map(mapProblem), warnings: v.warnings.map(mapProblem) };
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const line = lines[lines.length - 1] ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

// Kills a child and forgets it: its pipes closed, nothing waiting for it to exit (a child
// blocked on a dead mount may take a while to die).
function abandon(child: ChildProcess): void {
  child.kill('SIGKILL');
  child.unref();
  child.stdout?.destroy();
  child.stderr?.destroy();
}

export function createChildVerifier(opts: ChildVerifierOptions): CacheVerifier {
  const command = opts.command ?? defaultCommand;
  const queue: Request[] = [];
  let running: Running | null = null;
  let closed = false;

  // A process that exits without close() must not leave its child behind.
  const killOnExit = (): void => {
    running?.child?.kill('SIGKILL');
  };

  function next(): void {
    if (running || closed) return;
    const request = queue.shift();
    if (request) run(request);
  }

  function run(request: Request): void {
    const { childPath, fd, back } = childView(request.path);
    const failed = (message: string) => unreadable(request.path, verifyProcessCodes.failed, `${request.path}: ${message}`);
    let settled = false;
    let timer: NodeJS.Timeout | null = null;
    const current: Running = {
      path: request.path,
      child: null,
      finish: (verdict) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        if (running === current) {
          running = null;
          process.removeListener('exit', killOnExit);
        }
        request.resolve(verdict);
        next();
      },
    };
    running = current;
    process.on('exit', killOnExit);

    const args = [...command.args, 'cache', 'check', '--json', ...(request.full ? ['--full'] : []), childPath];
    let child: ChildProcess;
    // An empty environment: nothing of the daemon's (NODE_OPTIONS, ...) changes how the child runs.
    try {
      child = spawn(command.file, args, { stdio: ['ignore', 'pipe', 'pipe', ...(fd === null ? [] : [fd])], env: {} });
    } catch (err) {
      current.finish(failed(`cannot start the verification process: ${(err as Error).message}`));
      return;
    }
    current.child = child;

    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxStdoutBytes) {
        abandon(child);
        current.finish(failed(`the verification process printed more than ${maxStdoutBytes} bytes`));
        return;
      }
      stdout.push(chunk);
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      // Only the last line is reported; the tail holds it.
      stderr = (stderr + chunk).slice(-4096);
    });
    child.on('error', (err) => {
      abandon(child);
      current.finish(failed(`cannot run the verification process: ${err.message}`));
    });
    // Exit codes 0, 1 and 2 all come with a verdict on stdout; the verdict is what counts.
    child.on('close', (code, signal) => {
      const why = lastLine(stderr);
      const tail = why ? `: ${why}` : '';
      if (signal) {
        current.finish(failed(`the verification process was killed by ${signal}${tail}`));
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(stdout).toString('utf8'));
      } catch {
        current.finish(failed(`the verification process (exit ${code}) printed no verdict${tail}`));
        return;
      }
      if (!isVerdictFor(parsed, childPath)) {
        current.finish(failed(`the verification process (exit ${code}) printed no verdict on this file${tail}`));
        return;
      }
      current.finish(mapVerdict(parsed, back));
    });

    timer = setTimeout(() => {
      abandon(child);
      current.finish(unreadable(request.path, verifyProcessCodes.timeout,
        `${request.path}: verification did not finish within ${opts.maxVerifySeconds} s; the verification process was killed`));
    }, opts.maxVerifySeconds * 1000);
    // The child itself keeps a waiting process alive; the timer need not.
    timer.unref();
  }

  const stopping = (path: string): CacheVerdict => unreadable(path, verifyProcessCodes.failed, `${path}: the agent is stopping`);

  return {
    verify(path, verifyOpts = {}) {
      return new Promise((resolve) => {
        if (closed) {
          resolve(stopping(path));
          return;
        }
        queue.push({ path, full: verifyOpts.full === true, resolve });
        next();
      });
    },
    async close() {
      closed = true;
      const current = running;
      if (current) {
        if (current.child) abandon(current.child);
        // The child's late 'close' finds the request settled and changes nothing.
        current.finish(stopping(current.path));
      }
      for (const r of queue.splice(0)) r.resolve(stopping(r.path));
    },
  };
}

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
//
// The child runs through lib/run-child.ts (its own process group, SIGTERM then SIGKILL, output
// cap, spawn failures as outcomes). Its deadline is the check's own (the caller's signal), with
// maxVerifySeconds as a backstop. An SQLite snapshot is made in a private directory that this
// module creates for each child under `snapshotRoot` (in the state directory, never a shared
// /tmp) and removes when the child is done; one left by a killed child or a killed daemon is
// removed before the next child starts, and at start.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  unreadableVerdict,
  verdictUnderPath,
  type CacheProblem,
  type CacheVerdict,
} from '../checks/blobcache/verdict.ts';
import type { VerifyOptions } from '../checks/blobcache/verify.ts';
import { abortWhenAny } from '../lib/deadline.ts';
import { lastLine, runChild } from '../lib/run-child.ts';

export interface CacheVerifier {
  verify(path: string, opts?: VerifyOptions): Promise<CacheVerdict>;
  close(): Promise<void>;
}

export interface ChildVerifierOptions {
  // A child still running after this long is killed and its file judged unreadable (a backstop:
  // the caller's signal, the check's own deadline, normally comes first).
  maxVerifySeconds: number;
  // Where each child's private snapshot directory is made (created 0700 when missing); a
  // function, because a reload may move the state directory.
  snapshotRoot: () => string;
  // Replaces `node <flags> <agent CLI>` (tests: a script that hangs or prints garbage). The
  // child's arguments are appended: `cache check --json [--full] --snapshot-dir DIR <path>`.
  command?: { file: string; args: string[] };
  // Run the child with these ids (e.g. a cache owner's rights) instead of the agent's.
  uid?: number;
  gid?: number;
}

// Problem codes this module adds to verdicts (docs/admission.md).
export const verifyProcessCodes = { timeout: 'verify-timeout', failed: 'verify-process-failed' } as const;

// In the esbuild bundle every module's import.meta.url is the bundle file, which is the CLI; in
// the source tree the CLI is agent/bin.mjs next to this file (its runtime guard runs in the
// child too: a child on the wrong Node.js exits 2 with one line, a failed verification).
const self = fileURLToPath(import.meta.url);
const entry = self.endsWith('.ts') ? join(dirname(self), 'bin.mjs') : self;

// The walk's memory is bounded by design (docs/bolt-verifier.md); a heap far past that bound is
// a bug, and ends as a failed verification instead of a child that grows.
const defaultCommand = { file: process.execPath, args: ['--max-old-space-size=96', entry] };

// One verdict as JSON is a few KiB; megabytes of output is a broken child, not a verdict.
const maxStdoutBytes = 8 * 1024 * 1024;

// Each child's snapshot directory: `verify-<daemon pid>-<random>`.
const snapshotDirPrefix = 'verify-';

const fdPath = /^\/proc\/self\/fd\/(\d+)(\/.*)?$/;
const childFd = 3;
const childFdPrefix = new RegExp(`/proc/self/fd/${childFd}(?![0-9])`, 'g');

interface Request {
  path: string;
  full: boolean;
  signal: AbortSignal | undefined;
  resolve: (v: CacheVerdict) => void;
}

function unreadable(path: string, code: CacheProblem['code'], message: string): CacheVerdict {
  return unreadableVerdict(path, { code, message }, performance.now());
}

const verdictKinds = new Set(['healthy', 'corrupt', 'unreadable', 'busy']);

// The child runs this agent's own verifier, so its codes are the table's; only the shape is checked.
function isProblemList(x: unknown): x is CacheProblem[] {
  return (
    Array.isArray(x) &&
    x.every(
      (p: unknown) =>
        typeof p === 'object' &&
        p !== null &&
        typeof (p as CacheProblem).code === 'string' &&
        typeof (p as CacheProblem).message === 'string',
    )
  );
}

function isVerdictFor(x: unknown, path: string): x is CacheVerdict {
  if (typeof x !== 'object' || x === null) return false;
  const v = x as Record<string, unknown>;
  return (
    v.path === path &&
    typeof v.format === 'string' &&
    typeof v.verdict === 'string' &&
    verdictKinds.has(v.verdict) &&
    isProblemList(v.problems) &&
    isProblemList(v.warnings) &&
    typeof v.stats === 'object' &&
    v.stats !== null &&
    typeof v.durationMs === 'number'
  );
}

// What the child is given for a caller's path, the descriptor it inherits as fd 3, and what in
// its texts names the file (`seen`) and what the caller calls it (`shown`).
interface ChildView {
  childPath: string;
  fd: number | null;
  seen: string | RegExp;
  shown: string;
}

function childView(path: string): ChildView {
  const m = fdPath.exec(path);
  if (!m) return { childPath: path, fd: null, seen: path, shown: path };
  return {
    childPath: `/proc/self/fd/${childFd}${m[2] ?? ''}`,
    fd: Number(m[1]),
    seen: childFdPrefix,
    shown: `/proc/self/fd/${m[1]}`,
  };
}

// Snapshot directories no child is using: every one, since children run one at a time and this
// runs only between them (a killed child's, a killed daemon's, a crashed run's).
export function removeStaleSnapshotDirs(root: string): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return; // not made yet
  }
  for (const name of names) {
    if (name.startsWith(snapshotDirPrefix)) rmSync(join(root, name), { recursive: true, force: true });
  }
}

// The child's verdict, or a failure verdict saying what went wrong with the child.
function verdictOf(
  request: Request,
  run: Awaited<ReturnType<typeof runChild>>,
  view: ChildView,
  maxVerifySeconds: number,
): CacheVerdict {
  const path = request.path;
  const failed = (message: string) => unreadable(path, verifyProcessCodes.failed, `${path}: ${message}`);
  const timedOut = (why: string) =>
    unreadable(path, verifyProcessCodes.timeout, `${path}: ${why}; the verification process was killed`);
  switch (run.kind) {
    case 'spawn-failed':
      return failed(`cannot start the verification process: ${run.message}`);
    case 'timed-out':
      return timedOut(`verification did not finish within ${maxVerifySeconds} s`);
    case 'aborted':
      return timedOut("verification did not finish within the check's deadline");
    case 'output-overflow':
      return failed(`the verification process printed more than ${maxStdoutBytes} bytes`);
    case 'signalled': {
      const why = lastLine(run.stderr);
      return failed(`the verification process was killed by ${run.signal}${why ? `: ${why}` : ''}`);
    }
    case 'exited': {
      // Exit codes 0, 1 and 2 all come with a verdict on stdout; the verdict is what counts.
      const why = lastLine(run.stderr);
      const tail = why ? `: ${why}` : '';
      let parsed: unknown;
      try {
        parsed = JSON.parse(run.stdout.toString('utf8'));
      } catch {
        return failed(`the verification process (exit ${run.code}) printed no verdict${tail}`);
      }
      if (!isVerdictFor(parsed, view.childPath))
        return failed(`the verification process (exit ${run.code}) printed no verdict on this file${tail}`);
      // Its path is the child's (checked above): the caller's own is `path`.
      return verdictUnderPath(parsed, path, view.seen, view.shown);
    }
  }
}

export function createChildVerifier(opts: ChildVerifierOptions): CacheVerifier {
  const command = opts.command ?? defaultCommand;
  const queue: Request[] = [];
  let running = false;
  let closed = false;
  // Aborts the child in flight when the verifier closes.
  const closing = new AbortController();
  removeStaleSnapshotDirs(opts.snapshotRoot());

  const stopping = (path: string): CacheVerdict =>
    unreadable(path, verifyProcessCodes.failed, `${path}: the agent is stopping`);

  async function run(request: Request): Promise<CacheVerdict> {
    const view = childView(request.path);
    const { childPath, fd } = view;
    const root = opts.snapshotRoot();
    let snapshotDir: string;
    try {
      removeStaleSnapshotDirs(root);
      mkdirSync(root, { recursive: true, mode: 0o700 });
      snapshotDir = mkdtempSync(join(root, `${snapshotDirPrefix}${process.pid}-`));
    } catch (err) {
      return unreadable(
        request.path,
        verifyProcessCodes.failed,
        `${request.path}: cannot make a snapshot directory under ${root}: ${(err as Error).message}`,
      );
    }
    // The check's deadline or the verifier closing, whichever first (lib/deadline.ts: not
    // AbortSignal.any, which on Node 22 keeps bookkeeping the GC never takes back).
    const joined = new AbortController();
    const release = abortWhenAny(joined, [request.signal, closing.signal]);
    const signal = joined.signal;
    try {
      const outcome = await runChild({
        file: command.file,
        args: [
          ...command.args,
          'cache',
          'check',
          '--json',
          ...(request.full ? ['--full'] : []),
          '--snapshot-dir',
          snapshotDir,
          childPath,
        ],
        passFds: fd === null ? [] : [fd],
        uid: opts.uid,
        gid: opts.gid,
        timeoutMs: opts.maxVerifySeconds * 1000,
        signal,
        maxStdoutBytes,
      });
      if (closed) return stopping(request.path);
      return verdictOf(request, outcome, view, opts.maxVerifySeconds);
    } finally {
      release();
      // A child that is not dead yet (abandoned in the kernel) may still write here: whatever it
      // leaves is removed before the next child starts.
      rmSync(snapshotDir, { recursive: true, force: true });
    }
  }

  async function drain(): Promise<void> {
    if (running) return;
    running = true;
    try {
      for (let request = queue.shift(); request && !closed; request = queue.shift()) {
        request.resolve(
          request.signal?.aborted
            ? unreadable(
                request.path,
                verifyProcessCodes.timeout,
                `${request.path}: the check's deadline passed before verification began`,
              )
            : await run(request),
        );
      }
    } finally {
      running = false;
    }
  }

  return {
    verify(path, verifyOpts = {}) {
      return new Promise((resolve) => {
        if (closed) {
          resolve(stopping(path));
          return;
        }
        queue.push({ path, full: verifyOpts.full === true, signal: verifyOpts.signal, resolve });
        void drain();
      });
    },
    async close() {
      closed = true;
      closing.abort();
      for (const r of queue.splice(0)) r.resolve(stopping(r.path));
    },
  };
}

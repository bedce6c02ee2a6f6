// The reference side of the bbolt tests: builds test/boltref (Go, linked against Debian's bbolt
// 1.3.6, the library skopeo 1.9.3 uses) and runs it as a child process. A damaged file can make
// bbolt panic, fault or allocate without bound, so every reference check runs in its own process
// with a timeout and an address-space cap, and the way it died is itself the verdict.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sourceDir = join(repoRoot, 'test', 'boltref');
const buildDir = join(repoRoot, 'test', '.build');
export const boltrefBinary = join(buildDir, 'boltref');

// GOPATH mode against Debian's packaged sources: no module download, no network.
const goEnv = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOPROXY: 'off', GOFLAGS: '' };

function mtimeMs(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

// Builds once per source change. Builds into a private name and renames, so test files running
// in parallel never execute a half-written binary. Throws: a missing Go toolchain is a setup
// error of the test run, not a result.
export function ensureBoltref(): string {
  const built = mtimeMs(boltrefBinary);
  const source = mtimeMs(join(sourceDir, 'main.go'));
  if (source === undefined) throw new Error(`boltref source missing: ${sourceDir}/main.go`);
  if (built !== undefined && built >= source) return boltrefBinary;
  if (spawnSync('sh', ['-c', 'command -v go'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('boltref needs the Go toolchain: apt-get install golang-go golang-github-coreos-bbolt-dev');
  }
  mkdirSync(buildDir, { recursive: true });
  const temp = `${boltrefBinary}.${process.pid}.tmp`;
  const r = spawnSync('go', ['build', '-o', temp, './test/boltref'], { cwd: repoRoot, env: goEnv, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(
      `building boltref failed (is golang-github-coreos-bbolt-dev installed?):\n${r.stderr}${r.error ?? ''}`,
    );
  }
  renameSync(temp, boltrefBinary);
  return boltrefBinary;
}

// ---------------------------------------------------------------------------------------------
// check

// clean: opened, tx.Check() silent, every bucket read, keys strictly increasing everywhere
// (and, with { lookups: true }, every key found again by Get).
// problems: opened and ran to the end, but reported something.
// panic: a Go panic ("panic:" on stderr) killed it. fault: a fatal runtime error or a signal
// (SIGBUS/SIGSEGV on pages past EOF, stack overflow). oom: the memory cap stopped it.
// timeout: killed after timeoutMs. open-error: bbolt refused to open (or the file is missing).
// tool-error: boltref itself failed without a verdict (should not happen; look at stderr).
export type ReferenceKind = 'clean' | 'problems' | 'panic' | 'fault' | 'timeout' | 'oom' | 'open-error' | 'tool-error';

export interface ReferenceVerdict {
  kind: ReferenceKind;
  open: string | null; // "ok", bbolt's open error, or null when the process died before saying
  checkErrors: string[]; // from the JSON, or from stderr progress lines when the process died
  fullRead: string | null; // "ok" | error text | "not-run"; null when the process died
  keys: number;
  buckets: number;
  orderViolations: string[];
  lookupMisses: string[]; // only with { lookups: true }
  txid: number | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string; // the last 64 KiB
  durationMs: number;
}

export interface ReferenceCheckOptions {
  timeoutMs?: number; // default 20000
  // Cap for what the Go heap may really use, in MiB (default 512). The address-space limit
  // given to the process (prlimit --as) is this plus the Go runtime's fixed reservation plus
  // twice the file size, because bbolt maps the whole file and rounds the mapping up (to the
  // next power of two below 1 GiB, to whole GiBs above).
  memoryMB?: number;
  lockTimeoutMs?: number; // wait for the shared flock; default 0 = forever, like c/image
  // Also Get every key back (what skopeo does): catches branch separator keys that misroute
  // lookups, which bbolt 1.3.6's check and a cursor walk cannot see. Default false.
  lookups?: boolean;
}

interface CheckJson {
  open: string;
  checkErrors: string[];
  checkErrorCount: number;
  fullRead: string;
  keys: number;
  buckets: number;
  orderViolations: string[];
  lookupMisses: string[];
  txid: number;
}

const stderrKeep = 64 * 1024;

// The Go 1.19 runtime reserves (not uses) about 600 MiB of address space at start for its page
// allocator's summaries on amd64; below ~650 MiB it dies with "failed to reserve page summary
// memory" before main (measured). The cap therefore counts from above that reservation.
export const goRuntimeReserveMB = 768;

// The address-space limit the child gets; exported so tests can show that Go starts under it.
export function addressSpaceLimitBytes(path: string, memoryMB: number): number {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    size = 0; // a missing file: boltref reports it as an open error
  }
  return (goRuntimeReserveMB + memoryMB) * 1024 * 1024 + 2 * size;
}

export function classifyDeath(stderr: string, exitCode: number | null, signal: NodeJS.Signals | null): ReferenceKind {
  if (/out of memory|cannot allocate memory/i.test(stderr)) return 'oom';
  if (/^fatal error:|unexpected fault address|^\[?signal SIG(BUS|SEGV)/m.test(stderr)) {
    // A nil dereference is a recoverable Go panic even though the runtime prints a signal line.
    if (/^panic: /m.test(stderr) && !/^fatal error:/m.test(stderr)) return 'panic';
    return 'fault';
  }
  if (/^panic: /m.test(stderr) && exitCode === 2) return 'panic';
  if (signal !== null) return 'fault';
  return 'tool-error';
}

function progressCheckErrors(stderr: string): string[] {
  const out: string[] = [];
  for (const m of stderr.matchAll(/^boltref: check-error: (.*)$/gm)) out.push(m[1]);
  return out;
}

export function referenceCheck(path: string, options: ReferenceCheckOptions = {}): Promise<ReferenceVerdict> {
  const binary = ensureBoltref();
  const timeoutMs = options.timeoutMs ?? 20000;
  const limit = addressSpaceLimitBytes(path, options.memoryMB ?? 512);
  const args = [`--as=${limit}`, '--', binary, 'check', `-lock-timeout=${options.lockTimeoutMs ?? 0}ms`];
  if (options.lookups === true) args.push('-lookups');
  args.push(path);
  const started = Date.now();
  return new Promise((resolvePromise) => {
    const child = spawn('prlimit', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 2 * stderrKeep) stderr = stderr.slice(-stderrKeep);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      stderr += `\nspawn failed: ${err.message}`;
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      const base: ReferenceVerdict = {
        kind: 'tool-error',
        open: null,
        checkErrors: progressCheckErrors(stderr),
        fullRead: null,
        keys: 0,
        buckets: 0,
        orderViolations: [],
        lookupMisses: [],
        txid: null,
        exitCode,
        signal,
        stderr: stderr.slice(-stderrKeep),
        durationMs: Date.now() - started,
      };
      if (timedOut) return resolvePromise({ ...base, kind: 'timeout' });
      if (exitCode === 0) {
        let parsed: CheckJson;
        try {
          parsed = JSON.parse(stdout) as CheckJson;
        } catch {
          return resolvePromise(base);
        }
        const verdict: ReferenceVerdict = {
          ...base,
          open: parsed.open,
          checkErrors: parsed.checkErrors,
          fullRead: parsed.fullRead,
          keys: parsed.keys,
          buckets: parsed.buckets,
          orderViolations: parsed.orderViolations,
          lookupMisses: parsed.lookupMisses,
          txid: parsed.txid,
        };
        if (parsed.open !== 'ok') return resolvePromise({ ...verdict, kind: 'open-error' });
        const clean =
          parsed.checkErrorCount === 0 &&
          parsed.fullRead === 'ok' &&
          parsed.orderViolations.length === 0 &&
          parsed.lookupMisses.length === 0;
        return resolvePromise({ ...verdict, kind: clean ? 'clean' : 'problems' });
      }
      return resolvePromise({ ...base, kind: classifyDeath(stderr, exitCode, signal) });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// build

export interface BuildBoltDbOptions {
  seed?: number;
  images?: number; // default 20
  blobsPerImage?: number; // default 4
  pageSize?: number; // default: OS page size
  targetMB?: number; // grow to this many MiB instead of a fixed image count
  largeValues?: number; // values of 6..40 KiB -> overflow pages (default 2)
  deleteEvery?: number; // delete every Nth image's records at the end (default 7; 0 = none)
  batch?: number; // images per transaction (default 2000)
  fill?: number; // bucket FillPercent (default 0.5)
  trim?: boolean; // truncate to the high-water mark (small fixtures)
  // Digests in append order make big builds fast (see boltref --help); default: append when
  // targetMB is set, random otherwise.
  order?: 'random' | 'append';
  timeoutMs?: number; // default 10 minutes
}

export type BuildBoltDbResult =
  // bytes: the file's size; usedBytes: high-water mark x page size (bbolt grows files ahead).
  | {
      ok: true;
      path: string;
      bytes: number;
      usedBytes: number;
      pageSize: number;
      images: number;
      blobs: number;
      txs: number;
      seconds: number;
    }
  | { ok: false; error: string };

function runToEnd(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(ensureBoltref(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-stderrKeep)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => (stderr += `\nspawn failed: ${err.message}`));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

export async function buildBoltDb(path: string, options: BuildBoltDbOptions = {}): Promise<BuildBoltDbResult> {
  const args = ['build', '-out', path];
  const flags: [keyof BuildBoltDbOptions, string][] = [
    ['seed', '-seed'],
    ['images', '-images'],
    ['blobsPerImage', '-blobs'],
    ['pageSize', '-page-size'],
    ['targetMB', '-target-mb'],
    ['largeValues', '-large-values'],
    ['deleteEvery', '-delete-every'],
    ['batch', '-batch'],
    ['fill', '-fill'],
  ];
  for (const [key, flag] of flags) {
    const value = options[key];
    if (value !== undefined) args.push(`${flag}=${String(value)}`);
  }
  if (options.trim === true) args.push('-trim');
  if (options.order !== undefined) args.push(`-order=${options.order}`);
  const r = await runToEnd(args, options.timeoutMs ?? 600_000);
  if (r.code !== 0) return { ok: false, error: `boltref build exited ${r.code ?? r.signal}: ${r.stderr.trim()}` };
  try {
    return { ok: true, ...(JSON.parse(r.stdout) as Omit<Extract<BuildBoltDbResult, { ok: true }>, 'ok'>) };
  } catch {
    return { ok: false, error: `boltref build printed no JSON: ${r.stdout}` };
  }
}

// ---------------------------------------------------------------------------------------------
// write-loop

export interface WriteLoopOptions {
  iterations?: number; // default 100; 0 = no limit (then durationMs is required)
  durationMs?: number; // stop after this long; default no limit
  seed?: number;
  blobsPerIteration?: number; // default 3
}

export interface WriteLoopExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  iterations: number | null; // commits completed, from its JSON line
  stderr: string;
}

// A process that commits like containers/image: open (LOCK_EX, wait forever), one Update, close.
export function startWriteLoop(
  path: string,
  options: WriteLoopOptions = {},
): { child: ChildProcess; exit: Promise<WriteLoopExit> } {
  const args = ['write-loop', '-db', path, `-iterations=${options.iterations ?? 100}`];
  if (options.durationMs !== undefined) args.push(`-duration=${options.durationMs}ms`);
  if (options.seed !== undefined) args.push(`-seed=${options.seed}`);
  if (options.blobsPerIteration !== undefined) args.push(`-blobs=${options.blobsPerIteration}`);
  const child = spawn(ensureBoltref(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-stderrKeep)));
  const exit = new Promise<WriteLoopExit>((resolvePromise) => {
    child.on('error', (err) => (stderr += `\nspawn failed: ${err.message}`));
    child.on('close', (code, signal) => {
      let iterations: number | null;
      try {
        iterations = (JSON.parse(stdout) as { iterations: number }).iterations;
      } catch {
        iterations = null;
      }
      resolvePromise({ code, signal, iterations, stderr });
    });
  });
  return { child, exit };
}

// ---------------------------------------------------------------------------------------------
// layout: where things are in a healthy file, so damage can be aimed at exact bytes.

export interface BoltMetaInfo {
  page: number;
  magic: number;
  version: number;
  pageSize: number;
  root: number;
  freelist: number;
  hwm: number;
  txid: number;
  checksum: number; // may lose precision above 2^53; informational only
  checksumOk: boolean;
}

export interface BoltPageInfo {
  id: number;
  type: string; // branch | leaf | meta | freelist | unknown<xx>
  count: number;
  overflow: number;
  depth: number; // 0 = a bucket's root page
  bucket: string[]; // owning bucket path; [] = the root bucket
  refFrom: number; // page holding the reference; -1 = the chosen meta
  refKind: 'meta-root' | 'bucket-root' | 'branch-child';
  refElem: number;
  refAt: number; // file offset of the u64 pgid that points here
}

export interface BoltInlineBucketInfo {
  bucket: string[];
  parent: number;
  elem: number;
  valueAt: number; // file offset of the 16-byte bucket header; the inline page image follows
  count: number;
}

export interface BoltLayout {
  pageSize: number;
  fileBytes: number;
  metas: BoltMetaInfo[];
  chosen: number;
  freelistPage: number;
  freelistCount: number;
  freelistAt: number; // file offset of the first listed page id
  free: number[];
  pages: BoltPageInfo[];
  inline: BoltInlineBucketInfo[];
}

export function boltLayout(path: string): BoltLayout | Error {
  const r = spawnSync(ensureBoltref(), ['layout', path], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) return new Error(`boltref layout ${path}: ${r.stderr || r.error?.message}`);
  try {
    return JSON.parse(r.stdout) as BoltLayout;
  } catch (err) {
    return new Error(`boltref layout ${path}: bad JSON: ${String(err)}`);
  }
}

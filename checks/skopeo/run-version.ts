// Runs `<skopeo> --version` the safe way: stdin closed (nothing can wait for a terminal), no
// shell, and a hard time budget: SIGTERM shortly before the budget ends, SIGKILL when it ends,
// and the answer "hung" at the budget's end even if something still holds the pipes open (a
// child the binary forked), so the check never outlives its timeout. Never throws.
//
// node:child_process, like the agent's other children (checks/disk/statfs-in-child.ts,
// agent/cache-verify-child.ts); execa did the same here and cost the daemon 8.6 MiB of resident
// memory (measured in the bundle: 58.3 vs 49.6 MiB after 20 runs), a tenth of its budget.
import { spawn, type ChildProcess } from 'node:child_process';

export type VersionRun =
  | { ok: true; stdout: string }
  | { ok: false; code: 'skopeo-hung' | 'skopeo-failed' | 'skopeo-missing' | 'skopeo-not-executable'; message: string };

// How long before the end of the budget SIGTERM is sent; at the end, SIGKILL.
const termGraceMs = 500;
// After SIGKILL, how long the exit and pipe close may take before we stop waiting for them.
const reapGraceMs = 100;
// Only the first line matters; a binary that floods its output must not grow our heap.
const maxOutputBytes = 64 * 1024;

type Ended =
  | { how: 'exited'; code: number | null; signal: NodeJS.Signals | null }
  | { how: 'spawn-error'; errno: string | undefined; message: string }
  | { how: 'abandoned' };

// Collects at most maxOutputBytes of a stream, and keeps draining it so the child never blocks.
function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    if (text.length < maxOutputBytes) text += chunk.slice(0, maxOutputBytes - text.length);
  });
  return () => text;
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

export async function runSkopeoVersion(path: string, timeoutMs: number, signal: AbortSignal): Promise<VersionRun> {
  const grace = Math.min(termGraceMs, timeoutMs / 2);
  const hung = `${path} --version did not finish within ${timeoutMs / 1000} s and was killed`;
  if (signal.aborted) return { ok: false, code: 'skopeo-hung', message: `${path} --version was cancelled (check aborted)` };

  let child: ChildProcess;
  try {
    child = spawn(path, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  } catch (err) {
    return { ok: false, code: 'skopeo-failed', message: `${path} --version could not be started: ${(err as Error).message}` };
  }
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);

  let timedOut = false;
  let cancelled = false;
  const timers: NodeJS.Timeout[] = [];
  const stop = (why: 'timeout' | 'cancel'): void => {
    if (why === 'timeout') timedOut = true;
    else cancelled = true;
    kill(child, 'SIGTERM');
    timers.push(setTimeout(() => kill(child, 'SIGKILL'), grace));
  };
  const onAbort = (): void => stop('cancel');
  signal.addEventListener('abort', onAbort, { once: true });
  timers.push(setTimeout(() => stop('timeout'), timeoutMs - grace));

  const ended = await new Promise<Ended>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => resolve({ how: 'spawn-error', errno: err.code, message: err.message }));
    child.once('close', (code, sig) => resolve({ how: 'exited', code, signal: sig }));
    // The budget's end: answer now, whatever still holds the pipes.
    timers.push(setTimeout(() => resolve({ how: 'abandoned' }), timeoutMs + reapGraceMs));
  });
  for (const t of timers) clearTimeout(t);
  signal.removeEventListener('abort', onAbort);

  if (ended.how === 'abandoned') {
    kill(child, 'SIGKILL');
    child.stdout?.destroy();
    child.stderr?.destroy();
    return { ok: false, code: 'skopeo-hung', message: hung };
  }
  if (ended.how === 'spawn-error') {
    if (ended.errno === 'ENOENT') return { ok: false, code: 'skopeo-missing', message: `${path} does not exist` };
    if (ended.errno === 'EACCES') return { ok: false, code: 'skopeo-not-executable', message: `${path} is not executable` };
    return { ok: false, code: 'skopeo-failed', message: `${path} --version could not be started: ${ended.message}` };
  }
  if (timedOut) return { ok: false, code: 'skopeo-hung', message: hung };
  if (cancelled) return { ok: false, code: 'skopeo-hung', message: `${path} --version was cancelled (check aborted)` };
  if (ended.code !== 0) {
    const why = ended.code !== null ? `exit code ${ended.code}` : (ended.signal ?? 'unknown');
    const err = stderr().trim().slice(0, 200);
    return { ok: false, code: 'skopeo-failed', message: `${path} --version failed (${why})${err ? `: ${err}` : ''}` };
  }
  return { ok: true, stdout: stdout() };
}

// Runs `<skopeo> --version` the safe way: stdin closed (nothing can wait for a terminal), no
// shell, and a hard time budget: SIGTERM shortly before the budget ends, SIGKILL when it ends,
// and the answer "hung" at the budget's end even if something still holds the pipes open (a
// child the binary forked), so the check never outlives its timeout. Never throws.
import { execa } from 'execa';

export type VersionRun =
  | { ok: true; stdout: string }
  | { ok: false; code: 'skopeo-hung' | 'skopeo-failed' | 'skopeo-missing' | 'skopeo-not-executable'; message: string };

// How long before the end of the budget SIGTERM is sent; at the end, SIGKILL.
const termGraceMs = 500;
// After SIGKILL, how long the exit and pipe close may take before we stop waiting for them.
const reapGraceMs = 100;

export async function runSkopeoVersion(path: string, timeoutMs: number, signal: AbortSignal): Promise<VersionRun> {
  const grace = Math.min(termGraceMs, timeoutMs / 2);
  const subprocess = execa(path, ['--version'], {
    stdin: 'ignore',
    timeout: timeoutMs - grace,
    forceKillAfterDelay: grace,
    cancelSignal: signal,
    reject: false,
    // Only the first line matters; a binary that floods stdout must not grow our heap.
    maxBuffer: 64 * 1024,
    env: { LC_ALL: 'C' },
  });
  let backstop: NodeJS.Timeout | undefined;
  const abandoned = new Promise<'abandoned'>((resolve) => {
    backstop = setTimeout(() => resolve('abandoned'), timeoutMs + reapGraceMs);
  });
  const result = await Promise.race([subprocess, abandoned]);
  clearTimeout(backstop);
  const hung = `${path} --version did not finish within ${timeoutMs / 1000} s and was killed`;
  if (result === 'abandoned') {
    subprocess.kill('SIGKILL');
    return { ok: false, code: 'skopeo-hung', message: hung };
  }
  if (result.timedOut) return { ok: false, code: 'skopeo-hung', message: hung };
  if (result.isCanceled) return { ok: false, code: 'skopeo-hung', message: `${path} --version was cancelled (check aborted)` };
  const errno = (result as { code?: string }).code;
  if (errno === 'ENOENT') return { ok: false, code: 'skopeo-missing', message: `${path} does not exist` };
  if (errno === 'EACCES') return { ok: false, code: 'skopeo-not-executable', message: `${path} is not executable` };
  if (result.failed) {
    const why = result.exitCode !== undefined ? `exit code ${result.exitCode}` : (result.signal ?? result.shortMessage);
    const stderr = String(result.stderr ?? '').trim().slice(0, 200);
    return { ok: false, code: 'skopeo-failed', message: `${path} --version failed (${why})${stderr ? `: ${stderr}` : ''}` };
  }
  return { ok: true, stdout: String(result.stdout) };
}

// A child's whole output and how it ended, for tests that run a command and read what it
// printed: SIGKILL after `killAfterMs` so a hung child fails the test instead of hanging it,
// and SIGTERM as soon as `until` says stdout holds what the test waits for.
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface ChildOutput {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

export function childOutput(
  child: ChildProcessByStdio<null, Readable, Readable>,
  killAfterMs: number,
  until?: (stdout: string) => boolean,
): Promise<ChildOutput> {
  const started = performance.now();
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (until?.(stdout)) child.kill('SIGTERM');
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, wallMs: performance.now() - started });
    }),
  );
}

// Runs the real skopeo with a private blob-info cache. skopeo 1.9.3 as root always uses
// /var/lib/containers/cache (no flag moves it), so each run gets a private mount namespace in
// which a scratch directory is bind-mounted over that path: the machine's own cache is never
// read or written, and parallel runs can share or separate caches as the caller chooses.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const systemCacheDir = '/var/lib/containers/cache';

export interface SkopeoRunOptions {
  cacheDir: string; // scratch directory that stands in for /var/lib/containers/cache
  timeoutMs?: number; // default 60000; then SIGKILL
  env?: Record<string, string>; // added to the environment
  binary?: string; // default 'skopeo'
}

export interface SkopeoRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

const keepBytes = 256 * 1024;

// The mounts happen inside the new namespace, after `unshare -m --propagation private`, so they
// cannot leak to the host. A bind mount needs an existing target; where the machine has no
// cache directory (a fresh machine), a tmpfs over its deepest existing ancestor, in this
// namespace only, holds the mount point, so not even an empty directory is left on the host.
const script = [
  'target=$1; top=$target',
  'while [ ! -d "$top" ]; do top=$(dirname "$top"); done',
  'if [ "$top" != "$target" ]; then mount -t tmpfs -o size=1m,mode=0755 buildfleet-test "$top" && mkdir -p "$target" || exit 125; fi',
  'mount --bind "$2" "$target" && shift 2 && exec "$@"',
].join('\n');

export function runSkopeo(args: string[], options: SkopeoRunOptions): Promise<SkopeoRunResult> {
  const policyDir = mkdtempSync(join(tmpdir(), 'buildfleet-skopeo-policy-'));
  const policyFile = join(policyDir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const command = [
    '-m',
    '--propagation',
    'private',
    'sh',
    '-c',
    script,
    'sh',
    systemCacheDir,
    options.cacheDir,
    options.binary ?? 'skopeo',
    '--policy',
    policyFile,
    ...args,
  ];
  return new Promise((resolveRun) => {
    const child = spawn('unshare', command, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout = (stdout + d).slice(-keepBytes)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-keepBytes)));
    // unshare and sh exec in place, so this pid ends up being skopeo itself.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60000);
    child.on('error', (err) => (stderr += `\nspawn failed: ${err.message}`));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      rmSync(policyDir, { recursive: true, force: true });
      resolveRun({ code, signal, timedOut, stdout, stderr });
    });
  });
}

// The blob-info cache file skopeo 1.9.3 writes inside a scratch cache directory.
export function boltCacheFile(cacheDir: string): string {
  return join(cacheDir, 'blob-info-cache-v1.boltdb');
}

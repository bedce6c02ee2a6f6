// statfs(2) of a path, in a short-lived child process that can be abandoned.
//
// Why a child process: on a hung network mount, stat and statfs block in the kernel. Node's
// async fs.statfs would park one of the four libuv threadpool threads there for good, and a
// few runs later the pool is exhausted: every fs call and every dns.lookup of the daemon stalls
// (the registry probe and the HTTP API with it). A worker_thread is no better: it cannot be
// terminated while blocked in a syscall. A child process keeps the blocked syscall out of our
// process entirely; on timeout we SIGKILL it (NFS waits are killable) and stop waiting for it.
//
// The child also finds the nearest existing parent and resolves symlinks, because those stat
// calls hang on a dead mount just the same.
import { spawn } from 'node:child_process';

export interface StatfsFacts {
  // The path that was actually measured: the configured path or its nearest existing parent.
  statPath: string;
  // statPath with symlinks resolved, for the mount table lookup.
  realPath: string;
  exists: boolean;
  availBytes: number;
  sizeBytes: number;
  filesFree: number;
  filesTotal: number;
}

export type StatfsOutcome =
  | ({ ok: true } & StatfsFacts)
  | { ok: false; message: string };

// Runs in the child: plain CommonJS so it needs no file on disk and no TypeScript.
const childProgram = `
const fs = require('node:fs');
const path = require('node:path');
let statPath = path.resolve(process.argv[1]);
let exists = true;
for (;;) {
  try { fs.statSync(statPath); break; }
  catch (e) {
    if (e.code !== 'ENOENT' && e.code !== 'ENOTDIR') throw e;
    exists = false;
    const parent = path.dirname(statPath);
    if (parent === statPath) throw e;
    statPath = parent;
  }
}
const s = fs.statfsSync(statPath);
process.stdout.write(JSON.stringify({
  statPath, realPath: fs.realpathSync(statPath), exists,
  availBytes: s.bavail * s.bsize, sizeBytes: s.blocks * s.bsize, filesFree: s.ffree, filesTotal: s.files,
}));
`;

// The command that runs childProgram; tests may hand in another (e.g. one that never answers).
export type StatfsCommand = (path: string) => { file: string; args: string[] };

export const nodeStatfsCommand: StatfsCommand = (path) => ({
  file: process.execPath,
  args: ['-e', childProgram, path],
});

// Resolves when the child answers, fails, or `signal` aborts (then the child is SIGKILLed and
// abandoned: we do not wait for it to die, it may be stuck in the kernel for a while).
export function statfsInChild(path: string, signal: AbortSignal, command: StatfsCommand = nodeStatfsCommand): Promise<StatfsOutcome> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ ok: false, message: 'aborted before start' });
      return;
    }
    const { file, args } = command(path);
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: {} });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (outcome: StatfsOutcome) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const onAbort = () => {
      child.kill('SIGKILL');
      child.unref();
      child.stdout.destroy();
      child.stderr.destroy();
      finish({ ok: false, message: 'aborted' });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', (err) => finish({ ok: false, message: `cannot run statfs helper: ${err.message}` }));
    child.on('close', (code) => {
      if (code !== 0) {
        // The child's uncaught error names the syscall and errno (EACCES, EIO, ...).
        const line = stderr.split('\n').find((l) => /^\w*Error: /.test(l)) ?? stderr.trim().split('\n')[0] ?? '';
        finish({ ok: false, message: line.replace(/^\w*Error: /, '') || `statfs helper exited with ${code}` });
        return;
      }
      try {
        finish({ ok: true, ...(JSON.parse(stdout) as StatfsFacts) });
      } catch {
        finish({ ok: false, message: `statfs helper printed no result: ${JSON.stringify(stdout.slice(0, 100))}` });
      }
    });
  });
}

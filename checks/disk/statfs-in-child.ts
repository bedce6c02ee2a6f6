// statfs(2) of a path, in a short-lived child process that can be abandoned.
//
// Why a child process: on a hung network mount, stat and statfs block in the kernel. Node's
// async fs.statfs would park one of the four libuv threadpool threads there for good, and a
// few runs later the pool is exhausted: every fs call and every dns.lookup of the daemon stalls
// (the registry probe and the HTTP API with it). A worker_thread is no better: it cannot be
// terminated while blocked in a syscall. A child process keeps the blocked syscall out of our
// process entirely; when the signal aborts, lib/run-child.ts kills it (NFS waits are killable)
// and stops waiting for it.
//
// The child also finds the nearest existing parent and resolves symlinks, because those stat
// calls hang on a dead mount just the same.
import { lastLine, runChild } from '../../lib/run-child.ts';

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

export type StatfsOutcome = ({ ok: true } & StatfsFacts) | { ok: false; message: string };

// Runs in the child: plain CommonJS so it needs no file on disk and no TypeScript. A failure is
// printed as one JSON line too (the errno and the path), not left to an uncaught exception.
const childProgram = `
const fs = require('node:fs');
const path = require('node:path');
try {
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
} catch (e) {
  process.stdout.write(JSON.stringify({ error: String(e && e.message || e) }));
}
`;

// The command that runs childProgram; tests may hand in another (e.g. one that never answers).
export type StatfsCommand = (path: string) => { file: string; args: string[] };

export const nodeStatfsCommand: StatfsCommand = (path) => ({
  file: process.execPath,
  args: ['-e', childProgram, path],
});

// A few hundred bytes of JSON; anything longer is not our helper talking.
const maxOutputBytes = 64 * 1024;

// Resolves when the child answers, fails, or `signal` aborts (then the child's process group is
// killed and, if it does not die at once, abandoned: it may be stuck in the kernel a while).
export async function statfsInChild(
  path: string,
  signal: AbortSignal,
  command: StatfsCommand = nodeStatfsCommand,
): Promise<StatfsOutcome> {
  if (signal.aborted) return { ok: false, message: 'aborted before start' };
  const { file, args } = command(path);
  const run = await runChild({ file, args, signal, maxStdoutBytes: maxOutputBytes });
  switch (run.kind) {
    case 'spawn-failed':
      return { ok: false, message: `cannot run the statfs helper: ${run.message}` };
    case 'aborted':
    case 'timed-out':
      return { ok: false, message: 'aborted' };
    case 'output-overflow':
      return { ok: false, message: `the statfs helper printed more than ${maxOutputBytes} bytes` };
    case 'signalled':
      return { ok: false, message: `the statfs helper was killed by ${run.signal}` };
    case 'exited': {
      let parsed: (StatfsFacts & { error?: undefined }) | { error: string } | undefined;
      try {
        parsed = JSON.parse(run.stdout.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      if (parsed && typeof parsed.error === 'string') return { ok: false, message: parsed.error };
      if (run.code === 0 && parsed && typeof (parsed as StatfsFacts).statPath === 'string')
        return { ok: true, ...(parsed as StatfsFacts) };
      const why = lastLine(run.stderr);
      if (run.code !== 0) return { ok: false, message: why || `the statfs helper exited with ${run.code}` };
      return {
        ok: false,
        message: `statfs helper printed no result: ${JSON.stringify(run.stdout.toString('utf8').slice(0, 100))}`,
      };
    }
  }
}

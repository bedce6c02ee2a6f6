// Which processes have a file open: every /proc/<pid>/fd/<n> is stat'ed (the kernel follows
// the magic link to the open file) and compared by device and inode, which stays right for
// renamed or deleted files where the readlink text would not. The proc root is a parameter so
// tests can hand in a directory of their own.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { FileIdentity } from '../../lib/file-identity.ts';

export interface OpenFileHolder {
  pid: number;
  command: string;
  fd: number;
  target: string; // readlink of the fd, for people
}

export function findOpenFileHolders(files: readonly FileIdentity[], procRoot = '/proc'): OpenFileHolder[] {
  const wanted = new Set(files.map((f) => `${f.dev}:${f.ino}`));
  const holders: OpenFileHolder[] = [];
  if (wanted.size === 0) return holders;
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return holders;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fdDir = `${procRoot}/${entry}/fd`;
    let fds: string[];
    try {
      fds = readdirSync(fdDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A process whose open files we may not see could hold the cache: without
      // CAP_SYS_PTRACE that is every other user's process. Not knowing counts as "open".
      if (code === 'EACCES' || code === 'EPERM') {
        holders.push({
          pid: Number(entry),
          command: readCommand(procRoot, entry),
          fd: -1,
          target: `unknown: ${fdDir} is not readable (${code})`,
        });
      }
      continue; // otherwise: exited meanwhile, or a kernel thread
    }
    for (const fd of fds) {
      const st = safeStat(`${fdDir}/${fd}`);
      if (!st || !wanted.has(`${st.dev}:${st.ino}`)) continue;
      holders.push({
        pid: Number(entry),
        command: readCommand(procRoot, entry),
        fd: Number(fd),
        target: safeReadlink(`${fdDir}/${fd}`),
      });
    }
  }
  return holders;
}

function safeStat(p: string): { dev: bigint; ino: bigint } | null {
  try {
    return statSync(p, { bigint: true, throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

function safeReadlink(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '?';
  }
}

function readCommand(procRoot: string, pid: string): string {
  try {
    return readFileSync(`${procRoot}/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

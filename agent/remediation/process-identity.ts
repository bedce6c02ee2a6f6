// Which process wrote an intent record, in a form that survives pid reuse: the pid plus its
// start time (field 22 of /proc/<pid>/stat, clock ticks since boot). A record whose process is
// still alive belongs to a quarantine in progress, not to a crash, and must not be "resumed"
// under its feet (the daemon's check and a `cache quarantine` may run at the same time).
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  startTime: string | null; // null when /proc could not be read
}

function startTimeOf(pid: number, procRoot: string): string | null {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields after the last ')' are plain.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

export function currentProcessIdentity(procRoot = '/proc'): ProcessIdentity {
  return { pid: process.pid, startTime: startTimeOf(process.pid, procRoot) };
}

export function processStillRunning(id: ProcessIdentity, procRoot = '/proc'): boolean {
  const now = startTimeOf(id.pid, procRoot);
  return now !== null && id.startTime !== null && now === id.startTime;
}

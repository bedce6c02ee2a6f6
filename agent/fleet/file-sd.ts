// Writes the swept hosts as a Prometheus file_sd file, so the list an operator keeps for
// `fleet status` is also what Prometheus scrapes. Every target is written, answering or not:
// a dead agent must stay a scrape target so `up == 0` can alert on it.
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { FleetRow, FleetState } from './fleet-report.ts';

export interface FileSdGroup {
  targets: string[];
  labels: Record<string, string>;
}

// The decision label is optional and off by default: a target label that changes with the
// host's health gives its series a new identity at every change (alert `for:` timers restart,
// rate() breaks). Its values are bounded (four states), so it is safe for cardinality.
export const decisionLabelName = 'buildfleet_fleet_state';

// Groups targets by their label set (the labels of the file_sd input, plus the state when
// asked), in a stable order so an unchanged fleet writes an identical file.
export function fileSdGroups(rows: FleetRow[], opts: { decisionLabel: boolean }): FileSdGroup[] {
  const groups = new Map<string, FileSdGroup>();
  const sortedRows = [...rows].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  for (const row of sortedRows) {
    const labels: Record<string, string> = { ...row.labels };
    if (opts.decisionLabel) labels[decisionLabelName] = row.state satisfies FleetState;
    const sortedLabels = Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const key = JSON.stringify(sortedLabels);
    const group = groups.get(key) ?? { targets: [], labels: sortedLabels };
    group.targets.push(row.target);
    groups.set(key, group);
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => g);
}

export function renderFileSd(groups: FileSdGroup[]): string {
  return `${JSON.stringify(groups, null, 2)}\n`;
}

// Prometheus picks a file_sd file's format from its extension.
export function fileSdPathProblem(path: string): string | null {
  return /\.(json|ya?ml)$/.test(path)
    ? null
    : `${path}: a file_sd file must end in .json, .yml or .yaml (Prometheus reads the format from the name)`;
}

// Atomic: a temporary file beside the target, fsync, rename, fsync of the directory. Prometheus
// (or node_exporter's textfile collector) watches the directory and must never read half a
// file; the temporary name starts with a dot and ends in .tmp so no `*.json` / `*.yml` /
// `*.prom` glob picks it up. 0644 whatever the umask: the reader usually runs as another user.
export function writeFileAtomically(path: string, content: string): { ok: true } | { ok: false; error: string } {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fd = openSync(temp, 'w', 0o644);
    try {
      fchmodSync(fd, 0o644);
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    return { ok: false, error: `cannot write ${path}: ${(err as Error).message}` };
  }
  try {
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // The rename is done; a directory that cannot be fsynced (some network filesystems) only
    // weakens durability across a power cut, not atomicity.
  }
  return { ok: true };
}

// How quarantined copies are named: `<name>.corrupt-<UTC timestamp>[-<n>]`, companions keep
// SQLite's own suffix after that stem (`…corrupt-20261128T101500Z-journal`), so opening the
// quarantined database with sqlite3 still finds its journal or WAL.

// SQLite's companion files. Bolt has none; looking for them costs three lstat calls.
export const companionSuffixes = ['-journal', '-wal', '-shm'] as const;
export type CompanionSuffix = (typeof companionSuffixes)[number];

export function utcStamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

export function quarantineStem(name: string, at: Date, attempt: number): string {
  return `${name}.corrupt-${utcStamp(at)}${attempt > 0 ? `-${attempt}` : ''}`;
}

export interface QuarantinedName {
  stem: string; // `<name>.corrupt-<stamp>[-n]`
  stamp: string;
  attempt: number;
  companion: CompanionSuffix | null;
}

// Parses a directory entry as a quarantined copy of `name` (or one of its companions).
export function parseQuarantinedName(name: string, entry: string): QuarantinedName | null {
  const prefix = `${name}.corrupt-`;
  if (!entry.startsWith(prefix)) return null;
  const m = /^(\d{8}T\d{6}Z)(?:-(\d+))?(-journal|-wal|-shm)?$/.exec(entry.slice(prefix.length));
  if (!m) return null;
  const attempt = m[2] ? Number(m[2]) : 0;
  return {
    stem: `${prefix}${m[1]}${m[2] ? `-${m[2]}` : ''}`,
    stamp: m[1],
    attempt,
    companion: (m[3] as CompanionSuffix | undefined) ?? null,
  };
}

// Sizes and free-space thresholds as people write them in the config: "20%", "5GiB", "512MB",
// or a plain number of bytes. Parsing is the disk check's own parseFreeThreshold, so the config
// and the check can never disagree on what a threshold means.
import { parseFreeThreshold, type FreeThreshold } from '../../checks/disk.ts';

export { parseFreeThreshold };
export type { FreeThreshold };

// A size in bytes ("1GiB", "500MB", 1073741824); percentages are not sizes.
export function parseByteSize(text: string): number | Error {
  const parsed = parseFreeThreshold(text);
  if (parsed instanceof Error) return parsed;
  if ('percent' in parsed) return new Error(`"${text}" is a percentage; a size is needed here (e.g. "1GiB")`);
  if (!Number.isSafeInteger(parsed.bytes)) return new Error(`"${text}" is too large`);
  return parsed.bytes;
}

const binaryUnits: [string, number][] = [
  ['TiB', 1024 ** 4],
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
];

// The inverse, for `config check`: the largest binary unit that divides exactly, so the printed
// config reads like the one a person wrote and parses back to exactly the same value (the disk
// check's formatBytes rounds for display, which would not).
export function formatByteSize(bytes: number): string {
  for (const [unit, size] of binaryUnits) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

export function formatFreeThreshold(t: FreeThreshold): string {
  return 'percent' in t ? `${t.percent}%` : formatByteSize(t.bytes);
}

// Whether `warn` asks for at least as much free space as `critical`. Thresholds of different
// kinds (bytes against percent) cannot be compared without the filesystem's size: null.
export function warnAtLeastCritical(warn: FreeThreshold, critical: FreeThreshold): boolean | null {
  if ('percent' in warn && 'percent' in critical) return warn.percent >= critical.percent;
  if ('bytes' in warn && 'bytes' in critical) return warn.bytes >= critical.bytes;
  return null;
}

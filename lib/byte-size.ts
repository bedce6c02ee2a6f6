// Sizes and free-space thresholds as people write them: "20%", "5GiB", "500MB", or a plain byte
// count. One parser for the config (which validates them) and the disk check (which judges with
// them), so the two can never disagree on what a threshold means. Pure.

export type FreeThreshold = { bytes: number } | { percent: number };

const unitBytes: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  t: 1000 ** 4,
  tb: 1000 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const thresholdText = /^\s*(\d+(?:\.\d+)?)\s*(%|[a-zA-Z]*)\s*$/;

// Returns an Error (a value) naming the problem; the config puts it under the key.
export function parseFreeThreshold(text: string): FreeThreshold | Error {
  const match = thresholdText.exec(text);
  if (!match)
    return new Error(
      `"${text}" is not a size: use a percentage ("20%"), a size with a unit ("5GiB", "500MB") or a byte count`,
    );
  const value = Number(match[1]);
  const unit = match[2];
  if (unit === '%') {
    if (value > 100) return new Error(`"${text}": a percentage of free space cannot exceed 100%`);
    return { percent: value };
  }
  const multiplier = unitBytes[unit.toLowerCase()];
  if (multiplier === undefined) {
    return new Error(`"${text}": unknown unit "${unit}" (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)`);
  }
  return { bytes: Math.round(value * multiplier) };
}

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

// The inverse of parseByteSize, for `config check`: the largest binary unit that divides
// exactly, so the printed config reads like the one a person wrote and parses back to exactly
// the same value (formatBytes rounds, which would not).
export function formatByteSize(bytes: number): string {
  for (const [unit, size] of binaryUnits) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

// For people reading a measurement: one decimal in the largest binary unit ("75.9 GiB").
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

// A percentage as written; a size exact by default (the config printed back), or through
// another formatter (the disk check's details and messages show formatBytes' rounded figure).
export function formatFreeThreshold(
  threshold: FreeThreshold,
  formatSize: (bytes: number) => string = formatByteSize,
): string {
  return 'percent' in threshold ? `${threshold.percent}%` : formatSize(threshold.bytes);
}

// Whether `warn` asks for at least as much free space as `critical`. Thresholds of different
// kinds (bytes against percent) cannot be compared without the filesystem's size: null.
export function warnAtLeastCritical(warn: FreeThreshold, critical: FreeThreshold): boolean | null {
  if ('percent' in warn && 'percent' in critical) return warn.percent >= critical.percent;
  if ('bytes' in warn && 'bytes' in critical) return warn.bytes >= critical.bytes;
  return null;
}

// Free-space thresholds as people write them in the config ("20%", "5GiB", "500MB", a plain byte
// count) and the one comparison the disk check makes with them. Pure.

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

// Returns an Error (a value) naming the problem; the config engineer puts it under the key.
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

export function formatFreeThreshold(threshold: FreeThreshold): string {
  return 'percent' in threshold ? `${threshold.percent}%` : formatBytes(threshold.bytes);
}

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

// "Free" is the space an unprivileged writer may still use (statfs f_bavail), not f_bfree: the
// root-reserved blocks are no help to a build running as a normal user.
export function isBelowThreshold(threshold: FreeThreshold, availBytes: number, sizeBytes: number): boolean {
  if ('bytes' in threshold) return availBytes < threshold.bytes;
  const percentFree = sizeBytes > 0 ? (availBytes / sizeBytes) * 100 : 0;
  return percentFree < threshold.percent;
}

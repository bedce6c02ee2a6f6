// The one comparison the disk check makes with a free-space threshold (lib/byte-size.ts parses
// and prints them). Pure.
import type { FreeThreshold } from '../../lib/byte-size.ts';

// "Free" is the space an unprivileged writer may still use (statfs f_bavail), not f_bfree: the
// root-reserved blocks are no help to a build running as a normal user.
export function isBelowThreshold(threshold: FreeThreshold, availBytes: number, sizeBytes: number): boolean {
  if ('bytes' in threshold) return availBytes < threshold.bytes;
  const percentFree = sizeBytes > 0 ? (availBytes / sizeBytes) * 100 : 0;
  return percentFree < threshold.percent;
}

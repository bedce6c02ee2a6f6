// Which mount a path lives on, from /proc/self/mountinfo. Reading that file never touches the
// mounted filesystems themselves, so unlike `df` (which systeminformation's fsSize runs and
// which stats every mount) it cannot hang on a dead NFS server.
import { readFileSync } from 'node:fs';

export interface MountEntry {
  mountpoint: string;
  fsType: string;
  source: string;
}

// mountinfo escapes space, tab, newline and backslash as octal.
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [before, after] = line.split(' - ');
    if (after === undefined) continue;
    const fields = before.split(' ');
    const [fsType, source] = after.split(' ');
    if (fields.length < 5 || fsType === undefined) continue;
    entries.push({ mountpoint: unescapeOctal(fields[4]), fsType, source: unescapeOctal(source ?? '') });
  }
  return entries;
}

function contains(mountpoint: string, path: string): boolean {
  return mountpoint === '/' || path === mountpoint || path.startsWith(`${mountpoint}/`);
}

// The longest mount point that is a prefix of the (already resolved, symlink-free) path. When
// several mounts are stacked on one mount point the later line is the visible one.
export function mountOf(resolvedPath: string, entries: MountEntry[]): MountEntry | null {
  let best: MountEntry | null = null;
  for (const entry of entries) {
    if (!contains(entry.mountpoint, resolvedPath)) continue;
    if (best === null || entry.mountpoint.length >= best.mountpoint.length) best = entry;
  }
  return best;
}

export function readMountInfo(): string {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return '';
  }
}

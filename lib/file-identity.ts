// What "the same file" means for the quarantine: same device, inode, size and modification
// time. Compared before and after the confirming verification and again right before rename.
import { lstatSync, type BigIntStats } from 'node:fs';

export type FileKind = 'file' | 'symlink' | 'directory' | 'other';

export interface FileIdentity {
  dev: string; // bigint as decimal string: inode numbers can exceed 2^53 on some filesystems
  ino: string;
  size: number;
  mtimeNs: string;
  uid: number;
  nlink: number;
  kind: FileKind;
}

export function identityFromStats(st: BigIntStats): FileIdentity {
  const kind: FileKind = st.isSymbolicLink()
    ? 'symlink'
    : st.isFile()
      ? 'file'
      : st.isDirectory()
        ? 'directory'
        : 'other';
  return {
    dev: st.dev.toString(),
    ino: st.ino.toString(),
    size: Number(st.size),
    mtimeNs: st.mtimeNs.toString(),
    uid: Number(st.uid),
    nlink: Number(st.nlink),
    kind,
  };
}

// lstat (never follows the last component); null when the name does not exist.
export function lstatIdentity(p: string): FileIdentity | null {
  const st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
  return st ? identityFromStats(st) : null;
}

export function sameFile(a: FileIdentity | null, b: FileIdentity | null): boolean {
  return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
}

// Same inode and unchanged content as far as metadata can tell.
export function sameFileUnchanged(a: FileIdentity | null, b: FileIdentity | null): boolean {
  return sameFile(a, b) && a!.size === b!.size && a!.mtimeNs === b!.mtimeNs;
}

// Whether `st` (a pinned directory's stat) is the inode recorded earlier as decimal strings (a
// discovered cache's dirDev/dirIno, an intent's). Nothing recorded (null) is never the same.
export function isRecordedInode(
  st: { dev: bigint; ino: bigint },
  recorded: { dev: string | null; ino: string | null },
): boolean {
  return (
    recorded.dev !== null &&
    recorded.ino !== null &&
    st.dev.toString() === recorded.dev &&
    st.ino.toString() === recorded.ino
  );
}

export function inodeNumber(id: FileIdentity): number {
  return Number(id.ino);
}

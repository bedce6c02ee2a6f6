// Whether a cache changed since it was last verified, from a few KB read in-process (no child,
// no walk). A stamp is what every write to the cache moves:
// - the file's identity: device, inode (a rename over the path), size, mtime and ctime. ctime
//   is the one nobody can set back: an in-place write that restores size and mtime afterwards
//   (touch -d, utimes) still moves it;
// - bolt: both meta regions byte for byte (txid, root, freelist, checksum of each commit);
// - SQLite: the header's change counter, page count and version-valid-for; the -wal's
//   identity and header (salts and checkpoint sequence change on every WAL reset, the size on
//   every append); whether a -journal exists (and its identity).
// Equal stamps mean "no write since", with one exception handled by `settled`: a write within
// the filesystem's timestamp granularity of the stamp's own reading can leave ctime equal, so
// a stamp read too soon after the newest ctime does not vouch for anything (git's "racily
// clean" rule). Bit rot moves none of this: the deep verification reads everything anyway.
import { lstatSync, type BigIntStats } from 'node:fs';
import { isOpenFailure, openCacheFile, type ReadAt } from './file-source.ts';
import { hasSqliteMagic } from './sqlite/header.ts';
import { metaRegionBytes } from './bolt/format.ts';
import { readBoltMetas } from './bolt/meta.ts';

export interface StatStamp {
  dev: string; // bigints as decimal strings
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

export interface ChangeStamp {
  key: string; // equal keys: nothing observable changed
  // The newest ctime among the file and its companions, in ms since the epoch: when the cache
  // was last written, as far as the filesystem says.
  changedAtMs: number;
  // false: read within `racyWindowMs` of that ctime; equal keys then prove nothing.
  settled: boolean;
}

// Larger than any Linux filesystem's timestamp granularity (jiffies, 1-10 ms; FAT's 2 s is
// not a place for caches) and than the skew between the kernel's coarse clock and Date.now().
export const racyWindowMs = 1000;

export function statStamp(st: BigIntStats): StatStamp {
  return {
    dev: st.dev.toString(),
    ino: st.ino.toString(),
    size: st.size.toString(),
    mtimeNs: st.mtimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
  };
}

// The bolt part: both meta regions as bbolt would choose from them (their bytes, hex), or the
// raw first region when the metas cannot be read (such a file is never carried forward anyway,
// but its stamp still has to move when it is rewritten).
export function boltContentStamp(readAt: ReadAt, fileSize: number): string {
  const reading = readBoltMetas(readAt, fileSize);
  if (reading.kind === 'ok') return `bolt:${reading.fingerprint.toString('hex')}`;
  const head = readAt(0, metaRegionBytes);
  return `bolt?:${head instanceof Error ? head.message : Buffer.from(head).toString('hex')}`;
}

// The SQLite part of the main file: header offsets 24 (change counter), 28 (page count), 92
// (version-valid-for). The whole first 100 bytes are compared, which includes those.
export function sqliteHeaderStamp(header: Uint8Array): string {
  return `sqlite:${Buffer.from(header.buffer, header.byteOffset, Math.min(header.length, 100)).toString('hex')}`;
}

// The -wal header (32 bytes: magic, version, page size, checkpoint sequence, salts, checksum).
export function walHeaderStamp(header: Uint8Array): string {
  return Buffer.from(header.buffer, header.byteOffset, Math.min(header.length, 32)).toString('hex');
}

function statKey(s: StatStamp): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

export type StampFailure = { error: string };

// Reads the stamp of the cache at `path` (a pinned /proc/self/fd path in the daemon) without
// following a symlink. `nowMs` is when the reading started.
export function readChangeStamp(path: string, nowMs: number = Date.now()): ChangeStamp | StampFailure {
  const opened = openCacheFile(path);
  if (isOpenFailure(opened)) return { error: opened.message };
  const parts: string[] = [];
  let newestCtimeNs: bigint;
  try {
    const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    if (!st || !st.isFile()) return { error: `${path} is not a regular file` };
    // The stat of the open descriptor and of the name must agree: a rename between them would
    // otherwise give a stamp made of two files.
    const fst = statStamp(st);
    if (fst.ino !== opened.stat.ino.toString() || fst.dev !== opened.stat.dev.toString())
      return { error: `${path} was replaced while its stamp was read` };
    parts.push(statKey(fst));
    newestCtimeNs = st.ctimeNs;
    const size = Number(st.size);
    const head = opened.readAt(0, 100);
    if (head instanceof Error) return { error: head.message };
    if (hasSqliteMagic(head)) {
      parts.push(sqliteHeaderStamp(head));
      for (const companion of ['-wal', '-journal'] as const) {
        const c = lstatSync(`${path}${companion}`, { bigint: true, throwIfNoEntry: false });
        if (!c) {
          parts.push(`${companion}:none`);
          continue;
        }
        if (c.ctimeNs > newestCtimeNs) newestCtimeNs = c.ctimeNs;
        parts.push(`${companion}:${statKey(statStamp(c))}`);
        if (companion === '-wal' && c.isFile()) {
          const wal = openCacheFile(`${path}-wal`);
          if (isOpenFailure(wal)) {
            parts.push(`-wal:${wal.code}`);
            continue;
          }
          try {
            const h = wal.readAt(0, 32);
            parts.push(h instanceof Error ? `-wal:${h.message}` : walHeaderStamp(h));
          } finally {
            wal.close();
          }
        }
      }
    } else {
      parts.push(size === 0 ? 'empty' : boltContentStamp(opened.readAt, size));
    }
  } finally {
    opened.close();
  }
  const changedAtMs = Number(newestCtimeNs / 1_000_000n);
  return { key: parts.join('|'), changedAtMs, settled: nowMs - changedAtMs >= racyWindowMs };
}

export function isStampFailure(x: ChangeStamp | StampFailure): x is StampFailure {
  return 'error' in x;
}

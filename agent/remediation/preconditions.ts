// The rules a cache file must pass before a root process may rename it, checked inside a
// pinned directory (pinned-dir.ts): the directory is the one discovery found and is owned by
// the cache's user; the file and each companion are regular files (not symlinks), owned by
// that same user, with a single link. Each failure is one line that says why.
import type { DiscoveredCache } from '../../checks/blobcache/discover.ts';
import { isRecordedInode, lstatIdentity, type FileIdentity } from '../../lib/file-identity.ts';
import type { PinnedDir } from '../../lib/pinned-dir.ts';
import { companionSuffixes, type CompanionSuffix } from './quarantine-names.ts';

export type RefusalCode =
  | 'outside-cache-dirs'
  | 'not-a-cache-name'
  | 'symlink'
  | 'symlink-on-path'
  | 'not-a-directory'
  | 'not-a-regular-file'
  | 'directory-changed'
  | 'directory-owner-mismatch'
  | 'file-owner-mismatch'
  | 'hard-linked'
  | 'target-exists'
  | 'not-found'
  | 'io-error';

export interface Refusal {
  code: RefusalCode;
  message: string;
}

export interface PresentCompanion {
  suffix: CompanionSuffix;
  name: string;
  identity: FileIdentity;
}

export interface CacheFiles {
  main: FileIdentity;
  companions: PresentCompanion[];
}

export function isRefusal(x: unknown): x is Refusal {
  return typeof x === 'object' && x !== null && 'code' in x && 'message' in x && !('main' in x);
}

// The pinned directory must still be the one discovery saw, and owned by the cache's owner.
export function checkDirectory(cache: DiscoveredCache, dir: PinnedDir): Refusal | null {
  if (
    cache.dirDev !== null &&
    cache.dirIno !== null &&
    !isRecordedInode(dir.stat, { dev: cache.dirDev, ino: cache.dirIno })
  ) {
    return {
      code: 'directory-changed',
      message: `${cache.dir} is no longer the directory that was discovered (replaced meanwhile)`,
    };
  }
  const dirUid = Number(dir.stat.uid);
  if (dirUid !== cache.owner.uid) {
    return {
      code: 'directory-owner-mismatch',
      message: `${cache.dir} is owned by uid ${dirUid}, not by the cache's user ${cache.owner.name ?? '?'} (uid ${cache.owner.uid})`,
    };
  }
  return null;
}

// null main: the file is gone (nothing to do).
export function checkCacheFiles(cache: DiscoveredCache, dir: PinnedDir): CacheFiles | Refusal | null {
  if (cache.fileName === null)
    return { code: 'not-a-directory', message: cache.refused?.message ?? `${cache.path} is not a cache file` };
  const dirUid = Number(dir.stat.uid);
  const main = lstatIdentity(dir.at(cache.fileName));
  if (main === null) return null;
  const mainRefusal = checkOneFile(cache.path, main, dirUid);
  if (mainRefusal) return mainRefusal;
  const companions: PresentCompanion[] = [];
  for (const suffix of companionSuffixes) {
    const name = `${cache.fileName}${suffix}`;
    const identity = lstatIdentity(dir.at(name));
    if (identity === null) continue;
    const refusal = checkOneFile(`${cache.path}${suffix}`, identity, dirUid);
    if (refusal) return { code: refusal.code, message: `companion ${refusal.message}` };
    companions.push({ suffix, name, identity });
  }
  return { main, companions };
}

function checkOneFile(filePath: string, id: FileIdentity, dirUid: number): Refusal | null {
  if (id.kind === 'symlink')
    return { code: 'symlink', message: `${filePath} is a symbolic link; refusing to follow or move it` };
  if (id.kind !== 'file') return { code: 'not-a-regular-file', message: `${filePath} is not a regular file` };
  if (id.uid !== dirUid) {
    return {
      code: 'file-owner-mismatch',
      message: `${filePath} is owned by uid ${id.uid}, not by the directory's owner (uid ${dirUid})`,
    };
  }
  if (id.nlink !== 1)
    return {
      code: 'hard-linked',
      message: `${filePath} has ${id.nlink} hard links; a cache file never has more than one`,
    };
  return null;
}

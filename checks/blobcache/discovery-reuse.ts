// When a run of the blobcache check may take the caches the previous discovery found instead of
// walking again: `?max_age=0` on unchanged caches is then the change check alone (a pinned
// open of each cache directory and each cache's stamp, all synchronous and in-process), not
// ~36 lstats through libuv's threadpool, whose hops made most of its latency and its tail on a
// loaded host (docs/benchmarks.md, "Change-driven verification").
//
// Only a run a request started reuses a discovery, and only one that started less than
// `discoveryReuseMs` earlier, with the same skopeo format in use, no directory refused, and every
// cache directory still the same directory (device, inode) with the same mtime and ctime, read
// through a pinned open like the verification's. Adding, removing or renaming a file in a
// directory moves both, so a new cache or companion beside a known one, a cache moved aside or
// renamed over, is discovered by the next run. What this cannot see (a new user, a home's first
// cache directory, a configured directory created later, a trusted link changed) is found by the
// next scheduled, write-triggered or deep run, which always walk, and by a request at most
// `discoveryReuseMs` after the last walk. Reuse never decides a verdict: every cache is still
// stamped, and verified when its stamp moved.
import type { CheckTrigger } from '../types.ts';
import { isPinnedDirRefusal, openPinnedDir } from '../../lib/pinned-dir.ts';
import { racyWindowMs } from './change-stamp.ts';
import type { CacheFormatByName, DiscoveredCache } from './discover.ts';

export const discoveryReuseMs = 10_000;

export interface DiscoveryRecord {
  startedAtMs: number; // when the walk started (the check's clock)
  cacheFormatInUse: CacheFormatByName | null;
  caches: DiscoveredCache[];
}

export function reusableDiscovery(
  last: DiscoveryRecord | null,
  trigger: CheckTrigger,
  cacheFormatInUse: CacheFormatByName | null,
  nowMs: number,
  reuseMs: number = discoveryReuseMs,
): DiscoveredCache[] | null {
  if (last === null || trigger !== 'request') return null;
  const age = nowMs - last.startedAtMs;
  // age < 0: a clock that went back proves nothing.
  if (age < 0 || age >= reuseMs || last.cacheFormatInUse !== cacheFormatInUse) return null;
  const byDir = new Map<string, DiscoveredCache>();
  for (const c of last.caches) {
    if (c.refused !== null || !c.dirTimes) return null;
    byDir.set(c.dir, c);
  }
  for (const c of byDir.values()) if (!dirUnchanged(c, last.startedAtMs)) return null;
  return last.caches;
}

function dirUnchanged(cache: DiscoveredCache, startedAtMs: number): boolean {
  const dir = openPinnedDir(cache.dir);
  if (isPinnedDirRefusal(dir)) return false;
  try {
    const st = dir.stat;
    return (
      st.dev.toString() === cache.dirDev &&
      st.ino.toString() === cache.dirIno &&
      st.mtimeNs.toString() === cache.dirTimes!.mtimeNs &&
      st.ctimeNs.toString() === cache.dirTimes!.ctimeNs &&
      // Changed within the timestamp granularity of the walk's own look: equal times prove
      // nothing (the stamps' "racily clean" rule).
      startedAtMs - Number(st.ctimeNs / 1_000_000n) >= racyWindowMs
    );
  } finally {
    dir.close();
  }
}

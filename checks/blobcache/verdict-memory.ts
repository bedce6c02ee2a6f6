// What the blobcache check remembers between runs: per cache, the stamp (change-stamp.ts) it
// had when it was last verified healthy, so an unchanged cache keeps that verdict without a
// child process or a walk. Only `healthy` is ever carried forward: corrupt, unreadable and busy
// verdicts, and caches whose stamp could not be read or was read too soon after a write, are
// verified again on every run. The deep run (`full`) never consults it.
import type { CheckTrigger } from '../types.ts';
import type { CacheVerdict } from './verdict.ts';
import type { ChangeStamp } from './change-stamp.ts';

export const verificationTriggers: readonly CheckTrigger[] = ['schedule', 'write', 'request', 'full'];

export interface RememberedVerification {
  stampKey: string;
  verdict: CacheVerdict;
  verifiedAtMs: number;
}

export interface VerificationCounts {
  verified: Record<CheckTrigger, number>; // verifications run, by what started the check run
  skippedUnchanged: number; // verdicts carried forward because the stamp had not moved
}

export interface CacheVerdictMemory {
  // The healthy verification still standing for this stamp, or null (verify).
  recall(path: string, stamp: ChangeStamp): RememberedVerification | null;
  // Records a fresh verification (the stamp read BEFORE it, so a write during it is noticed).
  remember(path: string, stamp: ChangeStamp | null, verdict: CacheVerdict, atMs: number): void;
  countVerified(trigger: CheckTrigger): void;
  countSkipped(): void;
  counts(): VerificationCounts;
  // Drops caches not seen in the last run, so the memory stays as small as the host's caches.
  keepOnly(paths: ReadonlySet<string>): void;
}

export function createCacheVerdictMemory(): CacheVerdictMemory {
  const remembered = new Map<string, RememberedVerification>();
  const verified: Record<CheckTrigger, number> = { schedule: 0, write: 0, request: 0, full: 0 };
  let skippedUnchanged = 0;
  return {
    recall(path, stamp) {
      const r = remembered.get(path);
      if (!r || !stamp.settled || r.stampKey !== stamp.key || r.verdict.verdict !== 'healthy') return null;
      return r;
    },
    remember(path, stamp, verdict, atMs) {
      // A stamp read within the racy window proves nothing later: keep nothing, verify again.
      if (stamp === null || !stamp.settled || verdict.verdict !== 'healthy') remembered.delete(path);
      else remembered.set(path, { stampKey: stamp.key, verdict, verifiedAtMs: atMs });
    },
    countVerified(trigger) {
      verified[trigger]++;
    },
    countSkipped() {
      skippedUnchanged++;
    },
    counts: () => ({ verified: { ...verified }, skippedUnchanged }),
    keepOnly(paths) {
      for (const p of [...remembered.keys()]) if (!paths.has(p)) remembered.delete(p);
    },
  };
}

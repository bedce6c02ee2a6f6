// The blob-cache check's remediation hook (checks/blobcache/remediation.ts), built by the core
// from the config: the check reports what it verified; this moves a confirmed corrupt cache
// aside with the same rules and modules as `cache quarantine`, and finishes half-done moves.
import type { CacheRemediation } from '../../checks/blobcache/remediation.ts';
import type { VerifyOptions } from '../../checks/blobcache/verify.ts';
import type { Actor } from './audit.ts';
import { assessCache, quarantineCache, type VerifyCacheFn } from './quarantine.ts';
import { resumeInterruptedQuarantines } from './resume.ts';

export interface CacheRemediationOptions {
  // false: report half-done moves, move nothing (autoQuarantine off, or a read-only run).
  moves: boolean;
  actor: Actor;
  stateDir: string;
  keep: number;
  maxQuarantineBytes: number;
  verify: VerifyCacheFn;
  verifyOptions?: VerifyOptions;
  now: () => Date;
  procRoot?: string;
}

export function createCacheRemediation(o: CacheRemediationOptions): CacheRemediation {
  return {
    moves: o.moves,
    resumeInterrupted: () =>
      resumeInterruptedQuarantines({
        stateDir: o.stateDir,
        actor: o.actor,
        now: o.now,
        procRoot: o.procRoot,
        dryRun: !o.moves,
      }),
    async quarantine(cache, known, skopeoVersion) {
      const deps = {
        verify: o.verify,
        verifyOptions: o.verifyOptions,
        stateDir: o.stateDir,
        actor: o.actor,
        skopeoVersion,
        now: o.now,
        procRoot: o.procRoot,
        keep: o.keep,
        maxQuarantineBytes: o.maxQuarantineBytes,
      };
      return quarantineCache(await assessCache(cache, deps, known), deps);
    },
  };
}

// One whole quarantine pass, as `cache quarantine` and the API's POST /v1/caches/quarantine
// run it: finish interrupted moves, discover, match the requested files (or take every
// discovered cache), assess each and move the confirmed corrupt ones. Returns the report the
// CLI prints as JSON; nothing here writes to stdout or stderr.
import {
  cacheDirsInScope,
  discoverCaches,
  type CacheFormatByName,
  type DiscoveredCache,
} from '../../checks/blobcache/discover.ts';
import type { VerifyOptions } from '../../checks/blobcache/verify.ts';
import type { Actor, AuditRecord } from './audit.ts';
import {
  assessCache,
  outcomeFor,
  quarantineCache,
  type QuarantineDeps,
  type QuarantineOutcome,
  type VerifyCacheFn,
} from './quarantine.ts';
import { resumeInterruptedQuarantines, type ResumeOutcome } from './resume.ts';
import { matchRequestedFiles } from './targets.ts';
import { exitCodes } from '../../lib/exit-codes.ts';

export interface QuarantineRunOptions {
  files: readonly string[]; // empty: every discovered cache
  dryRun: boolean;
  actor: Actor;
  stateDir: string;
  dirs: readonly string[];
  discoverUsers: boolean;
  passwdPath?: string;
  keep: number;
  maxQuarantineBytes: number;
  verify: VerifyCacheFn;
  verifyOptions?: VerifyOptions;
  skopeoVersion: string | null;
  cacheFormatInUse: CacheFormatByName | null;
  now?: () => Date;
  procRoot?: string;
}

export interface QuarantineReport {
  dryRun: boolean;
  skopeoVersion: string | null;
  results: QuarantineOutcome[];
  interrupted: ResumeOutcome[];
  audit: AuditRecord[]; // every record appended by this pass, for the caller to log
  exitCode: 0 | 1; // 0: nothing is left corrupt; 1: refused, failed, busy, changed, pending, not judged, or a dry run with work to do
}

const settled = new Set<QuarantineOutcome['result']>(['quarantined', 'not-corrupt', 'gone']);

export async function runQuarantine(opts: QuarantineRunOptions): Promise<QuarantineReport> {
  const now = opts.now ?? (() => new Date());
  const deps: QuarantineDeps = {
    verify: opts.verify,
    verifyOptions: opts.verifyOptions,
    stateDir: opts.stateDir,
    actor: opts.actor,
    skopeoVersion: opts.skopeoVersion,
    now,
    procRoot: opts.procRoot,
    keep: opts.keep,
    maxQuarantineBytes: opts.maxQuarantineBytes,
  };
  const interrupted = resumeInterruptedQuarantines({
    stateDir: opts.stateDir,
    actor: opts.actor,
    now,
    procRoot: opts.procRoot,
    dryRun: opts.dryRun,
  });
  const discoverOpts = {
    dirs: opts.dirs,
    discoverUsers: opts.discoverUsers,
    cacheFormatInUse: opts.cacheFormatInUse,
    passwdPath: opts.passwdPath,
  };
  const discovered = await discoverCaches(discoverOpts);
  const results: QuarantineOutcome[] = [];
  const targets: DiscoveredCache[] = [];
  if (opts.files.length === 0) {
    targets.push(...discovered);
  } else {
    for (const t of matchRequestedFiles(opts.files, discovered, await cacheDirsInScope(discoverOpts))) {
      if (t.cache) targets.push(t.cache);
      else if (t.refusal) results.push(refusedRequest(t.requested, t.refusal.code, t.refusal.message));
    }
  }
  for (const cache of targets) {
    const assessment = await assessCache(cache, deps);
    results.push(opts.dryRun ? assessment.outcome : await quarantineCache(assessment, deps));
  }
  const audit = [...interrupted.flatMap((i) => i.audit), ...results.flatMap((r) => r.audit)];
  // "Could not be judged" (an unreadable or busy verdict) is not "nothing left corrupt".
  const unsettled =
    results.some((r) => !settled.has(r.result) || (r.result === 'not-corrupt' && r.code !== 'healthy')) ||
    interrupted.some((i) => i.result === 'pending' || i.result === 'needs-attention');
  return {
    dryRun: opts.dryRun,
    skopeoVersion: opts.skopeoVersion,
    results,
    interrupted,
    audit,
    exitCode: unsettled ? exitCodes.refuse : exitCodes.ok,
  };
}

function refusedRequest(requested: string, code: QuarantineOutcome['code'], message: string): QuarantineOutcome {
  return outcomeFor({ path: requested, formatByName: null }, 'refused', code, message);
}

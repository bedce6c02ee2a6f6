// The `blobcache` check: every discovered blob-info cache verified; when the agent hands in a
// remediation hook that may move files (autoQuarantine), a confirmed corrupt cache that the
// installed skopeo uses is moved aside by the agent and its path checked again. The details are the source of the blobinfocache_* metrics; their
// shape is documented in docs/quarantine.md ("The blobcache check").
import type { Check, CheckContext, CheckReason, CheckResult, CheckStatus, CheckTrigger } from '../types.ts';
import { verdictUnderPath, type CacheProblem, type CacheVerdict, type CacheFormat } from './verdict.ts';
import {
  discoverCaches,
  type CacheDirSource,
  type CacheFormatByName,
  type CacheOwner,
  type DiscoveredCache,
} from './discover.ts';
import type { VerifyOptions } from './verify.ts';
import type { CacheRemediation, ChangeRecord, QuarantineResult, ResumeResult } from './remediation.ts';
import { identityFromStats, isRecordedInode, type FileIdentity } from '../../lib/file-identity.ts';
import type { CacheProblemCode, CodeIn, QuarantineCode } from '../../lib/problem-codes.ts';
import { isPinnedDirRefusal, openPinnedDir } from '../../lib/pinned-dir.ts';
import { lstatSync } from 'node:fs';
import { isStampFailure, readChangeStamp, type ChangeStamp, type StampFailure } from './change-stamp.ts';
import { createCacheVerdictMemory, type CacheVerdictMemory, type VerificationCounts } from './verdict-memory.ts';
import { createUserList, type UserList } from './user-list.ts';
import { reusableDiscovery, type DiscoveryRecord } from './discovery-reuse.ts';

// Handed /proc/self/fd paths: it must open them in this process, or pass the descriptor on
// (the daemon's child verifier, agent/cache-verify-child.ts, does).
export type VerifyCacheFn = (path: string, opts?: VerifyOptions) => Promise<CacheVerdict>;

export interface SkopeoCacheInfo {
  skopeoVersion: string | null;
  cacheFormatInUse: CacheFormatByName | null;
}

// The config block (docs/conventions.md) plus the effects this check needs, injected.
export interface BlobCacheCheckOptions {
  dirs: string[];
  discoverUsers: boolean;
  full?: boolean;
  verify: VerifyCacheFn;
  skopeoInfo: () => Promise<SkopeoCacheInfo>;
  // What the agent does about corrupt caches; absent: observe only (nothing resumed or moved).
  remediation?: CacheRemediation;
  // When non-empty, only root's (configured directories') and these users' caches decide
  // admission; other users' caches are reported as warnings, so one user cannot drain a host.
  buildUsers?: readonly string[];
  passwdPath?: string;
  // How long a listing of the user database is reused (user-list.ts); tests shorten it.
  userListMaxAgeMs?: number;
  // How long a request-started run may reuse the last discovery (discovery-reuse.ts).
  discoveryReuseMs?: number;
  // Verdicts of unchanged caches carried between runs; shared by the ordinary and the deep
  // check (and kept across config reloads) when the caller passes one in.
  memory?: CacheVerdictMemory;
  // The change-stamp reader (tests wrap it to simulate bit rot, which no stamp sees).
  readStamp?: (path: string, nowMs: number) => ChangeStamp | StampFailure;
}

// A cache that stays busy keeps its previous verdict for this many consecutive runs; after
// that it counts as not verified (a writer that never lets go must not hide damage forever).
export const busyRunsKept = 3;

// What a cache counts as for admission, metrics and alerts alike (docs/quarantine.md).
// unverified: in use but not read to the end, whatever the cause; never healthy.
export type EffectiveVerdict = 'healthy' | 'corrupt' | 'unverified';

// Why a cache is unverified (a bounded set: it is also shown on the status page).
export type UnverifiedCause = CodeIn<'unverifiedCause'>;

export interface CacheQuarantineDetail {
  result: QuarantineResult;
  code: QuarantineCode;
  message: string;
  newPath: string | null;
}

// One entry of details.caches.
export interface BlobCacheDetail {
  path: string;
  dir: string;
  listedDir: string | null; // the configured or home-derived directory, when trusted links lead to `dir`
  formatByName: CacheFormatByName | null;
  format: CacheFormat | null; // from the content; null when not verified
  verdict: CacheVerdict['verdict'] | null; // null: refused, or gone after a quarantine
  problems: CacheProblem[];
  warnings: CacheProblem[];
  sizeBytes: number | null;
  verifyDurationMs: number | null;
  inUse: boolean | null;
  owner: CacheOwner;
  source: CacheDirSource;
  companions: string[];
  refused: string | null;
  quarantine: CacheQuarantineDetail | null;
  // When the verdict was last proven by a verification (ISO), and when the cache was last
  // written (its newest ctime, with the -wal/-journal); null when unknown.
  verifiedAt: string | null;
  changedAt: string | null;
  // true: nothing changed since `verifiedAt`, so that healthy verdict stands without a new read.
  unchanged: boolean;
  // What the cache counts as: this run's verdict, or a kept one while busy; null when nothing is
  // at the path any more (moved aside this run, or removed since discovery).
  effectiveVerdict: EffectiveVerdict | null;
  unverifiedCause: UnverifiedCause | null;
  busyRuns: number; // consecutive busy runs so far (0 when read)
  // false: a user outside buildUsers; reported as a warning, never refuses the host.
  decidesAdmission: boolean;
}

export interface BlobCacheDetails {
  kind: 'blobinfocache';
  skopeoVersion: string | null;
  cacheFormatInUse: CacheFormatByName | null;
  caches: BlobCacheDetail[];
  quarantined: { path: string; newPath: string; formatByName: CacheFormatByName | null }[];
  interrupted: { path: string; result: ResumeResult; message: string }[];
  audit: ChangeRecord[]; // what this run changed on disk, for the daemon's log
  trigger: CheckTrigger; // what started this run
  verifications: VerificationCounts; // since the agent started (the memory's life)
}

interface Verified {
  verdict: CacheVerdict | null;
  identity: FileIdentity | null;
  refused: string | null;
  verifiedAtMs?: number;
  changedAtMs?: number;
  unchanged?: boolean;
}

interface VerifyPlan {
  verify: VerifyCacheFn;
  full: boolean;
  trigger: CheckTrigger;
  memory: CacheVerdictMemory;
  readStamp: (path: string, nowMs: number) => ChangeStamp | StampFailure;
  nowMs: () => number;
  signal: AbortSignal; // the check's deadline
}

// Verification through a pinned directory, like the quarantine's: a directory swapped for a
// symlink after discovery cannot make the check read (and report on) some other file.
async function verifyDiscovered(cache: DiscoveredCache, plan: VerifyPlan): Promise<Verified> {
  const dir = openPinnedDir(cache.dir);
  if (isPinnedDirRefusal(dir)) return { verdict: null, identity: null, refused: dir.message };
  try {
    if (!isRecordedInode(dir.stat, { dev: cache.dirDev, ino: cache.dirIno })) {
      return {
        verdict: null,
        identity: null,
        refused: `${cache.dir} was replaced after discovery; checked again next run`,
      };
    }
    const pinnedPath = dir.at(cache.fileName!);
    const st = lstatSync(pinnedPath, { bigint: true, throwIfNoEntry: false });
    if (!st) return { verdict: null, identity: null, refused: null };
    if (st.isSymbolicLink())
      return { verdict: null, identity: null, refused: `${cache.path} is a symbolic link; not following it` };
    // The stamp is read before the verification: a write during it moves the stamp away from
    // the one remembered, so the next run verifies again.
    const stamp = plan.readStamp(pinnedPath, plan.nowMs());
    const stampOk = isStampFailure(stamp) ? null : stamp;
    if (!plan.full && stampOk) {
      const kept = plan.memory.recall(cache.path, stampOk);
      if (kept) {
        plan.memory.countSkipped();
        return {
          verdict: kept.verdict,
          identity: identityFromStats(st),
          refused: null,
          verifiedAtMs: kept.verifiedAtMs,
          changedAtMs: stampOk.changedAtMs,
          unchanged: true,
        };
      }
    }
    // The check's deadline is the verification's: a child still at work then is killed.
    const v = await plan.verify(pinnedPath, { full: plan.full, signal: plan.signal });
    plan.memory.countVerified(plan.trigger);
    const verdict = verdictUnderPath(v, cache.path, pinnedPath, cache.path);
    const verifiedAtMs = plan.nowMs();
    plan.memory.remember(cache.path, stampOk, verdict, verifiedAtMs);
    return {
      verdict,
      identity: identityFromStats(st),
      refused: null,
      verifiedAtMs,
      changedAtMs: stampOk?.changedAtMs,
      unchanged: false,
    };
  } finally {
    dir.close();
  }
}

// The problem codes the child verifier (agent/cache-verify-child.ts) and the verifiers give
// an unreadable verdict that was the agent's fault rather than the file's.
const causeOfCode: Partial<Record<CacheProblemCode, UnverifiedCause>> = {
  'verify-timeout': 'verifier-timeout',
  'verify-process-failed': 'verifier-failed',
  'internal-error': 'agent-fault',
};

interface Kept {
  verdict: 'healthy' | 'corrupt';
  busyRuns: number;
}

function judge(
  v: Verified,
  refused: string | null,
  previous: Kept | undefined,
): Pick<BlobCacheDetail, 'effectiveVerdict' | 'unverifiedCause' | 'busyRuns'> {
  const verdict = v.verdict?.verdict ?? null;
  if (verdict === 'healthy' || verdict === 'corrupt')
    return { effectiveVerdict: verdict, unverifiedCause: null, busyRuns: 0 };
  if (verdict === 'busy') {
    const busyRuns = (previous?.busyRuns ?? 0) + 1;
    if (previous && busyRuns <= busyRunsKept)
      return { effectiveVerdict: previous.verdict, unverifiedCause: null, busyRuns };
    return { effectiveVerdict: 'unverified', unverifiedCause: 'busy', busyRuns };
  }
  if (verdict === 'unreadable') {
    const cause = v.verdict!.problems.map((p) => causeOfCode[p.code]).find((c) => c !== undefined);
    return { effectiveVerdict: 'unverified', unverifiedCause: cause ?? 'unreadable', busyRuns: 0 };
  }
  if (refused !== null) return { effectiveVerdict: 'unverified', unverifiedCause: 'refused', busyRuns: 0 };
  return { effectiveVerdict: null, unverifiedCause: null, busyRuns: 0 };
}

function detailOf(
  cache: DiscoveredCache,
  v: Verified,
  quarantine: CacheQuarantineDetail | null,
  previous: Kept | undefined,
  buildUsers: readonly string[],
): BlobCacheDetail {
  const refused = v.refused ?? cache.refused?.message ?? null;
  return {
    path: cache.path,
    dir: cache.dir,
    listedDir: cache.listedDir ?? null,
    formatByName: cache.formatByName,
    format: v.verdict?.format ?? null,
    verdict: v.verdict?.verdict ?? null,
    problems: v.verdict?.problems ?? [],
    warnings: v.verdict?.warnings ?? [],
    sizeBytes: v.verdict?.stats.sizeBytes ?? v.identity?.size ?? cache.sizeBytes,
    verifyDurationMs: v.verdict ? v.verdict.durationMs : null,
    inUse: cache.inUse,
    owner: cache.owner,
    source: cache.source,
    companions: cache.companions,
    refused,
    quarantine,
    verifiedAt: v.verifiedAtMs === undefined ? null : new Date(v.verifiedAtMs).toISOString(),
    changedAt: v.changedAtMs === undefined ? null : new Date(v.changedAtMs).toISOString(),
    unchanged: v.unchanged ?? false,
    ...judge(v, refused, previous),
    decidesAdmission: decidesAdmission(cache, buildUsers),
  };
}

// root's system cache and configured directories always decide; users' caches only when no
// buildUsers are set or the owner is one of them.
export function decidesAdmission(
  cache: Pick<DiscoveredCache, 'source' | 'owner'>,
  buildUsers: readonly string[],
): boolean {
  return (
    cache.source === 'configured' ||
    buildUsers.length === 0 ||
    (cache.owner.name !== null && buildUsers.includes(cache.owner.name))
  );
}

// The check's name (`--only`, ?checks=, metric labels).
export const blobCacheCheckName = 'blobinfocache';

export function createBlobCacheCheck(options: BlobCacheCheckOptions): Check<BlobCacheDetails> {
  const memory = options.memory ?? createCacheVerdictMemory();
  // The last read verdict of each path, for `busy` (kept for a bounded number of runs).
  const between: BetweenRuns = {
    busy: new Map<string, Kept>(),
    users: createUserList({ passwdPath: options.passwdPath, maxAgeMs: options.userListMaxAgeMs }),
    discovery: null,
  };
  return { name: blobCacheCheckName, scope: 'host', run: (ctx) => runBlobCacheCheck(options, memory, between, ctx) };
}

// What one check instance keeps between its runs (never two at once: the runner's single flight).
interface BetweenRuns {
  busy: Map<string, Kept>;
  users: UserList;
  discovery: DiscoveryRecord | null; // the last walk's, for runs that may reuse it
}

async function runBlobCacheCheck(
  options: BlobCacheCheckOptions,
  memory: CacheVerdictMemory,
  between: BetweenRuns,
  ctx: CheckContext,
): Promise<CheckResult<BlobCacheDetails>> {
  const { busy: kept, users } = between;
  const full = options.full ?? false;
  const trigger: CheckTrigger = full ? 'full' : (ctx.trigger ?? 'request');
  const plan: VerifyPlan = {
    verify: options.verify,
    full,
    trigger,
    memory,
    readStamp: options.readStamp ?? readChangeStamp,
    nowMs: () => ctx.now().getTime(),
    signal: ctx.signal,
  };
  const buildUsers = options.buildUsers ?? [];
  const detail = (cache: DiscoveredCache, v: Verified, q: CacheQuarantineDetail | null): BlobCacheDetail => {
    const d = detailOf(cache, v, q, kept.get(cache.path), buildUsers);
    if (d.effectiveVerdict === 'healthy' || d.effectiveVerdict === 'corrupt')
      kept.set(cache.path, { verdict: d.effectiveVerdict, busyRuns: d.busyRuns });
    else kept.delete(cache.path);
    return d;
  };
  const info = await options
    .skopeoInfo()
    .catch((): SkopeoCacheInfo => ({ skopeoVersion: null, cacheFormatInUse: null }));
  const remediation = options.remediation;
  const details: BlobCacheDetails = {
    kind: 'blobinfocache',
    skopeoVersion: info.skopeoVersion,
    cacheFormatInUse: info.cacheFormatInUse,
    caches: [],
    quarantined: [],
    interrupted: [],
    audit: [],
    trigger,
    verifications: memory.counts(),
  };

  // A move a crash interrupted is finished first (only when the agent may move files at all;
  // otherwise it is reported and left to `cache quarantine`).
  for (const r of remediation?.resumeInterrupted() ?? []) {
    details.interrupted.push({ path: r.path, result: r.result, message: r.message });
    details.audit.push(...r.audit);
  }

  const startedAtMs = ctx.now().getTime();
  let caches = reusableDiscovery(
    between.discovery,
    trigger,
    info.cacheFormatInUse,
    startedAtMs,
    options.discoveryReuseMs,
  );
  if (caches === null) {
    caches = await discoverCaches({
      dirs: options.dirs,
      discoverUsers: options.discoverUsers,
      cacheFormatInUse: info.cacheFormatInUse,
      passwdPath: options.passwdPath,
      users: () => users(startedAtMs),
    });
    between.discovery = { startedAtMs, cacheFormatInUse: info.cacheFormatInUse, caches };
  }
  for (const cache of caches) {
    if (ctx.signal.aborted) break;
    if (cache.refused || cache.fileName === null) {
      details.caches.push(
        detail(cache, { verdict: null, identity: null, refused: cache.refused?.message ?? null }, null),
      );
      continue;
    }
    let verified = await verifyDiscovered(cache, plan);
    let quarantine: CacheQuarantineDetail | null = null;
    // Orphans (a format the installed skopeo no longer uses) are reported, never moved by the daemon.
    if (remediation?.moves && verified.verdict?.verdict === 'corrupt' && verified.identity && cache.inUse !== false) {
      const outcome = await remediation.quarantine(
        cache,
        { verdict: verified.verdict, identity: verified.identity },
        info.skopeoVersion,
      );
      quarantine = { result: outcome.result, code: outcome.code, message: outcome.message, newPath: outcome.newPath };
      details.audit.push(...outcome.audit);
      if (outcome.result === 'quarantined' && outcome.newPath) {
        details.quarantined.push({ path: cache.path, newPath: outcome.newPath, formatByName: cache.formatByName });
        // Checked again: whatever is at the path now (nothing, or a fresh cache skopeo started).
        verified = await verifyDiscovered(cache, plan);
      }
    }
    details.caches.push(detail(cache, verified, quarantine));
  }
  if (!ctx.signal.aborted) memory.keepOnly(new Set(caches.map((c) => c.path)));
  details.verifications = memory.counts();
  return summariseBlobCacheDetails(details);
}

const severity: Record<CheckStatus, number> = { ok: 0, warning: 1, unknown: 2, critical: 3 };

// The status and reasons for a set of cache details. Pure, so `?user=NAME` can summarise the same
// details again with only root's and NAME's caches deciding (docs/admission.md).
export function summariseBlobCacheDetails(details: BlobCacheDetails): CheckResult<BlobCacheDetails> {
  const reasons: CheckReason[] = [];
  let status: CheckStatus = 'ok';
  const raise = (s: CheckStatus): void => {
    if (severity[s] > severity[status]) status = s;
  };
  const codes = (c: BlobCacheDetail): string => [...new Set(c.problems.map((p) => p.code))].join(', ') || 'corrupt';
  for (const c of details.caches) {
    const effective = c.effectiveVerdict ?? legacyEffectiveVerdict(c);
    const who = c.owner.name ?? `uid ${c.owner.uid}`;
    if (effective === 'corrupt' && c.inUse === false) {
      raise('warning');
      reasons.push({
        code: 'cache-corrupt-orphan',
        message: `${c.path} is corrupt (${codes(c)}) but the installed skopeo no longer uses ${c.formatByName}`,
      });
    } else if (effective === 'corrupt' && c.decidesAdmission === false) {
      raise('warning');
      reasons.push({
        code: 'user-cache-corrupt',
        message: `${c.path} of ${who} (not a build user) is corrupt (${codes(c)})`,
      });
    } else if (effective === 'corrupt') {
      raise('critical');
      const kept = c.verdict === 'busy' ? ` (busy now; corrupt when last read, ${c.busyRuns} run(s) ago)` : '';
      reasons.push({ code: 'cache-corrupt', message: `${c.path} is corrupt (${codes(c)})${kept}` });
    } else if (effective === 'unverified') {
      const why = unverifiedMessage(c);
      if (c.inUse === false) {
        raise('warning');
        reasons.push({
          code: 'cache-unverified-orphan',
          message: `${why}; the installed skopeo no longer uses ${c.formatByName}`,
        });
      } else if (c.decidesAdmission === false) {
        raise('warning');
        reasons.push({ code: 'user-cache-unverified', message: `${why} (${who} is not a build user)` });
      } else {
        raise('unknown');
        reasons.push({ code: 'cache-unverified', message: why });
      }
    } else if (c.verdict === 'busy') {
      raise('warning');
      reasons.push({
        code: 'cache-busy',
        message: `${c.path} could not be read consistently (busy, ${c.busyRuns} of ${busyRunsKept} runs); its last verdict (${effective}) stands`,
      });
    }
    if (c.quarantine?.result === 'quarantined') {
      // The host is healthy again (the path was checked after the move); the reason stays so
      // people and logs see that it happened. Status is not raised for it.
      reasons.push({ code: 'cache-quarantined', message: c.quarantine.message });
    } else if (c.quarantine && c.quarantine.result !== 'not-corrupt' && c.quarantine.result !== 'gone') {
      raise('warning');
      reasons.push({ code: 'quarantine-blocked', message: c.quarantine.message });
    }
  }
  for (const i of details.interrupted) {
    if (i.result === 'completed' || i.result === 'in-progress') continue;
    raise('warning');
    reasons.push({ code: 'quarantine-incomplete', message: i.message });
  }
  const counted = details.caches.map((c) => c.effectiveVerdict ?? legacyEffectiveVerdict(c));
  const corrupt = counted.filter((v) => v === 'corrupt').length;
  const unverified = counted.filter((v) => v === 'unverified').length;
  const of = details.caches.length;
  const summary =
    of === 0
      ? 'no blob-info caches found'
      : corrupt > 0
        ? `${corrupt} of ${of} caches corrupt`
        : unverified > 0
          ? `${unverified} of ${of} caches not verified`
          : details.quarantined.length > 0
            ? `${details.quarantined.length} corrupt cache(s) moved aside; ${counted.filter((v) => v !== null).length} of ${of} caches checked`
            : `${counted.filter((v) => v === 'healthy').length} of ${of} caches healthy`;
  return { status, summary, reasons, details };
}

// Details written by an agent before effectiveVerdict existed (the state file survives upgrades).
function legacyEffectiveVerdict(c: BlobCacheDetail): EffectiveVerdict | null {
  if (c.verdict === 'healthy' || c.verdict === 'corrupt') return c.verdict;
  return c.verdict !== null || c.refused !== null ? 'unverified' : null;
}

function unverifiedMessage(c: BlobCacheDetail): string {
  const said = c.problems.map((p) => p.message).join('; ');
  switch (c.unverifiedCause) {
    case 'refused':
      return `${c.path} was not verified: ${c.refused ?? 'refused'}`;
    case 'busy':
      return `${c.path} was not verified: busy for ${c.busyRuns} consecutive runs (writers never let a consistent read through)`;
    case 'verifier-timeout':
      return `${c.path} was not verified: the verifier timed out${said ? ` (${said})` : ''}`;
    case 'verifier-failed':
      return `${c.path} was not verified: the verifier failed${said ? ` (${said})` : ''}`;
    case 'agent-fault':
      return `${c.path} was not verified: a fault of the agent, not of the file${said ? ` (${said})` : ''}`;
    default:
      return `${c.path} was not verified: ${said || c.refused || 'unreadable'}`;
  }
}

// The check's result for a job that runs as `user` (GET /v1/preflight?user=NAME): root's
// (configured directories') caches and that user's decide; every other user's cache is a
// warning. Pure, over the details the check already reported.
export function summariseForUser(details: BlobCacheDetails, user: string): CheckResult<BlobCacheDetails> {
  const caches = details.caches.map((c) => ({
    ...c,
    decidesAdmission: c.source === 'configured' || c.owner.name === user,
  }));
  return summariseBlobCacheDetails({ ...details, caches });
}

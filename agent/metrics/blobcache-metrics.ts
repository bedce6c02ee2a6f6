// The blob-cache check's metrics part: its metrics from its own typed details.
import type { MetricFamilies } from './families.ts';
import type { BlobCacheDetail, BlobCacheDetails, EffectiveVerdict } from '../../checks/blobcache/check.ts';

// What a cache counts as (the check's effectiveVerdict): a bounded label set.
export const cacheVerdicts: readonly EffectiveVerdict[] = ['healthy', 'corrupt', 'unverified'];

// Details written by an agent before effectiveVerdict existed are read by the same rule
// (healthy and corrupt as read; anything else that was looked at is unverified).
function effectiveVerdictOf(c: BlobCacheDetail): EffectiveVerdict | null {
  if (c.effectiveVerdict !== undefined) return c.effectiveVerdict;
  if (c.verdict === 'healthy' || c.verdict === 'corrupt') return c.verdict;
  return c.verdict !== null || c.refused !== null ? 'unverified' : null;
}

// The format the file name stands for (blob-info-cache-v1.boltdb / .sqlite) keeps a path's
// series stable when damage makes its content unrecognisable; the content's format only when
// the name says nothing.
export function cacheMetricFormat(c: Pick<BlobCacheDetail, 'formatByName' | 'format'>): string {
  return c.formatByName ?? c.format ?? 'unknown';
}

export function fillBlobCacheMetrics(f: MetricFamilies, d: BlobCacheDetails): void {
  for (const c of d.caches) {
    // No verdict: nothing at the path any more (moved aside during this run). A cache that was
    // not verified (refused, unreadable, ...) is `unverified`, never absent: the host's
    // accept/refuse and its metrics must not disagree.
    const verdict = effectiveVerdictOf(c);
    if (verdict === null) continue;
    const labels = { path: c.path, format: cacheMetricFormat(c) };
    f.cacheHealthy.set(labels, verdict === 'healthy' ? 1 : 0);
    for (const v of cacheVerdicts) f.cacheVerdict.set({ ...labels, verdict: v }, verdict === v ? 1 : 0);
    f.cacheProblems.set(labels, c.problems.length);
    if (c.sizeBytes !== null) f.cacheSize.set(labels, c.sizeBytes);
    if (c.verifyDurationMs !== null) f.cacheVerifyDuration.set(labels, c.verifyDurationMs / 1000);
    if (c.inUse !== null) f.cacheInUse.set(labels, c.inUse ? 1 : 0);
    const verifiedAt = seconds(c.verifiedAt);
    const changedAt = seconds(c.changedAt);
    if (verifiedAt !== null) f.cacheLastVerified.set(labels, verifiedAt);
    if (changedAt !== null) f.cacheLastChanged.set(labels, changedAt);
  }
  // Every trigger from the first scrape on (at 0), so increase() sees the first of each.
  for (const [trigger, count] of Object.entries(d.verifications.verified)) f.cacheVerifications.inc({ trigger }, count);
  f.cacheVerificationsSkipped.inc(d.verifications.skippedUnchanged);
}

// ISO times in the details, Unix seconds in the metrics.
function seconds(iso: string | null): number | null {
  const ms = iso === null ? NaN : Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

// The formats of the caches this run moved aside, for blobinfocache_quarantined_total.
export function quarantinedFormats(d: BlobCacheDetails): string[] {
  return d.quarantined.map((q) => q.formatByName ?? 'unknown');
}

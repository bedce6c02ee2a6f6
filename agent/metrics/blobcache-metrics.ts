// The blob-cache check's metrics part: its metrics from its own typed details.
import type { MetricFamilies } from './families.ts';
import type { BlobCacheDetail, BlobCacheDetails } from '../../checks/blobcache/check.ts';

// The format the file name stands for (blob-info-cache-v1.boltdb / .sqlite) keeps a path's
// series stable when damage makes its content unrecognisable; the content's format only when
// the name says nothing.
export function cacheMetricFormat(c: Pick<BlobCacheDetail, 'formatByName' | 'format'>): string {
  return c.formatByName ?? c.format ?? 'unknown';
}

export function fillBlobCacheMetrics(f: MetricFamilies, d: BlobCacheDetails): void {
  for (const c of d.caches) {
    // No verdict: the cache was not verified (refused, or moved aside during this run). It has
    // no health to report; the check's status and reasons say why.
    if (c.verdict === null) continue;
    const labels = { path: c.path, format: cacheMetricFormat(c) };
    f.cacheHealthy.set(labels, c.verdict === 'healthy' ? 1 : 0);
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

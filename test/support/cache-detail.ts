// One BlobCacheDetail with every field at its "nothing known yet" value, for tests that build
// blob-cache check details by hand (the metrics and status-page tests). effectiveVerdict is
// derived the way the check derives it, so a test sets only what it is about.
import type { BlobCacheDetail } from '../../checks/blobcache/check.ts';

export function cacheDetail(path: string, fields: Partial<BlobCacheDetail>): BlobCacheDetail {
  return {
    path,
    dir: path.slice(0, path.lastIndexOf('/')),
    listedDir: null,
    formatByName: null,
    format: null,
    verdict: null,
    problems: [],
    warnings: [],
    sizeBytes: null,
    verifyDurationMs: null,
    inUse: null,
    owner: { uid: 0, name: 'root' },
    source: 'configured',
    companions: [],
    refused: null,
    quarantine: null,
    verifiedAt: null,
    changedAt: null,
    unchanged: false,
    effectiveVerdict:
      fields.verdict === 'healthy' || fields.verdict === 'corrupt'
        ? fields.verdict
        : fields.verdict || fields.refused
          ? 'unverified'
          : null,
    unverifiedCause: null,
    busyRuns: 0,
    decidesAdmission: true,
    ...fields,
  };
}

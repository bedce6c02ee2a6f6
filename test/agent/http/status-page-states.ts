// The host states the status page must make actionable, each as an in-memory core with
// realistic typed details (the blob-cache results come from the check's own summariser).
import type { CheckResult } from '../../../checks/types.ts';
import type { BlobCacheDetail, BlobCacheDetails } from '../../../checks/blobcache/check.ts';
import { summariseBlobCacheDetails } from '../../../checks/blobcache/check.ts';
import type { DiskCheckDetails, DiskPathReport } from '../../../checks/disk.ts';
import type { RegistryCheckDetails, RegistryProbeReport } from '../../../checks/registry.ts';
import type { SkopeoCheckDetails } from '../../../checks/skopeo.ts';
import { InMemoryCore, controllableCheck } from './in-memory-core.ts';
import { cacheDetail } from '../../support/cache-detail.ts';

const GiB = 1024 ** 3;
export const rootCache = '/var/lib/containers/cache/blob-info-cache-v1.boltdb';
export const userCache =
  '/home/builder-with-a-rather-long-account-name/.local/share/containers/cache/blob-info-cache-v1.sqlite';
export const movedTo = `${rootCache}.corrupt-20261203T025930Z`;

const skopeo: CheckResult<SkopeoCheckDetails> = {
  status: 'ok',
  summary: 'skopeo 1.9.3 (boltdb)',
  reasons: [],
  details: {
    kind: 'skopeo',
    minVersion: '1.9.0',
    recommendedVersion: null,
    deny: ['1.13.0 - 1.13.2'],
    binaries: [
      {
        binary: 'skopeo',
        path: '/usr/bin/skopeo',
        version: '1.9.3',
        commit: null,
        cacheFormat: 'boltdb',
        policySatisfied: true,
      },
    ],
  },
};

function diskPath(
  path: string,
  mountpoint: string,
  availGiB: number,
  sizeGiB: number,
  status: DiskPathReport['status'] = 'ok',
): DiskPathReport {
  return {
    path,
    statPath: path,
    exists: true,
    mountpoint,
    fsType: 'xfs',
    availBytes: availGiB * GiB,
    sizeBytes: sizeGiB * GiB,
    filesFree: 48_211_004,
    filesTotal: 52_428_800,
    warnFree: '20%',
    criticalFree: '10%',
    status,
    message: `${path} (${mountpoint}): ${availGiB.toFixed(1)} GiB of ${sizeGiB.toFixed(1)} GiB free`,
    ...(status === 'warning' ? { code: 'disk-free-low' as const } : {}),
  };
}

function disk(availGiB = 75.9): CheckResult<DiskCheckDetails> {
  const low = availGiB < 0.2 * 252;
  const paths = [
    diskPath('/var/lib/containers', '/var', availGiB, 252, low ? 'warning' : 'ok'),
    diskPath('/tmp', '/', 9.2, 40),
  ];
  const reasons = low ? [{ code: 'disk-free-low' as const, message: `${paths[0].message}, below 20%` }] : [];
  return {
    status: low ? 'warning' : 'ok',
    summary: low ? reasons[0].message : '2 path(s) ok',
    reasons,
    details: { kind: 'disk', paths },
  };
}

function probe(name: string, ok: boolean): RegistryProbeReport {
  return {
    name,
    url: `https://${name}.example.com`,
    success: ok,
    reason: ok ? null : 'connect',
    httpStatus: ok ? 401 : null,
    phases: { resolve: 0.002, connect: ok ? 0.004 : null, tls: ok ? 0.021 : null, total: ok ? 0.048 : 5.0 },
    certNotAfter: ok ? Date.parse('2027-03-01T00:00:00Z') / 1000 : null,
    credentialsVerified: ok ? true : null,
    message: ok
      ? `${name}: /v2/ answered 401 with a bearer challenge`
      : `${name}.example.com:443: connect ECONNREFUSED 10.20.0.7:443`,
  };
}

function registry(harborUp = true): CheckResult<RegistryCheckDetails> {
  const registries = [probe('harbor', harborUp), probe('quay-mirror', true)];
  return harborUp
    ? { status: 'ok', summary: '2 of 2 registries reachable', reasons: [], details: { kind: 'registry', registries } }
    : {
        status: 'critical',
        summary: '1 of 2 registries failing: harbor (connect)',
        reasons: [{ code: 'registry-unreachable', message: registries[0].message }],
        details: { kind: 'registry', registries },
      };
}

// The page names a cache's format from its file name, as discovery does.
function cache(path: string, fields: Partial<BlobCacheDetail>): BlobCacheDetail {
  return cacheDetail(path, { formatByName: path.endsWith('.sqlite') ? 'sqlite' : 'boltdb', ...fields });
}

function caches(
  list: BlobCacheDetail[],
  quarantined: BlobCacheDetails['quarantined'] = [],
): CheckResult<BlobCacheDetails> {
  return summariseBlobCacheDetails({
    kind: 'blobinfocache',
    skopeoVersion: '1.9.3',
    cacheFormatInUse: 'boltdb',
    caches: list,
    quarantined,
    interrupted: [],
    audit: [],
    trigger: 'schedule',
    verifications: { verified: { schedule: 3, write: 0, request: 0, full: 0 }, skippedUnchanged: 0 },
  });
}

// Verified 2 h ago and not written since: the verdict stands without a new read.
const healthyRoot = cache(rootCache, {
  format: 'boltdb',
  verdict: 'healthy',
  sizeBytes: 1_269_760,
  verifyDurationMs: 41,
  inUse: true,
  verifiedAt: new Date(Date.now() - 2 * 3600_000).toISOString(),
  changedAt: new Date(Date.now() - 3 * 3600_000).toISOString(),
  unchanged: true,
});
const orphan = cache(userCache, {
  format: 'sqlite',
  verdict: 'corrupt',
  sizeBytes: 98_304,
  verifyDurationMs: 12,
  inUse: false,
  owner: { uid: 1001, name: 'builder-with-a-rather-long-account-name' },
  source: 'user',
  problems: [{ code: 'sqlite-malformed', message: 'database disk image is malformed (SQLITE_CORRUPT)' }],
});
const corruptRoot = cache(rootCache, {
  format: 'boltdb',
  verdict: 'corrupt',
  sizeBytes: 1_269_760,
  verifyDurationMs: 38,
  inUse: true,
  problems: [
    { code: 'page-type-invalid', page: 6432, message: 'page 6432 has type 10, expected a leaf or branch page' },
  ],
});

export interface PageState {
  name: string;
  core: InMemoryCore;
  expect: string[]; // text the page must show
}

async function coreWith(results: Record<string, CheckResult>, opts: { notRun?: string[] } = {}): Promise<InMemoryCore> {
  const checks = Object.entries(results).map(
    ([name, r]) => controllableCheck(name, name === 'registry' ? 'shared' : 'host', r).check,
  );
  const core = new InMemoryCore(checks);
  await core.runChecks(checks.map((c) => c.name).filter((n) => !opts.notRun?.includes(n)));
  core.eventLog.record({ type: 'agent-started', version: '0.3.0', host: 'build-07' });
  return core;
}

export async function pageStates(): Promise<PageState[]> {
  const all = (over: Record<string, CheckResult> = {}) => ({
    skopeo,
    blobinfocache: caches([healthyRoot]),
    disk: disk(),
    registry: registry(),
    ...over,
  });

  const maintenance = await coreWith(all());
  await maintenance.setMaintenance({
    reason: 'kernel update, reboot at 03:30',
    expiresAt: new Date(Date.now() + 59.5 * 60_000),
    by: 'api',
  });

  const quarantined = await coreWith(all({ blobinfocache: caches([]) }));
  quarantined.eventLog.record({
    type: 'status-changed',
    check: 'blobinfocache',
    from: 'ok',
    to: 'critical',
    summary: '1 of 1 caches corrupt',
    reasons: caches([corruptRoot]).reasons,
  });
  quarantined.eventLog.record({
    type: 'quarantine',
    actor: 'api',
    action: 'quarantine',
    path: rootCache,
    newPath: movedTo,
    audit: { action: 'quarantine', path: rootCache, newPath: movedTo },
  });
  quarantined.eventLog.record({
    type: 'status-changed',
    check: 'blobinfocache',
    from: 'critical',
    to: 'ok',
    summary: 'no blob-info caches found',
    reasons: [],
  });

  return [
    {
      name: 'accept',
      core: await coreWith(all()),
      expect: [
        'ACCEPT',
        rootCache,
        'unchanged since',
        '2 h ago',
        '3 h ago',
        '75.9 GiB of 252.0 GiB',
        '30.1 %',
        'harbor',
        'resolve 2 ms',
        'expires in',
        '/usr/bin/skopeo',
        'Nothing blocks builds',
      ],
    },
    {
      name: 'warning',
      core: await coreWith(all({ blobinfocache: caches([healthyRoot, orphan]), disk: disk(30.0) })),
      expect: [
        'ACCEPT',
        'Warnings, not blocking (2)',
        userCache,
        'no longer uses sqlite',
        'SQLITE_CORRUPT',
        'no (orphan)',
        'below 20%',
        'df -h PATH',
      ],
    },
    {
      name: 'refuse-corrupt-cache',
      core: await coreWith(all({ blobinfocache: caches([corruptRoot]) })),
      expect: [
        'REFUSE',
        'Blocking (1)',
        `${rootCache} is corrupt (page-type-invalid)`,
        'cache quarantine',
        '/v1/caches/quarantine',
        'page 6432',
      ],
    },
    {
      name: 'degraded-registry',
      core: await coreWith(all({ registry: registry(false) })),
      expect: ['DEGRADED', 'Degrading: shared dependencies (1)', 'ECONNREFUSED', 'only degrades', 'Retry-After'],
    },
    {
      name: 'maintenance',
      core: maintenance,
      expect: [
        'REFUSE',
        'kernel update, reboot at 03:30',
        'ends in 59 min',
        'DELETE',
        '/v1/maintenance',
        'Maintenance set by api',
      ],
    },
    {
      name: 'after-quarantine',
      core: quarantined,
      expect: ['ACCEPT', 'No blob-info caches found', movedTo, 'Quarantine (quarantine, by api)'],
    },
    {
      name: 'check-never-run',
      core: await coreWith(all(), { notRun: ['registry'] }),
      expect: ['REFUSE', 'not-yet-checked', 'Not checked yet', '/v1/checks/run'],
    },
  ];
}

// The persistence boundary for check details: the state file (written by this agent, an older
// one, or damaged by hand) is untrusted JSON, and this is the one place that turns it back into
// the typed details of checks/details.ts. Every field is read defensively: a missing or
// mistyped field becomes null (or the entry is dropped when it has no name or path), so a bad
// file loses facts but never breaks a scrape, the page or admission. A file written before
// details carried `kind` is recognised by its shape.
//
// The per-run facts of the blob-cache check (what this run moved, its audit records, its
// verification counts) are not carried over a restart: they were acted on and logged then, and the event history
// (agent/events.ts) keeps them.
import type { CheckDetails } from '../checks/details.ts';
import type { SkopeoBinaryReport, SkopeoCheckDetails, SkopeoProblemCode } from '../checks/skopeo.ts';
import type { DiskCheckDetails, DiskPathReport, DiskProblemCode } from '../checks/disk.ts';
import type { RegistryCheckDetails, RegistryFailureReason, RegistryProbeReport } from '../checks/registry.ts';
import type {
  BlobCacheDetail,
  BlobCacheDetails,
  EffectiveVerdict,
  UnverifiedCause,
} from '../checks/blobcache/check.ts';
import type { CacheProblem } from '../checks/blobcache/verdict.ts';
import type { QuarantineResult, ResumeResult } from '../checks/blobcache/remediation.ts';
import type { QuarantineCode } from '../lib/problem-codes.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const objects = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
function oneOf<T extends string>(v: unknown, allowed: readonly T[]): T | null {
  return typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : null;
}

const cacheFormatsByName = ['boltdb', 'sqlite'] as const;

export function detailsFromJson(v: unknown): CheckDetails {
  if (!isObject(v)) return {};
  const kind =
    str(v.kind) ??
    (Array.isArray(v.binaries)
      ? 'skopeo'
      : Array.isArray(v.caches)
        ? 'blobinfocache'
        : Array.isArray(v.paths)
          ? 'disk'
          : Array.isArray(v.registries)
            ? 'registry'
            : null);
  switch (kind) {
    case 'skopeo':
      return skopeoFromJson(v);
    case 'disk':
      return diskFromJson(v);
    case 'registry':
      return registryFromJson(v);
    case 'blobinfocache':
      return blobCacheFromJson(v);
    default:
      return {};
  }
}

const skopeoCodes: readonly SkopeoProblemCode[] = [
  'skopeo-missing',
  'skopeo-not-executable',
  'skopeo-hung',
  'skopeo-failed',
  'skopeo-unparseable',
  'skopeo-below-minimum',
  'skopeo-denied',
];

function skopeoFromJson(v: Json): SkopeoCheckDetails {
  const binaries = objects(v.binaries).map((b): SkopeoBinaryReport => {
    const report: SkopeoBinaryReport = {
      binary: str(b.binary) ?? '?',
      path: str(b.path),
      version: str(b.version),
      commit: str(b.commit),
      cacheFormat: oneOf(b.cacheFormat, cacheFormatsByName),
      policySatisfied: b.policySatisfied === true,
    };
    const code = oneOf(b.code, skopeoCodes);
    if (code !== null) report.code = code;
    const error = str(b.error);
    if (error !== null) report.error = error;
    return report;
  });
  return {
    kind: 'skopeo',
    minVersion: str(v.minVersion),
    recommendedVersion: str(v.recommendedVersion),
    deny: strings(v.deny),
    binaries,
  };
}

const diskCodes: readonly DiskProblemCode[] = [
  'disk-free-low',
  'disk-free-critical',
  'disk-inodes-exhausted',
  'disk-stat-timeout',
  'disk-stat-failed',
];

function diskFromJson(v: Json): DiskCheckDetails {
  const paths: DiskPathReport[] = [];
  for (const p of objects(v.paths)) {
    const path = str(p.path);
    const status = oneOf(p.status, ['ok', 'warning', 'critical'] as const);
    if (path === null || status === null) continue;
    const report: DiskPathReport = {
      path,
      statPath: str(p.statPath),
      exists: bool(p.exists),
      mountpoint: str(p.mountpoint),
      fsType: str(p.fsType),
      availBytes: num(p.availBytes),
      sizeBytes: num(p.sizeBytes),
      filesFree: num(p.filesFree),
      filesTotal: num(p.filesTotal),
      warnFree: str(p.warnFree),
      criticalFree: str(p.criticalFree),
      status,
      message: str(p.message) ?? '',
    };
    const code = oneOf(p.code, diskCodes);
    if (code !== null) report.code = code;
    paths.push(report);
  }
  return { kind: 'disk', paths };
}

const registryReasons: readonly RegistryFailureReason[] = ['dns', 'connect', 'tls', 'timeout', 'http_status', 'auth'];

function registryFromJson(v: Json): RegistryCheckDetails {
  const registries: RegistryProbeReport[] = [];
  for (const r of objects(v.registries)) {
    const name = str(r.name);
    if (name === null) continue;
    const phases = isObject(r.phases) ? r.phases : {};
    registries.push({
      name,
      url: str(r.url) ?? '',
      success: r.success === true,
      // A reason outside the bounded set is dropped: free text never becomes a metric label.
      reason: oneOf(r.reason, registryReasons),
      httpStatus: num(r.httpStatus),
      phases: {
        resolve: num(phases.resolve),
        connect: num(phases.connect),
        tls: num(phases.tls),
        total: num(phases.total),
      },
      certNotAfter: num(r.certNotAfter),
      credentialsVerified: bool(r.credentialsVerified),
      message: str(r.message) ?? '',
    });
  }
  return { kind: 'registry', registries };
}

function problemsFromJson(v: unknown): CacheProblem[] {
  return objects(v).map((p) => {
    // Codes are passed through as written (by this agent, or an older one), not checked again.
    const code = (str(p.code) ?? 'unknown') as CacheProblem['code'];
    const problem: CacheProblem = { code, message: str(p.message) ?? '' };
    const page = num(p.page);
    if (page !== null) problem.page = page;
    return problem;
  });
}

const quarantineResults: readonly QuarantineResult[] = [
  'quarantined',
  'would-quarantine',
  'not-corrupt',
  'busy',
  'changed',
  'gone',
  'refused',
  'failed',
];
const resumeResults: readonly ResumeResult[] = ['completed', 'abandoned', 'pending', 'needs-attention', 'in-progress'];

function cacheFromJson(c: Json): BlobCacheDetail | null {
  const path = str(c.path);
  if (path === null) return null;
  const owner = isObject(c.owner) ? c.owner : {};
  const q = isObject(c.quarantine) ? c.quarantine : null;
  const qResult = q ? oneOf(q.result, quarantineResults) : null;
  return {
    path,
    dir: str(c.dir) ?? path.slice(0, path.lastIndexOf('/')),
    listedDir: str(c.listedDir),
    formatByName: oneOf(c.formatByName, cacheFormatsByName),
    format: oneOf(c.format, ['boltdb', 'sqlite', 'empty', 'unknown'] as const),
    // A verdict outside the set is not a verdict: the cache counts as not verified.
    verdict: oneOf(c.verdict, ['healthy', 'corrupt', 'unreadable', 'busy'] as const),
    problems: problemsFromJson(c.problems),
    warnings: problemsFromJson(c.warnings),
    sizeBytes: num(c.sizeBytes),
    verifyDurationMs: num(c.verifyDurationMs),
    inUse: bool(c.inUse),
    owner: { uid: num(owner.uid) ?? -1, name: str(owner.name) },
    source: oneOf(c.source, ['configured', 'user'] as const) ?? 'configured',
    companions: strings(c.companions),
    refused: str(c.refused),
    quarantine:
      q && qResult
        ? {
            result: qResult,
            code: (str(q.code) ?? '') as QuarantineCode, // as written, like the problem codes
            message: str(q.message) ?? '',
            newPath: str(q.newPath),
          }
        : null,
    verifiedAt: str(c.verifiedAt),
    changedAt: str(c.changedAt),
    unchanged: c.unchanged === true,
    // What it counted as; from an agent before effectiveVerdict existed, by the same rule
    // (healthy and corrupt as read, anything else that was looked at is unverified).
    effectiveVerdict:
      c.effectiveVerdict === null ? null : (oneOf(c.effectiveVerdict, effectiveVerdicts) ?? legacyEffectiveVerdict(c)),
    unverifiedCause: oneOf(c.unverifiedCause, unverifiedCauses),
    busyRuns: num(c.busyRuns) ?? 0,
    decidesAdmission: c.decidesAdmission !== false,
  };
}

const effectiveVerdicts: readonly EffectiveVerdict[] = ['healthy', 'corrupt', 'unverified'];
const unverifiedCauses: readonly UnverifiedCause[] = [
  'unreadable',
  'refused',
  'verifier-failed',
  'verifier-timeout',
  'agent-fault',
  'busy',
];

function legacyEffectiveVerdict(c: Json): EffectiveVerdict | null {
  if (c.verdict === 'healthy' || c.verdict === 'corrupt') return c.verdict;
  return str(c.verdict) !== null || str(c.refused) !== null ? 'unverified' : null;
}

function blobCacheFromJson(v: Json): BlobCacheDetails {
  return {
    kind: 'blobinfocache',
    skopeoVersion: str(v.skopeoVersion),
    cacheFormatInUse: oneOf(v.cacheFormatInUse, cacheFormatsByName),
    caches: objects(v.caches)
      .map(cacheFromJson)
      .filter((c): c is BlobCacheDetail => c !== null),
    quarantined: [],
    interrupted: objects(v.interrupted).flatMap((i) => {
      const path = str(i.path);
      const result = oneOf(i.result, resumeResults);
      return path && result ? [{ path, result, message: str(i.message) ?? '' }] : [];
    }),
    audit: [],
    trigger: oneOf(v.trigger, ['schedule', 'write', 'request', 'full'] as const) ?? 'schedule',
    // Counted since an agent started: this one has verified nothing yet.
    verifications: { verified: { schedule: 0, write: 0, request: 0, full: 0 }, skippedUnchanged: 0 },
  };
}

// Reads the metric-relevant facts out of a check's `details`. Details are JSON (they may come
// back from the state directory written by an older agent), so every field is read defensively:
// a missing or mistyped field drops that one series instead of breaking the scrape.
// Which reader applies is decided by the details' shape, not by the check's configured name.

export interface SkopeoBinaryFacts {
  version: string;
  cacheFormat: string;
  policySatisfied: boolean;
}

export interface DiskPathFacts {
  path: string;
  mountpoint: string;
  availBytes: number | null;
  sizeBytes: number | null;
  filesFree: number | null;
  filesTotal: number | null;
}

export interface RegistryFacts {
  name: string;
  success: boolean;
  reason: string | null;
  httpStatus: number | null;
  phases: { phase: string; seconds: number }[];
  certNotAfter: number | null; // seconds since the epoch
}

export interface CacheFacts {
  path: string;
  format: string;
  healthy: boolean;
  problems: number;
  sizeBytes: number | null;
  verifySeconds: number | null;
  inUse: boolean | null;
  verifiedAt: number | null; // Unix seconds
  changedAt: number | null;
}

// Verifications by trigger and the ones skipped, counted since the agent started.
export interface VerificationFacts {
  byTrigger: { trigger: string; count: number }[];
  skippedUnchanged: number;
}

const verificationTriggers = ['schedule', 'write', 'request', 'full'];

export interface QuarantineFacts {
  format: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);

export function readSkopeoDetails(details: Json): SkopeoBinaryFacts[] | null {
  if (!Array.isArray(details.binaries)) return null;
  return list(details.binaries).map((b) => ({
    version: str(b.version) ?? '',
    cacheFormat: str(b.cacheFormat) ?? '',
    policySatisfied: b.policySatisfied === true,
  }));
}

export function readDiskDetails(details: Json): DiskPathFacts[] | null {
  if (!Array.isArray(details.paths)) return null;
  const out: DiskPathFacts[] = [];
  for (const p of list(details.paths)) {
    const path = str(p.path);
    if (path === null) continue;
    out.push({
      path,
      mountpoint: str(p.mountpoint) ?? '',
      availBytes: num(p.availBytes),
      sizeBytes: num(p.sizeBytes),
      filesFree: num(p.filesFree),
      filesTotal: num(p.filesTotal),
    });
  }
  return out;
}

// Bounded label values: a reason outside the documented set is reported as is only if it is a
// short identifier, so a free-text error can never become a label.
const registryReasons = new Set(['dns', 'connect', 'tls', 'timeout', 'http_status', 'auth']);

export function readRegistryDetails(details: Json): RegistryFacts[] | null {
  if (!Array.isArray(details.registries)) return null;
  const out: RegistryFacts[] = [];
  for (const r of list(details.registries)) {
    const name = str(r.name);
    if (name === null) continue;
    const reason = str(r.reason);
    const phases = isObject(r.phases) ? r.phases : {};
    const certNotAfter = parseTime(r.certNotAfter);
    out.push({
      name,
      success: r.success === true,
      reason: reason === null ? null : registryReasons.has(reason) ? reason : normaliseReason(reason),
      httpStatus: num(r.httpStatus),
      phases: ['resolve', 'connect', 'tls', 'total']
        .map((phase) => ({ phase, seconds: num(phases[phase]) }))
        .filter((p): p is { phase: string; seconds: number } => p.seconds !== null),
      certNotAfter,
    });
  }
  return out;
}

// Problem codes are kebab-case (`registry-dns`, `tls-failed`); the metric's reason label set is
// fixed. Map the obvious spellings, and fall back to the short code itself.
function normaliseReason(code: string): string {
  for (const r of registryReasons) {
    if (code.includes(r.replace('_', '-')) || code.includes(r)) return r;
  }
  if (code.includes('status')) return 'http_status';
  if (code.includes('refused') || code.includes('unreachable')) return 'connect';
  return /^[a-z][a-z0-9_-]{0,31}$/.test(code) ? code.replace(/-/g, '_') : 'other';
}

export function readCacheDetails(details: Json): { caches: CacheFacts[]; quarantined: QuarantineFacts[]; verifications: VerificationFacts | null } | null {
  if (!Array.isArray(details.caches)) return null;
  const caches: CacheFacts[] = [];
  for (const c of list(details.caches)) {
    const path = str(c.path);
    // No verdict: the cache was not verified (refused, or moved aside during this run). It has
    // no health to report; the check's status and reasons say why.
    if (path === null || str(c.verdict) === null) continue;
    const problems = Array.isArray(c.problems) ? c.problems.length : num(c.problems) ?? 0;
    const ms = num(c.verifyDurationMs) ?? num(c.durationMs);
    caches.push({
      path,
      // The format the file name stands for (blob-info-cache-v1.boltdb / .sqlite) keeps a path's
      // series stable when damage makes its content unrecognisable; the content's format only
      // when the name says nothing.
      format: str(c.formatByName) ?? str(c.format) ?? 'unknown',
      healthy: c.verdict === 'healthy',
      problems,
      sizeBytes: num(c.sizeBytes),
      verifySeconds: ms === null ? null : ms / 1000,
      inUse: typeof c.inUse === 'boolean' ? c.inUse : null,
      verifiedAt: parseTime(c.verifiedAt),
      changedAt: parseTime(c.changedAt),
    });
  }
  const quarantined = list(details.quarantined).map((q) => ({ format: str(q.format) ?? str(q.formatByName) ?? 'unknown' }));
  const v = isObject(details.verifications) ? details.verifications : null;
  const verified = v && isObject(v.verified) ? v.verified : null;
  const verifications: VerificationFacts | null = v === null ? null : {
    byTrigger: verificationTriggers.map((trigger) => ({ trigger, count: num(verified?.[trigger]) ?? 0 })),
    skippedUnchanged: num(v.skippedUnchanged) ?? 0,
  };
  return { caches, quarantined, verifications };
}

// The report of a quarantine run (agent/remediation): the outcomes whose result is
// `quarantined`, wherever the report lists them (an array, or arrays under its keys).
export function readQuarantineReport(report: unknown): string[] {
  const lists: unknown[][] = Array.isArray(report) ? [report] : isObject(report) ? Object.values(report).filter(Array.isArray) : [];
  const formats: string[] = [];
  for (const entry of lists.flatMap((l) => l.filter(isObject))) {
    if (entry.result !== 'quarantined') continue;
    const verdict = isObject(entry.verdict) ? entry.verdict : {};
    formats.push(str(entry.formatByName) ?? str(verdict.format) ?? str(entry.format) ?? 'unknown');
  }
  return formats;
}

// Times arrive as ISO strings (certificates' expiry also as epoch seconds).
function parseTime(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? null : ms / 1000;
  }
  return null;
}

// The skopeo check: which skopeo binaries this host has, which version each is, whether each
// meets the version policy, and which blob-info cache format each one writes. Several binaries
// can be configured because old release branches pin old skopeo builds.
import type { Check, CheckContext, CheckDetails, CheckReason, CheckResult } from './types.ts';
import type { CodeIn } from '../lib/problem-codes.ts';
import { findBinary } from './skopeo/find-binary.ts';
import { runSkopeoVersion, type VersionRun } from './skopeo/run-version.ts';
import { parseSkopeoVersion, skopeoCacheFormat, type SkopeoCacheFormat } from './skopeo/parse-version.ts';
import { judgeSkopeoVersion } from './skopeo/policy.ts';

export { parseSkopeoVersion, skopeoCacheFormat, firstSqliteSkopeo } from './skopeo/parse-version.ts';
export type { SkopeoVersion, SkopeoCacheFormat } from './skopeo/parse-version.ts';
export { judgeSkopeoVersion, validateSkopeoPolicy } from './skopeo/policy.ts';

export interface SkopeoCheckOptions {
  binaries: string[];
  minVersion: string | null;
  recommendedVersion?: string | null;
  deny: string[];
  timeoutSeconds: number;
}

export type SkopeoProblemCode = CodeIn<'skopeoReason'>;

export interface SkopeoBinaryReport {
  binary: string;
  path: string | null;
  version: string | null;
  commit: string | null;
  cacheFormat: SkopeoCacheFormat | null;
  policySatisfied: boolean; // the operator's minVersion and deny (below the recommended version still satisfies)
  belowRecommended?: boolean;
  code?: SkopeoProblemCode;
  error?: string;
}

export interface SkopeoCheckDetails {
  kind: 'skopeo';
  minVersion: string | null;
  recommendedVersion: string | null;
  deny: string[];
  binaries: SkopeoBinaryReport[];
}

// The skopeo builds use is the first configured binary: its version, and the blob-info cache
// format it writes, from this check's details (read by the blobcache check and by
// `cache quarantine`). `error` says why the version is unknown.
export function buildSkopeoOf(details: CheckDetails): {
  version: string | null;
  cacheFormat: SkopeoCacheFormat | null;
  error: string | null;
} {
  if (details.kind !== 'skopeo') return { version: null, cacheFormat: null, error: 'the skopeo check has no result' };
  const first = details.binaries[0];
  const format = first?.cacheFormat;
  return {
    version: first?.version ?? null,
    cacheFormat: format === 'boltdb' || format === 'sqlite' ? format : null,
    error: first ? (first.error ?? null) : 'no skopeo binary configured',
  };
}

// Effects the check needs; tests may replace them (e.g. a PATH of their own).
export interface SkopeoCheckDeps {
  searchPath?: string;
  runVersion?: (path: string, timeoutMs: number, signal: AbortSignal) => Promise<VersionRun>;
}

function failed(binary: string, path: string | null, code: SkopeoProblemCode, error: string): SkopeoBinaryReport {
  return { binary, path, version: null, commit: null, cacheFormat: null, policySatisfied: false, code, error };
}

async function inspectBinary(
  binary: string,
  opts: SkopeoCheckOptions,
  deps: Required<SkopeoCheckDeps>,
  signal: AbortSignal,
): Promise<SkopeoBinaryReport> {
  const found = findBinary(binary, deps.searchPath);
  if (!found.found) return failed(binary, found.path, found.code, found.message);
  const run = await deps.runVersion(found.path, opts.timeoutSeconds * 1000, signal);
  if (!run.ok) {
    return failed(binary, found.path, run.code, run.message);
  }
  const parsed = parseSkopeoVersion(run.stdout);
  if (parsed instanceof Error)
    return failed(binary, found.path, 'skopeo-unparseable', `${found.path}: ${parsed.message}`);
  const report: SkopeoBinaryReport = {
    binary,
    path: found.path,
    version: parsed.version,
    commit: parsed.commit,
    cacheFormat: skopeoCacheFormat(parsed.semver),
    policySatisfied: true,
  };
  const verdict = judgeSkopeoVersion(parsed.semver, opts);
  if (!verdict.satisfied) {
    report.policySatisfied = false;
    report.code = verdict.code;
    report.error = `${found.path}: ${verdict.message}`;
  } else if (verdict.advice) {
    report.belowRecommended = true;
    report.code = verdict.advice.code;
    report.error = `${found.path}: ${verdict.advice.message}`;
  }
  return report;
}

function summarise(reports: SkopeoBinaryReport[]): string {
  return reports
    .map((r) =>
      r.version === null
        ? `${r.binary}: ${r.code}`
        : `${r.binary} ${r.version} (${r.cacheFormat})${r.code === undefined ? '' : ` ${r.code}`}`,
    )
    .join('; ');
}

// The check's name (`--only`, ?checks=, metric labels).
export const skopeoCheckName = 'skopeo';

export function createSkopeoCheck(opts: SkopeoCheckOptions, deps: SkopeoCheckDeps = {}): Check<SkopeoCheckDetails> {
  const effects: Required<SkopeoCheckDeps> = {
    searchPath: deps.searchPath ?? process.env.PATH ?? '',
    runVersion: deps.runVersion ?? runSkopeoVersion,
  };
  return {
    name: skopeoCheckName,
    scope: 'host',
    async run(ctx: CheckContext): Promise<CheckResult<SkopeoCheckDetails>> {
      // Binaries are few and --version is cheap; running them side by side bounds the check at
      // one timeout however many are configured.
      const reports = await Promise.all(opts.binaries.map((b) => inspectBinary(b, opts, effects, ctx.signal)));
      const reasons: CheckReason[] = reports
        .filter((r) => r.code !== undefined)
        .map((r) => ({ code: r.code!, message: r.error ?? r.code! }));
      const details: SkopeoCheckDetails = {
        kind: 'skopeo',
        minVersion: opts.minVersion,
        recommendedVersion: opts.recommendedVersion ?? null,
        deny: opts.deny,
        binaries: reports,
      };
      // Advice alone (below the recommended version) is a warning; anything else refuses.
      const adviceOnly = reports.every((r) => r.code === undefined || r.code === 'skopeo-below-recommended');
      return {
        status: reasons.length === 0 ? 'ok' : adviceOnly ? 'warning' : 'critical',
        summary: reports.length === 0 ? 'no skopeo binaries configured' : summarise(reports),
        reasons,
        details,
      };
    },
  };
}

// The disk check: for each configured path, the space and inodes left on its filesystem, judged
// against warn and critical thresholds, with the mount point and filesystem type so a person
// knows which disk to clean. A path that does not exist (yet) is judged by the filesystem it
// would be created on, its nearest existing parent. Every statfs runs in a child process under
// a timeout, so a hung network mount yields a critical result instead of a hung agent.
import { deadlineWithin, whenAborted } from '../lib/deadline.ts';
import type { Check, CheckContext, CheckReason, CheckResult, CheckStatus } from './types.ts';
import type { CodeIn } from '../lib/problem-codes.ts';
import { statfsInChild, type StatfsOutcome } from './disk/statfs-in-child.ts';
import { mountOf, parseMountInfo, readMountInfo } from './disk/mount-table.ts';
import { isBelowThreshold } from './disk/threshold.ts';
import { formatBytes, formatFreeThreshold, type FreeThreshold } from '../lib/byte-size.ts';

export type { StatfsOutcome } from './disk/statfs-in-child.ts';

export interface DiskPathOptions {
  path: string;
  warnFree: FreeThreshold;
  criticalFree: FreeThreshold;
}

export interface DiskCheckOptions {
  paths: DiskPathOptions[];
  timeoutSeconds: number;
}

export type DiskProblemCode = CodeIn<'diskReason'>;

export interface DiskPathReport {
  path: string;
  // What was measured: `path` itself, or its nearest existing parent when `exists` is false.
  statPath: string | null;
  exists: boolean | null;
  mountpoint: string | null;
  fsType: string | null;
  availBytes: number | null;
  sizeBytes: number | null;
  filesFree: number | null;
  filesTotal: number | null;
  // The configured thresholds, as written (`20%`, `5.0 GiB`), for people reading the details.
  warnFree: string | null;
  criticalFree: string | null;
  status: Exclude<CheckStatus, 'unknown'>;
  code?: DiskProblemCode;
  message: string;
}

export interface DiskCheckDetails {
  kind: 'disk';
  paths: DiskPathReport[];
}

// Effects the check needs. `statfs` must honour its signal; if it does not (a fault-injecting
// wrapper in tests), the check still stops waiting at the timeout.
export interface DiskCheckDeps {
  statfs?: (path: string, signal: AbortSignal) => Promise<StatfsOutcome>;
  readMountInfo?: () => string;
}

const severity: Record<DiskPathReport['status'], number> = { ok: 0, warning: 1, critical: 2 };

async function measurePath(
  target: DiskPathOptions,
  timeoutMs: number,
  deps: Required<DiskCheckDeps>,
  runSignal: AbortSignal,
): Promise<DiskPathReport> {
  // A referenced timer (lib/deadline.ts): a one-shot `check` run must not exit while a hung
  // statfs is all that is left to wait for.
  const deadline = deadlineWithin(runSignal, timeoutMs);
  const signal = deadline.signal;
  const outcome = await Promise.race([deps.statfs(target.path, signal), whenAborted(signal, null)]);
  deadline.done();
  const blank = {
    path: target.path,
    statPath: null,
    exists: null,
    mountpoint: null,
    fsType: null,
    availBytes: null,
    sizeBytes: null,
    filesFree: null,
    filesTotal: null,
    warnFree: formatFreeThreshold(target.warnFree, formatBytes),
    criticalFree: formatFreeThreshold(target.criticalFree, formatBytes),
  };
  if (outcome === null || (!outcome.ok && signal.aborted)) {
    const why = deadline.expired()
      ? `statfs did not answer within ${timeoutMs / 1000} s (hung network mount?)`
      : 'check aborted before statfs answered';
    return { ...blank, status: 'critical', code: 'disk-stat-timeout', message: `${target.path}: ${why}` };
  }
  if (!outcome.ok) {
    return { ...blank, status: 'critical', code: 'disk-stat-failed', message: `${target.path}: ${outcome.message}` };
  }
  const mount = mountOf(outcome.realPath, parseMountInfo(deps.readMountInfo()));
  const report: DiskPathReport = {
    path: target.path,
    statPath: outcome.statPath,
    exists: outcome.exists,
    mountpoint: mount?.mountpoint ?? null,
    fsType: mount?.fsType ?? null,
    availBytes: outcome.availBytes,
    sizeBytes: outcome.sizeBytes,
    filesFree: outcome.filesFree,
    filesTotal: outcome.filesTotal,
    warnFree: blank.warnFree,
    criticalFree: blank.criticalFree,
    status: 'ok',
    message: '',
  };
  const where = outcome.exists
    ? `${target.path} (${report.mountpoint ?? '?'})`
    : `${target.path} does not exist; its nearest parent ${outcome.statPath} (${report.mountpoint ?? '?'})`;
  const free = `${formatBytes(outcome.availBytes)} of ${formatBytes(outcome.sizeBytes)} free`;
  // Filesystems without a fixed inode table (btrfs, some FUSE) report 0 total: nothing to judge.
  if (outcome.filesTotal > 0 && outcome.filesFree === 0) {
    return {
      ...report,
      status: 'critical',
      code: 'disk-inodes-exhausted',
      message: `${where}: no free inodes left (${free})`,
    };
  }
  if (isBelowThreshold(target.criticalFree, outcome.availBytes, outcome.sizeBytes)) {
    return {
      ...report,
      status: 'critical',
      code: 'disk-free-critical',
      message: `${where}: ${free}, below ${formatFreeThreshold(target.criticalFree, formatBytes)}`,
    };
  }
  if (isBelowThreshold(target.warnFree, outcome.availBytes, outcome.sizeBytes)) {
    return {
      ...report,
      status: 'warning',
      code: 'disk-free-low',
      message: `${where}: ${free}, below ${formatFreeThreshold(target.warnFree, formatBytes)}`,
    };
  }
  return { ...report, message: `${where}: ${free}` };
}

// The check's name (`--only`, ?checks=, metric labels).
export const diskCheckName = 'disk';

export function createDiskCheck(opts: DiskCheckOptions, deps: DiskCheckDeps = {}): Check<DiskCheckDetails> {
  const effects: Required<DiskCheckDeps> = {
    statfs: deps.statfs ?? ((path, signal) => statfsInChild(path, signal)),
    readMountInfo: deps.readMountInfo ?? readMountInfo,
  };
  return {
    name: diskCheckName,
    scope: 'host',
    async run(ctx: CheckContext): Promise<CheckResult<DiskCheckDetails>> {
      const timeoutMs = opts.timeoutSeconds * 1000;
      const reports = await Promise.all(opts.paths.map((p) => measurePath(p, timeoutMs, effects, ctx.signal)));
      const worst = reports.reduce<DiskPathReport['status']>(
        (w, r) => (severity[r.status] > severity[w] ? r.status : w),
        'ok',
      );
      const reasons: CheckReason[] = reports
        .filter((r) => r.code !== undefined)
        .map((r) => ({ code: r.code!, message: r.message }));
      const details: DiskCheckDetails = { kind: 'disk', paths: reports };
      return {
        status: worst,
        summary: reasons.length === 0 ? `${reports.length} path(s) ok` : reasons.map((r) => r.message).join('; '),
        reasons,
        details,
      };
    },
  };
}

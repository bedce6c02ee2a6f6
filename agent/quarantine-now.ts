// POST /v1/caches/quarantine: moves confirmed corrupt caches aside now, with the same rules and
// modules as `cache quarantine`, then runs the blob-cache check again so the verdict follows.
import type { ChangeRecord } from '../checks/blobcache/remediation.ts';
import type { SkopeoCacheInfo, VerifyCacheFn } from '../checks/blobcache/check.ts';
import type { AgentConfig } from './config.ts';
import type { QuarantineAnswer } from './core-types.ts';
import type { EventLog } from './events/event-log.ts';
import type { Logger } from './log.ts';
import type { Actor } from './remediation/audit.ts';
import { runQuarantine } from './remediation/run-quarantine.ts';
import type { Runner } from './runner.ts';
import type { CacheWorkLock } from './cache-work-lock.ts';
import { checkNameOfSection } from './checks-from-config.ts';

export interface QuarantineNowDeps {
  config: () => AgentConfig;
  runner: () => Runner | null;
  lock: CacheWorkLock;
  verify: VerifyCacheFn;
  skopeoInfo: () => Promise<SkopeoCacheInfo>;
  events: EventLog;
  log: Logger;
  now: () => Date;
}

// Waits for a verification in flight and holds the next one off until the move is done; an
// exception becomes an answer, never a crash.
export function quarantineNow(deps: QuarantineNowDeps): (actor: Actor) => Promise<QuarantineAnswer> {
  return (actor) =>
    deps
      .lock(() => quarantineLocked(deps, actor))
      .catch((err: unknown) => ({
        error: `quarantine failed: ${err instanceof Error ? err.message : String(err)}`,
      }));
}

async function quarantineLocked(deps: QuarantineNowDeps, actor: Actor): Promise<QuarantineAnswer> {
  const c = deps.config().checks.blobinfocache;
  const info = await deps.skopeoInfo();
  const report = await runQuarantine({
    files: [],
    dryRun: false,
    actor,
    stateDir: deps.config().stateDir,
    dirs: [...c.dirs],
    discoverUsers: c.discoverUsers,
    keep: c.keep,
    maxQuarantineBytes: c.maxQuarantineBytes,
    verify: deps.verify,
    verifyOptions: { full: false },
    skopeoVersion: info.skopeoVersion,
    cacheFormatInUse: info.cacheFormatInUse,
    now: deps.now,
  });
  for (const a of report.audit)
    deps.log.warn(
      { event: 'cache-quarantine', actor, action: a.action, path: a.path, newPath: a.newPath },
      'cache quarantine',
    );
  recordQuarantineEvents(deps.events, report.audit, actor);
  const runner = deps.runner();
  if (runner?.names().includes(checkNameOfSection.blobinfocache)) void runner.run(checkNameOfSection.blobinfocache);
  return report;
}

// Each move (or its refusal) in the event history, whether the API, the CLI or the check's own
// autoQuarantine made it.
export function recordQuarantineEvents(events: EventLog, records: readonly ChangeRecord[], actor: Actor): void {
  for (const audit of records)
    events.record({
      type: 'quarantine',
      actor,
      action: audit.action,
      path: audit.path,
      newPath: audit.newPath,
      audit,
    });
}

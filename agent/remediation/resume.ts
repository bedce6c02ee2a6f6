// Finishing (or reporting) a quarantine that a crash interrupted. The intent record says which
// files were to move where; each file is found again by device and inode, at its old name or
// its new one. The same order as the first attempt (companions, then main) keeps the rule that
// no foreign journal is ever left beside the name skopeo reuses.
import { fsyncSync, renameSync } from 'node:fs';
import path from 'node:path';
import { appendAuditRecord, auditHasIntent, type Actor, type AuditRecord } from './audit.ts';
import {
  isRecordedInode,
  lstatIdentity,
  sameFile,
  sameFileUnchanged,
  type FileIdentity,
} from '../../lib/file-identity.ts';
import { listIntents, removeIntent, removeStaleIntentTemps, type IntentFile, type QuarantineIntent } from './intent.ts';
import { findOpenFileHolders, type OpenFileHolder } from './open-holders.ts';
import { isPinnedDirRefusal, openPinnedDir, type PinnedDir } from '../../lib/pinned-dir.ts';
import { moveRecord } from './quarantine.ts';
import type { ResumeResult } from '../../checks/blobcache/remediation.ts';
import { processStillRunning } from './process-identity.ts';

export interface ResumeDeps {
  stateDir: string;
  actor: Actor;
  now: () => Date;
  procRoot?: string;
  dryRun?: boolean; // report what is pending, change nothing
}

export type { ResumeResult };

export interface ResumeOutcome {
  intentId: string;
  path: string;
  newPath: string;
  result: ResumeResult;
  message: string;
  holders: OpenFileHolder[];
  audit: AuditRecord[];
}

type Place = 'old' | 'new' | 'missing';

function placeOf(dir: PinnedDir, f: IntentFile, mustBeUnchanged: boolean): Place {
  const same = mustBeUnchanged ? sameFileUnchanged : sameFile;
  if (same(lstatIdentity(dir.at(f.newName)), f.identity)) return 'new';
  if (same(lstatIdentity(dir.at(f.name)), f.identity)) return 'old';
  return 'missing';
}

export function resumeInterruptedQuarantines(deps: ResumeDeps): ResumeOutcome[] {
  if (!deps.dryRun) removeStaleIntentTemps(deps.stateDir, deps.now().getTime());
  const { intents, unreadable } = listIntents(deps.stateDir);
  const outcomes: ResumeOutcome[] = unreadable.map((u) => ({
    intentId: path.basename(u.file, '.json'),
    path: u.file,
    newPath: '',
    result: 'needs-attention' as const,
    message: `unreadable quarantine intent ${u.message}; inspect and delete it by hand`,
    holders: [],
    audit: [],
  }));
  for (const intent of intents) {
    try {
      outcomes.push(resumeOne(intent, deps));
    } catch (err) {
      // An I/O error mid-way: the intent stays, so the next run picks it up again.
      const p = path.join(intent.dir ?? '', intent.main?.name ?? '');
      outcomes.push({
        intentId: intent.id,
        path: p,
        newPath: '',
        result: 'needs-attention',
        message: `half-done quarantine of ${p}: ${(err as Error).message}`,
        holders: [],
        audit: [],
      });
    }
  }
  return outcomes;
}

function resumeOne(intent: QuarantineIntent, deps: ResumeDeps): ResumeOutcome {
  const oldPath = path.join(intent.dir, intent.main.name);
  const newPath = path.join(intent.dir, intent.main.newName);
  const base = {
    intentId: intent.id,
    path: oldPath,
    newPath,
    holders: [] as OpenFileHolder[],
    audit: [] as AuditRecord[],
  };
  if (intent.owner && processStillRunning(intent.owner)) {
    return {
      ...base,
      result: 'in-progress',
      message: `quarantine of ${oldPath} is in progress (pid ${intent.owner.pid})`,
    };
  }
  if (auditHasIntent(deps.stateDir, intent.id)) {
    // The move and its record were both done; only the intent removal was interrupted.
    if (!deps.dryRun) removeIntent(deps.stateDir, intent.id);
    return {
      ...base,
      result: 'completed',
      message: `quarantine of ${oldPath} had completed; cleared its intent record`,
    };
  }
  const dir = openPinnedDir(intent.dir);
  if (isPinnedDirRefusal(dir)) {
    return {
      ...base,
      result: 'needs-attention',
      message: `half-done quarantine of ${oldPath}: ${dir.message}; intent ${intent.id} kept`,
    };
  }
  try {
    if (!isRecordedInode(dir.stat, { dev: intent.dirDev, ino: intent.dirIno })) {
      return {
        ...base,
        result: 'needs-attention',
        message: `half-done quarantine of ${oldPath}: ${intent.dir} was replaced; intent ${intent.id} kept`,
      };
    }
    const companionPlaces = intent.companions.map((c) => placeOf(dir, c, false));
    const mainPlace = placeOf(dir, intent.main, true);
    const mainMovedOrSame = mainPlace !== 'missing' || placeOf(dir, intent.main, false) === 'new';
    if (!mainMovedOrSame) return abandon(intent, deps, base, companionPlaces);

    const stillAtOld: FileIdentity[] = [
      ...intent.companions.filter((_, i) => companionPlaces[i] === 'old').map((c) => c.identity),
      ...(mainPlace === 'old' ? [intent.main.identity] : []),
    ];
    if (deps.dryRun) {
      return {
        ...base,
        result: 'pending',
        message: `half-done quarantine of ${oldPath}: ${stillAtOld.length} file(s) still to move (dry run)`,
      };
    }
    const holders = findOpenFileHolders(stillAtOld, deps.procRoot);
    if (holders.length > 0) {
      return {
        ...base,
        holders,
        result: 'pending',
        message: `half-done quarantine of ${oldPath} is busy (${holders.map((h) => `${h.command}[${h.pid}]`).join(', ')}); the next run tries again`,
      };
    }
    intent.companions.forEach((c, i) => {
      if (companionPlaces[i] !== 'old') return;
      renameSync(dir.at(c.name), dir.at(c.newName));
      fsyncSync(dir.fd);
    });
    if (mainPlace === 'old') {
      renameSync(dir.at(intent.main.name), dir.at(intent.main.newName));
      fsyncSync(dir.fd);
    }
    const missing = intent.companions.filter((_, i) => companionPlaces[i] === 'missing').map((c) => c.name);
    const record = appendAuditRecord(deps.stateDir, {
      ...moveRecord(intent, deps, true),
      ...(missing.length ? { message: `companion(s) no longer found: ${missing.join(', ')}` } : {}),
    });
    removeIntent(deps.stateDir, intent.id);
    return {
      ...base,
      audit: [record],
      result: 'completed',
      message: `finished the interrupted quarantine of ${oldPath} to ${newPath}`,
    };
  } finally {
    dir.close();
  }
}

// The main file is still at its old name but was written to after the interruption (or is
// gone): moving it now would move something nobody verified. Record and stop.
function abandon(
  intent: QuarantineIntent,
  deps: ResumeDeps,
  base: Omit<ResumeOutcome, 'result' | 'message'>,
  companionPlaces: Place[],
): ResumeOutcome {
  const moved = intent.companions.filter((_, i) => companionPlaces[i] === 'new').map((c) => c.newName);
  const message =
    `the interrupted quarantine of ${base.path} was not finished: the file changed or disappeared since it was verified` +
    (moved.length ? `; already moved: ${moved.join(', ')}` : '');
  if (deps.dryRun) return { ...base, result: 'pending', message: `${message} (dry run)` };
  const record = appendAuditRecord(deps.stateDir, {
    ...moveRecord(intent, deps, true),
    action: 'quarantine-abandoned',
    newPath: null,
    message,
  });
  removeIntent(deps.stateDir, intent.id);
  return { ...base, audit: [record], result: 'abandoned', message };
}

// Moving a corrupt blob-info cache aside so skopeo starts a fresh one, done safely by root.
// Two phases: assessCache (the planner: rules, first verification, open-file scan; changes
// nothing, and is what --dry-run shows) and quarantineCache (re-checks everything, confirms
// with a second verification, then renames). The rules and the rename order are explained in
// docs/quarantine.md.
import { fsyncSync, renameSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { DiscoveredCache, CacheFormatByName } from '../../checks/blobcache/discover.ts';
import { verdictUnderPath, type CacheVerdict } from '../../checks/blobcache/verdict.ts';
import type { VerifyOptions } from '../../checks/blobcache/verify.ts';
import type { VerifyCacheFn } from '../../checks/blobcache/check.ts';
import type { KnownVerification, QuarantineResult } from '../../checks/blobcache/remediation.ts';
import type { QuarantineCode } from '../../lib/problem-codes.ts';
import { appendAuditRecord, type Actor, type AuditRecord } from './audit.ts';
import { inodeNumber, lstatIdentity, sameFile, sameFileUnchanged, type FileIdentity } from '../../lib/file-identity.ts';
import { removeIntent, writeIntent, type QuarantineIntent } from './intent.ts';
import { findOpenFileHolders, type OpenFileHolder } from './open-holders.ts';
import { isPinnedDirRefusal, openPinnedDir, type PinnedDir } from '../../lib/pinned-dir.ts';
import { checkCacheFiles, checkDirectory, isRefusal, type CacheFiles, type Refusal } from './preconditions.ts';
import { currentProcessIdentity } from './process-identity.ts';
import { quarantineStem, type CompanionSuffix } from './quarantine-names.ts';
import { applyRetention } from './retention.ts';

export type { KnownVerification, QuarantineResult, VerifyCacheFn };

// The points between two effects; a test hook may stop the process at any of them.
export type QuarantineStep =
  'confirmed' | 'intent-written' | `moved${CompanionSuffix}` | 'moved-main' | 'audited' | 'intent-removed';

export interface QuarantineDeps {
  // Handed /proc/self/fd paths: it must open them in this process, or pass the descriptor on
  // (the daemon's child verifier, agent/cache-verify-child.ts, does).
  verify: VerifyCacheFn;
  verifyOptions?: VerifyOptions;
  stateDir: string;
  actor: Actor;
  skopeoVersion: string | null;
  now: () => Date;
  procRoot?: string; // where to scan for open files; default /proc
  keep: number;
  maxQuarantineBytes: number;
  afterStep?: (step: QuarantineStep) => void | Promise<void>;
}

// The result kinds are the check's (checks/blobcache/remediation.ts), which reports them.
export interface QuarantineOutcome {
  path: string;
  formatByName: CacheFormatByName | null;
  result: QuarantineResult;
  code: QuarantineCode; // stable kebab-case, lib/problem-codes.ts
  message: string; // one line
  verdict: CacheVerdict | null;
  newPath: string | null;
  companions: { path: string; newPath: string | null }[];
  holders: OpenFileHolder[];
  audit: AuditRecord[]; // records appended by this action (the move and retention deletions)
}

// What the planner found; quarantineCache takes it as the first verification.
export interface CacheAssessment {
  cache: DiscoveredCache;
  outcome: QuarantineOutcome; // would-quarantine when a move is planned
  identity: FileIdentity | null; // the file as the first verification saw it
}

// An outcome with nothing done yet: no verdict, no move, no holders, no audit record. `cache` is
// a discovered cache, or only the path a request named (formatByName null).
export function outcomeFor(
  cache: Pick<DiscoveredCache, 'path' | 'formatByName'>,
  result: QuarantineResult,
  code: QuarantineCode,
  message: string,
  extra: Partial<QuarantineOutcome> = {},
): QuarantineOutcome {
  return {
    path: cache.path,
    formatByName: cache.formatByName,
    result,
    code,
    message,
    verdict: null,
    newPath: null,
    companions: [],
    holders: [],
    audit: [],
    ...extra,
  };
}

function refusedOutcome(cache: DiscoveredCache, r: Refusal): QuarantineOutcome {
  return outcomeFor(cache, 'refused', r.code, `refused: ${r.message}`);
}

// Verifies through the pinned directory, then reports the verdict under the real path.
async function verifyPinned(dir: PinnedDir, cache: DiscoveredCache, deps: QuarantineDeps): Promise<CacheVerdict> {
  const pinnedPath = dir.at(cache.fileName!);
  const v = await deps.verify(pinnedPath, deps.verifyOptions);
  return verdictUnderPath(v, cache.path, pinnedPath, cache.path);
}

function busyOutcome(
  cache: DiscoveredCache,
  holders: OpenFileHolder[],
  verdict: CacheVerdict | null,
): QuarantineOutcome {
  const who = holders.map((h) => `${h.command}[${h.pid}]`).join(', ');
  return outcomeFor(
    cache,
    'busy',
    'file-open',
    `busy: ${cache.path} or a companion is open by ${who}; the next run tries again`,
    { holders, verdict },
  );
}

// The verdict is healthy, unreadable or busy (callers handle corrupt).
function notCorruptOutcome(cache: DiscoveredCache, verdict: CacheVerdict): QuarantineOutcome {
  return verdict.verdict === 'healthy'
    ? outcomeFor(cache, 'not-corrupt', 'healthy', `${cache.path} is healthy; left in place`, { verdict })
    : outcomeFor(
        cache,
        'not-corrupt',
        verdict.verdict === 'busy' ? 'verdict-busy' : 'verdict-unreadable',
        `${cache.path} could not be judged (${verdict.verdict}); left in place`,
        { verdict },
      );
}

function openDirFor(cache: DiscoveredCache): PinnedDir | Refusal {
  if (cache.refused)
    return {
      code: cache.refused.code === 'stat-failed' ? 'io-error' : cache.refused.code,
      message: cache.refused.message,
    };
  const dir = openPinnedDir(cache.dir);
  if (isPinnedDirRefusal(dir)) {
    return {
      code:
        dir.code === 'symlink-on-path'
          ? 'symlink-on-path'
          : dir.code === 'not-a-directory'
            ? 'not-a-directory'
            : 'io-error',
      message: dir.message,
    };
  }
  const bad = checkDirectory(cache, dir);
  if (bad) {
    dir.close();
    return bad;
  }
  return dir;
}

// The planner: every rule, the first verification, the open-file scan. Changes nothing.
export async function assessCache(
  cache: DiscoveredCache,
  deps: QuarantineDeps,
  known?: KnownVerification,
): Promise<CacheAssessment> {
  const dir = openDirFor(cache);
  if (isRefusal(dir)) return { cache, outcome: refusedOutcome(cache, dir), identity: null };
  try {
    const files = checkCacheFiles(cache, dir);
    if (files === null)
      return { cache, outcome: outcomeFor(cache, 'gone', 'gone', `${cache.path} no longer exists`), identity: null };
    if (isRefusal(files)) return { cache, outcome: refusedOutcome(cache, files), identity: null };
    const reuse = known !== undefined && sameFileUnchanged(known.identity, files.main);
    const verdict = reuse ? known.verdict : await verifyPinned(dir, cache, deps);
    const after = lstatIdentity(dir.at(cache.fileName!));
    if (!sameFileUnchanged(files.main, after)) {
      return {
        cache,
        outcome: outcomeFor(
          cache,
          'changed',
          'file-changed',
          `${cache.path} changed while it was verified; the next run tries again`,
          { verdict },
        ),
        identity: null,
      };
    }
    if (verdict.verdict !== 'corrupt')
      return { cache, outcome: notCorruptOutcome(cache, verdict), identity: files.main };
    const holders = findOpenFileHolders([files.main, ...files.companions.map((c) => c.identity)], deps.procRoot);
    if (holders.length > 0) return { cache, outcome: busyOutcome(cache, holders, verdict), identity: files.main };
    const codes = [...new Set(verdict.problems.map((p) => p.code))].join(', ') || 'corrupt';
    return {
      cache,
      identity: files.main,
      outcome: outcomeFor(
        cache,
        'would-quarantine',
        'corrupt',
        `${cache.path} is corrupt (${codes}); would move it aside`,
        {
          verdict,
          companions: files.companions.map((c) => ({ path: path.join(cache.dir, c.name), newPath: null })),
        },
      ),
    };
  } finally {
    dir.close();
  }
}

// Picks `<name>.corrupt-<stamp>[-n]` so that neither it nor any companion's new name exists.
function chooseStem(dir: PinnedDir, fileName: string, files: CacheFiles, at: Date): string | null {
  for (let attempt = 0; attempt < 100; attempt++) {
    const stem = quarantineStem(fileName, at, attempt);
    const names = [stem, ...files.companions.map((c) => `${stem}${c.suffix}`)];
    if (names.every((n) => lstatIdentity(dir.at(n)) === null)) return stem;
  }
  return null;
}

// Moves one assessed-corrupt cache aside. Acts only when, right now: every rule still holds,
// no process has the file or a companion open, a second verification says corrupt, and the
// file is the same inode with the same size and mtime as both verifications saw.
export async function quarantineCache(assessment: CacheAssessment, deps: QuarantineDeps): Promise<QuarantineOutcome> {
  const { cache } = assessment;
  if (assessment.outcome.result !== 'would-quarantine' || assessment.identity === null) return assessment.outcome;
  const dir = openDirFor(cache);
  if (isRefusal(dir)) return refusedOutcome(cache, dir);
  const inFlight: InFlight = { intent: null };
  try {
    return await quarantineInPinnedDir(dir, assessment, deps, inFlight);
  } catch (err) {
    // The move stopped half-way while this process lives on: hand the intent over to the next
    // run (which would otherwise see a live owner and leave it alone as "in progress").
    if (inFlight.intent) {
      try {
        writeIntent(deps.stateDir, { ...inFlight.intent, owner: undefined });
      } catch {
        // the state directory failed too; the intent as written still describes the move
      }
    }
    const pending = inFlight.intent ? '; the next run finishes or reports the half-done move' : '';
    // Under the unit, a cache directory outside /home that its drop-in does not list is read-only.
    const readOnly =
      (err as NodeJS.ErrnoException).code === 'EROFS'
        ? ' (read-only for the agent: under systemd, list the directory with `buildfleet-agent systemd-dropin` and restart; docs/operations.md)'
        : '';
    return outcomeFor(
      cache,
      'failed',
      'io-error',
      `failed: ${cache.path}: ${(err as Error).message}${pending}${readOnly}`,
    );
  } finally {
    dir.close();
  }
}

// The intent written and not yet removed, for the error path above.
interface InFlight {
  intent: QuarantineIntent | null;
}

async function quarantineInPinnedDir(
  dir: PinnedDir,
  assessment: CacheAssessment,
  deps: QuarantineDeps,
  inFlight: InFlight,
): Promise<QuarantineOutcome> {
  const { cache } = assessment;
  const fileName = cache.fileName!;
  const changed = (verdict: CacheVerdict | null = null): QuarantineOutcome =>
    outcomeFor(
      cache,
      'changed',
      'file-changed',
      `${cache.path} changed since it was verified; left in place, the next run tries again`,
      { verdict },
    );

  const files = checkCacheFiles(cache, dir);
  if (files === null) return outcomeFor(cache, 'gone', 'gone', `${cache.path} no longer exists`);
  if (isRefusal(files)) return refusedOutcome(cache, files);
  if (!sameFileUnchanged(files.main, assessment.identity)) return changed();
  const companionIds = files.companions.map((c) => c.identity);
  let holders = findOpenFileHolders([files.main, ...companionIds], deps.procRoot);
  if (holders.length > 0) return busyOutcome(cache, holders, null);

  const verdict = await verifyPinned(dir, cache, deps);
  if (!sameFileUnchanged(files.main, lstatIdentity(dir.at(fileName)))) return changed(verdict);
  if (verdict.verdict !== 'corrupt') return notCorruptOutcome(cache, verdict);
  await deps.afterStep?.('confirmed');

  const stem = chooseStem(dir, fileName, files, deps.now());
  if (stem === null)
    return outcomeFor(
      cache,
      'refused',
      'target-exists',
      `refused: too many quarantined copies named ${fileName}.corrupt-* for this second`,
    );
  const problems = [...new Set(verdict.problems.map((p) => p.code))]; // distinct codes, in order of appearance
  const intent: QuarantineIntent = {
    id: randomUUID(),
    createdAt: deps.now().toISOString(),
    actor: deps.actor,
    dir: cache.dir,
    dirDev: dir.stat.dev.toString(),
    dirIno: dir.stat.ino.toString(),
    dirUid: Number(dir.stat.uid),
    main: { name: fileName, newName: stem, identity: files.main },
    companions: files.companions.map((c) => ({ name: c.name, newName: `${stem}${c.suffix}`, identity: c.identity })),
    problems,
    skopeoVersion: deps.skopeoVersion,
    owner: currentProcessIdentity(),
  };
  writeIntent(deps.stateDir, intent);
  inFlight.intent = intent;
  await deps.afterStep?.('intent-written');

  // Last look right before the renames: same files (no companion appeared, none replaced),
  // still nobody holding them. A rename works on names, so this is as close as it gets.
  const now = checkCacheFiles(cache, dir);
  const stillSame =
    now !== null &&
    !isRefusal(now) &&
    sameFileUnchanged(now.main, files.main) &&
    now.companions.length === files.companions.length &&
    now.companions.every(
      (c, i) => c.suffix === files.companions[i].suffix && sameFile(c.identity, files.companions[i].identity),
    );
  holders = stillSame ? findOpenFileHolders([files.main, ...companionIds], deps.procRoot) : [];
  if (!stillSame || holders.length > 0) {
    removeIntent(deps.stateDir, intent.id);
    inFlight.intent = null;
    return stillSame ? busyOutcome(cache, holders, verdict) : changed(verdict);
  }

  // Companions first, the main file last: until the main file moves, whatever sits beside its
  // name is its own journal/WAL (or nothing), and once it has moved none is left there. So a
  // crash between any two steps never leaves a foreign journal beside the name skopeo reuses.
  for (const c of intent.companions) {
    renameSync(dir.at(c.name), dir.at(c.newName));
    fsyncSync(dir.fd);
    await deps.afterStep?.(`moved${c.name.slice(fileName.length) as CompanionSuffix}`);
  }
  renameSync(dir.at(fileName), dir.at(stem));
  fsyncSync(dir.fd);
  await deps.afterStep?.('moved-main');

  const moved = lstatIdentity(dir.at(stem));
  if (!sameFile(moved, files.main)) return revertSwapped(dir, cache, intent, verdict, deps);

  const record = appendAuditRecord(deps.stateDir, moveRecord(intent, deps, false));
  await deps.afterStep?.('audited');
  removeIntent(deps.stateDir, intent.id);
  inFlight.intent = null;
  await deps.afterStep?.('intent-removed');
  // Retention is housekeeping: its failure must not turn a completed move into a failure.
  let retention: AuditRecord[] = [];
  let retentionNote = '';
  try {
    retention = applyRetention(dir, cache, deps);
  } catch (err) {
    retentionNote = ` (retention of older copies failed: ${(err as Error).message})`;
  }
  return outcomeFor(
    cache,
    'quarantined',
    'quarantined',
    `moved ${cache.path} to ${path.join(cache.dir, stem)}${retentionNote}`,
    {
      verdict,
      newPath: path.join(cache.dir, stem),
      companions: intent.companions.map((c) => ({
        path: path.join(cache.dir, c.name),
        newPath: path.join(cache.dir, c.newName),
      })),
      audit: [record, ...retention],
    },
  );
}

export function moveRecord(
  intent: QuarantineIntent,
  deps: Pick<QuarantineDeps, 'actor' | 'now'>,
  resumed: boolean,
): AuditRecord {
  return {
    time: deps.now().toISOString(),
    actor: deps.actor,
    action: 'quarantine',
    path: path.join(intent.dir, intent.main.name),
    newPath: path.join(intent.dir, intent.main.newName),
    inode: inodeNumber(intent.main.identity),
    size: intent.main.identity.size,
    problems: intent.problems,
    skopeoVersion: intent.skopeoVersion,
    companions: intent.companions.map((c) => ({
      path: path.join(intent.dir, c.name),
      newPath: path.join(intent.dir, c.newName),
      inode: inodeNumber(c.identity),
      size: c.identity.size,
    })),
    intentId: intent.id,
    ...(resumed ? { resumed: true } : {}),
  };
}

// The file renamed in the last instant was not the verified one (it was replaced between the
// final check and the rename). Put it back when its old name is still free, and say so.
function revertSwapped(
  dir: PinnedDir,
  cache: DiscoveredCache,
  intent: QuarantineIntent,
  verdict: CacheVerdict,
  deps: QuarantineDeps,
): QuarantineOutcome {
  let restored = false;
  if (lstatIdentity(dir.at(intent.main.name)) === null) {
    renameSync(dir.at(intent.main.newName), dir.at(intent.main.name));
    fsyncSync(dir.fd);
    restored = true;
  }
  const record = appendAuditRecord(deps.stateDir, {
    ...moveRecord(intent, deps, false),
    action: 'quarantine-reverted',
    message: restored
      ? 'the file at the old name was replaced right before the rename; the replacement was put back, companions stay quarantined'
      : 'the file at the old name was replaced right before the rename; the old name was taken again, the renamed file stays at the new name',
  });
  removeIntent(deps.stateDir, intent.id);
  return outcomeFor(
    cache,
    'failed',
    'swapped-at-rename',
    `failed: ${cache.path} was replaced during the move; ${restored ? 'put back' : 'left at the new name'}`,
    {
      verdict,
      audit: [record],
    },
  );
}

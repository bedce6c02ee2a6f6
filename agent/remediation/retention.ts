// How many quarantined copies of one cache are kept: the newest `keep`, as long as together
// they fit in `maxBytes`. The newest copy is always kept, whatever its size: it is the
// evidence of the latest incident and its bytes were on disk before the move anyway.
import { readdirSync, unlinkSync, fsyncSync } from 'node:fs';
import path from 'node:path';
import type { DiscoveredCache } from '../../checks/blobcache/discover.ts';
import { appendAuditRecord, type Actor, type AuditRecord } from './audit.ts';
import { inodeNumber, lstatIdentity, type FileIdentity } from '../../lib/file-identity.ts';
import type { PinnedDir } from '../../lib/pinned-dir.ts';
import { parseQuarantinedName } from './quarantine-names.ts';

export interface QuarantinedFile {
  name: string;
  identity: FileIdentity;
}

export interface QuarantinedCopy {
  stem: string;
  stamp: string;
  attempt: number;
  main: QuarantinedFile | null; // null: only companions left (main deleted by hand)
  companions: QuarantinedFile[];
  totalBytes: number;
}

export const defaultQuarantineKeep = 3;
export const defaultMaxQuarantineBytes = 1024 * 1024 * 1024;

// Regular files owned by the directory's owner only; anything else with a matching name is
// left alone (it is not ours to delete).
export function listQuarantinedCopies(dir: PinnedDir, fileName: string): QuarantinedCopy[] {
  const byStem = new Map<string, QuarantinedCopy>();
  const dirUid = Number(dir.stat.uid);
  for (const entry of readdirSync(dir.self)) {
    const parsed = parseQuarantinedName(fileName, entry);
    if (!parsed) continue;
    const identity = lstatIdentity(dir.at(entry));
    if (!identity || identity.kind !== 'file' || identity.uid !== dirUid) continue;
    const copy = byStem.get(parsed.stem) ?? {
      stem: parsed.stem,
      stamp: parsed.stamp,
      attempt: parsed.attempt,
      main: null,
      companions: [],
      totalBytes: 0,
    };
    if (parsed.companion === null) copy.main = { name: entry, identity };
    else copy.companions.push({ name: entry, identity });
    copy.totalBytes += identity.size;
    byStem.set(parsed.stem, copy);
  }
  return [...byStem.values()].sort(newestFirst);
}

function newestFirst(a: QuarantinedCopy, b: QuarantinedCopy): number {
  if (a.stamp !== b.stamp) return a.stamp < b.stamp ? 1 : -1;
  return b.attempt - a.attempt;
}

export interface RetentionPlan {
  keep: QuarantinedCopy[];
  remove: QuarantinedCopy[];
}

export function planRetention(copies: readonly QuarantinedCopy[], keep: number, maxBytes: number): RetentionPlan {
  const sorted = [...copies].sort(newestFirst);
  const plan: RetentionPlan = { keep: [], remove: [] };
  let bytes = 0;
  sorted.forEach((copy, i) => {
    const fits = i === 0 || (i < keep && bytes + copy.totalBytes <= maxBytes);
    if (fits) {
      plan.keep.push(copy);
      bytes += copy.totalBytes;
    } else {
      plan.remove.push(copy);
    }
  });
  return plan;
}

export interface RetentionDeps {
  stateDir: string;
  actor: Actor;
  skopeoVersion: string | null;
  now: () => Date;
  keep: number;
  maxQuarantineBytes: number;
}

// Deletes what the plan removes, each copy audited (one record, companions included) before
// its files are unlinked, so the log never misses a deletion that happened.
export function applyRetention(dir: PinnedDir, cache: DiscoveredCache, deps: RetentionDeps): AuditRecord[] {
  if (cache.fileName === null) return [];
  const plan = planRetention(listQuarantinedCopies(dir, cache.fileName), deps.keep, deps.maxQuarantineBytes);
  const records: AuditRecord[] = [];
  for (const copy of plan.remove) {
    const lead = copy.main ?? copy.companions[0];
    records.push(
      appendAuditRecord(deps.stateDir, {
        time: deps.now().toISOString(),
        actor: deps.actor,
        action: 'retention-delete',
        path: path.join(cache.dir, lead.name),
        newPath: null,
        inode: inodeNumber(lead.identity),
        size: lead.identity.size,
        problems: [],
        skopeoVersion: deps.skopeoVersion,
        companions: copy.companions
          .filter((c) => c !== lead)
          .map((c) => ({
            path: path.join(cache.dir, c.name),
            newPath: null,
            inode: inodeNumber(c.identity),
            size: c.identity.size,
          })),
        message: `keeping the newest ${deps.keep} quarantined copies within ${deps.maxQuarantineBytes} bytes`,
      }),
    );
    for (const file of [...copy.companions, ...(copy.main ? [copy.main] : [])]) {
      try {
        unlinkSync(dir.at(file.name));
      } catch {
        // already gone: the audit record still says what was meant; nothing else to do
      }
    }
    fsyncSync(dir.fd);
  }
  return records;
}

// The audit trail of everything the quarantine changes on disk: one JSON line per action,
// appended to <stateDir>/audit.jsonl and fsync'd before the action is reported done. Refusals
// and busy skips change nothing and are not audited (they are returned and logged instead),
// so a daemon that meets the same refusal every minute does not grow the file.
import { closeSync, constants, fsyncSync, openSync, readSync, fstatSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir } from '../private-dir.ts';

export type Actor = 'cli' | 'daemon' | 'api';

// quarantine: a cache (and its companions) moved aside. retention-delete: an old quarantined
// copy deleted. quarantine-abandoned: a half-done move found after a crash could not be
// finished (the file changed meanwhile); what had moved stays moved. quarantine-reverted: the
// renamed file turned out not to be the verified one (swapped in the last instant) and was put back.
export type AuditAction = 'quarantine' | 'retention-delete' | 'quarantine-abandoned' | 'quarantine-reverted';

export interface AuditedFile {
  path: string;
  newPath: string | null;
  inode: number;
  size: number;
}

export interface AuditRecord {
  time: string; // ISO 8601 UTC
  actor: Actor;
  action: AuditAction;
  path: string;
  newPath: string | null; // null for deletions
  inode: number;
  size: number;
  problems: string[]; // problem codes of the confirming verification
  skopeoVersion: string | null;
  companions: AuditedFile[];
  intentId?: string; // ties the record to its crash-safety intent
  resumed?: boolean; // finished by a later run after an interruption
  message?: string;
}

export const auditFileName = 'audit.jsonl';

export function ensureStateDir(stateDir: string): void {
  ensurePrivateDir(stateDir);
}

export function appendAuditRecord(stateDir: string, record: AuditRecord): AuditRecord {
  ensureStateDir(stateDir);
  const fd = openSync(
    path.join(stateDir, auditFileName),
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    // One write() call per line: O_APPEND makes it land whole even with a concurrent writer.
    writeSync(fd, `${JSON.stringify(record)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return record;
}

// Whether the tail of the audit log already holds a record for this intent (so a run that
// resumes after a crash between "audited" and "intent removed" does not write it twice).
export function auditHasIntent(stateDir: string, intentId: string, tailBytes = 1 << 20): boolean {
  let fd: number;
  try {
    fd = openSync(path.join(stateDir, auditFileName), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - tailBytes);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    return buf.toString('utf8').includes(`"intentId":${JSON.stringify(intentId)}`);
  } finally {
    closeSync(fd);
  }
}

export function readAuditRecords(stateDir: string): AuditRecord[] {
  let fd: number;
  try {
    fd = openSync(path.join(stateDir, auditFileName), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    readSync(fd, buf, 0, size, 0);
    return buf
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as AuditRecord);
  } finally {
    closeSync(fd);
  }
}

// The crash-safety record of a quarantine: written and fsync'd before the first rename, removed
// after the audit line is written. A run that finds one finishes the move or reports it
// (resume.ts). Everything needed to recognise the files again is in it: the directory's and
// every file's device and inode, and the names before and after.
import {
  closeSync,
  constants,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { Actor } from './audit.ts';
import type { FileIdentity } from '../../lib/file-identity.ts';
import type { ProcessIdentity } from './process-identity.ts';

export interface IntentFile {
  name: string;
  newName: string;
  identity: FileIdentity;
}

export interface QuarantineIntent {
  id: string;
  createdAt: string;
  actor: Actor;
  dir: string;
  dirDev: string;
  dirIno: string;
  dirUid: number;
  main: IntentFile;
  companions: IntentFile[]; // moved before main, in this order
  problems: string[];
  skopeoVersion: string | null;
  owner?: ProcessIdentity; // the process performing the move (absent in records of older versions)
}

export const intentDirName = 'quarantine-intents';

function intentDir(stateDir: string): string {
  return path.join(stateDir, intentDirName);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

// Written to a temporary name, fsync'd, renamed into place and the directory fsync'd: after a
// crash the record is either wholly there or absent, never half a JSON document.
export function writeIntent(stateDir: string, intent: QuarantineIntent): void {
  const dir = intentDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${intent.id}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, JSON.stringify(intent, null, 2));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path.join(dir, `${intent.id}.json`));
  fsyncDir(dir);
}

// A temporary record is written, fsync'd and renamed within milliseconds, before anything moves;
// one older than this belongs to a writer that was killed, and nothing refers to it.
export const staleIntentTempMs = 60_000;

// Removes the half-written temporary records that killed moves left behind (they were never
// renamed into place, so no file had moved yet). Returns the names removed.
export function removeStaleIntentTemps(stateDir: string, nowMs: number): string[] {
  const dir = intentDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!/^\..+\.tmp$/.test(name)) continue;
    const file = path.join(dir, name);
    try {
      const st = lstatSync(file);
      if (!st.isFile() || nowMs - st.mtimeMs < staleIntentTempMs) continue;
      unlinkSync(file);
      removed.push(name);
    } catch {
      // gone meanwhile, or not ours to remove: the next run looks again
    }
  }
  return removed;
}

export function removeIntent(stateDir: string, id: string): void {
  const dir = intentDir(stateDir);
  unlinkSync(path.join(dir, `${id}.json`));
  fsyncDir(dir);
}

export interface UnreadableIntent {
  file: string;
  message: string;
}

export function listIntents(stateDir: string): { intents: QuarantineIntent[]; unreadable: UnreadableIntent[] } {
  const dir = intentDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { intents: [], unreadable: [] };
  }
  const intents: QuarantineIntent[] = [];
  const unreadable: UnreadableIntent[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    try {
      intents.push(JSON.parse(readFileSync(file, 'utf8')) as QuarantineIntent);
    } catch (err) {
      unreadable.push({ file, message: `${file}: ${(err as Error).message}` });
    }
  }
  return { intents, unreadable };
}

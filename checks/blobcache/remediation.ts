// What the blob-cache check may ask the agent to do about what it found. The check observes
// and reports; the agent acts (agent/remediation/cache-remediation.ts builds this hook and the
// core hands it in), so checks/ never imports agent/ and remediation can import the check's
// types without a cycle.
import type { FileIdentity } from '../../lib/file-identity.ts';
import type { QuarantineCode } from '../../lib/problem-codes.ts';
import type { DiscoveredCache } from './discover.ts';
import type { CacheVerdict } from './verdict.ts';

// quarantined: moved aside. would-quarantine: a dry run found it corrupt and movable.
// not-corrupt: healthy, or not judged (unreadable/busy verdict): never moved. busy: a process
// has it or a companion open. changed: it changed between verification and move; the next run
// tries again. gone: no longer there. refused: a safety rule said no. failed: an I/O error.
export type QuarantineResult =
  'quarantined' | 'would-quarantine' | 'not-corrupt' | 'busy' | 'changed' | 'gone' | 'refused' | 'failed';

// completed: the move is finished now (or had finished; only the record was missing).
// abandoned: the main file changed after the interruption; what had moved stays moved, the
// main file is left for the next verification. pending: busy, or a dry run; tried again later.
// needs-attention: the directory is gone or replaced, or the intent record is unreadable.
// in-progress: the process that wrote the intent is still running the move; left to it.
export type ResumeResult = 'completed' | 'abandoned' | 'pending' | 'needs-attention' | 'in-progress';

// One line of the agent's audit trail as far as the check reports it (the agent's record
// carries more; the check passes it through untouched for the daemon's log).
export interface ChangeRecord {
  action: string;
  path: string;
  newPath: string | null;
}

export interface RemediationOutcome {
  result: QuarantineResult;
  code: QuarantineCode;
  message: string;
  newPath: string | null;
  audit: ChangeRecord[];
}

export interface InterruptedMove {
  path: string;
  result: ResumeResult;
  message: string;
  audit: ChangeRecord[];
}

// A verification the check already made, reused by the remediation as its first one when the
// file is still the same inode with the same size and mtime.
export interface KnownVerification {
  verdict: CacheVerdict;
  identity: FileIdentity;
}

export interface CacheRemediation {
  // false: report only. Half-done moves are listed, and nothing is moved.
  moves: boolean;
  // Finishes (or, when moves is false, lists) moves a crash left half-done.
  resumeInterrupted(): InterruptedMove[];
  // Moves one confirmed corrupt cache aside (re-checking every rule and verifying again).
  quarantine(
    cache: DiscoveredCache,
    known: KnownVerification,
    skopeoVersion: string | null,
  ): Promise<RemediationOutcome>;
}

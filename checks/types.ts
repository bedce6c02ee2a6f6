// The one shape every check has. The runner in agent/ times checks, applies timeouts, turns a
// thrown error into an `unknown` result and feeds metrics and /v1/preflight from these objects;
// a check never talks HTTP and never knows about another check.

export type CheckStatus = 'ok' | 'warning' | 'critical' | 'unknown';

// host: this machine's fault, refuses jobs. shared: a dependency many hosts share (a registry),
// degrades, so one outage cannot drain the whole fleet.
export type CheckScope = 'host' | 'shared';

import type { CheckDetails } from './details.ts';
import type { CheckReasonCode } from '../lib/problem-codes.ts';

export type { CheckDetails } from './details.ts';

// One reason a check is not ok. `code` is a stable kebab-case string from the one table
// (lib/problem-codes.ts, docs/problem-codes.md).
export interface CheckReason {
  code: CheckReasonCode;
  message: string;
}

// D: the check's own typed, JSON-serialisable facts (checks/details.ts), also the source of
// that check's metrics (the metrics part next to each check).
export interface CheckResult<D extends CheckDetails = CheckDetails> {
  status: CheckStatus;
  summary: string;
  reasons: CheckReason[];
  details: D;
}

// What started a run: its cron schedule, a write the agent saw (the blob caches' watcher), a
// request (HTTP, CLI), or the deep schedule. A bounded set: it is a metric label.
export type CheckTrigger = 'schedule' | 'write' | 'request' | 'full';

export interface CheckContext {
  // Aborted when the runner's timeout fires or the agent stops; long work must watch it.
  signal: AbortSignal;
  now: () => Date;
  trigger?: CheckTrigger; // absent: request
}

export interface Check<D extends CheckDetails = CheckDetails> {
  name: string;
  scope: CheckScope;
  run: (ctx: CheckContext) => Promise<CheckResult<D>>;
}

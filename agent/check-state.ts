// A check's state and how it moves: the state before the first run, the one restored from the
// state file, and the next one after a run (damping). Pure functions; the runner owns the
// timing and calls them.
import type { Check, CheckDetails, CheckReason, CheckResult, CheckStatus } from '../checks/types.ts';
import type { CheckState } from './core-types.ts';
import type { PersistedCheckState } from './state-store.ts';

// Stable reason codes the runner itself emits (docs/admission.md).
export const runnerReasonCodes = {
  error: 'check-error',
  timeout: 'check-timeout',
  stuck: 'check-stuck',
} as const;

// What one run ended with, before damping.
export interface Outcome {
  status: CheckStatus;
  summary: string;
  reasons: CheckReason[];
  details: CheckDetails;
  timedOut: boolean;
}

export function neverRunState(check: Pick<Check, 'name' | 'scope'>): CheckState {
  return Object.freeze({
    name: check.name,
    scope: check.scope,
    status: 'unknown',
    rawStatus: 'unknown',
    summary: 'not checked yet',
    reasons: [],
    details: {},
    observedAt: null,
    durationMs: 0,
    consecutiveFailures: 0,
    runs: 0,
    failures: 0,
    timeouts: 0,
    statusChanges: 0,
  });
}

export function stateFromPersisted(check: Pick<Check, 'name' | 'scope'>, p: PersistedCheckState): CheckState {
  return Object.freeze({
    ...neverRunState(check),
    status: p.status,
    rawStatus: p.rawStatus,
    summary: p.summary,
    reasons: p.reasons,
    details: p.details,
    observedAt: new Date(p.observedAt),
    durationMs: p.durationMs,
    consecutiveFailures: p.consecutiveFailures,
  });
}

export function isFailure(status: CheckStatus): boolean {
  return status === 'critical' || status === 'unknown';
}

// Damping: a failing result (critical or unknown) counts only after `failuresBeforeCritical`
// consecutive failures; before that the check reports `warning` with the raw reasons, so one
// lost packet to a registry cannot flip the fleet.
export function nextState(
  previous: CheckState,
  outcome: Outcome,
  at: { observedAt: Date; durationMs: number; failuresBeforeCritical: number; damping: boolean },
): CheckState {
  const failed = isFailure(outcome.status);
  const consecutiveFailures = failed ? previous.consecutiveFailures + 1 : 0;
  const damped = failed && at.damping && consecutiveFailures < at.failuresBeforeCritical;
  const status: CheckStatus = damped ? 'warning' : outcome.status;
  const summary = damped
    ? `${outcome.summary} (failure ${consecutiveFailures} of ${at.failuresBeforeCritical} before ${outcome.status})`
    : outcome.summary;
  return Object.freeze({
    name: previous.name,
    scope: previous.scope,
    status,
    rawStatus: outcome.status,
    summary,
    reasons: outcome.reasons,
    details: outcome.details,
    observedAt: at.observedAt,
    durationMs: at.durationMs,
    consecutiveFailures,
    runs: previous.runs + 1,
    failures: previous.failures + (failed ? 1 : 0),
    timeouts: previous.timeouts + (outcome.timedOut ? 1 : 0),
    statusChanges: previous.statusChanges + (previous.observedAt !== null && previous.status !== status ? 1 : 0),
  });
}

const statuses = new Set<string>(['ok', 'warning', 'critical', 'unknown']);

// A check is someone else's code: its result is checked like input from outside.
export function outcomeFromResult(name: string, r: unknown): Outcome {
  const v = r as Partial<CheckResult> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    typeof v.status !== 'string' ||
    !statuses.has(v.status) ||
    typeof v.summary !== 'string' ||
    !Array.isArray(v.reasons)
  ) {
    return failedOutcome(runnerReasonCodes.error, `check ${name} returned something that is not a check result`);
  }
  const details = v.details !== null && typeof v.details === 'object' ? v.details : {};
  return { status: v.status, summary: v.summary, reasons: v.reasons, details, timedOut: false };
}

export function failedOutcome(code: CheckReason['code'], message: string, timedOut = false): Outcome {
  return { status: 'unknown', summary: message, reasons: [{ code, message }], details: {}, timedOut };
}

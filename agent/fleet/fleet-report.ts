// Turns the agents' answers into the fleet view: one row per target, problems first, and the
// exit code. Pure; the table and the JSON document are both rendered from these rows.
import type { Decision } from '../core-types.ts';
import { exitCodes, type ExitCode } from '../../lib/exit-codes.ts';
import type { AgentAnswer, AskErrorCode } from './ask-agent.ts';
import type { FleetTarget } from './targets.ts';

// `no-answer` is the fleet's own state for a target that could not be asked.
export type FleetState = Decision | 'no-answer';

export interface FleetRow {
  target: string; // host:port as asked
  state: FleetState;
  decision: Decision | null; // the agent's, null without an answer
  error: AskErrorCode | null; // why there is no answer
  message: string | null; // the error's detail
  host: string | null; // the name the agent reports for itself
  agentVersion: string | null;
  httpStatus: number | null;
  failingChecks: string[]; // every check named by a reason (agent = maintenance, unknown checks)
  reasons: { check: string; code: string; message: string }[];
  maintenance: unknown;
  // Checks that warn (not blocking), with their summaries: what to look at before it blocks.
  warnings: { check: string; summary: string }[];
  oldestResultAgeSeconds: number | null; // the oldest check result; null when none has run
  latencyMs: number;
  labels: Record<string, string>;
}

export interface FleetSummary {
  total: number;
  accept: number;
  degraded: number;
  refuse: number;
  noAnswer: number;
}

export interface FleetReport {
  summary: FleetSummary;
  rows: FleetRow[];
}

export function rowOf(target: FleetTarget, answer: AgentAnswer): FleetRow {
  const last = { latencyMs: answer.latencyMs, labels: target.labels };
  if (!answer.ok) {
    return {
      target: target.address,
      state: 'no-answer',
      decision: null,
      error: answer.error,
      message: answer.message,
      host: null,
      agentVersion: null,
      httpStatus: answer.httpStatus,
      failingChecks: [],
      reasons: [],
      maintenance: null,
      warnings: [],
      oldestResultAgeSeconds: null,
      ...last,
    };
  }
  const p = answer.preflight;
  const reasons = p.reasons
    .filter((r) => typeof r === 'object' && r !== null)
    .map((r) => ({ check: String(r.check), code: String(r.code), message: String(r.message ?? '') }));
  const ages = p.checks
    .map((c) => c?.ageSeconds)
    .filter((a): a is number => typeof a === 'number' && Number.isFinite(a));
  return {
    target: target.address,
    state: p.decision,
    decision: p.decision,
    error: null,
    message: null,
    host: typeof p.host === 'string' ? p.host : null,
    agentVersion: typeof p.agentVersion === 'string' ? p.agentVersion : null,
    httpStatus: answer.httpStatus,
    failingChecks: [...new Set(reasons.map((r) => r.check))],
    reasons,
    maintenance: p.maintenance ?? null,
    warnings: p.checks
      .filter((c) => c?.status === 'warning')
      .map((c) => ({ check: String(c.name), summary: String(c.summary ?? '') })),
    oldestResultAgeSeconds: ages.length > 0 ? Math.max(...ages) : null,
    ...last,
  };
}

// Worst first: no answer, refuse, degraded, accept; then by target, numbers compared as numbers
// (build-9 before build-10).
const stateRank: Record<FleetState, number> = { 'no-answer': 0, refuse: 1, degraded: 2, accept: 3 };
const collator = new Intl.Collator('en', { numeric: true });

export function fleetReport(rows: FleetRow[]): FleetReport {
  const sorted = [...rows].sort(
    (a, b) => stateRank[a.state] - stateRank[b.state] || collator.compare(a.target, b.target),
  );
  const count = (s: FleetState) => rows.filter((r) => r.state === s).length;
  return {
    summary: {
      total: rows.length,
      accept: count('accept'),
      degraded: count('degraded'),
      refuse: count('refuse'),
      noAnswer: count('no-answer'),
    },
    rows: sorted,
  };
}

// The worst state in the fleet decides, in the order of the table: any agent that could not be
// asked 4, else any refusing 1, else any degraded 3, else 0. Nothing asked is a usage error.
export function fleetExitCode(report: FleetReport): ExitCode {
  const s = report.summary;
  if (s.total === 0) return exitCodes.usage;
  if (s.noAnswer > 0) return exitCodes.noAnswer;
  if (s.refuse > 0) return exitCodes.refuse;
  if (s.degraded > 0) return exitCodes.degraded;
  return exitCodes.ok;
}

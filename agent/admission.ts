// The admission decision: may a scheduler put a build on this host now? Pure: the check states,
// the maintenance mode and the time in, the /v1/preflight body out.
//
// refuse   - maintenance; a check has not run since the agent started; a host-scope check is
//            critical or unknown (an unproven host is not a healthy host); a requested check
//            does not exist.
// degraded - only shared-scope checks (registries) are critical or unknown: the cause is
//            shared by the fleet, so refusing everywhere would drain it for nothing.
// accept   - everything else (ok and warning, including damped failures).
import type { CheckState, Maintenance, Preflight } from './core-types.ts';
import { activeMaintenance } from './maintenance.ts';
import { exitCodes, type ExitCode } from '../lib/exit-codes.ts';

export interface PreflightMeta {
  host: string;
  agentVersion: string;
  // Names asked for (?checks=) that no configured check has.
  unknownChecks?: readonly string[];
}

// Stable reason codes admission itself adds; checks add their own (docs/admission.md).
export const admissionReasonCodes = {
  maintenance: 'maintenance',
  notYetChecked: 'not-yet-checked',
  unknownCheck: 'unknown-check',
  checkCritical: 'check-critical',
  checkUnknown: 'check-unknown',
} as const;

// Reasons about the agent as a whole (maintenance) name this instead of a check.
export const agentReasonSource = 'agent';

type Reason = Preflight['reasons'][number];

function failureReasons(state: CheckState): Reason[] {
  if (state.reasons.length > 0) {
    return state.reasons.map((r) => ({ check: state.name, code: r.code, message: r.message }));
  }
  const code = state.status === 'critical' ? admissionReasonCodes.checkCritical : admissionReasonCodes.checkUnknown;
  return [{ check: state.name, code, message: state.summary }];
}

function ageSeconds(observedAt: Date | null, now: Date): number | null {
  if (observedAt === null) return null;
  return Math.max(0, Math.round((now.getTime() - observedAt.getTime()) / 100) / 10);
}

export function evaluatePreflight(
  states: readonly CheckState[],
  maintenance: Maintenance | null,
  now: Date,
  meta: PreflightMeta,
): Preflight {
  const reasons: Reason[] = [];
  let refuse = false;
  let degraded = false;

  const inForce = activeMaintenance(maintenance, now);
  if (inForce) {
    refuse = true;
    reasons.push({
      check: agentReasonSource,
      code: admissionReasonCodes.maintenance,
      message: `${inForce.reason} (until ${inForce.expiresAt}, set by ${inForce.by})`,
    });
  }
  for (const name of meta.unknownChecks ?? []) {
    refuse = true;
    reasons.push({
      check: name,
      code: admissionReasonCodes.unknownCheck,
      message: `no check named "${name}" is configured`,
    });
  }

  for (const state of states) {
    if (state.runs === 0) {
      // A verdict from before a restart is shown, but never trusted: only a run since start
      // can make the host accept again. A sick one stays visible with its own codes.
      refuse = true;
      const before = state.observedAt ? ` (before the restart: ${state.status}: ${state.summary})` : '';
      reasons.push({
        check: state.name,
        code: admissionReasonCodes.notYetChecked,
        message: `has not run since the agent started${before}`,
      });
      if (state.status === 'critical' || state.status === 'unknown') {
        if (state.observedAt !== null) reasons.push(...failureReasons(state));
      }
      continue;
    }
    if (state.status !== 'critical' && state.status !== 'unknown') continue;
    if (state.scope === 'host') refuse = true;
    else degraded = true;
    reasons.push(...failureReasons(state));
  }

  return {
    decision: refuse ? 'refuse' : degraded ? 'degraded' : 'accept',
    host: meta.host,
    agentVersion: meta.agentVersion,
    evaluatedAt: now.toISOString(),
    reasons,
    maintenance: inForce,
    checks: states.map((s) => checkView(s, now)),
  };
}

// One check as the API shows it (an entry of /v1/preflight's `checks`; POST /v1/checks/run adds
// its reasons).
export function checkView(s: CheckState, now: Date): Preflight['checks'][number] {
  return {
    name: s.name,
    status: s.status,
    scope: s.scope,
    summary: s.summary,
    observedAt: s.observedAt ? s.observedAt.toISOString() : null,
    ageSeconds: ageSeconds(s.observedAt, now),
    durationMs: Math.round(s.durationMs),
    details: s.details,
  };
}

// The CLI `check` exit code for a decision (docs/conventions.md).
export function decisionExitCode(decision: Preflight['decision']): ExitCode {
  return decision === 'accept' ? exitCodes.ok : decision === 'degraded' ? exitCodes.degraded : exitCodes.refuse;
}

// The HTTP status for a decision: 200 accept, 429 degraded, 503 refuse.
export function decisionHttpStatus(decision: Preflight['decision']): 200 | 429 | 503 {
  return decision === 'accept' ? 200 : decision === 'degraded' ? 429 : 503;
}

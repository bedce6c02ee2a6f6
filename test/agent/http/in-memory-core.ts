// A small, real AgentCore for the HTTP and metrics tests: checks are plain async functions that
// the test controls, preflight evaluates the conventions' rules, and preflight single-flights
// runs per check. It exists so the HTTP layer can be tested without the scheduler and the real
// checks; the daemon tests use the real core.
import type { CheckDetails, CheckResult, CheckScope, CheckStatus } from '../../../checks/types.ts';
import { createEventLog } from '../../../agent/events/event-log.ts';
import { silentLogger } from '../../../agent/log.ts';
import { neverRunState } from '../../../agent/check-state.ts';
import { describeSchedule, type CheckSchedule } from '../../../agent/check-schedules.ts';
import type { AgentEvent, EventQuery, EventType } from '../../../agent/events/types.ts';
import type {
  AgentCore,
  CheckState,
  Maintenance,
  Preflight,
  QuarantineAnswer,
  RefreshOptions,
  StateWriteRefusal,
} from '../../../agent/core-types.ts';

export interface TestCheck {
  name: string;
  scope: CheckScope;
  run: () => Promise<CheckResult>;
}

export class InMemoryCore implements AgentCore {
  readonly checks: TestCheck[];
  readonly stateByName = new Map<string, CheckState>();
  preflightCalls = 0;
  runStarts = new Map<string, number>();
  quarantineCalls: string[] = [];
  quarantineReport: QuarantineAnswer | null = null; // null: an empty report
  reloadOk = true;
  private inFlight = new Map<string, Promise<void>>();
  private maint: Maintenance | null = null;
  private now: () => Date;

  readonly eventLog;

  constructor(checks: TestCheck[], now: () => Date = () => new Date()) {
    this.checks = checks;
    this.now = now;
    this.eventLog = createEventLog({ stateDir: null, now, log: silentLogger() });
    for (const c of checks) {
      this.stateByName.set(c.name, neverRunState(c));
    }
  }

  checkNames(): string[] {
    return this.checks.map((c) => c.name);
  }

  states(): CheckState[] {
    return [...this.stateByName.values()];
  }

  private runOne(name: string): Promise<void> {
    const running = this.inFlight.get(name);
    if (running) return running;
    const check = this.checks.find((c) => c.name === name);
    if (!check) return Promise.resolve();
    this.runStarts.set(name, (this.runStarts.get(name) ?? 0) + 1);
    const started = Date.now();
    const p = check
      .run()
      .then((r) => {
        const prev = this.stateByName.get(name) as CheckState;
        const failed = r.status !== 'ok';
        this.stateByName.set(name, {
          ...prev,
          status: r.status,
          rawStatus: r.status,
          summary: r.summary,
          reasons: r.reasons,
          details: r.details,
          observedAt: this.now(),
          durationMs: Date.now() - started,
          consecutiveFailures: failed ? prev.consecutiveFailures + 1 : 0,
          runs: prev.runs + 1,
          failures: prev.failures + (failed ? 1 : 0),
          statusChanges: prev.statusChanges + (prev.status !== r.status ? 1 : 0),
        });
      })
      .finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, p);
    return p;
  }

  async preflight(opts: RefreshOptions): Promise<Preflight> {
    this.preflightCalls++;
    const names = opts.names ?? this.checkNames();
    if (opts.maxAgeSeconds !== undefined) {
      const limit = opts.maxAgeSeconds * 1000;
      await Promise.all(
        names
          .filter((n) => {
            const s = this.stateByName.get(n) as CheckState;
            return s.observedAt === null || this.now().getTime() - s.observedAt.getTime() >= limit;
          })
          .map((n) => this.runOne(n)),
      );
    }
    return this.evaluate(names);
  }

  evaluate(names: string[]): Preflight {
    const now = this.now();
    const states = names.map((n) => this.stateByName.get(n) as CheckState);
    const reasons: Preflight['reasons'] = [];
    let decision: Preflight['decision'] = 'accept';
    const notChecked = states.filter((s) => s.observedAt === null);
    if (notChecked.length > 0) {
      decision = 'refuse';
      for (const s of notChecked)
        reasons.push({ check: s.name, code: 'not-yet-checked', message: `${s.name} has not run yet` });
    } else {
      for (const s of states) {
        if (s.status !== 'critical') continue;
        for (const r of s.reasons) reasons.push({ check: s.name, code: r.code, message: r.message });
        if (s.scope === 'host') decision = 'refuse';
        else if (decision === 'accept') decision = 'degraded';
      }
    }
    if (this.maint !== null) {
      decision = 'refuse';
      reasons.push({ check: 'maintenance', code: 'maintenance', message: this.maint.reason });
    }
    return {
      decision,
      host: 'test-host',
      agentVersion: '0.0.0-test',
      evaluatedAt: now.toISOString(),
      reasons,
      maintenance: this.maint,
      checks: states.map((s) => ({
        name: s.name,
        status: s.status as CheckStatus,
        scope: s.scope,
        summary: s.summary,
        observedAt: s.observedAt?.toISOString() ?? null,
        ageSeconds: s.observedAt === null ? null : (now.getTime() - s.observedAt.getTime()) / 1000,
        durationMs: s.durationMs,
        details: s.details,
      })),
    };
  }

  async runChecks(names?: string[]): Promise<CheckState[]> {
    const list = names ?? this.checkNames();
    await Promise.all(list.map((n) => this.runOne(n)));
    return list.map((n) => this.stateByName.get(n) as CheckState);
  }

  maintenance(): Maintenance | null {
    return this.maint;
  }

  // Set to make the next maintenance change fail as a state write would (durable or not at all).
  stateWriteFailure: StateWriteRefusal | null = null;

  async setMaintenance(m: {
    reason: string;
    expiresAt: Date;
    by: string;
  }): Promise<{ ok: true; maintenance: Maintenance } | StateWriteRefusal> {
    if (this.stateWriteFailure) return this.stateWriteFailure;
    this.maint = { reason: m.reason, since: this.now().toISOString(), expiresAt: m.expiresAt.toISOString(), by: m.by };
    this.eventLog.record({ type: 'maintenance-set', reason: m.reason, by: m.by, expiresAt: this.maint.expiresAt });
    return { ok: true, maintenance: this.maint };
  }

  async clearMaintenance(by = 'api'): Promise<{ ok: true; was: Maintenance | null } | StateWriteRefusal> {
    if (this.stateWriteFailure) return this.stateWriteFailure;
    const was = this.maint;
    if (was !== null) this.eventLog.record({ type: 'maintenance-cleared', reason: was.reason, by });
    this.maint = null;
    return { ok: true, was };
  }

  events(query: EventQuery): { events: AgentEvent[]; more: boolean } {
    return this.eventLog.query(query);
  }

  eventCounts(): ReadonlyMap<EventType, number> {
    return this.eventLog.counts();
  }

  // Every test check runs every minute.
  schedules(): CheckSchedule[] {
    return this.checks.map((c) => describeSchedule(c.name, '* * * * *', this.now()));
  }

  async quarantine(actor: 'api' | 'daemon' | 'cli'): Promise<QuarantineAnswer> {
    this.quarantineCalls.push(actor);
    return (
      this.quarantineReport ?? {
        dryRun: false,
        skopeoVersion: null,
        results: [],
        interrupted: [],
        audit: [],
        exitCode: 0,
      }
    );
  }

  configReloadOk(): boolean {
    return this.reloadOk;
  }
}

// A check whose result the test sets, and whose runs can be held open to test sharing.
export function controllableCheck(name: string, scope: CheckScope, initial: CheckResult) {
  let result = initial;
  let gate: Promise<void> | null = null;
  let release: () => void = () => {};
  return {
    check: {
      name,
      scope,
      run: async () => {
        if (gate) await gate;
        return result;
      },
    } satisfies TestCheck,
    set(r: CheckResult) {
      result = r;
    },
    hold() {
      gate = new Promise((resolve) => {
        release = resolve;
      });
    },
    release() {
      gate = null;
      release();
    },
  };
}

export const ok = (summary = 'fine', details: CheckDetails = {}): CheckResult => ({
  status: 'ok',
  summary,
  reasons: [],
  details,
});
// Fake checks may give made-up codes: the core passes whatever reasons a check gives through.
export const critical = (code: string, message: string, details: CheckDetails = {}): CheckResult => ({
  status: 'critical',
  summary: message,
  reasons: [{ code: code as CheckResult['reasons'][number]['code'], message }],
  details,
});

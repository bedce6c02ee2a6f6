import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Check, CheckContext, CheckResult, CheckScope } from '../../checks/types.ts';
import type { CheckState } from '../../agent/core-types.ts';
import { createRunner, type RunnerEntry } from '../../agent/runner.ts';
import { FakeClock, FakeScheduler, settle } from './fake-clock.ts';

const ok: CheckResult = {
  status: 'ok',
  summary: 'fine',
  reasons: [],
  details: { kind: 'skopeo', minVersion: '1.0.0', recommendedVersion: null, deny: [], binaries: [] },
};
const critical: CheckResult = {
  status: 'critical',
  summary: 'broken',
  // A made-up code: the runner passes whatever reasons a check gives through.
  reasons: [{ code: 'thing-broken' as CheckResult['reasons'][number]['code'], message: 'the thing is broken' }],
  details: {},
};

// A check whose runs the test finishes by hand: each run waits until the test resolves it.
function manualCheck(name: string, scope: CheckScope = 'host') {
  const calls: { ctx: CheckContext; resolve: (r: CheckResult) => void; reject: (e: unknown) => void }[] = [];
  const check: Check = {
    name,
    scope,
    run: (ctx) => new Promise<CheckResult>((resolve, reject) => calls.push({ ctx, resolve, reject })),
  };
  return { check, calls };
}

// A check that answers at once from a script of results (the last one repeats).
function scriptedCheck(name: string, script: (CheckResult | Error)[], scope: CheckScope = 'host') {
  let runs = 0;
  const check: Check = {
    name,
    scope,
    run: async () => {
      const next = script[Math.min(runs, script.length - 1)];
      runs += 1;
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return { check, runs: () => runs };
}

function entry(check: Check, extra: Partial<RunnerEntry> = {}): RunnerEntry {
  return { check, schedule: '* * * * *', jitterSeconds: 0, timeoutSeconds: 10, failuresBeforeCritical: 1, ...extra };
}

function setup(entries: RunnerEntry[], opts: { random?: () => number; damping?: boolean } = {}) {
  const clock = new FakeClock();
  const scheduler = new FakeScheduler();
  const runner = createRunner(entries, { clock, scheduler, random: opts.random ?? (() => 0), damping: opts.damping });
  const seen: CheckState[] = [];
  runner.onState((s) => seen.push(s));
  return { clock, scheduler, runner, seen };
}

describe('runner: results', () => {
  it('starts every check as never run, then records the result with the time observed', async () => {
    const { check } = scriptedCheck('a', [ok]);
    const { runner, clock, seen } = setup([entry(check)]);
    const before = runner.state('a');
    assert.equal(before?.observedAt, null);
    assert.equal(before?.runs, 0);
    assert.equal(before?.status, 'unknown');
    await clock.advance(1500);
    const state = await runner.run('a');
    assert.equal(state?.status, 'ok');
    assert.equal(state?.rawStatus, 'ok');
    assert.deepEqual(state?.details, ok.details);
    assert.equal(state?.observedAt?.toISOString(), clock.now().toISOString());
    assert.equal(state?.runs, 1);
    assert.equal(state?.statusChanges, 0, 'the first result is not a change');
    assert.deepEqual(seen, [state]);
    assert.equal(await runner.run('nope'), undefined);
  });

  it('turns a thrown error into unknown with reason check-error', async () => {
    const { check } = scriptedCheck('a', [new Error('boom')]);
    const { runner } = setup([entry(check)]);
    const state = await runner.run('a');
    assert.equal(state?.status, 'unknown');
    assert.deepEqual(
      state?.reasons.map((r) => r.code),
      ['check-error'],
    );
    assert.match(state?.reasons[0].message ?? '', /boom/);
    assert.equal(state?.failures, 1);
    assert.equal(state?.timeouts, 0);
  });

  it('turns a synchronous throw and a malformed result into check-error too', async () => {
    const syncThrow: Check = {
      name: 's',
      scope: 'host',
      run: () => {
        throw new Error('sync');
      },
    };
    const garbage: Check = {
      name: 'g',
      scope: 'host',
      run: async () => ({ status: 'fine' }) as unknown as CheckResult,
    };
    const { runner } = setup([entry(syncThrow), entry(garbage)]);
    const [s, g] = await runner.runMany();
    assert.equal(s.status, 'unknown');
    assert.equal(s.reasons[0].code, 'check-error');
    assert.equal(g.status, 'unknown');
    assert.equal(g.reasons[0].code, 'check-error');
  });
});

describe('runner: timeouts', () => {
  it('aborts the signal at the deadline and reports unknown check-timeout even if the check ignores it', async () => {
    const { check, calls } = manualCheck('slow');
    const { runner, clock } = setup([entry(check, { timeoutSeconds: 5 })]);
    const box: { settled?: CheckState } = {};
    void runner.run('slow').then((s) => {
      box.settled = s;
    });
    await clock.advance(4999);
    assert.equal(box.settled, undefined, 'not before the deadline');
    assert.equal(calls[0].ctx.signal.aborted, false);
    await clock.advance(1);
    assert.equal(calls[0].ctx.signal.aborted, true);
    const settled = box.settled as CheckState | undefined;
    assert.equal(settled?.status, 'unknown');
    assert.equal(settled?.reasons[0].code, 'check-timeout');
    assert.equal(settled?.timeouts, 1);
    assert.equal(settled?.failures, 1);
    assert.equal(settled?.durationMs, 5000);

    // The abandoned run still hangs: a new run must not overlap it.
    const stuck = await runner.run('slow');
    assert.equal(calls.length, 1, 'the check was not started a second time');
    assert.equal(stuck?.reasons[0].code, 'check-stuck');

    // Once the abandoned run finally ends, the check runs normally again.
    calls[0].resolve(ok);
    await settle();
    const again = runner.run('slow');
    await settle();
    assert.equal(calls.length, 2);
    calls[1].resolve(ok);
    assert.equal((await again)?.status, 'ok');
  });

  it('clears its deadline timer when the check finishes in time', async () => {
    const { check, calls } = manualCheck('a');
    const { runner, clock } = setup([entry(check)]);
    const pending = runner.run('a');
    await settle();
    assert.equal(clock.pendingTimers(), 1);
    calls[0].resolve(ok);
    await pending;
    assert.equal(clock.pendingTimers(), 0);
  });
});

describe('runner: single flight', () => {
  it('shares one run between concurrent requests', async () => {
    const { check, calls } = manualCheck('a');
    const { runner } = setup([entry(check)]);
    const first = runner.run('a');
    const second = runner.run('a');
    const refreshed = runner.refresh({ maxAgeSeconds: 0 });
    await settle();
    assert.equal(calls.length, 1);
    calls[0].resolve(ok);
    const [a, b, [c]] = await Promise.all([first, second, refreshed]);
    assert.equal(a, b);
    assert.equal(a, c);
    assert.equal(a?.runs, 1);
  });

  it('refresh runs only what is older than maxAgeSeconds or has not run since start', async () => {
    const fresh = scriptedCheck('fresh', [ok]);
    const old = scriptedCheck('old', [ok]);
    const persisted = scriptedCheck('persisted', [ok]);
    const clock = new FakeClock();
    const runner = createRunner([entry(fresh.check), entry(old.check), entry(persisted.check)], {
      clock,
      scheduler: new FakeScheduler(),
      random: () => 0,
      initial: {
        persisted: {
          scope: 'host',
          status: 'ok',
          rawStatus: 'ok',
          summary: 'from before',
          reasons: [],
          details: {},
          observedAt: clock.now().toISOString(),
          durationMs: 1,
          consecutiveFailures: 0,
        },
      },
    });
    await runner.run('old');
    await clock.advance(60_000);
    await runner.run('fresh');
    await clock.advance(10_000);
    await runner.refresh({ maxAgeSeconds: 30 });
    assert.equal(fresh.runs(), 1, 'observed 10 s ago: still fresh');
    assert.equal(old.runs(), 2, 'observed 70 s ago: stale');
    assert.equal(persisted.runs(), 1, 'a verdict from before the restart always counts as stale');
    await runner.refresh({});
    assert.equal(fresh.runs() + old.runs() + persisted.runs(), 4, 'no maxAgeSeconds: nothing runs');
  });
});

describe('runner: damping', () => {
  it('reports warning until N consecutive failures, then critical; ok resets the count', async () => {
    const { check } = scriptedCheck('reg', [critical, critical, critical, ok, critical], 'shared');
    const { runner } = setup([entry(check, { failuresBeforeCritical: 2 })]);
    const first = await runner.run('reg');
    assert.equal(first?.status, 'warning');
    assert.equal(first?.rawStatus, 'critical');
    assert.equal(first?.consecutiveFailures, 1);
    assert.deepEqual(
      first?.reasons.map((r) => r.code),
      ['thing-broken'],
      'the raw reasons are kept',
    );
    assert.match(first?.summary ?? '', /failure 1 of 2/);
    const second = await runner.run('reg');
    assert.equal(second?.status, 'critical');
    assert.equal(second?.statusChanges, 1);
    const third = await runner.run('reg');
    assert.equal(third?.status, 'critical');
    assert.equal(third?.statusChanges, 1);
    const fourth = await runner.run('reg');
    assert.equal(fourth?.status, 'ok');
    assert.equal(fourth?.consecutiveFailures, 0);
    assert.equal(fourth?.statusChanges, 2);
    const fifth = await runner.run('reg');
    assert.equal(fifth?.status, 'warning');
    assert.equal(fifth?.failures, 4);
    assert.equal(fifth?.runs, 5);
    assert.equal(fifth?.statusChanges, 3);
  });

  it('damps unknown like critical, and not at all when damping is off', async () => {
    const damped = setup([entry(scriptedCheck('a', [new Error('x')]).check, { failuresBeforeCritical: 2 })]);
    assert.equal((await damped.runner.run('a'))?.status, 'warning');
    const undamped = setup([entry(scriptedCheck('a', [critical]).check, { failuresBeforeCritical: 2 })], {
      damping: false,
    });
    assert.equal((await undamped.runner.run('a'))?.status, 'critical');
  });
});

describe('runner: schedules', () => {
  it('runs every check once on start, then on each cron tick after a random jitter', async () => {
    const a = scriptedCheck('a', [ok]);
    const { runner, scheduler, clock } = setup([entry(a.check, { schedule: '*/5 * * * *', jitterSeconds: 10 })], {
      random: () => 0.5,
    });
    runner.start();
    await settle();
    assert.equal(a.runs(), 1, 'the start run does not wait for cron');
    assert.deepEqual(
      scheduler.jobs.map((j) => [j.name, j.cron]),
      [['a', '*/5 * * * *']],
    );
    scheduler.tick('a');
    await clock.advance(4999);
    assert.equal(a.runs(), 1, 'still inside the jitter delay (0.5 * 10 s)');
    scheduler.tick('a');
    await clock.advance(1);
    assert.equal(a.runs(), 2, 'a tick during a pending jitter delay is not a second run');
    await clock.advance(60_000);
    assert.equal(a.runs(), 2);
    await runner.stop();
  });

  it('runs the deep variant on its own schedule, after an ordinary run in flight', async () => {
    const { check, calls } = manualCheck('cache');
    const deepCalls: CheckContext[] = [];
    const deepRun = async (ctx: CheckContext): Promise<CheckResult> => {
      deepCalls.push(ctx);
      return { ...ok, summary: 'deep' };
    };
    const { runner, scheduler, clock, seen } = setup([
      entry(check, { deep: { run: deepRun, schedule: '17 3 * * *', timeoutSeconds: 100 } }),
    ]);
    runner.start();
    await settle();
    assert.equal(calls.length, 1);
    assert.deepEqual(
      scheduler.jobs.map((j) => j.name),
      ['cache', 'cache (deep)'],
    );
    scheduler.tick('cache (deep)');
    await settle();
    assert.equal(deepCalls.length, 0, 'waits for the ordinary run in flight');
    calls[0].resolve(ok);
    await clock.advance(0);
    assert.equal(deepCalls.length, 1);
    assert.deepEqual(
      seen.map((s) => s.summary),
      ['fine', 'deep'],
    );
    await runner.stop();
  });

  it('stop removes the schedules, aborts runs in flight and drops their results', async () => {
    const { check, calls } = manualCheck('a');
    const { runner, scheduler, seen, clock } = setup([entry(check)]);
    runner.start();
    await settle();
    assert.equal(calls.length, 1);
    await runner.stop();
    assert.equal(calls[0].ctx.signal.aborted, true);
    assert.equal(
      scheduler.jobs.every((j) => j.stopped),
      true,
    );
    assert.equal(seen.length, 0, 'an aborted run does not overwrite the last verdict');
    assert.equal(runner.state('a')?.runs, 0);
    assert.equal(clock.pendingTimers(), 0, 'no timer keeps the process alive');
    calls[0].resolve(ok);
    await settle();
    assert.equal((await runner.run('a'))?.runs, 0, 'a stopped runner runs nothing');
  });
});

describe('runner: initial states', () => {
  it('takes the persisted verdict as not run since start, and carried states whole', async () => {
    const clock = new FakeClock();
    const persistedAt = new Date(clock.now().getTime() - 3600_000).toISOString();
    const runner = createRunner([entry(scriptedCheck('a', [ok]).check), entry(scriptedCheck('b', [ok]).check)], {
      clock,
      scheduler: new FakeScheduler(),
      initial: {
        a: {
          scope: 'host',
          status: 'critical',
          rawStatus: 'critical',
          summary: 'corrupt',
          reasons: critical.reasons,
          details: {},
          observedAt: persistedAt,
          durationMs: 3,
          consecutiveFailures: 4,
        },
      },
      carried: [
        {
          name: 'b',
          scope: 'shared',
          status: 'warning',
          rawStatus: 'warning',
          summary: 'carried',
          reasons: [],
          details: {},
          observedAt: clock.now(),
          durationMs: 1,
          consecutiveFailures: 0,
          runs: 7,
          failures: 2,
          timeouts: 1,
          statusChanges: 3,
        },
      ],
    });
    const a = runner.state('a');
    assert.equal(a?.status, 'critical');
    assert.equal(a?.runs, 0);
    assert.equal(a?.consecutiveFailures, 4);
    assert.equal(a?.observedAt?.toISOString(), persistedAt);
    const b = runner.state('b');
    assert.equal(b?.runs, 7);
    assert.equal(b?.scope, 'host', 'the scope comes from the check, not from the old state');
    const next = await runner.run('b');
    assert.equal(next?.runs, 8);
    assert.equal(next?.statusChanges, 4);
  });
});

describe('runner: triggers and runs after a change', () => {
  it('tells the check what started it: schedule, request, full, write', async () => {
    const { check, calls } = manualCheck('a');
    const deep: CheckContext[] = [];
    const { runner, scheduler } = setup([
      entry(check, {
        deep: {
          run: async (ctx) => {
            deep.push(ctx);
            return ok;
          },
          schedule: '0 3 * * *',
          timeoutSeconds: 10,
        },
      }),
    ]);
    runner.start();
    assert.equal(calls[0].ctx.trigger, 'schedule');
    calls[0].resolve(ok);
    await settle();
    const asked = runner.run('a');
    assert.equal(calls[1].ctx.trigger, 'request');
    calls[1].resolve(ok);
    await asked;
    scheduler.tick('a (deep)');
    await settle();
    assert.equal(deep[0]?.trigger, 'full');
    const written = runner.runAfterChange('a', 'write');
    assert.equal(calls[2].ctx.trigger, 'write');
    calls[2].resolve(ok);
    await written;
    // A tick of the ordinary schedule is a scheduled run too, not only the one at start.
    scheduler.tick('a');
    await settle();
    assert.equal(calls[3].ctx.trigger, 'schedule');
    calls[3].resolve(ok);
    await settle();
    await runner.stop();
  });

  it('a scheduled tick after its jitter is still a scheduled run', async () => {
    const { check, calls } = manualCheck('a');
    const { runner, scheduler, clock } = setup([entry(check, { jitterSeconds: 10 })], { random: () => 0.5 });
    runner.start();
    calls[0].resolve(ok);
    await settle();
    scheduler.tick('a');
    await clock.advance(5000);
    await settle();
    assert.equal(calls[1].ctx.trigger, 'schedule');
    calls[1].resolve(ok);
    await settle();
    await runner.stop();
  });

  it('a change seen during a run starts one more run after it (the run in flight may have read the file before the write)', async () => {
    const { check, calls } = manualCheck('a');
    const { runner } = setup([entry(check)]);
    const first = runner.run('a');
    assert.equal(calls.length, 1);
    const w1 = runner.runAfterChange('a', 'write');
    const w2 = runner.runAfterChange('a', 'write');
    assert.equal(calls.length, 1, 'nothing starts while the first run is in flight');
    calls[0].resolve(ok);
    await first;
    await settle();
    assert.equal(calls.length, 2, 'one follow-up for both changes');
    assert.equal(calls[1].ctx.trigger, 'write');
    calls[1].resolve(critical);
    const [s1, s2] = await Promise.all([w1, w2]);
    assert.equal(s1?.rawStatus, 'critical');
    assert.equal(s2?.rawStatus, 'critical');
    assert.equal(await runner.runAfterChange('nope', 'write'), undefined);
  });
});

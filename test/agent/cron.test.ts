import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isValidCron } from '../../agent/cron.ts';
import { cronScheduler } from '../../agent/runner.ts';
import { silentLogger } from '../../agent/log.ts';

describe('cron expressions (croner, 5 fields or 6 with seconds first)', () => {
  it('accepts the forms the config documents', () => {
    for (const text of [
      '*/5 * * * *',
      '0 3 * * *',
      '*/10 * * * * *',
      '0 0 6-18/2 * * MON-FRI',
      '30 2 1,15 JAN,JUL *',
      '15 4 * * sun',
    ]) {
      assert.equal(isValidCron(text), true, text);
    }
  });

  it('refuses out-of-range values, garbage, and field counts other than 5 or 6', () => {
    for (const text of ['61 * * * *', '* 25 * * *', '* * * 13 *', 'every minute', '', '* * * *', '0 0 0 1 1 * 2030']) {
      assert.equal(isValidCron(text), false, JSON.stringify(text));
    }
  });
});

describe('cronScheduler', () => {
  it('ticks on a per-second schedule and stops ticking when stopped', async () => {
    const ticks: number[] = [];
    const job = cronScheduler(silentLogger()).schedule('* * * * * *', () => ticks.push(Date.now()), 'every-second');
    const deadline = Date.now() + 5000;
    while (ticks.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    job.stop();
    assert.ok(ticks.length >= 2, `ticked ${ticks.length} times`);
    const after = ticks.length;
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(ticks.length, after, 'no tick after stop');
  });

  it('a tick that throws is caught and logged, and the next tick still comes', async () => {
    const logged: unknown[] = [];
    const log = { ...silentLogger(), error: (o: object) => void logged.push(o) };
    let ticks = 0;
    const job = cronScheduler(log).schedule(
      '* * * * * *',
      () => {
        ticks++;
        throw new Error('boom');
      },
      'thrower',
    );
    const deadline = Date.now() + 5000;
    while (ticks < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    job.stop();
    assert.ok(ticks >= 2, `ticked ${ticks} times`);
    assert.ok(logged.length >= 1);
  });
});

// When each check runs: its cron expression, the interval between two runs and the next run,
// for the status page (its "next run" and the stale marker: older than twice the interval).
import { Cron } from 'croner';
import { cronMode } from './cron.ts';

export interface CheckSchedule {
  name: string;
  schedule: string;
  intervalSeconds: number | null; // between the next two runs; null when it cannot be told
  nextRunAt: Date | null;
}

export function describeSchedule(name: string, schedule: string, now: Date): CheckSchedule {
  try {
    // No callback: croner computes times and starts no timer.
    const [next, after] = new Cron(schedule, { mode: cronMode }).nextRuns(2, now);
    return {
      name,
      schedule,
      nextRunAt: next ?? null,
      intervalSeconds: next && after ? (after.getTime() - next.getTime()) / 1000 : null,
    };
  } catch {
    return { name, schedule, intervalSeconds: null, nextRunAt: null };
  }
}

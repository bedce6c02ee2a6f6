// A clock and a cron scheduler the tests drive by hand: time moves only when a test says so,
// so nothing waits on a real timer and no assertion depends on the machine's speed.
import type { CheckScheduler, Clock, ScheduledJob } from '../../agent/runner.ts';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

// Lets every promise reaction that is already queued run (setImmediate comes after them).
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private time: number;
  private timers: Timer[] = [];
  private nextId = 1;

  constructor(start = Date.parse('2026-11-28T10:00:00.000Z')) {
    this.time = start;
  }

  now(): Date {
    return new Date(this.time);
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { id: this.nextId++, at: this.time + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  pendingTimers(): number {
    return this.timers.length;
  }

  // Moves time forward, firing due timers in order and letting promises settle after each.
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
      await settle();
    }
    this.time = end;
    await settle();
  }
}

export class FakeScheduler implements CheckScheduler {
  readonly jobs: { cron: string; name: string; tick: () => void; stopped: boolean }[] = [];

  schedule(cron: string, tick: () => void, name: string): ScheduledJob {
    const job = { cron, name, tick, stopped: false };
    this.jobs.push(job);
    return {
      stop: () => {
        job.stopped = true;
      },
    };
  }

  // Fires the schedule of `name` as cron would.
  tick(name: string): void {
    const job = this.jobs.find((j) => j.name === name && !j.stopped);
    if (!job) throw new Error(`no active schedule named ${name}`);
    job.tick();
  }
}

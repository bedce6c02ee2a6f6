// Keeps the serving daemon's V8 heap near its live size while the daemon is idle.
//
// V8 starts a major GC on its own only when the old generation has grown about 8 MiB past what
// the previous one left alive (heap-controller.cc, kRegularAllocationLimitGrowingStep). The
// daemon lives on ~11 MiB and promotes ~2 MiB a minute with every check on a 1 s schedule, so
// between V8's own major GCs (every ~4 min) its heap climbs to ~19 MiB and the pages stay
// resident. Like the Go runtime, which forces a GC at least every two minutes (forcegcperiod),
// the daemon asks for a major GC every 30 s: in bench/daemon-soak.ts, median RSS over 10 min of
// 1 s schedules 77.6 → 73.5 MiB (max 79.5 → 74.5), the climb gone (docs/benchmarks.md,
// "Daemon"). The GC runs incrementally (execution 'async'), as V8's own do, so the event loop
// sees no long pause.
//
// Only when idle: a forced GC under load costs far more than its own few ms (measured with wrk
// on /v1/preflight: a forced GC every 10 s raised CPU per request ~21 → ~26 µs; ungated, the
// HTTP benchmark fell to 67–78 % of a bare server), and under load V8's own heuristics size the
// heap for throughput, as they should. A period in which the event loop was busy more than
// idleBelow of the time is skipped; the daemon with every check on 1 s uses 1.6 % of a core.
//
// --optimize-for-size would shrink V8's growing step to 2 MiB instead, but it applies under
// load too: /v1/preflight fell to 62 % of a bare server.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { performance } from 'node:perf_hooks';

export const heapTrimPeriodMs = 30_000;
const idleBelow = 0.2; // event-loop utilization over the period

type GcFunction = (options: { type: 'major'; execution: 'async' }) => Promise<void> | void;

// V8's gc extension is installed in contexts created after --expose-gc is set; the main context
// already exists, so the function comes from a new one (~0.6 MiB, once).
function exposeGc(): GcFunction {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as GcFunction;
}

export interface HeapTrim {
  stop(): void;
}

export function startHeapTrim(periodMs: number = heapTrimPeriodMs): HeapTrim {
  const gc = exposeGc();
  let since = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, since).utilization;
    since = now;
    if (busy > idleBelow) return;
    // A GC that cannot start is no reason to disturb the daemon; the next tick tries again.
    try {
      Promise.resolve(gc({ type: 'major', execution: 'async' })).catch(() => {});
    } catch {
      /* as above */
    }
  }, periodMs);
  timer.unref(); // never what keeps a stopping agent alive
  return { stop: () => clearInterval(timer) };
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { startHeapTrim } from '../../agent/heap-trim.ts';

function countMajorGcs(): { count: () => number; stop: () => void } {
  let majors = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
  });
  observer.observe({ entryTypes: ['gc'] });
  return { count: () => majors, stop: () => observer.disconnect() };
}

const oldSpaceUsed = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;

describe('heap trim', () => {
  it('runs a major GC every period, and none once stopped', async () => {
    const gcs = countMajorGcs();
    const trim = startHeapTrim(50);
    // Four GCs take ~200 ms; the trim skips periods when the loop was busy, so a loaded machine
    // may need longer: wait for them up to 5 s rather than for a fixed time.
    for (let waited = 0; gcs.count() < 4 && waited < 5000; waited += 50) await sleep(50);
    const whileRunning = gcs.count();
    trim.stop();
    await sleep(100); // a GC started just before stop() finishes
    const atStop = gcs.count();
    await sleep(400);
    gcs.stop();
    assert.ok(whileRunning >= 4, `expected a major GC about every 50 ms, saw ${whileRunning} in 5 s`);
    assert.equal(gcs.count(), atStop, 'no major GC after stop()');
  });

  it('frees garbage that was promoted to the old generation, which V8 alone would keep for minutes', async () => {
    // ~2.5 MiB of objects, less than V8's 8 MiB growing step, kept through enough scavenges to be
    // promoted, then dropped.
    const promote = (): number => {
      const kept = Array.from({ length: 30_000 }, (_, i) => ({ i, s: `entry ${i}` }));
      for (let round = 0; round < 40; round++) new Array(128 * 1024).fill(round); // young garbage: forces scavenges
      return kept.length;
    };
    // A major GC first, so V8's next one is due only 8 MiB from now.
    const first = startHeapTrim(10);
    await sleep(80);
    first.stop();
    await sleep(50);
    const before = oldSpaceUsed();
    assert.equal(promote(), 30_000);
    const promoted = oldSpaceUsed();
    await sleep(400);
    const leftAlone = oldSpaceUsed();
    const trim = startHeapTrim(50);
    await sleep(400);
    trim.stop();
    const after = oldSpaceUsed();
    const mib = (b: number): string => (b / 1048576).toFixed(1);
    const story = `old space ${mib(before)} → promoted ${mib(promoted)} → left alone ${mib(leftAlone)} → trimmed ${mib(after)} MiB`;
    assert.ok(promoted - before > 1.5 * 1024 * 1024, `nothing was promoted: ${story}`);
    assert.ok(leftAlone - before > 1.5 * 1024 * 1024, `V8 collected it on its own, the test proves nothing: ${story}`);
    assert.ok(leftAlone - after > 1.5 * 1024 * 1024, story);
  });
  it('skips a period in which the event loop was busy', async () => {
    const gcs = countMajorGcs();
    const trim = startHeapTrim(50);
    // Busy for ~500 ms: 45 ms of work in every 50 ms, without allocating (no GC of V8's own).
    const until = Date.now() + 500;
    while (Date.now() < until) {
      const spinEnd = Date.now() + 45;
      while (Date.now() < spinEnd) {
        /* work */
      }
      await sleep(5);
    }
    const whileBusy = gcs.count();
    await sleep(300); // idle again: trimming resumes
    trim.stop();
    gcs.stop();
    assert.equal(whileBusy, 0, 'no major GC while busy');
    assert.ok(gcs.count() >= 2, `trimming resumes once idle, saw ${gcs.count()}`);
  });
});

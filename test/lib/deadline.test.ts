import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { abortWhenAny, deadlineWithin, whenAborted } from '../../lib/deadline.ts';

test("the run aborting aborts the deadline signal, with the run's reason", () => {
  const run = new AbortController();
  const d = deadlineWithin(run.signal, 60_000);
  const why = new Error('agent stopping');
  run.abort(why);
  assert.equal(d.signal.aborted, true);
  assert.equal(d.signal.reason, why);
  assert.equal(d.expired(), false);
  d.done();
});

test('an already aborted run gives an aborted deadline at once', () => {
  const run = new AbortController();
  run.abort();
  const d = deadlineWithin(run.signal, 60_000);
  assert.equal(d.signal.aborted, true);
  d.done();
});

test('the deadline fires on its own and says so', async () => {
  const run = new AbortController();
  const d = deadlineWithin(run.signal, 20);
  await new Promise((r) => d.signal.addEventListener('abort', r, { once: true }));
  assert.equal(d.expired(), true);
  assert.equal(run.signal.aborted, false);
  d.done();
});

test('done() stops both: no timer firing later, and the run aborting no longer reaches it', async () => {
  const run = new AbortController();
  const d = deadlineWithin(run.signal, 20);
  d.done();
  run.abort();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(d.signal.aborted, false);
  assert.equal(d.expired(), false);
});

test('abortWhenAny: the first of several signals to abort aborts the join, with its reason', () => {
  const [a, b] = [new AbortController(), new AbortController()];
  const joined = new AbortController();
  const release = abortWhenAny(joined, [a.signal, undefined, b.signal]);
  const why = new Error('closing');
  b.abort(why);
  a.abort(new Error('later'));
  assert.equal(joined.signal.reason, why);
  release();
});

test('abortWhenAny: an already aborted signal aborts at once; after release nothing reaches the join', () => {
  const done = new AbortController();
  done.abort();
  const atOnce = new AbortController();
  abortWhenAny(atOnce, [done.signal])();
  assert.equal(atOnce.signal.aborted, true);
  const live = new AbortController();
  const joined = new AbortController();
  abortWhenAny(joined, [live.signal])();
  live.abort();
  assert.equal(joined.signal.aborted, false);
});

test('whenAborted settles with the value given, at once when already aborted', async () => {
  const c = new AbortController();
  const pending = whenAborted(c.signal, 'aborted' as const);
  c.abort();
  assert.equal(await pending, 'aborted');
  assert.equal(await whenAborted(c.signal, null), null);
});

// The reason it exists: AbortSignal.any keeps memory per call on Node 22 even when both signals
// die. 50 000 joins of short-lived signals, then a full GC: the heap must be back where it was
// (AbortSignal.any keeps ~6 MiB here).
test('joins leave nothing behind after garbage collection', () => {
  const script = `
    const { deadlineWithin } = await import(${JSON.stringify(new URL('../../lib/deadline.ts', import.meta.url).href)});
    const used = () => { globalThis.gc(); return process.memoryUsage().heapUsed; };
    const before = used();
    for (let i = 0; i < 50000; i++) {
      const run = new AbortController();
      const d = deadlineWithin(run.signal, 60000);
      d.signal.addEventListener('abort', () => {}, { once: true });
      if (i % 2) run.abort();
      d.done();
    }
    await new Promise((r) => setTimeout(r, 50));
    console.log(JSON.stringify({ grew: used() - before }));`;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const { grew } = JSON.parse(r.stdout) as { grew: number };
  assert.ok(grew < 2 * 1024 * 1024, `the heap grew by ${(grew / 1048576).toFixed(1)} MiB`);
});

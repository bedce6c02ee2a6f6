// The event history's file: bounded by its cap whatever the number of events, read back after a
// restart with ids that keep increasing, and a damaged line dropped instead of trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventLog, eventsFileName } from '../../../agent/events/event-log.ts';
import { silentLogger } from '../../../agent/log.ts';

const now = () => new Date('2026-12-03T03:00:00.000Z');

test('the file stays under its cap, keeps the newest events, and a restart continues the ids', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bfa-events-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const maxBytes = 4096;
  const log = createEventLog({ stateDir: dir, now, log: silentLogger(), maxBytes });
  for (let i = 0; i < 200; i += 1)
    log.record({ type: 'maintenance-set', reason: `reason ${i}`, by: 'api', expiresAt: now().toISOString() });
  assert.equal(await log.flushed(), null);
  const st = statSync(join(dir, eventsFileName));
  const size = st.size;
  assert.equal(st.mode & 0o777, 0o600, "root's business only, like the state file");
  assert.ok(size <= maxBytes, `file ${size} bytes, cap ${maxBytes}`);
  assert.equal(log.counts().get('maintenance-set'), 200);

  const again = createEventLog({ stateDir: dir, now, log: silentLogger(), maxBytes });
  assert.equal(again.loadProblem, null);
  const kept = again.query({ limit: 500 }).events;
  assert.ok(kept.length > 10 && kept.length < 200, `${kept.length} events kept`);
  assert.equal(kept.at(-1)?.id, 200, 'the newest event survives');
  assert.equal(again.record({ type: 'agent-started', version: 'x', host: 'h' }).id, 201);
  assert.equal(again.counts().get('maintenance-set'), 0, 'counts are per process');
  // The append is written in the background: let it finish before the directory is removed.
  assert.equal(await again.flushed(), null);
});

test('a damaged or foreign line is dropped and named; the rest is kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bfa-events-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, eventsFileName);
  const log = createEventLog({ stateDir: dir, now, log: silentLogger() });
  log.record({
    type: 'status-changed',
    check: 'disk',
    from: 'ok',
    to: 'critical',
    summary: 'full',
    reasons: [{ code: 'disk-free-critical', message: 'full' }],
  });
  await log.flushed();
  appendFileSync(
    file,
    '{"id": 7, "time": "2026-12-03T03:00:00Z", "type": "status-changed", "check": "disk", "from": "fine"}\nnot json\n',
  );
  writeFileSync(
    file,
    readFileSync(file, 'utf8') +
      '{"id":8,"time":"2026-12-03T03:00:01.000Z","type":"maintenance-cleared","reason":"r","by":"expired"}\n',
  );
  const again = createEventLog({ stateDir: dir, now, log: silentLogger() });
  assert.match(again.loadProblem ?? '', /ignored 2 line/);
  assert.deepEqual(
    again.query({}).events.map((e) => e.type),
    ['status-changed', 'maintenance-cleared'],
  );
});

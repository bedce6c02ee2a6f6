import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../agent/log.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, destination: { write: (l: string) => lines.push(JSON.parse(l)) } };
}

test('one JSON object per line, level names, ISO time, message and fields', () => {
  const { lines, destination } = capture();
  const log = createLogger({ level: 'info', destination });
  log.info({ check: 'disk', durationMs: 3 }, 'check finished');
  log.warn('plain message');
  assert.equal(lines.length, 2);
  assert.equal(lines[0].level, 'info');
  assert.equal(lines[0].msg, 'check finished');
  assert.equal(lines[0].check, 'disk');
  assert.match(String(lines[0].time), /^\d{4}-\d\d-\d\dT/);
  assert.equal(lines[1].msg, 'plain message');
});

test('levels below the threshold are dropped; the level can change at run time, children follow', () => {
  const { lines, destination } = capture();
  const log = createLogger({ level: 'warn', destination });
  const child = log.child({ component: 'runner' });
  log.info('dropped');
  child.debug('dropped');
  child.error({ n: 1 }, 'kept');
  assert.deepEqual(lines.map((l) => l.msg), ['kept']);
  assert.equal(lines[0].component, 'runner');
  log.level = 'debug';
  child.debug('now kept');
  assert.equal(lines.at(-1)!.msg, 'now kept');
  log.level = 'silent';
  log.fatal('dropped too');
  assert.equal(lines.length, 2);
});

test('errors keep their type, message, code and stack', () => {
  const { lines, destination } = capture();
  const log = createLogger({ level: 'info', destination });
  const err = Object.assign(new Error('boom'), { code: 'EIO' });
  log.error({ err }, 'failed');
  const e = lines[0].err as Record<string, string>;
  assert.equal(e.type, 'Error');
  assert.equal(e.message, 'boom');
  assert.equal(e.code, 'EIO');
  assert.match(e.stack, /boom/);
});

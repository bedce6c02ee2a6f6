import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, journalStreamMatches } from '../../agent/log.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, destination: { write: (l: string) => lines.push(JSON.parse(l)) } };
}

test('one JSON object per line: level name, ISO time, event, message and fields', () => {
  const { lines, destination } = capture();
  const log = createLogger({ level: 'info', destination });
  log.info({ event: 'check-ran', check: 'disk', durationMs: 3 }, 'check finished');
  log.warn({ event: 'plain' }, 'plain message');
  assert.equal(lines.length, 2);
  assert.equal(lines[0].level, 'info');
  assert.equal(lines[0].event, 'check-ran');
  assert.equal(lines[0].msg, 'check finished');
  assert.equal(lines[0].check, 'disk');
  assert.match(String(lines[0].time), /^\d{4}-\d\d-\d\dT/);
  assert.equal(lines[1].msg, 'plain message');
  assert.equal(lines[1].event, 'plain');
});

test('levels below the threshold are dropped; the level can change at run time, children follow', () => {
  const { lines, destination } = capture();
  const log = createLogger({ level: 'warn', destination });
  const child = log.child({ component: 'runner' });
  log.info({ event: 'e' }, 'dropped');
  child.debug({ event: 'e' }, 'dropped');
  child.error({ event: 'e', n: 1 }, 'kept');
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['kept'],
  );
  assert.equal(lines[0].component, 'runner');
  log.level = 'debug';
  child.debug({ event: 'e' }, 'now kept');
  assert.equal(lines.at(-1)!.msg, 'now kept');
  log.level = 'silent';
  log.fatal({ event: 'e' }, 'dropped too');
  assert.equal(lines.length, 2);
});

test('errors keep their type, message, code and stack', () => {
  const { lines, destination } = capture();
  const log = createLogger({ level: 'info', destination });
  const err = Object.assign(new Error('boom'), { code: 'EIO' });
  log.error({ event: 'failed', err }, 'failed');
  const e = lines[0].err as Record<string, string>;
  assert.equal(e.type, 'Error');
  assert.equal(e.message, 'boom');
  assert.equal(e.code, 'EIO');
  assert.match(e.stack, /boom/);
});

test('on a journal stream every line starts with its syslog priority (journald reads it as PRIORITY)', () => {
  const raw: string[] = [];
  const log = createLogger({ level: 'trace', destination: { write: (l) => raw.push(l) }, journal: true });
  log.fatal({ event: 'a' });
  log.error({ event: 'b' });
  log.warn({ event: 'c' });
  log.info({ event: 'd' });
  log.debug({ event: 'e' });
  assert.deepEqual(
    raw.map((l) => l.slice(0, 3)),
    ['<2>', '<3>', '<4>', '<6>', '<7>'],
  );
  assert.equal(JSON.parse(raw[1].slice(3)).level, 'error', 'the JSON after the prefix still says the level');
  assert.ok(
    raw.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1),
    'one line per write',
  );
});

test('JOURNAL_STREAM counts only when it names stderr itself', () => {
  const stat = { dev: 2049n, ino: 123456789012n };
  assert.equal(journalStreamMatches('2049:123456789012', stat), true);
  assert.equal(
    journalStreamMatches('2049:123456789013', stat),
    false,
    'inherited by a child whose stderr is elsewhere',
  );
  assert.equal(journalStreamMatches(undefined, stat), false);
  assert.equal(journalStreamMatches('garbage', stat), false);
  assert.equal(journalStreamMatches('2049:123456789012', null), false);
});

// A real process whose stderr is a file: JOURNAL_STREAM naming that file's dev:inode (as systemd
// sets it for a journal stream) turns the prefix on; naming anything else leaves plain JSON.
test('a process picks the prefix from its own stderr and JOURNAL_STREAM', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bfa-log-'));
  try {
    const run = (stream: (file: string) => string): string => {
      const file = join(dir, `stderr-${Math.random()}`);
      const fd = openSync(file, 'w');
      try {
        const st = statSync(file, { bigint: true });
        const script = `import { createLogger } from ${JSON.stringify(new URL('../../agent/log.ts', import.meta.url).href)};
          createLogger({ level: 'info' }).error({ event: 'boom' }, 'went wrong');`;
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
          stdio: ['ignore', 'ignore', fd],
          env: { ...process.env, JOURNAL_STREAM: stream(`${st.dev}:${st.ino}`) },
        });
        assert.equal(r.status, 0);
      } finally {
        closeSync(fd);
      }
      return readFileSync(file, 'utf8');
    };
    const journal = run((own) => own);
    assert.match(journal, /^<3>\{"level":"error".*"event":"boom"/);
    const elsewhere = run(() => '1:1');
    assert.match(elsewhere, /^\{"level":"error"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A start that fails under systemd: one fatal line with priority 2 and the errors in it, not a
// second copy of them without a priority. At a terminal the plain `serve:` lines stay.
test('serve failing to start on a journal stream logs one prioritised line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bfa-log-'));
  try {
    const bin = new URL('../../agent/bin.ts', import.meta.url).pathname;
    const run = (journal: boolean): { status: number | null; text: string } => {
      const file = join(dir, `stderr-${journal}`);
      const fd = openSync(file, 'w');
      try {
        const st = statSync(file, { bigint: true });
        const r = spawnSync(process.execPath, [bin, 'serve', '--config', join(dir, 'missing.yaml')], {
          stdio: ['ignore', 'ignore', fd],
          env: { ...process.env, JOURNAL_STREAM: journal ? `${st.dev}:${st.ino}` : '' },
        });
        return { status: r.status, text: readFileSync(file, 'utf8') };
      } finally {
        closeSync(fd);
      }
    };
    const journal = run(true);
    assert.equal(journal.status, 2);
    const lines = journal.text.trim().split('\n');
    assert.equal(lines.length, 1, journal.text);
    assert.match(lines[0], /^<2>\{"level":"fatal".*"event":"daemon-start-failed".*missing\.yaml/);
    const terminal = run(false);
    assert.match(terminal.text, /^serve: .*missing\.yaml/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The reference verdict (bbolt 1.3.6 via test/boltref) on every committed fixture: clean on the
// healthy ones, not clean on the damaged ones; plus the guard rails of running it (memory cap,
// timeout, never creating a missing file).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { classifyDeath, referenceCheck } from '../support/boltref.ts';
import { needTools } from '../support/tools.ts';
import type { FixtureEntry } from '../fixtures/bolt/make-fixtures.ts';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bolt');
const fixtures = JSON.parse(readFileSync(join(fixtureDir, 'fixtures.json'), 'utf8')) as FixtureEntry[];
const scratch = mkdtempSync(join(tmpdir(), 'boltref-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('reference check on the committed fixtures', () => {
  test('the manifest lists healthy and damaged fixtures, and every file exists', () => {
    assert.ok(fixtures.some((f) => f.reference === 'clean'));
    assert.ok(fixtures.some((f) => f.reference === 'not-clean'));
    for (const f of fixtures) assert.ok(existsSync(join(fixtureDir, f.file)), f.file);
  });

  for (const fixture of fixtures) {
    test(`${fixture.file}: reference says ${fixture.reference}`, async (t) => {
      if (!needTools(t, 'go', 'prlimit')) return;
      const verdict = await referenceCheck(join(fixtureDir, fixture.file), { timeoutMs: 20000, memoryMB: 256 });
      if (fixture.reference === 'clean') {
        assert.equal(verdict.kind, 'clean', JSON.stringify(verdict));
        assert.ok(verdict.keys > 0 && verdict.buckets > 0);
      } else {
        assert.notEqual(verdict.kind, 'clean', JSON.stringify(verdict));
        assert.notEqual(verdict.kind, 'tool-error', JSON.stringify(verdict));
        assert.notEqual(verdict.kind, 'timeout', 'every fixture must end within the timeout');
      }
    });
  }
});

describe('reference check with lookups (every key found again by Get)', () => {
  for (const fixture of fixtures.filter((f) => f.reference === 'clean')) {
    const expectClean = fixture.verdict === 'healthy';
    test(`${fixture.file}: ${expectClean ? 'still clean' : 'a lookup misses'}`, async (t) => {
      if (!needTools(t, 'go', 'prlimit')) return;
      const verdict = await referenceCheck(join(fixtureDir, fixture.file), { lookups: true });
      if (expectClean) {
        assert.equal(verdict.kind, 'clean', JSON.stringify(verdict));
      } else {
        // bbolt 1.3.6 is blind to it, but skopeo's keyed lookups are not.
        assert.equal(verdict.kind, 'problems', JSON.stringify(verdict));
        assert.ok(verdict.lookupMisses.length > 0);
        assert.deepEqual(verdict.checkErrors, []);
      }
    });
  }
});

describe('running the reference safely', () => {
  test('Go starts under the memory cap, and a runaway allocation is stopped by it', async (t) => {
    if (!needTools(t, 'go', 'prlimit')) return;
    const healthy = await referenceCheck(join(fixtureDir, 'boltref-4096-healthy.boltdb'), { memoryMB: 32 });
    assert.equal(healthy.kind, 'clean', healthy.stderr);
    // bbolt 1.3.6 allocates count*8 bytes to copy the freelist before reading it.
    const runaway = await referenceCheck(join(fixtureDir, 'boltref-4096-freelist-count-huge.boltdb'), { memoryMB: 64 });
    assert.equal(runaway.kind, 'oom', runaway.stderr);
  });

  test('a missing file is reported, not created', async (t) => {
    if (!needTools(t, 'go', 'prlimit')) return;
    const missing = join(scratch, 'missing.boltdb');
    const verdict = await referenceCheck(missing);
    assert.equal(verdict.kind, 'open-error');
    assert.match(verdict.open ?? '', /no such file/);
    assert.equal(existsSync(missing), false);
  });

  test('a check blocked on the lock is stopped at the timeout', async (t) => {
    if (!needTools(t, 'go', 'prlimit', 'flock')) return;
    // A private copy: other test files may check the committed fixture at the same time.
    const path = join(scratch, 'locked.boltdb');
    copyFileSync(join(fixtureDir, 'boltref-4096-healthy.boltdb'), path);
    // flock(1) takes the same whole-file flock bbolt uses; an exclusive holder blocks readers.
    // Its own process group, so the sleeping shell under flock dies with it.
    const holder = spawn('flock', ['-x', path, '-c', 'echo locked; exec sleep 60'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      detached: true,
    });
    try {
      await new Promise<void>((resolveLocked, reject) => {
        holder.stdout.on('data', () => resolveLocked());
        holder.on('exit', () => reject(new Error('flock holder exited early')));
      });
      const forever = await referenceCheck(path, { timeoutMs: 700 });
      assert.equal(forever.kind, 'timeout');
      const bounded = await referenceCheck(path, { timeoutMs: 20000, lockTimeoutMs: 200 });
      assert.equal(bounded.kind, 'open-error');
      assert.match(bounded.open ?? '', /timeout/);
    } finally {
      if (holder.pid !== undefined) process.kill(-holder.pid, 'SIGKILL');
    }
  });

  test('ways of dying are told apart', () => {
    assert.equal(classifyDeath('panic: invalid page type: 10: 10\n\ngoroutine 1 [running]:', 2, null), 'panic');
    assert.equal(
      classifyDeath('unexpected fault address 0x7f\nfatal error: fault\n[signal SIGBUS: bus error]', 2, null),
      'fault',
    );
    assert.equal(
      classifyDeath(
        'panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation]',
        2,
        null,
      ),
      'panic',
    );
    assert.equal(
      classifyDeath(
        'runtime: out of memory: cannot allocate 17179869184-byte block\nfatal error: out of memory',
        2,
        null,
      ),
      'oom',
    );
    assert.equal(
      classifyDeath('runtime: goroutine stack exceeds 1000000000-byte limit\nfatal error: stack overflow', 2, null),
      'fault',
    );
    assert.equal(classifyDeath('', null, 'SIGSEGV'), 'fault');
    assert.equal(classifyDeath('boltref check: bad flag', 1, null), 'tool-error');
  });
});

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createStateStore,
  emptyState,
  parseStateText,
  removeStaleStateTemps,
  stateDirProblem,
  type PersistedState,
} from '../../agent/state-store.ts';
import { appendAuditRecord } from '../../agent/remediation/audit.ts';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'bfa-state-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

// The time the samples are loaded at: while their maintenance is still in force.
const at = new Date('2026-11-28T10:30:00.000Z');

let n = 0;
function freshDir(): string {
  n += 1;
  return join(root, `s${n}`);
}

function sample(summary: string): PersistedState {
  return {
    checks: {
      blobcache: {
        scope: 'host',
        status: 'critical',
        rawStatus: 'critical',
        summary,
        reasons: [{ code: 'cache-corrupt', message: 'corrupt' }],
        details: {
          kind: 'blobinfocache',
          skopeoVersion: null,
          cacheFormatInUse: null,
          caches: [],
          quarantined: [],
          interrupted: [],
          audit: [],
          trigger: 'schedule',
          verifications: { verified: { schedule: 0, write: 0, request: 0, full: 0 }, skippedUnchanged: 0 },
        },
        observedAt: '2026-11-28T10:00:00.000Z',
        durationMs: 12,
        consecutiveFailures: 1,
      },
    },
    maintenance: {
      reason: 'disk swap',
      since: '2026-11-28T09:00:00.000Z',
      expiresAt: '2026-11-28T12:00:00.000Z',
      by: 'api',
    },
  };
}

describe('state store', () => {
  it('starts empty without a file, creates the directory on save, and loads back what it saved', async () => {
    const dir = freshDir();
    const store = createStateStore(dir);
    assert.deepEqual(store.load(at), { state: emptyState(), problem: null });
    assert.equal(await store.save(sample('one')), null);
    assert.deepEqual(store.load(at), { state: sample('one'), problem: null });
    assert.deepEqual(readdirSync(dir), ['state.json'], 'no temporary file is left behind');
    const onDisk = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    assert.equal(onDisk.version, 1);
  });

  it('writes a burst of saves in order, the last one winning', async () => {
    const dir = freshDir();
    const store = createStateStore(dir);
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((s) => store.save(sample(s))));
    assert.deepEqual(results, [null, null, null, null]);
    assert.equal(store.load(at).state.checks.blobcache.summary, 'd');
  });

  it('ignores an unreadable, foreign or malformed file and says why', () => {
    const dir = freshDir();
    mkdirSync(dir);
    const file = join(dir, 'state.json');
    const store = createStateStore(dir);
    writeFileSync(file, '{"version": 1, "checks": {');
    assert.match(store.load(at).problem ?? '', /not JSON/);
    writeFileSync(file, JSON.stringify({ version: 7, checks: {} }));
    assert.match(store.load(at).problem ?? '', /not a version 1 state file/);
    const good = sample('x');
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        checks: { ...good.checks, broken: { status: 'fine' } },
        maintenance: { reason: 1 },
      }),
    );
    const loaded = store.load(at);
    assert.match(loaded.problem ?? '', /ignored malformed check entries: broken; maintenance dropped: reason must be/);
    assert.deepEqual(Object.keys(loaded.state.checks), ['blobcache']);
    assert.equal(loaded.state.maintenance, null);
  });

  it('returns the write error as a value when the directory cannot be made', async () => {
    const blocker = join(root, 'a-file');
    writeFileSync(blocker, 'x');
    const store = createStateStore(join(blocker, 'state'));
    const err = await store.save(sample('x'));
    assert.ok(err instanceof Error);
    assert.match(err.message, /ENOTDIR|EEXIST/);
  });

  // `npm start` runs with the shell's umask (022), not the unit's 0077: the modes are the agent's.
  it('makes the state directory 0700 and its files 0600 under a umask of 022, tightening an old 0755 directory', async () => {
    const old = process.umask(0o022);
    try {
      const dir = freshDir();
      assert.equal(await createStateStore(dir).save(sample('one')), null);
      assert.equal(statSync(dir).mode & 0o777, 0o700, 'a new state directory');
      assert.equal(statSync(join(dir, 'state.json')).mode & 0o777, 0o600, 'state.json');

      // What an older agent left: a 0755 directory, a 0644 state file and a 0644 temp file of a crash.
      const older = freshDir();
      mkdirSync(older, { mode: 0o755 });
      chmodSync(older, 0o755);
      writeFileSync(join(older, 'state.json'), '{}', { mode: 0o644 });
      writeFileSync(join(older, `.state.json.${process.pid}.tmp`), 'half', { mode: 0o644 });
      assert.equal(await createStateStore(older).save(sample('two')), null);
      assert.equal(statSync(older).mode & 0o777, 0o700, 'the old directory is tightened');
      assert.equal(statSync(join(older, 'state.json')).mode & 0o777, 0o600, 'the rewritten state.json');

      const auditDir = freshDir();
      appendAuditRecord(auditDir, {
        time: '2026-11-28T10:00:00.000Z',
        action: 'retention-delete',
        actor: 'cli',
      } as Parameters<typeof appendAuditRecord>[1]);
      assert.equal(statSync(auditDir).mode & 0o777, 0o700, 'a state directory the audit log creates');
      assert.equal(statSync(join(auditDir, 'audit.jsonl')).mode & 0o777, 0o600);
    } finally {
      process.umask(old);
    }
  });

  it('leaves the mode of a shared sticky directory alone', async () => {
    const shared = freshDir();
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    assert.equal(await createStateStore(shared).save(sample('one')), null);
    assert.equal(statSync(shared).mode & 0o7777, 0o1777);
    assert.equal(statSync(join(shared, 'state.json')).mode & 0o777, 0o600);
  });

  it('validates restored state by the rules of new input: the 30-day cap, real times, sane counters', () => {
    const good = sample('x');
    const text = (over: Record<string, unknown>) => JSON.stringify({ version: 1, ...good, ...over });
    // A maintenance until year 9999 is cut to 30 days from now, and says so.
    const forever = parseStateText(
      text({ maintenance: { ...good.maintenance, expiresAt: '9999-12-31T00:00:00.000Z' } }),
      at,
    );
    assert.equal(forever.state.maintenance?.expiresAt, new Date(at.getTime() + 30 * 86400_000).toISOString());
    assert.match(forever.problem ?? '', /more than 30 days ahead; cut to/);
    for (const [maintenance, why] of [
      [{ ...good.maintenance, expiresAt: 'whenever' }, /ISO 8601/],
      [{ ...good.maintenance, reason: 'r'.repeat(501) }, /at most 500/],
      [{ ...good.maintenance, reason: '  ' }, /non-empty/],
      [[1], /not an object/],
    ] as const) {
      const loaded = parseStateText(text({ maintenance }), at);
      assert.equal(loaded.state.maintenance, null);
      assert.match(loaded.problem ?? '', why);
    }
    const counters = parseStateText(
      text({
        checks: {
          a: { ...good.checks.blobcache, consecutiveFailures: -1 },
          b: { ...good.checks.blobcache, durationMs: 1e300 },
        },
      }),
      at,
    );
    assert.deepEqual(Object.keys(counters.state.checks), []);
    assert.match(counters.problem ?? '', /ignored malformed check entries: a, b/);
  });

  it('notices at start a stateDir that is a regular file, and removes temporary files of killed writers', () => {
    const file = join(root, 'state-is-a-file');
    writeFileSync(file, 'x');
    assert.equal(stateDirProblem(file), `stateDir ${file}: exists and is not a directory`);
    assert.match(stateDirProblem(join(file, 'below')) ?? '', /not a directory/);
    assert.equal(stateDirProblem(join(root, 'not-yet-made')), null);
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(join(dir, '.state.json.999999.tmp'), '{"version": 1, "che');
    writeFileSync(join(dir, `.state.json.${process.pid}.tmp`), 'mine');
    writeFileSync(join(dir, 'state.json'), '{}');
    assert.deepEqual(removeStaleStateTemps(dir), ['.state.json.999999.tmp']);
    assert.deepEqual(readdirSync(dir).sort(), [`.state.json.${process.pid}.tmp`, 'state.json']);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assessCache, quarantineCache } from '../../../agent/remediation/quarantine.ts';
import { resumeInterruptedQuarantines } from '../../../agent/remediation/resume.ts';
import { intentDirName, listIntents } from '../../../agent/remediation/intent.ts';
import { readAuditRecords } from '../../../agent/remediation/audit.ts';
import { depsFor, discoverScratch, findCache, makeScratch, writeCorrupt } from './scratch.ts';

// Stops the move (by throwing from the hook, as a failed rename would) after `step`.
async function interruptAfter(step: string, s: ReturnType<typeof makeScratch>): Promise<void> {
  const deps = depsFor(s, {
    afterStep: (st) => {
      if (st === step) throw new Error(`interrupted after ${st}`);
    },
  });
  const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.sqlite), deps), deps);
  assert.equal(out.result, 'failed');
}

test('a half-done move whose main file changed afterwards is abandoned: nothing more is moved, all audited', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.sqlite);
    writeFileSync(`${s.sqlite}-journal`, 'journal');
    await interruptAfter('moved-journal', s);
    appendFileSync(s.sqlite, 'written after the crash');
    const [r] = resumeInterruptedQuarantines({ stateDir: s.stateDir, actor: 'daemon', now: () => new Date() });
    assert.equal(r.result, 'abandoned');
    assert.match(r.message, /changed or disappeared since it was verified; already moved: .*-journal/);
    assert.ok(existsSync(s.sqlite));
    assert.deepEqual(listIntents(s.stateDir).intents, []);
    assert.deepEqual(
      readAuditRecords(s.stateDir).map((a) => a.action),
      ['quarantine-abandoned'],
    );
  } finally {
    s.cleanup();
  }
});

test('a dry run only reports a half-done move', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.sqlite);
    writeFileSync(`${s.sqlite}-wal`, 'wal');
    await interruptAfter('intent-written', s);
    const [r] = resumeInterruptedQuarantines({
      stateDir: s.stateDir,
      actor: 'cli',
      now: () => new Date(),
      dryRun: true,
    });
    assert.equal(r.result, 'pending');
    assert.equal(listIntents(s.stateDir).intents.length, 1);
    assert.deepEqual(readdirSync(s.cacheDir).sort(), [path.basename(s.sqlite), `${path.basename(s.sqlite)}-wal`]);
  } finally {
    s.cleanup();
  }
});

test('a half-done move whose directory was replaced needs attention and keeps its intent', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.sqlite);
    await interruptAfter('intent-written', s);
    renameSync(s.cacheDir, `${s.cacheDir}.old`);
    mkdirSync(s.cacheDir);
    const [r] = resumeInterruptedQuarantines({ stateDir: s.stateDir, actor: 'daemon', now: () => new Date() });
    assert.equal(r.result, 'needs-attention');
    assert.match(r.message, /was replaced/);
    assert.equal(listIntents(s.stateDir).intents.length, 1);
  } finally {
    s.cleanup();
  }
});

test('a directory replaced between discovery and the move is refused', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    const deps = depsFor(s);
    const a = await assessCache(findCache(await discoverScratch(s), s.bolt), deps);
    renameSync(s.cacheDir, `${s.cacheDir}.old`);
    mkdirSync(s.cacheDir);
    writeCorrupt(s.bolt, 9);
    const out = await quarantineCache(a, deps);
    assert.equal(out.result, 'refused');
    assert.equal(out.code, 'directory-changed');
  } finally {
    s.cleanup();
  }
});

test('an intent whose writer is still running is left to it (in progress), not resumed', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.sqlite);
    let seen: ReturnType<typeof resumeInterruptedQuarantines> = [];
    const deps = depsFor(s, {
      afterStep: (st) => {
        // Another run (the daemon's check, say) looks while this move is in flight.
        if (st === 'intent-written')
          seen = resumeInterruptedQuarantines({ stateDir: s.stateDir, actor: 'daemon', now: () => new Date() });
      },
    });
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.sqlite), deps), deps);
    assert.equal(out.result, 'quarantined', out.message);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].result, 'in-progress');
    assert.match(seen[0].message, new RegExp(`pid ${process.pid}`));
    assert.deepEqual(
      readAuditRecords(s.stateDir).map((a) => a.action),
      ['quarantine'],
      'moved and recorded once',
    );
  } finally {
    s.cleanup();
  }
});

test('half-written intent records of killed moves are removed once stale; a fresh one (a writer at work) is kept', async () => {
  const s = makeScratch();
  try {
    const dir = path.join(s.stateDir, intentDirName);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, '.killed-move.tmp'), '{"id":"killed-mo');
    writeFileSync(path.join(dir, '.writing-now.tmp'), '{"id":');
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(path.join(dir, '.killed-move.tmp'), old, old);
    const dry = resumeInterruptedQuarantines({
      stateDir: s.stateDir,
      actor: 'cli',
      now: () => new Date(),
      dryRun: true,
    });
    assert.deepEqual(dry, []);
    assert.equal(readdirSync(dir).length, 2, 'a dry run changes nothing');
    resumeInterruptedQuarantines({ stateDir: s.stateDir, actor: 'daemon', now: () => new Date() });
    assert.deepEqual(readdirSync(dir), ['.writing-now.tmp']);
  } finally {
    s.cleanup();
  }
});

// Kills a child process between each pair of quarantine steps and checks that nothing was lost,
// that no foreign journal/WAL is ever left beside the name skopeo reuses, and that the next run
// (runQuarantine, what `cache quarantine` runs) finishes the move exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAuditRecords } from '../../../agent/remediation/audit.ts';
import { listIntents } from '../../../agent/remediation/intent.ts';
import type { QuarantineStep } from '../../../agent/remediation/quarantine.ts';
import { runQuarantine } from '../../../agent/remediation/run-quarantine.ts';
import { verifyCacheFile } from '../../../checks/blobcache/verify.ts';
import { makeScratch, writeCorrupt, type Scratch } from './scratch.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const node = path.join(repo, 'node_modules/.bin/node');
const companions = ['-journal', '-wal', '-shm'];
const steps: QuarantineStep[] = [
  'confirmed',
  'intent-written',
  'moved-journal',
  'moved-wal',
  'moved-shm',
  'moved-main',
  'audited',
  'intent-removed',
];

function inodesByName(dir: string): Map<string, number> {
  return new Map(readdirSync(dir).map((n) => [n, lstatSync(path.join(dir, n)).ino]));
}

function setUp(s: Scratch): Map<number, string> {
  writeCorrupt(s.sqlite);
  for (const c of companions) writeFileSync(`${s.sqlite}${c}`, `companion${c}`);
  const byIno = new Map<number, string>();
  for (const [name, ino] of inodesByName(s.cacheDir)) byIno.set(ino, name);
  return byIno;
}

function assertNothingLost(s: Scratch, original: Map<number, string>, when: string): void {
  const now = inodesByName(s.cacheDir);
  const base = path.basename(s.sqlite);
  for (const [ino, name] of original) {
    const where = [...now].find(([, i]) => i === ino)?.[0];
    assert.ok(where !== undefined, `${when}: ${name} was lost`);
    // Each file is at its own name or at <stem><its own suffix>.
    const suffix = name.slice(base.length);
    assert.ok(
      where === name ||
        (where.startsWith(`${base}.corrupt-`) && where.endsWith(suffix) && (suffix !== '' || /Z(-\d+)?$/.test(where))),
      `${when}: ${name} ended up as ${where}`,
    );
  }
  if (!now.has(base)) {
    for (const c of companions)
      assert.equal(now.has(`${base}${c}`), false, `${when}: ${base}${c} left beside the name skopeo reuses`);
  } else {
    // While the main file is in place, whatever is beside it is its own.
    for (const c of companions) {
      const ino = now.get(`${base}${c}`);
      if (ino !== undefined) assert.equal(original.get(ino), `${base}${c}`, `${when}: foreign ${c}`);
    }
  }
}

function assertFinished(s: Scratch, original: Map<number, string>, when: string): void {
  const now = inodesByName(s.cacheDir);
  const base = path.basename(s.sqlite);
  const mains = [...now.keys()].filter((n) => /\.corrupt-\d{8}T\d{6}Z(-\d+)?$/.test(n));
  assert.equal(mains.length, 1, `${when}: one quarantined copy, got ${[...now.keys()].join(', ')}`);
  const stem = mains[0];
  assert.deepEqual(
    [...now.keys()].sort(),
    [stem, ...companions.map((c) => `${stem}${c}`)].sort(),
    `${when}: all moved together`,
  );
  for (const [name, ino] of now)
    assert.equal(original.get(ino), `${base}${name.slice(stem.length)}`, `${when}: ${name} is the right file`);
  assert.deepEqual(listIntents(s.stateDir).intents, [], `${when}: no intent left`);
  const moves = readAuditRecords(s.stateDir).filter((r) => r.action === 'quarantine');
  assert.equal(moves.length, 1, `${when}: exactly one audit record for the move`);
  assert.equal(moves[0].newPath, path.join(s.cacheDir, stem));
  assert.equal(moves[0].companions.length, 3);
}

for (const step of steps) {
  test(`killed right after "${step}": nothing lost, and the next run finishes the move`, async () => {
    const s = makeScratch();
    try {
      const original = setUp(s);
      const child = spawnSync(
        node,
        [
          path.join(repo, 'test/agent/remediation/quarantine-child.ts'),
          JSON.stringify({
            cacheDir: s.cacheDir,
            stateDir: s.stateDir,
            passwd: s.passwd,
            file: s.sqlite,
            killAt: step,
          }),
        ],
        { encoding: 'utf8' },
      );
      assert.equal(child.signal, 'SIGKILL', `child should have been killed at ${step}: ${child.stdout}${child.stderr}`);
      assertNothingLost(s, original, `after kill at ${step}`);
      const intentsAfterKill = listIntents(s.stateDir).intents.length;
      assert.equal(
        intentsAfterKill,
        ['confirmed', 'intent-removed'].includes(step) ? 0 : 1,
        'intent on disk exactly while the move is in flight',
      );

      const report = await runQuarantine({
        files: [],
        dryRun: false,
        actor: 'cli',
        stateDir: s.stateDir,
        dirs: [s.cacheDir],
        discoverUsers: false,
        passwdPath: s.passwd,
        keep: 3,
        maxQuarantineBytes: 1 << 30,
        verify: verifyCacheFile,
        skopeoVersion: '1.9.3',
        cacheFormatInUse: null,
      });
      assert.equal(report.exitCode, 0, JSON.stringify(report, null, 2));
      if (intentsAfterKill > 0 && step !== 'audited') {
        assert.equal(report.interrupted[0]?.result, 'completed');
        assert.equal(report.audit[0]?.resumed, true);
      }
      assertNothingLost(s, original, `after the next run (${step})`);
      assertFinished(s, original, `after the next run (${step})`);
    } finally {
      s.cleanup();
    }
  });
}

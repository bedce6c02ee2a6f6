// `buildfleet-agent cache quarantine` as an operator runs it: the real binary entry point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAuditRecords } from '../../../agent/remediation/audit.ts';
import { needTools } from '../../support/tools.ts';
import { makeScratch, writeCorrupt, type Scratch } from './scratch.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const node = path.join(repo, 'node_modules/.bin/node');

// The verb on the scratch cache directory and state, users and the machine's passwd left out.
function quarantineArgs(s: Scratch): string[] {
  const dirs = ['--dir', s.cacheDir, '--no-users', '--passwd', s.passwd, '--state-dir', s.stateDir];
  return [path.join(repo, 'agent/bin.ts'), 'cache', 'quarantine', ...dirs];
}

// With no skopeo installed, unless a test says otherwise.
function cli(s: Scratch, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(node, [...quarantineArgs(s), '--skopeo', '/nonexistent/skopeo', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--help describes the verb and exits 0', () => {
  const r = spawnSync(node, [path.join(repo, 'agent/bin.ts'), 'cache', 'quarantine', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(
    r.stdout,
    /^Usage: buildfleet-agent cache quarantine \[FILE\.\.\.\] \[--config FILE\] \[--dry-run\] \[--json\] \[--state-dir DIR\]/,
  );
});

test('a usage error exits 2', (t) => {
  const s = makeScratch();
  t.after(s.cleanup);
  const r = cli(s, '--keep', 'zero');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--keep must be a whole number/);
});

test('--dry-run reports the corrupt cache, changes nothing and exits 1', (t) => {
  const s = makeScratch();
  t.after(s.cleanup);
  writeCorrupt(s.bolt);
  writeFileSync(s.sqlite, '');
  const r = cli(s, '--dry-run', '--json');
  assert.equal(r.status, 1, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.dryRun, true);
  const byPath = Object.fromEntries(report.results.map((x: { path: string; result: string }) => [x.path, x.result]));
  assert.deepEqual(byPath, { [s.bolt]: 'would-quarantine', [s.sqlite]: 'not-corrupt' });
  assert.deepEqual(readdirSync(s.cacheDir).sort(), [path.basename(s.bolt), path.basename(s.sqlite)].sort());
  assert.deepEqual(readAuditRecords(s.stateDir), []);
  const table = cli(s, '--dry-run');
  assert.match(table.stdout, /^PATH +RESULT +DETAIL\n/);
  assert.match(table.stdout, /would-quarantine/);
  assert.match(table.stdout, /dry run: nothing was changed/);
});

test('without FILE every discovered corrupt cache is moved; exit 0; healthy ones stay', (t) => {
  const s = makeScratch();
  t.after(s.cleanup);
  writeCorrupt(s.bolt);
  writeFileSync(s.sqlite, '');
  const r = cli(s, '--json');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(existsSync(s.sqlite));
  assert.equal(existsSync(s.bolt), false);
  assert.match(r.stderr, /^audit: quarantine .* -> .*\.corrupt-\d{8}T\d{6}Z$/m);
  assert.equal(readAuditRecords(s.stateDir)[0].actor, 'cli');
  assert.equal(readAuditRecords(s.stateDir)[0].skopeoVersion, null, 'no skopeo found: recorded as null');
});

test('a FILE outside every cache directory is refused with one line and exit 1', (t) => {
  const s = makeScratch();
  t.after(s.cleanup);
  const outside = path.join(s.root, 'blob-info-cache-v1.boltdb');
  writeCorrupt(outside);
  const r = cli(s, outside);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /refused +refused: .* is not inside root's, a user's or a configured cache directory/);
  assert.ok(existsSync(outside));
});

test('a FILE in a cache directory that is not a cache file name is refused', (t) => {
  const s = makeScratch();
  t.after(s.cleanup);
  const other = path.join(s.cacheDir, 'important.db');
  writeCorrupt(other);
  const r = cli(s, '--json', other);
  assert.equal(r.status, 1);
  assert.equal(JSON.parse(r.stdout).results[0].code, 'not-a-cache-name');
  assert.ok(existsSync(other));
});

test('a FILE reached through a symlinked directory is refused', (t) => {
  const s = makeScratch();
  t.after(s.cleanup);
  writeCorrupt(s.bolt);
  const link = path.join(s.root, 'link-to-cache');
  symlinkSync(s.cacheDir, link);
  const r = spawnSync(
    node,
    [
      path.join(repo, 'agent/bin.ts'),
      'cache',
      'quarantine',
      '--dir',
      link,
      '--no-users',
      '--passwd',
      s.passwd,
      '--state-dir',
      s.stateDir,
      '--skopeo',
      '/nonexistent',
      '--json',
      path.join(link, path.basename(s.bolt)),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const [res] = JSON.parse(r.stdout).results;
  assert.equal(res.result, 'refused');
  assert.equal(res.code, 'symlink-on-path');
  assert.ok(existsSync(s.bolt));
});

test('a named healthy FILE is left alone and exits 0', (t) => {
  const s = makeScratch();
  t.after(s.cleanup);
  mkdirSync(s.cacheDir, { recursive: true });
  writeFileSync(s.bolt, '');
  const r = cli(s, s.bolt);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /not-corrupt/);
  assert.ok(existsSync(s.bolt));
});

test('the installed skopeo version is recorded in the audit line', (t) => {
  if (!needTools(t, 'skopeo')) return;
  const s = makeScratch();
  t.after(s.cleanup);
  writeCorrupt(s.bolt);
  const printed = /^skopeo version (\S+)/.exec(spawnSync('skopeo', ['--version'], { encoding: 'utf8' }).stdout)?.[1];
  const r = spawnSync(node, quarantineArgs(s), { encoding: 'utf8' });

  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(readAuditRecords(s.stateDir)[0].skopeoVersion, printed);
});

test("--config: dirs, stateDir and keep come from the daemon's config; a move the daemon left half-done is finished", async () => {
  const s = makeScratch();
  try {
    const { statSync } = await import('node:fs');
    const { writeIntent } = await import('../../../agent/remediation/intent.ts');
    const { lstatIdentity } = await import('../../../lib/file-identity.ts');
    const daemonState = path.join(s.root, 'daemon-state');
    const config = path.join(s.root, 'config.yaml');
    writeFileSync(
      config,
      `stateDir: ${daemonState}\nchecks:\n  blobinfocache:\n    dirs: [${s.cacheDir}]\n    discoverUsers: false\n    keep: 1\n  skopeo:\n    binaries: [/nonexistent/skopeo]\n`,
    );
    // The daemon crashed between writing its intent and moving the file.
    writeCorrupt(s.bolt);
    const st = statSync(s.cacheDir, { bigint: true });
    const newName = `${path.basename(s.bolt)}.corrupt-20261128T100000Z`;
    writeIntent(daemonState, {
      id: 'daemon-intent',
      createdAt: '2026-11-28T10:00:00.000Z',
      actor: 'daemon',
      dir: s.cacheDir,
      dirDev: st.dev.toString(),
      dirIno: st.ino.toString(),
      dirUid: Number(st.uid),
      main: { name: path.basename(s.bolt), newName, identity: lstatIdentity(s.bolt)! },
      companions: [],
      problems: ['not-a-cache'],
      skopeoVersion: '1.9.3',
    });
    const r = spawnSync(
      node,
      [path.join(repo, 'agent/bin.ts'), 'cache', 'quarantine', '--config', config, '--passwd', s.passwd, '--json'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.interrupted[0]?.result, 'completed', r.stdout);
    assert.deepEqual(readdirSync(s.cacheDir), [newName]);
    assert.equal(readAuditRecords(daemonState).length, 1, "audited in the config's stateDir");
    assert.equal(existsSync(s.stateDir), false, 'nothing written to any other state directory');
    // A config file named but missing is an error (exit 2), not the built-in defaults.
    const missing = spawnSync(
      node,
      [path.join(repo, 'agent/bin.ts'), 'cache', 'quarantine', '--config', path.join(s.root, 'absent.yaml')],
      { encoding: 'utf8' },
    );
    assert.equal(missing.status, 2, missing.stderr);
  } finally {
    s.cleanup();
  }
});

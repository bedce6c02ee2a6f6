// The unit's capability bounding set, applied with setpriv the way systemd applies it (root,
// no new privileges, nothing else in the bounding set), is enough for the agent's real work on
// a user's cache: read it through a 0700 directory, move a corrupt one aside keeping its owner,
// and see that a user's process still holds it open. And the smaller set it replaced is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../deploy/build-bundle.ts';
import { needRoot, needTools } from '../support/tools.ts';

const nobody = 65534;
const cacheName = 'blob-info-cache-v1.boltdb';

// "CAP_DAC_OVERRIDE CAP_SYS_PTRACE" -> "-all,+dac_override,+sys_ptrace" for setpriv.
function unitBoundingSet(): string {
  const unit = readFileSync(join(repoRoot, 'deploy/systemd/buildfleet-agent.service'), 'utf8');
  const caps = /^CapabilityBoundingSet=(.+)$/m.exec(unit)?.[1].trim().split(/\s+/) ?? [];
  assert.ok(caps.length > 0, 'the unit names its capabilities');
  return ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
}

// A user's home with a rootless cache directory (0700, owned by the user) and a passwd file
// naming that home, so the agent discovers it the way it discovers real users.
function userHome(
  t: { after: (fn: () => void) => void },
  fixture: string,
): { root: string; cacheFile: string; agentArgs: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'bfa-caps-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  chmodSync(root, 0o755);
  const home = join(root, 'home', 'u');
  const cacheDir = join(home, '.local/share/containers/cache');
  mkdirSync(cacheDir, { recursive: true });
  chmodSync(join(root, 'home'), 0o755);
  const cacheFile = join(cacheDir, cacheName);
  copyFileSync(join(repoRoot, 'test/fixtures/bolt', fixture), cacheFile);
  for (const p of [
    join(root, 'home', 'u'),
    join(home, '.local'),
    join(home, '.local/share'),
    join(home, '.local/share/containers'),
    cacheDir,
    cacheFile,
  ]) {
    chownSync(p, nobody, nobody);
  }
  for (const d of [home, cacheDir]) chmodSync(d, 0o700);
  chmodSync(cacheFile, 0o600);
  writeFileSync(join(root, 'passwd'), `u:x:${nobody}:${nobody}::${home}:/bin/sh\n`);
  mkdirSync(join(root, 'state'));
  mkdirSync(join(root, 'rootcache'));
  const agentArgs = [
    '--state-dir',
    join(root, 'state'),
    '--dir',
    join(root, 'rootcache'),
    '--passwd',
    join(root, 'passwd'),
  ];
  return { root, cacheFile, agentArgs };
}

function agentWithCaps(bounding: string, args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(
    'setpriv',
    ['--no-new-privs', `--bounding-set=${bounding}`, '--', process.execPath, join(repoRoot, 'agent/bin.ts'), ...args],
    { cwd, encoding: 'utf8', timeout: 60_000 },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const quarantined = (cacheFile: string): string[] =>
  readdirSync(join(cacheFile, '..')).filter((f) => f.startsWith(`${cacheName}.corrupt-`));

test("with the unit's capabilities the agent reads a user's 0700 cache", (t) => {
  if (!needRoot(t) || !needTools(t, 'setpriv')) return;
  const { root, cacheFile } = userHome(t, 'skopeo-1.9.3-healthy.boltdb');
  const withUnitCaps = agentWithCaps(unitBoundingSet(), ['cache', 'check', '--json', cacheFile], root);
  assert.equal(withUnitCaps.status, 0, withUnitCaps.out);
  assert.equal((JSON.parse(withUnitCaps.out) as { verdict: string }).verdict, 'healthy');
  // Without any capability the same root process cannot even read it: the test can fail.
  const without = agentWithCaps('-all', ['cache', 'check', '--json', cacheFile], root);
  assert.equal(without.status, 4, without.out);
});

test("with the unit's capabilities the agent quarantines a user's corrupt cache, owner kept", (t) => {
  if (!needRoot(t) || !needTools(t, 'setpriv', 'skopeo')) return;
  const { root, cacheFile, agentArgs } = userHome(t, 'skopeo-1.9.3-bucket-root-is-freelist.boltdb');

  // CAP_DAC_READ_SEARCH alone reads but cannot rename inside the user's directory.
  const readOnly = agentWithCaps('-all,+dac_read_search', ['cache', 'quarantine', ...agentArgs], root);
  assert.notEqual(readOnly.status, 0, readOnly.out);
  assert.ok(existsSync(cacheFile), 'nothing moved with read-only capabilities');

  const r = agentWithCaps(unitBoundingSet(), ['cache', 'quarantine', ...agentArgs], root);
  assert.equal(r.status, 0, r.out);
  assert.ok(!existsSync(cacheFile), `still in place:\n${r.out}`);
  const moved = quarantined(cacheFile);
  assert.equal(moved.length, 1, r.out);
  assert.equal(statSync(join(cacheFile, '..', moved[0])).uid, nobody, 'the quarantined copy still belongs to the user');
});

test("with the unit's capabilities the agent sees a user's process holding the cache", async (t) => {
  if (!needRoot(t) || !needTools(t, 'setpriv', 'skopeo')) return;
  const { root, cacheFile, agentArgs } = userHome(t, 'skopeo-1.9.3-bucket-root-is-freelist.boltdb');
  // A process of the user keeps the cache open, as a running `skopeo copy` would.
  const holder = spawn('sh', ['-c', 'exec 3<"$1"; echo ready; exec sleep 60', 'sh', cacheFile], {
    uid: nobody,
    gid: nobody,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => {
    holder.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
  });

  const r = agentWithCaps(unitBoundingSet(), ['cache', 'quarantine', '--json', ...agentArgs], root);
  assert.ok(existsSync(cacheFile), `a cache open in a user's process was moved:\n${r.out}`);
  assert.match(r.out, /busy/, r.out);
  assert.equal(quarantined(cacheFile).length, 0);
});

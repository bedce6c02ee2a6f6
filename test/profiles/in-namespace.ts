// Runs inside `unshare -m --propagation private` (as root): builds one host profile over tmpfs
// mounts and a bound passwd file, runs the agent's CLI against it, and prints what happened as
// one JSON document. Nothing outside this mount namespace is touched.
// Usage: node test/profiles/in-namespace.ts PROFILE-NAME
import { spawnSync, execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { profiles, type Entry } from './profiles.ts';
import { createCacheFixture } from '../fixtures/sqlite/blob-info-cache.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const entry = join(repoRoot, 'agent/bin.mjs');
const profile = profiles.find((p) => p.name === process.argv[2]);
if (!profile) throw new Error(`no profile ${process.argv[2]}`);

const mount = (...args: string[]): void => {
  execFileSync('mount', args, { stdio: 'inherit' });
};
// Mode 0755: a tmpfs root is 1777 by default, which no root-owned link may sit under.
for (const dir of ['/home', '/var/lib', '/srv']) mount('-t', 'tmpfs', '-o', 'mode=0755,size=256m', 'tmpfs', dir);
const etc = mkdtempSync(join(tmpdir(), 'bfa-profile-etc-'));
const passwd = join(etc, 'passwd');
writeFileSync(passwd, `${profile.passwd.join('\n')}\n`);
mount('--bind', passwd, '/etc/passwd');
if (profile.nssOnly) {
  const nss = join(etc, 'nsswitch.conf');
  writeFileSync(nss, 'passwd: files extrausers\ngroup: files\nshadow: files\nhosts: files\n');
  mount('--bind', nss, '/etc/nsswitch.conf');
  mkdirSync('/var/lib/extrausers', { recursive: true });
  writeFileSync('/var/lib/extrausers/passwd', `${profile.nssOnly.join('\n')}\n`);
}
const configArgs: string[] = [];
if (profile.config) {
  const config = join(etc, 'config.yaml');
  writeFileSync(config, profile.config);
  configArgs.push('--config', config);
}

function build(e: Entry): void {
  const uid = e.uid ?? 0;
  const gid = e.gid ?? uid;
  if (e.kind === 'dir') {
    mkdirSync(e.path, { recursive: true });
    chmodSync(e.path, e.mode ?? 0o755);
    chownSync(e.path, uid, gid);
  } else if (e.kind === 'link') {
    symlinkSync(e.target!, e.path);
    lchownSync(e.path, uid, gid);
  } else {
    if (e.content === 'sqlite') createCacheFixture(e.path, { rows: 50 });
    else if (e.content) copyFileSync(join(repoRoot, 'test/fixtures/bolt', e.content), e.path);
    else writeFileSync(e.path, '');
    chmodSync(e.path, e.mode ?? 0o600);
    chownSync(e.path, uid, gid);
  }
}
for (const e of profile.entries) build(e);

// The CLI as an operator runs it; skopeo is the machine's real one (1.9.3: bolt in use).
function cli(node: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(node, [entry, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, BUILDFLEET_REQUIRE_TOOLS: undefined },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function files(paths: string[]): Record<string, { uid: number; size: number } | null> {
  const out: Record<string, { uid: number; size: number } | null> = {};
  for (const p of paths) {
    const st = lstatSync(p, { throwIfNoEntry: false });
    out[p] = st ? { uid: st.uid, size: st.size } : null;
  }
  return out;
}

const node = profile.oldNode ? '/usr/bin/node' : process.execPath;
const before = files([...(profile.quarantine?.moved ?? []), ...(profile.quarantine?.untouched ?? [])]);
const check = cli(node, 'check', '--json', ...configArgs);
const result: Record<string, unknown> = { check };
if (profile.quarantine) {
  const quarantine = cli(node, 'cache', 'quarantine', '--json', ...configArgs);
  const movedTo: Record<string, { uid: number; name: string }[]> = {};
  for (const p of profile.quarantine.moved) {
    const dir = dirname(p);
    movedTo[p] = readdirSync(dir)
      .filter((n) => n.includes('.corrupt-'))
      .map((n) => ({ name: n, uid: lstatSync(join(dir, n)).uid }));
  }
  result.quarantine = quarantine;
  result.movedTo = movedTo;
  result.before = before;
  result.after = files([...profile.quarantine.moved, ...profile.quarantine.untouched]);
  result.checkAfter = cli(node, 'check', '--json', ...configArgs);
}
result.stateDirEntries = existsSync('/var/lib/buildfleet-agent') ? readdirSync('/var/lib/buildfleet-agent') : [];
process.stdout.write(`${JSON.stringify(result)}\n`);

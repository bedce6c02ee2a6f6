// The unit is checked by systemd's own parser (systemd-analyze verify: an unknown or misspelt
// directive is a warning there, so any output fails the test), its sandboxing by reading the
// directives the operator docs promise, and its exposure figure against the one in the docs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../deploy/build-bundle.ts';
import { needTools } from '../support/tools.ts';

const unitPath = join(repoRoot, 'deploy/systemd/buildfleet-agent.service');
const el7DropInPath = join(repoRoot, 'deploy/systemd/el7-compat.conf');
const unitText = readFileSync(unitPath, 'utf8');

// [Service] directives as name -> every value assigned (in order).
function serviceDirectives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

// A copy of the unit whose ExecStart points at an executable that exists here (verify checks
// that the binary is there; /usr/bin/buildfleet-agent is only there once the RPM is installed).
function verifiableCopy(dir: string): string {
  const stub = join(dir, 'buildfleet-agent');
  writeFileSync(stub, '#!/bin/sh\n', { mode: 0o755 });
  const copy = join(dir, 'buildfleet-agent.service');
  writeFileSync(copy, unitText.replaceAll('/usr/bin/buildfleet-agent', stub));
  return copy;
}

test('systemd-analyze verify accepts the unit without a single warning', (t) => {
  if (!needTools(t, 'systemd-analyze')) return;
  const dir = mkdtempSync(join(tmpdir(), 'bfa-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', verifiableCopy(dir)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', `systemd-analyze verify complained:\n${r.stderr}`);
});

test('the CentOS 7 drop-in parses on top of the unit', (t) => {
  if (!needTools(t, 'systemd-analyze')) return;
  const dir = mkdtempSync(join(tmpdir(), 'bfa-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const copy = verifiableCopy(dir);
  mkdirSync(join(dir, 'buildfleet-agent.service.d'));
  copyFileSync(el7DropInPath, join(dir, 'buildfleet-agent.service.d', '50-el7-compat.conf'));
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // MemoryLimit= is the only way to cap memory on systemd 219; newer systemd says it is deprecated.
  const complaints = r.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/MemoryLimit=.*deprecated|please use MemoryMax=/.test(l));
  assert.deepEqual(complaints, []);
  const dropIn = serviceDirectives(readFileSync(el7DropInPath, 'utf8'));
  assert.deepEqual(dropIn.get('SystemCallFilter'), [''], 'the drop-in must reset the filter systemd 219 cannot parse');
  assert.deepEqual(dropIn.get('ProtectSystem'), ['full']);
});

test('the unit has the sandboxing and capabilities the docs describe', () => {
  const d = serviceDirectives(unitText);
  const one = (key: string): string => {
    const v = d.get(key);
    assert.ok(v && v.length > 0, `${key}= missing`);
    return v[v.length - 1];
  };
  assert.equal(one('Type'), 'simple');
  assert.equal(one('EnvironmentFile'), '-/etc/sysconfig/buildfleet-agent');
  assert.equal(one('ExecStart'), '/usr/bin/buildfleet-agent serve --config /etc/buildfleet-agent/config.yaml');
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.deepEqual(one('ReadWritePaths').split(/\s+/).sort(), ['-/home', '-/var/lib/containers/cache']);
  assert.equal(one('StateDirectory'), 'buildfleet-agent');
  assert.equal(one('StateDirectoryMode'), '0700');
  for (const key of [
    'NoNewPrivileges',
    'PrivateTmp',
    'PrivateDevices',
    'ProtectKernelTunables',
    'ProtectKernelModules',
    'ProtectKernelLogs',
    'ProtectControlGroups',
    'RestrictNamespaces',
    'RestrictSUIDSGID',
    'LockPersonality',
  ]) {
    assert.equal(one(key), 'yes', `${key}=yes`);
  }
  assert.deepEqual(one('CapabilityBoundingSet').split(/\s+/).sort(), ['CAP_DAC_OVERRIDE', 'CAP_SYS_PTRACE']);
  assert.equal(one('AmbientCapabilities'), '');
  assert.deepEqual(one('RestrictAddressFamilies').split(/\s+/).sort(), [
    'AF_INET',
    'AF_INET6',
    'AF_NETLINK',
    'AF_UNIX',
  ]);
  const filters = d.get('SystemCallFilter') ?? [];
  assert.ok(filters.includes('@system-service'), 'allow list @system-service');
  assert.ok(
    filters.some((f) => f.startsWith('~') && f.includes('@debug') && f.includes('@privileged')),
    'ptrace() and privileged calls denied',
  );
  assert.match(one('MemoryMax'), /^\d+[KMG]$/);
  // V8 needs writable+executable memory; this one would kill the agent at its first JIT.
  assert.ok(!d.has('MemoryDenyWriteExecute'), 'MemoryDenyWriteExecute breaks V8');
  assert.ok(!d.has('User') && !d.has('DynamicUser'), 'runs as root with a reduced bounding set (docs explain why)');
});

test('the exposure figure in docs/operations.md is what systemd-analyze says', (t) => {
  if (!needTools(t, 'systemd-analyze')) return;
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', unitPath], { encoding: 'utf8' });
  const out = `${r.stdout}\n${r.stderr}`;
  const measured = /Overall exposure level for buildfleet-agent\.service: (\d+\.\d+)/.exec(out)?.[1];
  assert.ok(measured, `no exposure figure in:\n${out}`);
  const docs = readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8');
  const documented = /exposure level[^\n]*?\*\*(\d+\.\d+)\*\*/i.exec(docs)?.[1];
  assert.ok(documented, 'docs/operations.md must state the exposure level as **N.N**');
  assert.equal(documented, measured, 'docs/operations.md states a different exposure level than systemd-analyze');
});

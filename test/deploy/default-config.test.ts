// The files the RPM puts in /etc must work as shipped: the default config passes the agent's own
// validation, and the sysconfig file is readable by both systemd and /bin/sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../deploy/build-bundle.ts';

test('deploy/config/config.yaml passes `buildfleet-agent config check`', () => {
  const r = spawnSync(
    process.execPath,
    [join(repoRoot, 'agent/bin.ts'), 'config', 'check', '--config', join(repoRoot, 'deploy/config/config.yaml')],
    { cwd: tmpdir(), encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, `config check failed:\n${r.stderr}${r.stdout}`);
  assert.match(r.stdout, /stateDir: \/var\/lib\/buildfleet-agent/);
});

test('the sysconfig file has only KEY=value lines systemd and sh read alike', () => {
  const lines = readFileSync(join(repoRoot, 'deploy/sysconfig/buildfleet-agent'), 'utf8').split('\n');
  for (const line of lines.filter((l) => l.trim() !== '' && !l.startsWith('#'))) {
    assert.match(line, /^[A-Z_][A-Z0-9_]*=[^\s'"$`\\]*$/, `not a plain KEY=value line: ${line}`);
  }
  // The documented CentOS 7 knob is there for the operator to uncomment.
  assert.ok(
    lines.some((l) => /^#NODE=\//.test(l)),
    'a commented NODE= example',
  );
  const r = spawnSync(
    'sh',
    ['-c', 'set -a; . "$1"; printf %s "${NODE-unset}"', 'sh', join(repoRoot, 'deploy/sysconfig/buildfleet-agent')],
    {
      encoding: 'utf8',
      // npm exports NODE into scripts; the question is what the file itself sets.
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE')),
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'unset', 'by default NODE is left to PATH');
});

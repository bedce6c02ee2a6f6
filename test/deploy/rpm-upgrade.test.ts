// Install, upgrade and erase the RPM the way an operator's dnf would, with the real rpm, into a
// scratch --root with its own database: the machine's files and rpm database are never touched.
// Scriptlets are not run here (the scratch root has no /bin/sh or systemd; they are run in
// test/deploy/rpm-scriptlets.test.ts and under a live systemd in systemd-live.test.ts); what is
// checked is rpm's own file handling: %config(noreplace) keeps an operator's edits, the state
// directory and its files survive an upgrade, and an erase keeps both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleAgent, repoRoot } from '../../deploy/build-bundle.ts';
import { needTools } from '../support/tools.ts';

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('an upgrade keeps the edited config, the sysconfig file and the state; an erase keeps them too', async (t) => {
  if (!needTools(t, 'rpmbuild', 'rpm')) return;
  const work = mkdtempSync(join(tmpdir(), 'bfa-rpm-upgrade-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const bundle = await bundleAgent({ outfile: join(work, 'bundle', 'buildfleet-agent.mjs') });
  assert.ok(bundle.ok, bundle.ok ? '' : bundle.errors.join('\n'));
  const build = (release: string): string => {
    const r = run(
      join(repoRoot, 'deploy/rpm/build-rpm.sh'),
      ['--bundle', bundle.outfile, '--out', join(work, `r${release}`)],
      { BUILDFLEET_RPM_RELEASE: release },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n').pop() ?? '';
  };
  const first = build('1');
  const second = build('2');

  const root = join(work, 'root');
  mkdirSync(root);
  const rpm = (...args: string[]): string => {
    const r = run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '--nodeps', '--noscripts', ...args]);
    assert.equal(r.status, 0, `rpm ${args.join(' ')}: ${r.stderr}`);
    return `${r.stdout}${r.stderr}`;
  };
  const file = (p: string): string => join(root, p);
  rpm('-i', first);
  assert.match(
    run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-q', 'buildfleet-agent']).stdout,
    /buildfleet-agent-.*-1\.noarch/,
  );
  assert.equal(statSync(file('var/lib/buildfleet-agent')).mode & 0o7777, 0o700);
  assert.equal(statSync(file('usr/bin/buildfleet-preflight-gate')).mode & 0o777, 0o755);

  // The operator's changes, and what a running agent left.
  const editedConfig = `${readFileSync(file('etc/buildfleet-agent/config.yaml'), 'utf8')}\n# edited by the operator\n`;
  writeFileSync(file('etc/buildfleet-agent/config.yaml'), editedConfig);
  writeFileSync(file('etc/sysconfig/buildfleet-agent'), 'NODE=/opt/node22/bin/node\n');
  writeFileSync(file('var/lib/buildfleet-agent/state.json'), '{"version":1}\n', { mode: 0o600 });
  writeFileSync(file('var/lib/buildfleet-agent/audit.jsonl'), '{"action":"quarantine"}\n', { mode: 0o600 });

  rpm('-U', second);
  assert.match(
    run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-q', 'buildfleet-agent']).stdout,
    /buildfleet-agent-.*-2\.noarch/,
  );
  assert.equal(readFileSync(file('etc/buildfleet-agent/config.yaml'), 'utf8'), editedConfig, 'config.yaml kept');
  assert.equal(
    readFileSync(file('etc/sysconfig/buildfleet-agent'), 'utf8'),
    'NODE=/opt/node22/bin/node\n',
    'sysconfig kept',
  );
  // The default did not change between the two builds, so rpm has nothing to offer as .rpmnew.
  assert.ok(!existsSync(file('etc/buildfleet-agent/config.yaml.rpmnew')));
  assert.equal(readFileSync(file('var/lib/buildfleet-agent/state.json'), 'utf8'), '{"version":1}\n', 'state kept');
  assert.equal(
    readFileSync(file('var/lib/buildfleet-agent/audit.jsonl'), 'utf8'),
    '{"action":"quarantine"}\n',
    'audit log kept',
  );
  assert.equal(statSync(file('var/lib/buildfleet-agent')).mode & 0o7777, 0o700);
  assert.ok(statSync(file('usr/bin/buildfleet-agent')).isFile());

  rpm('-e', 'buildfleet-agent');
  assert.ok(!existsSync(file('usr/bin/buildfleet-agent')), 'the wrapper goes');
  assert.ok(!existsSync(file('usr/lib/systemd/system/buildfleet-agent.service')), 'the unit goes');
  assert.equal(
    readFileSync(file('etc/buildfleet-agent/config.yaml.rpmsave'), 'utf8'),
    editedConfig,
    'an edited config is saved',
  );
  assert.equal(
    readFileSync(file('var/lib/buildfleet-agent/audit.jsonl'), 'utf8'),
    '{"action":"quarantine"}\n',
    'the audit log stays',
  );
});

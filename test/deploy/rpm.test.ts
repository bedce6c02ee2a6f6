// The RPM is built exactly as CI builds it (deploy/rpm/build-rpm.sh, Debian's rpmbuild) and then
// read back with rpm itself: the files, their config flags and modes, the scriptlets, and that
// CentOS 7's rpm 4.11 could install it (xz payload, no newer rpmlib features).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleAgent, repoRoot } from '../../deploy/build-bundle.ts';
import { needTools } from '../support/tools.ts';

function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; input?: Buffer } = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    input: opts.input,
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function rpmQuery(rpmFile: string, ...args: string[]): string {
  const r = run('rpm', ['-qp', ...args, rpmFile]);
  assert.equal(r.status, 0, `rpm -qp ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// rpm 4.11 (CentOS 7) knows these rpmlib() features; anything else makes it refuse the package.
const rpmlibKnownToEl7 = new Set([
  'rpmlib(CompressedFileNames)',
  'rpmlib(FileDigests)',
  'rpmlib(PayloadFilesHavePrefix)',
  'rpmlib(PayloadIsXz)',
  'rpmlib(PayloadIsBzip2)',
  'rpmlib(PartialHardlinkSets)',
  'rpmlib(VersionedDependencies)',
  'rpmlib(ScriptletInterpreterArgs)',
  'rpmlib(FileCaps)',
]);

test('build-rpm.sh builds a noarch RPM holding the agent, unit, config and state directory', async (t) => {
  if (!needTools(t, 'rpmbuild', 'rpm', 'rpm2archive', 'tar')) return;
  const work = mkdtempSync(join(tmpdir(), 'bfa-rpm-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  const bundle = await bundleAgent({ outfile: join(work, 'bundle', 'buildfleet-agent.mjs') });
  assert.ok(bundle.ok, bundle.ok ? '' : bundle.errors.join('\n'));
  const out = join(work, 'out');
  const built = run(join(repoRoot, 'deploy/rpm/build-rpm.sh'), ['--bundle', bundle.outfile, '--out', out], {
    cwd: repoRoot,
  });
  assert.equal(built.status, 0, `build-rpm.sh failed:\n${built.stderr}`);
  const rpmFile = built.stdout.trim().split('\n').pop() ?? '';
  assert.match(rpmFile, /buildfleet-agent-[^/]+\.noarch\.rpm$/);

  const pkgVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(
    rpmQuery(rpmFile, '--qf', '%{NAME} %{VERSION} %{ARCH}'),
    `buildfleet-agent ${pkgVersion.replace(/-/g, '~')} noarch`,
  );

  // Files, with the flags that matter: c = %config, n = noreplace, g = %ghost.
  const entries = rpmQuery(
    rpmFile,
    '--qf',
    '[%{FILEFLAGS:fflags}\t%{FILEMODES:perms}\t%{FILEUSERNAME}\t%{FILENAMES}\n]',
  )
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [flags, mode, owner, path] = line.split('\t');
      return { flags, mode, owner, path };
    });
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const expect = (path: string, mode: string, flags = ''): void => {
    const e = byPath.get(path);
    assert.ok(e, `${path} missing from the RPM; it holds:\n${[...byPath.keys()].join('\n')}`);
    assert.equal(e.mode, mode, `${path} mode`);
    assert.equal(e.flags, flags, `${path} flags`);
    assert.equal(e.owner, 'root', `${path} owner`);
  };
  expect('/usr/libexec/buildfleet-agent/buildfleet-agent.mjs', '-rw-r--r--');
  expect('/usr/bin/buildfleet-agent', '-rwxr-xr-x');
  expect('/usr/bin/buildfleet-preflight-gate', '-rwxr-xr-x');
  expect('/usr/lib/systemd/system/buildfleet-agent.service', '-rw-r--r--');
  expect('/etc/buildfleet-agent/config.yaml', '-rw-r--r--', 'cn');
  expect('/etc/sysconfig/buildfleet-agent', '-rw-r--r--', 'cn');
  expect('/var/lib/buildfleet-agent', 'drwx------');
  expect('/etc/systemd/system/buildfleet-agent.service.d/50-el7-compat.conf', '-rw-r--r--', 'cng');
  expect('/etc/systemd/system/buildfleet-agent.service.d/60-cache-dirs.conf', '-rw-r--r--', 'g');
  expect('/usr/share/buildfleet-agent/el7-compat.conf', '-rw-r--r--');
  expect('/usr/share/buildfleet-agent/grafana/buildfleet-fleet.json', '-rw-r--r--');
  assert.ok(
    entries.some((e) => e.path.startsWith('/usr/share/buildfleet-agent/prometheus/rules/')),
    'alert rules are shipped',
  );
  assert.ok(
    entries.some((e) => e.path === '/usr/share/doc/buildfleet-agent/operations.md' && e.flags === 'd'),
    'operations.md is %doc',
  );

  // CentOS 7 must be able to install it; EL8/9 get Node through a weak dependency only.
  assert.equal(rpmQuery(rpmFile, '--qf', '%{PAYLOADCOMPRESSOR}'), 'xz');
  const requires = rpmQuery(rpmFile, '--requires')
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[0]);
  for (const r of requires.filter((r) => r.startsWith('rpmlib(')))
    assert.ok(rpmlibKnownToEl7.has(r), `${r} is unknown to CentOS 7's rpm 4.11`);
  assert.ok(!requires.some((r) => /^nodejs/.test(r)), 'a hard nodejs Requires would block CentOS 7 hosts');
  assert.match(rpmQuery(rpmFile, '--recommends'), /^nodejs >= 1:22\.13$/m);

  // Scriptlets: the hand-expanded systemd macros, and valid sh.
  const scripts = {
    post: rpmQuery(rpmFile, '--qf', '%{POSTIN}'),
    preun: rpmQuery(rpmFile, '--qf', '%{PREUN}'),
    postun: rpmQuery(rpmFile, '--qf', '%{POSTUN}'),
  };
  for (const [name, body] of Object.entries(scripts)) {
    assert.equal(
      rpmQuery(rpmFile, '--qf', `%{${name === 'post' ? 'POSTINPROG' : name.toUpperCase() + 'PROG'}}`),
      '/bin/sh',
      `${name} interpreter`,
    );
    const syntax = run('sh', ['-n'], { input: Buffer.from(body) });
    assert.equal(syntax.status, 0, `${name} scriptlet is not valid sh: ${syntax.stderr}`);
    assert.doesNotMatch(body, /%\{?systemd_/, `${name}: an unexpanded systemd macro`);
  }
  assert.match(scripts.post, /systemctl daemon-reload/);
  assert.doesNotMatch(
    scripts.post,
    /systemctl[^\n]*\b(enable|preset|start)\b/,
    'installing must not enable or start the agent',
  );
  assert.match(scripts.post, /-lt 232/, 'the CentOS 7 drop-in is installed only for old systemd');
  assert.match(
    scripts.post,
    /buildfleet-agent systemd-dropin > \/etc\/systemd\/system\/buildfleet-agent\.service\.d\/60-cache-dirs\.conf\.new/,
  );
  assert.match(
    scripts.preun,
    /if \[ \$1 -eq 0 \]; then\s+systemctl --no-reload disable --now buildfleet-agent\.service/,
  );
  assert.match(scripts.postun, /systemctl daemon-reload/);
  assert.match(scripts.postun, /if \[ \$1 -ge 1 \]; then\s+systemctl try-restart buildfleet-agent\.service/);

  // The payload: the unit is deploy's, and the packaged bundle runs.
  const root = join(work, 'root');
  const archive = run('sh', ['-c', 'mkdir -p "$2" && rpm2archive - < "$1" | tar -xzf - -C "$2"', 'sh', rpmFile, root]);
  assert.equal(archive.status, 0, archive.stderr);
  assert.equal(
    readFileSync(join(root, 'usr/lib/systemd/system/buildfleet-agent.service'), 'utf8'),
    readFileSync(join(repoRoot, 'deploy/systemd/buildfleet-agent.service'), 'utf8'),
  );
  assert.equal(
    readFileSync(join(root, 'usr/bin/buildfleet-preflight-gate'), 'utf8'),
    readFileSync(join(repoRoot, 'deploy/scheduler/preflight-gate.sh'), 'utf8'),
    'the gate is deploy/scheduler/preflight-gate.sh',
  );
  const version = run(process.execPath, [join(root, 'usr/libexec/buildfleet-agent/buildfleet-agent.mjs'), 'version'], {
    cwd: work,
  });
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, new RegExp(`^buildfleet-agent ${pkgVersion.replace(/\./g, '\\.')}$`, 'm'));
  const wrapper = readFileSync(join(root, 'usr/bin/buildfleet-agent'), 'utf8');
  assert.equal(run('sh', ['-n'], { input: Buffer.from(wrapper) }).status, 0, 'wrapper is valid sh');
  // The wrapper runs whatever NODE names with the packaged bundle and the arguments unchanged.
  const fakeNode = join(work, 'print-args');
  writeFileSync(fakeNode, '#!/bin/sh\nprintf "%s\\n" "$@"\n', { mode: 0o755 });
  const viaWrapper = spawnSync(join(root, 'usr/bin/buildfleet-agent'), ['serve', '--config', 'a b.yaml'], {
    env: { PATH: '/usr/bin:/bin', NODE: fakeNode },
    encoding: 'utf8',
  });
  assert.equal(viaWrapper.status, 0, viaWrapper.stderr);
  assert.deepEqual(viaWrapper.stdout.split('\n').slice(0, 4), [
    '/usr/libexec/buildfleet-agent/buildfleet-agent.mjs',
    'serve',
    '--config',
    'a b.yaml',
  ]);
});

// `buildfleet-agent systemd-dropin`: the cache directories the unit cannot make writable by
// itself (homes outside /home, configured directories elsewhere) as ReadWritePaths=, read from
// a real passwd file and real directories; and the module's idea of the unit's writable paths
// is the unit's. Under a live systemd the drop-in is exercised by systemd-live.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../deploy/build-bundle.ts';
import { coveredByUnit, unitWritablePaths } from '../../agent/systemd-dropin.ts';

const cacheSub = '.local/share/containers/cache';

test("the module's writable paths are the unit's ReadWritePaths=", () => {
  const unit = readFileSync(join(repoRoot, 'deploy/systemd/buildfleet-agent.service'), 'utf8');
  const fromUnit = (/^ReadWritePaths=(.+)$/m.exec(unit)?.[1] ?? '')
    .trim()
    .split(/\s+/)
    .map((p) => p.replace(/^-/, ''));
  assert.deepEqual([...fromUnit].sort(), [...unitWritablePaths].sort());
  assert.ok(coveredByUnit('/home/u/.local/share/containers/cache'));
  assert.ok(!coveredByUnit('/homework/u/.local/share/containers/cache'), 'a prefix of a name is not a parent');
  assert.ok(!coveredByUnit('/var/lib/jenkins/.local/share/containers/cache'));
});

test('systemd-dropin lists existing cache directories outside /home, and nothing else', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bfa-dropin-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const jenkins = join(root, 'var/lib/jenkins');
  const opt = join(root, 'opt/builder');
  const noCache = join(root, 'srv/idle');
  mkdirSync(join(jenkins, cacheSub), { recursive: true });
  mkdirSync(join(opt, cacheSub), { recursive: true });
  mkdirSync(noCache, { recursive: true });
  mkdirSync(join(root, 'real/.local/share/containers/cache'), { recursive: true });
  symlinkSync(join(root, 'real'), join(root, 'linked'));
  const configured = join(root, 'ci/cache');
  mkdirSync(configured, { recursive: true });
  const passwd = join(root, 'passwd');
  writeFileSync(
    passwd,
    [
      'root:x:0:0:root:/root:/bin/bash',
      `jenkins:x:990:990:Jenkins:${jenkins}:/bin/bash`,
      `builder:x:1500:1500::${opt}:/bin/bash`,
      `idle:x:1501:1501::${noCache}:/bin/bash`,
      `linked:x:1502:1502::${join(root, 'linked')}:/bin/bash`,
      'alice:x:1000:1000::/home/alice:/bin/bash',
      '',
    ].join('\n'),
  );
  const config = join(root, 'config.yaml');
  writeFileSync(config, `checks:\n  blobinfocache:\n    dirs: [/var/lib/containers/cache, ${configured}]\n`);

  const r = spawnSync(
    process.execPath,
    [join(repoRoot, 'agent/bin.ts'), 'systemd-dropin', '--passwd', passwd, '--config', config],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const listed = r.stdout.split('\n').filter((l) => l.startsWith('ReadWritePaths='));
  assert.deepEqual(
    listed,
    [
      `ReadWritePaths=-${configured}`,
      `ReadWritePaths=-${join(opt, cacheSub)}`,
      `ReadWritePaths=-${join(jenkins, cacheSub)}`,
    ].sort(),
  );
  assert.match(r.stdout, /^\[Service\]$/m);

  const bad = spawnSync(
    process.execPath,
    [join(repoRoot, 'agent/bin.ts'), 'systemd-dropin', '--config', join(root, 'missing.yaml')],
    { encoding: 'utf8' },
  );
  assert.equal(bad.status, 2, 'an unreadable config is an error, not an empty drop-in');
});

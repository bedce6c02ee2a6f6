// The RPM scriptlets, run by the real /bin/sh the way rpm runs them ($1 = number of installed
// instances after the operation), inside a private mount namespace whose /etc/systemd/system,
// /var/lib and /usr/share are scratch tmpfs, so the machine's own files are never touched.
// systemctl cannot work without a running systemd, so a recording stand-in takes its place and
// answers `--version` with the systemd version under test (219 = CentOS 7, 252 = current).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../deploy/build-bundle.ts';
import { needRoot, needTools } from '../support/tools.ts';

type Scriptlet = 'POSTIN' | 'PREUN' | 'POSTUN';

function scriptlet(tag: Scriptlet): string {
  const r = spawnSync(
    'rpmspec',
    ['-q', '--define', 'pkg_version 0.0.0', '--qf', `%{${tag}}`, join(repoRoot, 'deploy/rpm/buildfleet-agent.spec')],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

interface Outcome {
  status: number | null;
  stderr: string;
  systemctlCalls: string[];
  dropInInstalled: boolean;
  rootCacheMode: string | null; // mode of /var/lib/containers/cache after the scriptlet
}

// Runs one scriptlet with argument $1 in a scratch namespace and reports what it did.
function runScriptlet(
  work: string,
  tag: Scriptlet,
  arg: number,
  opts: { systemdVersion: number; nodeVersion: string | null; sqlite?: boolean; realNode?: string },
): Outcome {
  const stub = mkdtempSync(join(work, `bin-${tag}-${arg}-${opts.systemdVersion}-`));
  const log = join(stub, 'systemctl.log');
  writeFileSync(
    join(stub, 'systemctl'),
    `#!/bin/sh\necho "$*" >> "${log}"\n[ "$1" = --version ] && echo "systemd ${opts.systemdVersion} (stand-in)"\nexit 0\n`,
  );
  chmodSync(join(stub, 'systemctl'), 0o755);
  // `node` as the scriptlet finds it on PATH: a real binary (a symlink to it), a stand-in that
  // prints a version and loads node:sqlite or not, or none at all.
  if (opts.realNode !== undefined) {
    symlinkSync(opts.realNode, join(stub, 'node'));
  } else if (opts.nodeVersion !== null) {
    writeFileSync(
      join(stub, 'node'),
      `#!/bin/sh\n[ "$1" = --version ] && { echo ${opts.nodeVersion}; exit 0; }\n[ "$1" = -e ] && exit ${opts.sqlite === false ? 1 : 0}\nexit 9\n`,
    );
    chmodSync(join(stub, 'node'), 0o755);
  } else {
    writeFileSync(join(stub, 'node'), '#!/bin/sh\nexit 127\n');
    chmodSync(join(stub, 'node'), 0o755);
  }
  const report = join(stub, 'report');
  const inNamespace = [
    'set -e',
    'mount -t tmpfs scratch /etc/systemd/system',
    'mount -t tmpfs scratch /var/lib',
    'mount -t tmpfs scratch /usr/share',
    'mkdir -p /usr/share/buildfleet-agent',
    'cp "$1" /usr/share/buildfleet-agent/el7-compat.conf',
    'mkdir -p /etc/systemd/system/buildfleet-agent.service.d',
    'set +e',
    'PATH="$2:/usr/bin:/bin" sh -c "$3" scriptlet "$4"',
    'status=$?',
    '{ [ -f /etc/systemd/system/buildfleet-agent.service.d/50-el7-compat.conf ] && echo dropin=yes || echo dropin=no',
    '  stat -c mode=%a /var/lib/containers/cache 2>/dev/null || echo mode=none; } > "$5"',
    'exit $status',
  ].join('\n');
  const r = spawnSync(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      inNamespace,
      'ns',
      join(repoRoot, 'deploy/systemd/el7-compat.conf'),
      stub,
      scriptlet(tag),
      String(arg),
      report,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  const facts = existsSync(report) ? readFileSync(report, 'utf8') : '';
  return {
    status: r.status,
    stderr: r.stderr,
    systemctlCalls: existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [],
    dropInInstalled: /dropin=yes/.test(facts),
    rootCacheMode: /mode=(\d+)/.exec(facts)?.[1] ?? null,
  };
}

function setup(t: { after: (fn: () => void) => void }): string {
  const work = mkdtempSync(join(tmpdir(), 'bfa-scriptlets-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  return work;
}

const ready = (t: Parameters<typeof needRoot>[0]): boolean =>
  needRoot(t) && needTools(t, 'rpmspec', 'unshare', 'mount') && existsSync('/etc/systemd/system');

test("%post on CentOS 7 (systemd 219) installs the compat drop-in and creates root's cache directory", (t) => {
  if (!ready(t)) return;
  const r = runScriptlet(setup(t), 'POSTIN', 1, { systemdVersion: 219, nodeVersion: 'v22.23.3' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.dropInInstalled, 'the el7 drop-in is in /etc/systemd/system/buildfleet-agent.service.d');
  assert.equal(r.rootCacheMode, '700');
  assert.equal(r.stderr, '', 'a usable Node gives no warning');
  assert.ok(r.systemctlCalls.includes('daemon-reload'), r.systemctlCalls.join('\n'));
  assert.ok(
    !r.systemctlCalls.some((c) => /\b(enable|start|preset)\b/.test(c)),
    `installing must not enable or start: ${r.systemctlCalls}`,
  );
});

test('%post on current systemd installs no drop-in, and warns when Node is missing or too old', (t) => {
  if (!ready(t)) return;
  const work = setup(t);
  const missing = runScriptlet(work, 'POSTIN', 1, { systemdVersion: 252, nodeVersion: null });
  assert.equal(missing.status, 0, missing.stderr);
  assert.equal(missing.dropInInstalled, false);
  assert.match(missing.stderr, /needs Node\.js >= 22\.13; 'node' gives 'nothing'/);
  const old = runScriptlet(work, 'POSTIN', 2, { systemdVersion: 252, nodeVersion: 'v20.20.2' });
  assert.match(old.stderr, /'node' gives 'v20\.20\.2'/);
});

test('%post takes Node >= 22.13 with node:sqlite exactly, and says what is wrong otherwise', (t) => {
  if (!ready(t)) return;
  const work = setup(t);
  const post = (nodeVersion: string, sqlite = true): string => {
    const r = runScriptlet(work, 'POSTIN', 1, { systemdVersion: 252, nodeVersion, sqlite });
    assert.equal(r.status, 0, `a warning never fails the install: ${r.stderr}`);
    return r.stderr;
  };
  for (const good of ['v22.13.0', 'v22.23.3', 'v23.0.0', 'v24.11.1', 'v100.1.0']) assert.equal(post(good), '', good);
  for (const old of ['v22.0.0', 'v22.12.0', 'v22.5.1', 'v21.99.0', 'v18.20.8', 'v2.13.0']) {
    assert.match(post(old), new RegExp(`needs Node\\.js >= 22\\.13; 'node' gives '${old.replace(/\./g, '\\.')}'`), old);
  }
  assert.match(post('garbage'), /needs Node\.js >= 22\.13; 'node' gives 'garbage'/);
  // A new enough version whose build has no node:sqlite (built without it) is caught too.
  assert.match(post('v22.13.0', false), /'node' \(v22\.13\.0\) cannot load node:sqlite/);
});

test("%post with the real Node binaries: the project's Node 22 passes, the system's older Node warns", (t) => {
  if (!ready(t)) return;
  const work = setup(t);
  const node22 = realpathSync(process.execPath);
  const ok = runScriptlet(work, 'POSTIN', 1, { systemdVersion: 252, nodeVersion: null, realNode: node22 });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stderr, '', `Node ${process.version} is usable`);
  const older = ['/usr/bin/node', '/usr/local/bin/node'].find(
    (p) =>
      existsSync(p) &&
      spawnSync(p, ['-p', 'process.versions.node.split(".")[0] < 22'], { encoding: 'utf8' }).stdout.trim() === 'true',
  );
  if (older === undefined) return; // only where the machine has an older system Node (this one has 20)
  const warned = runScriptlet(work, 'POSTIN', 2, { systemdVersion: 252, nodeVersion: null, realNode: older });
  assert.match(warned.stderr, /needs Node\.js >= 22\.13; 'node' gives 'v(1\d|2[01])\./);
});

test('%preun stops and disables only on erase; %postun restarts only on upgrade', (t) => {
  if (!ready(t)) return;
  const work = setup(t);
  const erase = runScriptlet(work, 'PREUN', 0, { systemdVersion: 252, nodeVersion: 'v22.23.3' });
  assert.equal(erase.status, 0, erase.stderr);
  assert.deepEqual(erase.systemctlCalls, ['--no-reload disable --now buildfleet-agent.service']);
  const upgradePreun = runScriptlet(work, 'PREUN', 1, { systemdVersion: 252, nodeVersion: 'v22.23.3' });
  assert.deepEqual(upgradePreun.systemctlCalls, [], 'an upgrade does not stop the agent before the new files are in');

  const upgrade = runScriptlet(work, 'POSTUN', 1, { systemdVersion: 252, nodeVersion: 'v22.23.3' });
  assert.equal(upgrade.status, 0, upgrade.stderr);
  assert.deepEqual(upgrade.systemctlCalls, ['daemon-reload', 'try-restart buildfleet-agent.service']);
  const erased = runScriptlet(work, 'POSTUN', 0, { systemdVersion: 252, nodeVersion: 'v22.23.3' });
  assert.deepEqual(erased.systemctlCalls, ['daemon-reload']);
});

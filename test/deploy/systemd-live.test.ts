// The RPM's agent under a live systemd: a Debian bookworm rootfs (.ci/systemd-rootfs.sh, kept
// outside the repository and reused) booted by systemd-nspawn with systemd 252 as PID 1, a
// private network (loopback only), and the RPM installed into it by the real rpm (its %post
// runs inside, against the Node 22 binary put where a nodejs package would put it). The tree is
// an overlay on the cached rootfs, so every run starts from the same clean system and the cache
// is never written. Commands run inside through nsenter into the container's namespaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  appendFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bundleAgent, repoRoot } from '../../deploy/build-bundle.ts';
import { needRoot, needTools } from '../support/tools.ts';

const cacheSub = '.local/share/containers/cache';
const cacheName = 'blob-info-cache-v1.boltdb';
const corruptFixture = join(repoRoot, 'test/fixtures/bolt/skopeo-1.9.3-bucket-root-is-freelist.boltdb');
// A rootless user under /home, and Jenkins with its default home (a system uid, as its packages make it).
const users = [
  { name: 'builder', uid: 1001, home: '/home/builder' },
  { name: 'jenkins', uid: 985, home: '/var/lib/jenkins' },
];

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { timeout?: number; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: opts.timeout ?? 120_000,
    maxBuffer: 16 << 20,
    env: opts.env ?? process.env,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

// The container's PID 1: the child of systemd-nspawn that runs systemd.
async function containerInit(nspawn: ChildProcess, deadlineMs: number): Promise<number> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited with ${nspawn.exitCode}`);
    const kids = readdirSync(`/proc/${nspawn.pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${nspawn.pid}/task/${tid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter((p) => p !== ''),
    );
    for (const kid of kids) {
      const comm = (() => {
        try {
          return readFileSync(`/proc/${kid}/comm`, 'utf8').trim();
        } catch {
          return '';
        }
      })();
      if (comm === 'systemd') return Number(kid);
    }
    await sleep(100);
  }
  throw new Error('the container never started systemd');
}

test(
  "under systemd 252 as PID 1 the RPM's agent starts, answers, reloads, quarantines users' caches and stops cleanly",
  { timeout: 300_000 },
  async (t) => {
    if (!needRoot(t) || !needTools(t, 'systemd-nspawn', 'debootstrap', 'nsenter', 'mount', 'umount', 'rpmbuild', 'rpm'))
      return;
    const started = Date.now();
    const phases: string[] = [];
    const phase = (name: string): void => {
      phases.push(`${name} ${((Date.now() - started) / 1000).toFixed(1)}s`);
    };

    // The rootfs: built cold (~130 s here), or checked and reused.
    const rootfs = run(join(repoRoot, '.ci/systemd-rootfs.sh'), [], { timeout: 600_000 });
    assert.equal(rootfs.status, 0, rootfs.stderr);
    const lower = rootfs.stdout.trim();
    phase('rootfs');

    const work = mkdtempSync(join(tmpdir(), 'bfa-systemd-'));
    const merged = join(work, 'merged');
    for (const d of ['upper', 'ovlwork', 'merged']) mkdirSync(join(work, d));
    const mount = run('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${lower},upperdir=${join(work, 'upper')},workdir=${join(work, 'ovlwork')}`,
      merged,
    ]);
    assert.equal(mount.status, 0, `overlay mount: ${mount.stderr}`);
    let nspawn: ChildProcess | null = null;
    t.after(async () => {
      if (nspawn && nspawn.exitCode === null) {
        // nspawn turns SIGTERM into a clean poweroff of the container; SIGKILL if that hangs.
        nspawn.kill('SIGTERM');
        const stopAsked = Date.now();
        const gone = await Promise.race([new Promise((r) => nspawn?.once('exit', r)), sleep(15_000).then(() => null)]);
        if (gone === null) nspawn.kill('SIGKILL');
        t.diagnostic(`container poweroff: ${Date.now() - stopAsked} ms${gone === null ? ' (killed)' : ''}`);
      }
      run('umount', [merged]);
      rmSync(work, { recursive: true, force: true });
    });
    const inside = (p: string): string => join(merged, p);

    // Users and their corrupt rootless caches, as skopeo leaves them (0700 directories, the user's).
    for (const u of users) {
      appendFileSync(inside('etc/passwd'), `${u.name}:x:${u.uid}:${u.uid}::${u.home}:/bin/sh\n`);
      appendFileSync(inside('etc/group'), `${u.name}:x:${u.uid}:\n`);
      const dir = inside(join(u.home, cacheSub));
      mkdirSync(dir, { recursive: true });
      copyFileSync(corruptFixture, join(dir, cacheName));
      const home = inside(u.home);
      for (const part of [
        '',
        '.local',
        '.local/share',
        '.local/share/containers',
        '.local/share/containers/cache',
        `.local/share/containers/cache/${cacheName}`,
      ]) {
        chownSync(join(home, part), u.uid, u.uid);
      }
      chmodSync(inside(u.home), 0o700);
      chmodSync(dir, 0o700);
      chmodSync(join(dir, cacheName), 0o600);
    }
    // Node 22 where a nodejs package puts it: the RPM's wrapper runs `node` from PATH.
    copyFileSync(realpathSync(process.execPath), inside('usr/bin/node'));
    chmodSync(inside('usr/bin/node'), 0o755);

    // The RPM, built as CI builds it and installed by rpm into the container's tree; its %post
    // runs chrooted there (Node check, root's cache directory, the cache-dirs drop-in).
    const bundle = await bundleAgent({ outfile: join(work, 'bundle', 'buildfleet-agent.mjs') });
    assert.ok(bundle.ok, bundle.ok ? '' : bundle.errors.join('\n'));
    const built = run(join(repoRoot, 'deploy/rpm/build-rpm.sh'), [
      '--bundle',
      bundle.outfile,
      '--out',
      join(work, 'rpm'),
    ]);
    assert.equal(built.status, 0, built.stderr);
    const rpmFile = built.stdout.trim().split('\n').pop() ?? '';
    const { NODE: _npmNode, ...withoutNode } = process.env;
    const installed = run('rpm', ['--root', merged, '--dbpath', '/var/lib/rpm', '--nodeps', '-i', rpmFile], {
      env: withoutNode,
    });
    assert.equal(installed.status, 0, installed.stderr);
    assert.doesNotMatch(installed.stderr, /buildfleet-agent:/, '%post finds the Node 22 usable and writes its drop-in');
    const dropIn = readFileSync(inside('etc/systemd/system/buildfleet-agent.service.d/60-cache-dirs.conf'), 'utf8');
    assert.match(dropIn, /^ReadWritePaths=-\/var\/lib\/jenkins\/\.local\/share\/containers\/cache$/m, dropIn);
    assert.doesNotMatch(dropIn, /\/home\//, "/home is the unit's own");
    phase('rpm installed');

    // The operator's part: an API token, and the config pointing at it.
    const token = 'a'.repeat(40);
    writeFileSync(inside('etc/buildfleet-agent/token'), `${token}\n`, { mode: 0o600 });
    const config = readFileSync(inside('etc/buildfleet-agent/config.yaml'), 'utf8');
    assert.match(config, /^# auth:\n# {3}tokenFile: \/etc\/buildfleet-agent\/token/m);
    const withToken = config.replace(/^# auth:\n# {3}tokenFile:/m, 'auth:\n  tokenFile:');
    writeFileSync(inside('etc/buildfleet-agent/config.yaml'), withToken);
    // HTTP from inside the container (its network is private): the container's own Node.
    writeFileSync(
      inside('root/request.mjs'),
      [
        'const [method, url, token] = process.argv.slice(2);',
        'try {',
        '  const r = await fetch(url, { method, headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(20000) });',
        '  process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() }));',
        '} catch (err) { process.stdout.write(JSON.stringify({ status: 0, body: String(err) })); }',
        '',
      ].join('\n'),
    );

    nspawn = spawn(
      'systemd-nspawn',
      ['--register=no', '--keep-unit', '--private-network', '--console=pipe', '-D', merged, '-b'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let consoleText = '';
    nspawn.stdout?.on('data', (b: Buffer) => {
      consoleText += b.toString();
    });
    nspawn.stderr?.on('data', (b: Buffer) => {
      consoleText += b.toString();
    });
    const pid1 = await containerInit(nspawn, 30_000);
    // A root login's environment, not the test's: npm exports NODE (its own Node's path), which
    // the wrapper would take over the container's.
    const insideEnv = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
    };
    const sh = (cmd: string, ...args: string[]): Run =>
      run('nsenter', ['-t', String(pid1), '-a', '--', cmd, ...args], { timeout: 60_000, env: insideEnv });
    const http = (method: string, path: string, auth = false): { status: number; body: string } => {
      const r = sh('/usr/bin/node', '/root/request.mjs', method, `http://127.0.0.1:20580${path}`, auth ? token : '');
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { status: number; body: string };
    };
    // PID 1 is systemd a moment before it has made /run/systemd/system ("offline" until then) and
    // its private socket ("Failed to connect to bus").
    let booted = sh('systemctl', 'is-system-running', '--wait');
    for (
      let i = 0;
      i < 100 && (/Failed to connect to bus/.test(booted.stderr) || booted.stdout.trim() === 'offline');
      i++
    ) {
      await sleep(100);
      booted = sh('systemctl', 'is-system-running', '--wait');
    }
    assert.match(
      booted.stdout.trim(),
      /^(running|degraded)$/,
      `boot: ${booted.stdout}${booted.stderr}\n${consoleText.slice(-3000)}`,
    );
    assert.match(sh('systemctl', '--version').stdout, /^systemd 252\b/);
    phase('booted');

    // Starts and reaches active, with the two documented capabilities and nothing else.
    const start = sh('systemctl', 'start', 'buildfleet-agent');
    assert.equal(
      start.status,
      0,
      `${start.stderr}\n${sh('journalctl', '-u', 'buildfleet-agent', '--no-pager').stdout}`,
    );
    assert.equal(sh('systemctl', 'is-active', 'buildfleet-agent').stdout.trim(), 'active');
    let health = { status: 0, body: '' };
    for (let i = 0; i < 100 && health.status !== 200; i++) {
      health = http('GET', '/healthz');
      if (health.status !== 200) await sleep(200);
    }
    assert.equal(health.status, 200, health.body);
    assert.equal((JSON.parse(health.body) as { configReloadOk: boolean }).configReloadOk, true);
    const mainPid = sh('systemctl', 'show', '-p', 'MainPID', '--value', 'buildfleet-agent').stdout.trim();
    const status = sh('cat', `/proc/${mainPid}/status`).stdout;
    assert.match(
      sh('cat', `/proc/${mainPid}/comm`).stdout,
      /^node/,
      'the wrapper exec()s node: the agent is the main process',
    );
    const unitCaps =
      /^CapabilityBoundingSet=(.+)$/m
        .exec(readFileSync(join(repoRoot, 'deploy/systemd/buildfleet-agent.service'), 'utf8'))?.[1]
        .trim()
        .split(/\s+/) ?? [];
    assert.deepEqual(
      unitCaps.sort(),
      ['CAP_DAC_OVERRIDE', 'CAP_SYS_PTRACE'],
      'the unit names the two capabilities docs/operations.md explains',
    );
    const capBits = (1n << 1n) | (1n << 19n); // CAP_DAC_OVERRIDE = 1, CAP_SYS_PTRACE = 19
    for (const field of ['CapBnd', 'CapEff', 'CapPrm']) {
      const hex = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1];
      assert.equal(BigInt(`0x${hex}`), capBits, `${field} of the agent: ${hex}`);
    }
    assert.match(status, /^NoNewPrivs:\s*1$/m);
    phase('active');

    // /v1/preflight answers (skopeo is not installed in the container: a refusal that says so).
    type Preflight = {
      decision: string;
      reasons: { check: string; code: string; message: string }[];
      checks: { name: string; observedAt: string | null }[];
    };
    let preflight = { status: 0, body: '' };
    let decision: Preflight = { decision: '', reasons: [], checks: [] };
    for (let i = 0; i < 100; i++) {
      preflight = http('GET', '/v1/preflight');
      decision = JSON.parse(preflight.body) as Preflight;
      if (decision.checks.find((c) => c.name === 'blobinfocache')?.observedAt) break;
      await sleep(200);
    }
    assert.ok(preflight.status === 200 || preflight.status === 503, preflight.body);
    assert.ok(['accept', 'degraded', 'refuse'].includes(decision.decision), preflight.body);
    assert.ok(
      decision.reasons.some((r) => r.code === 'cache-corrupt' && r.message.includes('/var/lib/jenkins/')),
      preflight.body,
    );

    // Both users' corrupt caches are moved aside through the API, each keeping its owner.
    const quarantine = http('POST', '/v1/caches/quarantine', true);
    assert.equal(quarantine.status, 200, quarantine.body);
    const report = JSON.parse(quarantine.body) as { results: { path: string; result: string; message: string }[] };
    for (const u of users) {
      const path = join(u.home, cacheSub, cacheName);
      const result = report.results.find((r) => r.path === path);
      assert.equal(
        result?.result,
        'quarantined',
        `${path}: ${result?.message ?? 'not in the report'}\n${quarantine.body}`,
      );
      const dir = inside(join(u.home, cacheSub));
      assert.ok(!existsSync(join(dir, cacheName)), `${path} is still in place`);
      const moved = readdirSync(dir).filter((f) => f.startsWith(`${cacheName}.corrupt-`));
      assert.equal(moved.length, 1, readdirSync(dir).join(', '));
      assert.equal(statSync(join(dir, moved[0])).uid, u.uid, `${u.name} still owns the quarantined copy`);
    }
    phase('quarantined');

    // A build user added after the install, home under /srv: its directory is read-only to the
    // agent until the drop-in lists it, and the failure says what to do. Then it works.
    const late = { name: 'late', uid: 1600, home: '/srv/late' };
    sh(
      'sh',
      '-c',
      `echo '${late.name}:x:${late.uid}:${late.uid}::${late.home}:/bin/sh' >> /etc/passwd && install -d -o ${late.uid} -g ${late.uid} -m 0700 ${late.home} ${late.home}/.local ${late.home}/.local/share ${late.home}/.local/share/containers ${late.home}/${cacheSub}`,
    );
    const lateFile = join(late.home, cacheSub, cacheName);
    copyFileSync(corruptFixture, inside(lateFile));
    chownSync(inside(lateFile), late.uid, late.uid);
    const blocked = JSON.parse(http('POST', '/v1/caches/quarantine', true).body) as {
      results: { path: string; result: string; message: string }[];
    };
    const lateResult = blocked.results.find((r) => r.path === lateFile);
    assert.equal(lateResult?.result, 'failed', JSON.stringify(blocked));
    assert.match(lateResult?.message ?? '', /EROFS.*buildfleet-agent systemd-dropin/);
    const regenerated = sh(
      'sh',
      '-c',
      'buildfleet-agent systemd-dropin > /etc/systemd/system/buildfleet-agent.service.d/60-cache-dirs.conf && systemctl daemon-reload && systemctl restart buildfleet-agent',
    );
    assert.equal(regenerated.status, 0, regenerated.stderr);
    let afterRestart = { status: 0, body: '' };
    for (let i = 0; i < 100 && afterRestart.status !== 200; i++) {
      afterRestart = http('POST', '/v1/caches/quarantine', true);
      if (afterRestart.status !== 200) await sleep(200);
    }
    const unblocked = JSON.parse(afterRestart.body) as {
      results: { path: string; result: string }[];
      interrupted: { path: string; result: string }[];
    };
    // The failed move left an intent; the next run finishes it (docs/quarantine.md) or moves it afresh.
    const done = [...unblocked.results, ...unblocked.interrupted].find((r) => r.path === lateFile);
    assert.ok(done?.result === 'quarantined' || done?.result === 'completed', afterRestart.body);
    assert.ok(!existsSync(inside(lateFile)));
    phase('late user');

    // systemctl reload applies a new config...
    const withDisk = withToken.replace(
      /^ {2}disk:\n {4}paths:\n/m,
      '  disk:\n    paths:\n      - { path: /srv, warnFree: "1%", criticalFree: "1B" }\n',
    );
    assert.notEqual(withDisk, withToken, 'the default config has a disk.paths list to extend');
    writeFileSync(inside('etc/buildfleet-agent/config.yaml'), withDisk);
    assert.equal(sh('systemctl', 'reload', 'buildfleet-agent').status, 0);
    const srvSeries = /^buildfleet_disk_avail_bytes\{[^}]*path="\/srv"/m;
    let metrics = '';
    for (let i = 0; i < 50 && !srvSeries.test(metrics); i++) {
      await sleep(200);
      metrics = http('GET', '/metrics').body;
    }
    assert.match(metrics, srvSeries, "the reloaded config's new disk path is measured");
    assert.match(metrics, /^buildfleet_config_reload_success 1$/m);
    // ...and keeps it when the new file is bad.
    writeFileSync(inside('etc/buildfleet-agent/config.yaml'), `${withDisk}\nchecks: [not, a, mapping\n`);
    assert.equal(sh('systemctl', 'reload', 'buildfleet-agent').status, 0);
    let afterBad = { configReloadOk: true };
    for (let i = 0; i < 50 && afterBad.configReloadOk; i++) {
      await sleep(200);
      afterBad = JSON.parse(http('GET', '/healthz').body) as { configReloadOk: boolean };
    }
    assert.equal(afterBad.configReloadOk, false, '/healthz says the reload failed');
    metrics = http('GET', '/metrics').body;
    assert.match(metrics, /^buildfleet_config_reload_success 0$/m);
    assert.match(metrics, srvSeries, 'the last good config stays in use');
    assert.equal(sh('systemctl', 'is-active', 'buildfleet-agent').stdout.trim(), 'active');
    phase('reloaded');

    // journalctl -p err finds the agent's error (the failed reload) by its priority.
    // journald takes the stream's lines asynchronously: on a busy machine the line may land a
    // moment after /healthz already says the reload failed.
    let errors = sh('journalctl', '-p', 'err', '-u', 'buildfleet-agent', '--no-pager', '-o', 'cat');
    for (let i = 0; i < 50 && !/"event":"config-reload-failed"/.test(errors.stdout); i++) {
      await sleep(200);
      errors = sh('journalctl', '-p', 'err', '-u', 'buildfleet-agent', '--no-pager', '-o', 'cat');
    }
    assert.match(errors.stdout, /"event":"config-reload-failed"/, `journalctl -p err:\n${errors.stdout}`);
    assert.doesNotMatch(errors.stdout, /"event":"daemon-started"/, 'info lines are not errors');

    // systemctl stop is clean and well within TimeoutStopSec.
    const timeoutStop = sh('systemctl', 'show', '-p', 'TimeoutStopUSec', '--value', 'buildfleet-agent').stdout.trim();
    assert.equal(timeoutStop, '20s');
    const stopStarted = Date.now();
    assert.equal(sh('systemctl', 'stop', 'buildfleet-agent').status, 0);
    const stopMs = Date.now() - stopStarted;
    assert.ok(stopMs < 20_000, `stop took ${stopMs} ms`);
    const after = sh(
      'systemctl',
      'show',
      '-p',
      'ActiveState,Result,ExecMainStatus,ExecMainCode',
      'buildfleet-agent',
    ).stdout;
    assert.match(after, /^ActiveState=inactive$/m, after);
    assert.match(after, /^Result=success$/m, after);
    assert.match(after, /^ExecMainStatus=0$/m, `the agent exits 0 on SIGTERM:\n${after}`);
    assert.doesNotMatch(
      sh('journalctl', '-u', 'buildfleet-agent', '--no-pager').stdout,
      /SIGKILL|Killing process/,
      'nothing was killed',
    );
    phase(`stopped (${stopMs} ms)`);
    t.diagnostic(`phases: ${phases.join(', ')}`);
  },
);

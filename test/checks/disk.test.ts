// The disk check against a real, small tmpfs that the test fills, plus a hung mount simulated
// by fault injection (see the last tests for what exactly is simulated). The threshold parser's
// tests are in test/lib/byte-size.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  mkdtempSync,
  rmSync,
  statfsSync,
  writeFileSync,
  unlinkSync,
  readFileSync,
  existsSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needRoot, needTools } from '../support/tools.ts';
import {
  createDiskCheck,
  type DiskCheckDetails,
  type DiskCheckOptions,
  type DiskPathOptions,
} from '../../checks/disk.ts';
import { statfsInChild } from '../../checks/disk/statfs-in-child.ts';
import { mountOf, parseMountInfo } from '../../checks/disk/mount-table.ts';
import type { CheckResult } from '../../checks/types.ts';

const MiB = 1024 * 1024;
let mountDir: string | null = null;

function run(opts: DiskCheckOptions, deps = {}): Promise<CheckResult> {
  return createDiskCheck(opts, deps).run({ signal: new AbortController().signal, now: () => new Date() });
}
function reports(result: CheckResult) {
  return (result.details as unknown as DiskCheckDetails).paths;
}

before(() => {
  if (process.getuid?.() !== 0) return;
  const dir = mkdtempSync(join(tmpdir(), 'disk-check-'));
  // 8 MiB and 64 inodes: small enough to fill in milliseconds.
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,nr_inodes=64', 'buildfleet-test', dir]);
  if (mounted.status === 0) mountDir = dir;
  else rmSync(dir, { recursive: true, force: true });
});

after(() => {
  if (mountDir === null) return;
  spawnSync('umount', [mountDir]);
  rmSync(mountDir, { recursive: true, force: true });
});

test('mountinfo: longest prefix wins, escapes decoded, stacked mounts take the top one', () => {
  const table = parseMountInfo(
    [
      '22 1 8:1 / / rw - ext4 /dev/sda1 rw',
      '30 22 0:40 / /var/lib rw - xfs /dev/sdb1 rw',
      '31 22 0:41 / /mnt/with\\040space rw - tmpfs none rw',
      '32 30 0:42 / /var/lib rw - overlay overlay rw',
    ].join('\n'),
  );
  assert.equal(mountOf('/var/lib/containers', table)?.fsType, 'overlay');
  assert.equal(mountOf('/var/library', table)?.mountpoint, '/');
  assert.equal(mountOf('/mnt/with space/x', table)?.fsType, 'tmpfs');
});

test('a real tmpfs filling up: ok, then warning, then critical', async (t) => {
  if (!needTools(t, 'mount', 'umount') || !needRoot(t)) return;
  assert.ok(mountDir, 'could not mount the test tmpfs');
  const target: DiskPathOptions = { path: mountDir, warnFree: { percent: 50 }, criticalFree: { bytes: 2 * MiB } };
  const opts = { paths: [target], timeoutSeconds: 10 };
  const filler = join(mountDir, 'filler');
  try {
    const empty = await run(opts);
    const [report] = reports(empty);
    const truth = statfsSync(mountDir);
    assert.equal(empty.status, 'ok', empty.summary);
    assert.equal(report.mountpoint, mountDir);
    assert.equal(report.fsType, 'tmpfs');
    assert.equal(report.exists, true);
    assert.equal(report.sizeBytes, truth.blocks * truth.bsize);
    assert.equal(report.availBytes, truth.bavail * truth.bsize);
    assert.equal(report.filesFree, truth.ffree);

    writeFileSync(filler, Buffer.alloc(5 * MiB));
    const half = await run(opts);
    assert.equal(half.status, 'warning', half.summary);
    assert.deepEqual(
      half.reasons.map((r) => r.code),
      ['disk-free-low'],
    );
    assert.equal(reports(half)[0].availBytes, statfsSync(mountDir).bavail * truth.bsize);

    writeFileSync(filler, Buffer.alloc(7 * MiB));
    const full = await run(opts);
    assert.equal(full.status, 'critical', full.summary);
    assert.deepEqual(
      full.reasons.map((r) => r.code),
      ['disk-free-critical'],
    );
    assert.equal(reports(full)[0].status, 'critical');
  } finally {
    if (existsSync(filler)) unlinkSync(filler);
  }
});

test('a real tmpfs out of inodes is critical even with space left', async (t) => {
  if (!needTools(t, 'mount', 'umount') || !needRoot(t)) return;
  assert.ok(mountDir, 'could not mount the test tmpfs');
  const created: string[] = [];
  try {
    for (let i = 0; statfsSync(mountDir).ffree > 0 && i < 1000; i += 1) {
      const file = join(mountDir, `inode-${i}`);
      writeFileSync(file, '');
      created.push(file);
    }
    const result = await run({
      paths: [{ path: mountDir, warnFree: { percent: 1 }, criticalFree: { bytes: 1 } }],
      timeoutSeconds: 10,
    });
    assert.equal(result.status, 'critical');
    assert.deepEqual(
      result.reasons.map((r) => r.code),
      ['disk-inodes-exhausted'],
    );
    assert.equal(reports(result)[0].filesFree, 0);
  } finally {
    for (const file of created) unlinkSync(file);
  }
});

test('a path that does not exist is judged by its nearest existing parent, and says so', async (t) => {
  if (!needTools(t, 'mount', 'umount') || !needRoot(t)) return;
  assert.ok(mountDir, 'could not mount the test tmpfs');
  const missing = join(mountDir, 'not', 'created', 'yet');
  const result = await run({
    paths: [{ path: missing, warnFree: { percent: 1 }, criticalFree: { bytes: 1 } }],
    timeoutSeconds: 10,
  });
  const [report] = reports(result);
  assert.equal(result.status, 'ok');
  assert.equal(report.exists, false);
  assert.equal(report.statPath, mountDir);
  assert.equal(report.mountpoint, mountDir);
  assert.equal(report.fsType, 'tmpfs');
  assert.match(report.message, /does not exist; its nearest parent/);
});

test('a path whose stat fails for another reason than "missing" is critical with the error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'disk-check-'));
  try {
    // A symlink loop: ELOOP even for root, and not a reason to walk up to a parent.
    const loop = join(dir, 'loop');
    symlinkSync(loop, loop);
    const result = await run({
      paths: [{ path: join(loop, 'inner'), warnFree: { percent: 1 }, criticalFree: { bytes: 1 } }],
      timeoutSeconds: 10,
    });
    assert.equal(result.status, 'critical');
    assert.deepEqual(
      result.reasons.map((r) => r.code),
      ['disk-stat-failed'],
    );
    assert.match(result.reasons[0].message, /ELOOP/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A real hung NFS or FUSE mount cannot be made here without a server that stops answering (no
// FUSE tooling is installed, and NFS would need a network service). Two honest stand-ins:
// (1) a fault-injecting statfs that never settles and ignores its signal: the check itself must
// stop waiting at the timeout; (2) the real child-process runner with a child that never answers
// (exactly what a process blocked in statfs looks like from outside): it must be SIGKILLed.
test('hung mount (injected statfs that never answers): critical at the timeout, other paths still measured', async () => {
  const neverAnswers = (path: string, signal: AbortSignal) =>
    path === '/hung' ? new Promise<never>(() => {}) : statfsInChild(path, signal);
  const result = await run(
    {
      paths: [
        { path: '/hung', warnFree: { percent: 1 }, criticalFree: { bytes: 1 } },
        { path: tmpdir(), warnFree: { bytes: 0 }, criticalFree: { bytes: 0 } },
      ],
      timeoutSeconds: 1,
    },
    { statfs: neverAnswers },
  );
  assert.equal(result.status, 'critical');
  assert.deepEqual(
    result.reasons.map((r) => r.code),
    ['disk-stat-timeout'],
  );
  assert.equal(reports(result)[1].status, 'ok');
  assert.ok((reports(result)[1].sizeBytes ?? 0) > 0);
});

test('hung mount (statfs child that never answers): the child is killed and abandoned', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'disk-hang-'));
  const pidFile = join(dir, 'pid');
  try {
    const controller = new AbortController();
    const pending = statfsInChild('/anything', controller.signal, () => ({
      file: 'sh',
      args: ['-c', `echo $$ > ${pidFile}; exec sleep 600`],
    }));
    while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8') === '') await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    const outcome = await pending;
    assert.equal(outcome.ok, false);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    // SIGKILL is asynchronous: give the kernel a moment to reap, without timing anything.
    for (let i = 0; i < 100; i += 1) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

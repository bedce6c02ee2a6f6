// The daemon's cache verifier: each file judged by a child running the agent's own
// `cache check --json`, with the same verdict as in-process verification, pinned-directory paths
// passed on by descriptor, and hung or broken children killed and reported.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createChildVerifier, verifyProcessCodes } from '../../agent/cache-verify-child.ts';
import { verifyCacheFile } from '../../checks/blobcache/verify.ts';
import { createCacheFixture } from '../fixtures/sqlite/blob-info-cache.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtureDir = join(repoRoot, 'test/fixtures/bolt');
const agentBin = join(repoRoot, 'agent/bin.ts');

interface Fixture {
  file: string;
  verdict: string;
  warning: boolean;
}
const fixtures = JSON.parse(readFileSync(join(fixtureDir, 'fixtures.json'), 'utf8')) as Fixture[];
const healthyFixture = fixtures.find((f) => f.verdict === 'healthy' && !f.warning);
const corruptFixture = fixtures.find((f) => f.verdict === 'corrupt');
assert.ok(healthyFixture && corruptFixture, 'fixtures.json lists a healthy and a corrupt fixture');

const work = mkdtempSync(join(tmpdir(), 'bfa-verify-child-'));
after(() => rmSync(work, { recursive: true, force: true }));
const snapshots = join(work, 'snapshots');
const snapshotRoot = (): string => snapshots;

// Stands in for the CLI: `<script> <pidFile> cache check --json [--full] <path>`. A path ending
// in .hang writes the pid and never answers; any other path is checked by the real CLI.
const hangOrCheck = join(work, 'hang-or-check.mjs');
writeFileSync(
  hangOrCheck,
  [
    "import { writeFileSync } from 'node:fs';",
    'const pidFile = process.argv[2];',
    'const target = process.argv[process.argv.length - 1];',
    "if (target.endsWith('.hang')) {",
    '  writeFileSync(pidFile, String(process.pid));',
    '  setInterval(() => {}, 1 << 30);',
    '} else {',
    '  process.argv.splice(2, 1);',
    `  await import(${JSON.stringify(pathToFileURL(agentBin).href)});`,
    '}',
    '',
  ].join('\n'),
);

const garbage = join(work, 'garbage.mjs');
writeFileSync(
  garbage,
  [
    "process.stdout.write('this is not a verdict');",
    "process.stderr.write('first line\\n  garbage printer: it broke here  \\n');",
    'process.exitCode = 1;',
    '',
  ].join('\n'),
);

// A well-formed verdict, but on another file.
const otherVerdict = join(work, 'other-verdict.mjs');
writeFileSync(
  otherVerdict,
  [
    "const v = { path: '/somewhere/else', format: 'boltdb', verdict: 'healthy', problems: [], warnings: [], stats: {}, durationMs: 1 };",
    'process.stdout.write(JSON.stringify(v));',
    '',
  ].join('\n'),
);

let pidFiles = 0;
function newPidFile(): string {
  pidFiles += 1;
  return join(work, `child-${pidFiles}.pid`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

// The killed child is reaped by this process's event loop; give it the time it needs.
async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 500 && isAlive(pid); i++) await sleep(20);
  return !isAlive(pid);
}

async function waitForFile(path: string): Promise<string> {
  for (let i = 0; i < 1500 && !existsSync(path); i++) await sleep(20);
  return readFileSync(path, 'utf8');
}

const codes = (v: { problems: { code: string }[] }) => v.problems.map((p) => p.code).sort();

test('a healthy bolt fixture is healthy', async (t) => {
  const verifier = createChildVerifier({ maxVerifySeconds: 60, snapshotRoot });
  t.after(() => verifier.close());
  const path = join(fixtureDir, healthyFixture.file);
  const v = await verifier.verify(path);
  assert.equal(v.verdict, 'healthy', JSON.stringify(v));
  assert.equal(v.path, path);
  assert.equal(v.format, 'boltdb');
});

test('a corrupt bolt fixture is corrupt, with the problem codes in-process verification gives', async (t) => {
  const verifier = createChildVerifier({ maxVerifySeconds: 60, snapshotRoot });
  t.after(() => verifier.close());
  const path = join(fixtureDir, corruptFixture.file);
  const [child, inProcess] = [await verifier.verify(path), await verifyCacheFile(path)];
  assert.equal(child.verdict, 'corrupt', JSON.stringify(child));
  assert.equal(child.verdict, inProcess.verdict);
  assert.ok(child.problems.length > 0);
  assert.deepEqual(codes(child), codes(inProcess));
  assert.deepEqual(
    child.problems.map((p) => p.message),
    inProcess.problems.map((p) => p.message),
  );
});

test('a real SQLite cache is healthy, --full included', async (t) => {
  const verifier = createChildVerifier({ maxVerifySeconds: 60, snapshotRoot });
  t.after(() => verifier.close());
  const path = join(work, 'blob-info-cache-v1.sqlite');
  createCacheFixture(path, { rows: 50 });
  const quick = await verifier.verify(path);
  assert.equal(quick.verdict, 'healthy', JSON.stringify(quick));
  assert.equal(quick.format, 'sqlite');
  const full = await verifier.verify(path, { full: true });
  assert.equal(full.verdict, 'healthy', JSON.stringify(full));
});

test("a /proc/self/fd path through a directory descriptor: the child gets the descriptor, the verdict shows the caller's path", async (t) => {
  const dir = mkdtempSync(join(work, 'pinned-'));
  copyFileSync(join(fixtureDir, corruptFixture.file), join(dir, 'blob-info-cache-v1.boltdb'));
  const dirFd = openSync(dir, 'r');
  const verifier = createChildVerifier({ maxVerifySeconds: 60, snapshotRoot });
  t.after(async () => {
    await verifier.close();
    closeSync(dirFd);
  });
  assert.notEqual(dirFd, 3, "the test needs a descriptor other than the child's own 3");

  const path = `/proc/self/fd/${dirFd}/blob-info-cache-v1.boltdb`;
  const v = await verifier.verify(path);
  const inProcess = await verifyCacheFile(path);
  assert.equal(v.path, path);
  assert.equal(v.verdict, 'corrupt', JSON.stringify(v));
  assert.deepEqual(codes(v), codes(inProcess));
  assert.deepEqual(
    v.problems.map((p) => p.message),
    inProcess.problems.map((p) => p.message),
  );
  assert.doesNotMatch(JSON.stringify(v), /\/proc\/self\/fd\/3\b/);

  // A message that names the path: a file that is not there.
  const missing = `/proc/self/fd/${dirFd}/no-such-cache.boltdb`;
  const gone = await verifier.verify(missing);
  assert.equal(gone.path, missing);
  assert.equal(gone.verdict, 'unreadable');
  assert.ok(
    gone.problems.some((p) => p.message.includes(missing)),
    JSON.stringify(gone),
  );
  assert.doesNotMatch(JSON.stringify(gone), /\/proc\/self\/fd\/3\b/);
  assert.deepEqual(gone, { ...(await verifyCacheFile(missing)), durationMs: gone.durationMs });
});

test('a child that never answers is killed at the bound; the next request still runs', async (t) => {
  const pidFile = newPidFile();
  const verifier = createChildVerifier({
    maxVerifySeconds: 3,
    snapshotRoot,
    command: { file: process.execPath, args: [hangOrCheck, pidFile] },
  });
  t.after(() => verifier.close());
  const healthyPath = join(fixtureDir, healthyFixture.file);
  // Queued behind the hung one: it must start once the hung child is given up on.
  const [hung, next] = await Promise.all([verifier.verify(join(work, 'stuck.hang')), verifier.verify(healthyPath)]);

  assert.equal(hung.verdict, 'unreadable');
  assert.equal(hung.path, join(work, 'stuck.hang'));
  assert.deepEqual(codes(hung), [verifyProcessCodes.timeout]);
  assert.doesNotMatch(hung.problems[0].message, /\n/);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(await waitGone(pid), `child ${pid} is still running`);

  assert.equal(next.verdict, 'healthy', JSON.stringify(next));
  assert.equal(next.path, healthyPath);
});

test('a child that prints no verdict: verify-process-failed with its last stderr line', async (t) => {
  const verifier = createChildVerifier({
    maxVerifySeconds: 60,
    snapshotRoot,
    command: { file: process.execPath, args: [garbage] },
  });
  t.after(() => verifier.close());
  const v = await verifier.verify('/var/cache/some.boltdb');
  assert.equal(v.verdict, 'unreadable');
  assert.equal(v.path, '/var/cache/some.boltdb');
  assert.deepEqual(codes(v), [verifyProcessCodes.failed]);
  assert.match(v.problems[0].message, /garbage printer: it broke here$/);
  assert.doesNotMatch(v.problems[0].message, /first line/);
});

test('a verdict on another file is not taken', async (t) => {
  const verifier = createChildVerifier({
    maxVerifySeconds: 60,
    snapshotRoot,
    command: { file: process.execPath, args: [otherVerdict] },
  });
  t.after(() => verifier.close());
  const v = await verifier.verify('/var/cache/mine.boltdb');
  assert.equal(v.verdict, 'unreadable');
  assert.deepEqual(codes(v), [verifyProcessCodes.failed]);
});

test('a command that cannot be started: verify-process-failed', async (t) => {
  const verifier = createChildVerifier({
    maxVerifySeconds: 60,
    snapshotRoot,
    command: { file: join(work, 'no-such-program'), args: [] },
  });
  t.after(() => verifier.close());
  const v = await verifier.verify('/var/cache/some.boltdb');
  assert.equal(v.verdict, 'unreadable');
  assert.deepEqual(codes(v), [verifyProcessCodes.failed]);
});

test('close() during a run resolves it and the queue, kills the child, and refuses later requests', async () => {
  const pidFile = newPidFile();
  const verifier = createChildVerifier({
    maxVerifySeconds: 600,
    snapshotRoot,
    command: { file: process.execPath, args: [hangOrCheck, pidFile] },
  });
  const running = verifier.verify(join(work, 'slow.hang'));
  const queued = verifier.verify(join(fixtureDir, healthyFixture.file));
  const pid = Number(await waitForFile(pidFile));
  assert.ok(isAlive(pid));

  await verifier.close();
  for (const v of [await running, await queued]) {
    assert.equal(v.verdict, 'unreadable');
    assert.deepEqual(codes(v), [verifyProcessCodes.failed]);
    assert.match(v.problems[0].message, /the agent is stopping/);
  }
  assert.ok(await waitGone(pid), `child ${pid} is still running`);

  const later = await verifier.verify(join(fixtureDir, healthyFixture.file));
  assert.deepEqual(codes(later), [verifyProcessCodes.failed]);
  assert.match(later.problems[0].message, /the agent is stopping/);
});

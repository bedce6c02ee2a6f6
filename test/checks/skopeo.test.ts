// The skopeo check against the real skopeo (in a private mount namespace, see the fixture) and
// small fake scripts for the output formats and failures the installed skopeo cannot produce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import semver from 'semver';
import { needRoot, needTools } from '../support/tools.ts';
import {
  createSkopeoCheck,
  parseSkopeoVersion,
  skopeoCacheFormat,
  validateSkopeoPolicy,
  type SkopeoCheckDetails,
  type SkopeoCheckOptions,
} from '../../checks/skopeo.ts';
import type { CheckResult } from '../../checks/types.ts';

const fakes = new URL('../fixtures/fake-skopeo/', import.meta.url).pathname;
const defaults: SkopeoCheckOptions = { binaries: ['skopeo'], minVersion: '1.14.0', deny: [], timeoutSeconds: 10 };

function runCheck(opts: Partial<SkopeoCheckOptions>, searchPath?: string): Promise<CheckResult> {
  const check = createSkopeoCheck({ ...defaults, ...opts }, searchPath === undefined ? {} : { searchPath });
  return check.run({ signal: new AbortController().signal, now: () => new Date() });
}

function binaries(result: CheckResult) {
  return (result.details as unknown as SkopeoCheckDetails).binaries;
}

// The installed skopeo's version according to the package manager, not to skopeo itself.
function installedSkopeoVersion(): string {
  const out = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'skopeo'], { encoding: 'utf8' }).stdout;
  const version = semver.coerce(out)?.version;
  assert.ok(version, `dpkg-query gave no version: ${out}`);
  return version;
}

test('parses every known version line', () => {
  assert.deepEqual(parseSkopeoVersion('skopeo version 0.1.40\n'), {
    version: '0.1.40',
    semver: '0.1.40',
    commit: null,
  });
  assert.deepEqual(parseSkopeoVersion('skopeo version 1.14.0 commit: 2a8a5f7e\n'), {
    version: '1.14.0',
    semver: '1.14.0',
    commit: '2a8a5f7e',
  });
  assert.deepEqual(parseSkopeoVersion('skopeo version 1.22.0-dev'), {
    version: '1.22.0-dev',
    semver: '1.22.0-dev',
    commit: null,
  });
  assert.ok(parseSkopeoVersion('Usage: skopeo [command]') instanceof Error);
  assert.ok(parseSkopeoVersion('') instanceof Error);
  assert.ok(parseSkopeoVersion('skopeo version banana') instanceof Error);
});

test('policy values are validated for the config loader', () => {
  assert.deepEqual(validateSkopeoPolicy({ minVersion: '1.14.0', deny: ['1.22.x', '>=1.0.0 <1.2.0'] }), []);
  assert.equal(validateSkopeoPolicy({ minVersion: 'latest', deny: ['not a range !!'] }).length, 2);
});

test('cache format follows the version: sqlite from 1.14.0 on', () => {
  assert.equal(skopeoCacheFormat('0.1.40'), 'boltdb');
  assert.equal(skopeoCacheFormat('1.13.3'), 'boltdb');
  assert.equal(skopeoCacheFormat('1.14.0-dev'), 'boltdb');
  assert.equal(skopeoCacheFormat('1.14.0'), 'sqlite');
  assert.equal(skopeoCacheFormat('1.22.0-dev'), 'sqlite');
});

test('the real skopeo: parsed, below the default minimum is critical', async (t) => {
  if (!needTools(t, 'skopeo', 'unshare', 'dpkg-query') || !needRoot(t)) return;
  const expected = installedSkopeoVersion();
  const result = await runCheck({ binaries: [join(fakes, 'real-skopeo-isolated')] });
  const [report] = binaries(result);
  assert.equal(report.version, expected);
  assert.equal(report.cacheFormat, semver.gte(expected, '1.14.0') ? 'sqlite' : 'boltdb');
  if (semver.lt(expected, '1.14.0')) {
    assert.equal(result.status, 'critical');
    assert.equal(report.policySatisfied, false);
    assert.deepEqual(
      result.reasons.map((r) => r.code),
      ['skopeo-below-minimum'],
    );
  }
});

test('the real skopeo: a minimum at or below its version is ok; a deny range catches it', async (t) => {
  if (!needTools(t, 'skopeo', 'unshare', 'dpkg-query') || !needRoot(t)) return;
  const expected = installedSkopeoVersion();
  const binary = join(fakes, 'real-skopeo-isolated');
  const minVersion = `${semver.major(expected)}.${semver.minor(expected)}.0`;
  const ok = await runCheck({ binaries: [binary], minVersion });
  assert.equal(ok.status, 'ok', ok.summary);
  assert.equal(binaries(ok)[0].policySatisfied, true);
  assert.deepEqual(ok.reasons, []);

  const denied = await runCheck({ binaries: [binary], minVersion, deny: [`~${minVersion}`] });
  assert.equal(denied.status, 'critical');
  assert.deepEqual(
    denied.reasons.map((r) => r.code),
    ['skopeo-denied'],
  );
});

test('fake outputs: 0.1.x, commit suffix, -dev; one result per binary', async () => {
  const result = await runCheck(
    {
      binaries: ['skopeo-0.1.40-urfave', 'skopeo-1.14.0-with-commit', 'skopeo-1.22.0-dev'],
    },
    fakes,
  );
  const reports = binaries(result);
  assert.equal(reports.length, 3);
  assert.deepEqual(
    reports.map((r) => [r.version, r.cacheFormat, r.policySatisfied]),
    [
      ['0.1.40', 'boltdb', false],
      ['1.14.0', 'sqlite', true],
      ['1.22.0-dev', 'sqlite', true],
    ],
  );
  assert.equal(reports[1].commit, '2a8a5f7e1c3d9b0f4e6a8c2d1b3f5e7a9c0d2e4f');
  assert.equal(reports[0].path, join(fakes, 'skopeo-0.1.40-urfave'));
  assert.equal(result.status, 'critical');
  assert.deepEqual(
    result.reasons.map((r) => r.code),
    ['skopeo-below-minimum'],
  );
});

test('a prerelease inside a denied range is caught', async () => {
  const result = await runCheck({ binaries: ['skopeo-1.22.0-dev'], deny: ['1.22.x'] }, fakes);
  assert.equal(result.status, 'critical');
  assert.deepEqual(
    result.reasons.map((r) => r.code),
    ['skopeo-denied'],
  );
});

test('garbage output is unparseable', async () => {
  const result = await runCheck({ binaries: ['skopeo-garbage-output'] }, fakes);
  assert.equal(result.status, 'critical');
  assert.deepEqual(
    result.reasons.map((r) => r.code),
    ['skopeo-unparseable'],
  );
  assert.equal(binaries(result)[0].version, null);
});

test('missing and non-executable binaries are told apart', async () => {
  const result = await runCheck(
    {
      binaries: [
        'skopeo-not-executable',
        join(fakes, 'no-such-skopeo'),
        'no-such-skopeo',
        join(fakes, 'skopeo-not-executable'),
      ],
    },
    fakes,
  );
  assert.equal(result.status, 'critical');
  assert.deepEqual(
    result.reasons.map((r) => r.code),
    ['skopeo-not-executable', 'skopeo-missing', 'skopeo-missing', 'skopeo-not-executable'],
  );
  assert.equal(binaries(result)[2].path, null);
});

test('a hung skopeo that ignores SIGTERM is killed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skopeo-hang-'));
  const pidFile = join(dir, 'pid');
  process.env.FAKE_SKOPEO_PIDFILE = pidFile;
  try {
    const result = await runCheck({ binaries: ['skopeo-hangs-ignoring-sigterm'], timeoutSeconds: 1 }, fakes);
    assert.equal(result.status, 'critical');
    assert.deepEqual(
      result.reasons.map((r) => r.code),
      ['skopeo-hung'],
    );
    assert.ok(existsSync(pidFile), 'the fake never started');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    // SIGKILL and the reaping are asynchronous: give them a moment, without timing anything.
    for (let i = 0; i < 100; i += 1) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the hung process is still alive');
  } finally {
    delete process.env.FAKE_SKOPEO_PIDFILE;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the runner aborting the check stops a hung skopeo', async () => {
  const check = createSkopeoCheck(
    { ...defaults, binaries: ['skopeo-hangs-ignoring-sigterm'], timeoutSeconds: 60 },
    { searchPath: fakes },
  );
  const controller = new AbortController();
  const pending = check.run({ signal: controller.signal, now: () => new Date() });
  setTimeout(() => controller.abort(), 200);
  const result = await pending;
  assert.deepEqual(
    result.reasons.map((r) => r.code),
    ['skopeo-hung'],
  );
});

test('a skopeo that exits non-zero fails with its stderr', async () => {
  const result = await runCheck({ binaries: ['skopeo-broken-library'] }, fakes);
  assert.equal(result.status, 'critical');
  assert.deepEqual(
    result.reasons.map((r) => r.code),
    ['skopeo-failed'],
  );
  assert.match(result.reasons[0].message, /exit code 127.*libgpgme/);
});

test('the default policy advises and never refuses: below recommendedVersion is a warning, policy still satisfied', async (t) => {
  const advice = await runCheck(
    { binaries: ['skopeo-0.1.40-urfave'], minVersion: null, recommendedVersion: '1.14.0' },
    fakes,
  );
  assert.equal(advice.status, 'warning');
  assert.deepEqual(
    advice.reasons.map((r) => r.code),
    ['skopeo-below-recommended'],
  );
  assert.equal(binaries(advice)[0].policySatisfied, true);
  const current = await runCheck(
    { binaries: ['skopeo-1.14.0-with-commit'], minVersion: null, recommendedVersion: '1.14.0' },
    fakes,
  );
  assert.equal(current.status, 'ok');
  // The real skopeo 1.9.3 of a CentOS 7-like host under the built-in defaults.
  if (!needTools(t, 'skopeo', 'unshare', 'dpkg-query') || !needRoot(t)) return;
  const real = await runCheck({
    binaries: [join(fakes, 'real-skopeo-isolated')],
    minVersion: null,
    recommendedVersion: '1.14.0',
  });
  assert.notEqual(real.status, 'critical', real.summary);
});

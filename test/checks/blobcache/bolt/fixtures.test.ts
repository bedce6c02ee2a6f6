// Every committed bolt fixture through the real CLI (`cache check --json`): the verdict its
// manifest names, the JSON shape of the conventions, and the exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../../../..');
const fixtureDir = join(root, 'test/fixtures/bolt');
const manifest = JSON.parse(readFileSync(join(fixtureDir, 'fixtures.json'), 'utf8')) as {
  file: string;
  verdict: string;
  warning: boolean;
}[];

function cli(args: string[]) {
  return spawnSync(process.execPath, [join(root, 'agent/bin.ts'), ...args], { encoding: 'utf8' });
}

test('every fixture gets the verdict its manifest names', () => {
  assert.ok(manifest.length >= 10);
  const r = cli(['cache', 'check', '--json', ...manifest.map((m) => join(fixtureDir, m.file))]);
  const verdicts = JSON.parse(r.stdout) as {
    path: string;
    verdict: string;
    format: string;
    warnings: unknown[];
    problems: { code: string; message: string }[];
    stats: object;
    durationMs: number;
  }[];
  assert.equal(verdicts.length, manifest.length);
  manifest.forEach((m, i) => {
    const v = verdicts[i];
    assert.equal(v.path, join(fixtureDir, m.file));
    assert.equal(v.verdict, m.verdict, `${m.file}: ${JSON.stringify(v.problems.slice(0, 2))}`);
    assert.equal(v.warnings.length > 0, m.warning, `${m.file} warnings ${JSON.stringify(v.warnings)}`);
    assert.equal(typeof v.durationMs, 'number');
    assert.ok(['boltdb', 'empty', 'unknown'].includes(v.format));
    for (const p of v.problems) assert.match(p.code, /^[a-z0-9]+(-[a-z0-9]+)*$/);
  });
  const anyCorrupt = manifest.some((m) => m.verdict === 'corrupt');
  assert.equal(r.status, anyCorrupt ? 1 : 0);
});

test('exit codes: 0 healthy, 1 corrupt, 2 usage, 4 unreadable (no verdict)', () => {
  assert.equal(cli(['cache', 'check', join(fixtureDir, 'skopeo-1.9.3-healthy.boltdb')]).status, 0);
  const corrupt = cli(['cache', 'check', join(fixtureDir, 'skopeo-1.9.3-bucket-root-is-freelist.boltdb')]);
  assert.equal(corrupt.status, 1);
  assert.match(corrupt.stdout, /CORRUPT .*page-type-invalid.*invalid page type: \d+: 10/s);
  assert.equal(cli(['cache', 'check', join(fixtureDir, 'does-not-exist')]).status, 4);
  assert.equal(cli(['cache', 'check']).status, 2);
  assert.equal(cli(['cache', 'check', '--bogus', 'x']).status, 2);
  const single = JSON.parse(
    execFileSync(
      process.execPath,
      [join(root, 'agent/bin.ts'), 'cache', 'check', '--json', join(fixtureDir, 'zero-length.boltdb')],
      { encoding: 'utf8' },
    ),
  );
  assert.equal(single.verdict, 'healthy');
  assert.equal(single.format, 'empty');
});

test('cache inspect shows c/image buckets on a real skopeo cache, problems on a damaged one', () => {
  const ok = cli(['cache', 'inspect', '--json', join(fixtureDir, 'skopeo-1.9.3-healthy.boltdb')]);
  assert.equal(ok.status, 0);
  const tree = JSON.parse(ok.stdout).tree as { name: string; holds?: string; keys: number }[];
  const names = tree.map((n) => n.name);
  for (const b of ['knownLocations', 'uncompressedDigest', 'digestByUncompressed'])
    assert.ok(names.includes(b), names.join(','));
  assert.ok(tree.find((n) => n.name === 'knownLocations')!.holds);
  const bad = cli(['cache', 'inspect', join(fixtureDir, 'skopeo-1.9.3-bucket-root-is-freelist.boltdb')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /page-type-invalid/);
  assert.equal(bad.stderr.includes('panic'), false);
});

test('every verb answers --help with exit 0', () => {
  for (const verb of [['cache', 'check'], ['cache', 'inspect'], ['version']]) {
    const r = cli([...verb, '--help']);
    assert.equal(r.status, 0, verb.join(' '));
    assert.match(r.stdout, /Usage: buildfleet-agent/);
  }
});

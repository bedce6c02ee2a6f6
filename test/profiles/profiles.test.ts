// Every host profile (profiles.ts) gives its written decision: built in a private mount
// namespace, judged by the real CLI (`check --json`, `cache quarantine --json`) with the real
// skopeo 1.9.3. Needs root and unshare; CI has both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { profiles, type Expected } from './profiles.ts';
import { needRoot, needTools } from '../support/tools.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function judge(run: Run, expected: Expected, what: string): void {
  const exit = expected.decision === 'accept' ? 0 : 1;
  assert.equal(run.status, exit, `${what}: exit ${run.status}\n${run.stderr}\n${run.stdout.slice(0, 2000)}`);
  const p = JSON.parse(run.stdout);
  assert.equal(p.decision, expected.decision, `${what}: ${JSON.stringify(p.reasons)}`);
  assert.deepEqual(
    p.reasons.map((r: { code: string }) => r.code),
    expected.reasons,
    `${what}: ${JSON.stringify(p.reasons)}`,
  );
  const cache = p.checks.find((c: { name: string }) => c.name === 'blobinfocache');
  assert.equal(
    cache.status,
    expected.blobinfocache,
    `${what}: ${cache.summary} ${JSON.stringify(cache.details.caches?.map((c: { path: string; effectiveVerdict: string }) => [c.path, c.effectiveVerdict]))}`,
  );
}

for (const profile of profiles) {
  test(`host profile ${profile.name}: ${profile.what}`, (t) => {
    if (!needRoot(t) || !needTools(t, 'unshare', 'mount', 'skopeo', ...(profile.oldNode ? ['/usr/bin/node'] : [])))
      return;
    const r = spawnSync(
      'unshare',
      ['-m', '--propagation', 'private', '--', process.execPath, join(here, 'in-namespace.ts'), profile.name],
      {
        encoding: 'utf8',
        timeout: 240_000,
        cwd: repoRoot,
      },
    );
    assert.equal(r.status, 0, `${profile.name}: ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    if (profile.oldNode) {
      assert.equal(out.check.status, 2, out.check.stderr);
      assert.equal(out.check.stdout, '');
      assert.equal(out.check.stderr.trim().split('\n').length, 1, out.check.stderr);
      assert.match(out.check.stderr, /^buildfleet-agent: Node\.js v\d+/);
      assert.deepEqual(out.stateDirEntries, [], 'nothing written');
      return;
    }
    judge(out.check, profile.expect, `${profile.name} check`);
    if (profile.quarantine) {
      const q = profile.quarantine;
      assert.equal(
        out.quarantine.status,
        0,
        `${profile.name} quarantine: ${out.quarantine.stderr}\n${out.quarantine.stdout}`,
      );
      for (const moved of q.moved) {
        assert.equal(out.after[moved], null, `${moved} moved away`);
        assert.equal(out.movedTo[moved].length, 1, JSON.stringify(out.movedTo));
        assert.equal(out.movedTo[moved][0].uid, out.before[moved].uid, 'owner kept');
      }
      for (const kept of q.untouched) assert.deepEqual(out.after[kept], out.before[kept], `${kept} untouched`);
      judge(out.checkAfter, q.after, `${profile.name} check after quarantine`);
    }
  });
}

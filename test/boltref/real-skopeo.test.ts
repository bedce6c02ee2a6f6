// Real skopeo 1.9.3 against the fixtures, inside a private mount namespace, pushing to a real
// registry on 127.0.0.1: the panic fixture reproduces the field crash, a healthy copy works,
// and the machine's own /var/lib/containers/cache is never touched.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { referenceCheck } from '../support/boltref.ts';
import { writeOciImage, type OciImage } from '../support/oci-image.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { boltCacheFile, runSkopeo, systemCacheDir } from '../support/skopeo.ts';
import { hasTool, needRoot, needTools, toolsRequired } from '../support/tools.ts';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bolt');
const scratch = mkdtempSync(join(tmpdir(), 'boltref-skopeo-test-'));
const peersPresent = ['skopeo', 'docker-registry', 'unshare'].every(hasTool) && process.getuid?.() === 0;

// What the machine's own cache looks like: entries with size and mtime.
function snapshotSystemCache(): string {
  if (!existsSync(systemCacheDir)) return 'absent';
  return readdirSync(systemCacheDir)
    .sort()
    .map((name) => {
      const s = statSync(join(systemCacheDir, name));
      return `${name}:${s.size}:${s.mtimeMs}`;
    })
    .join(',');
}

describe('real skopeo 1.9.3 on the fixtures', () => {
  let registry: RunningRegistry | undefined;
  let image: OciImage;
  const systemCacheBefore = snapshotSystemCache();

  before(async () => {
    if (!peersPresent && !toolsRequired) return;
    registry = await startRegistry();
    image = writeOciImage(join(scratch, 'image'), { seed: 42, layers: 2 });
  });
  after(async () => {
    await registry?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  function cacheWith(fixture: string): string {
    const cacheDir = mkdtempSync(join(scratch, 'cache-'));
    copyFileSync(join(fixtureDir, fixture), boltCacheFile(cacheDir));
    return cacheDir;
  }

  test('the bucket-root-is-freelist fixture makes skopeo panic the field way', async (t) => {
    if (!needTools(t, 'skopeo', 'docker-registry', 'unshare') || !needRoot(t) || !registry) return;
    const cacheDir = cacheWith('skopeo-1.9.3-bucket-root-is-freelist.boltdb');
    const r = await runSkopeo(
      ['copy', '--dest-tls-verify=false', image.reference, `docker://${registry.host}/panic/app:v1`],
      { cacheDir },
    );
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 2, r.stderr);
    // "panic: invalid page type: <freelist page id>: 10" (10 = hex of the freelist flag 0x10)
    assert.match(r.stderr, /^panic: invalid page type: \d+: 10$/m, r.stderr);
  });

  test('a healthy copy of the same cache works and stays clean', async (t) => {
    if (!needTools(t, 'skopeo', 'docker-registry', 'unshare', 'go', 'prlimit') || !needRoot(t) || !registry) return;
    const cacheDir = cacheWith('skopeo-1.9.3-healthy.boltdb');
    const r = await runSkopeo(
      ['copy', '--dest-tls-verify=false', image.reference, `docker://${registry.host}/healthy/app:v1`],
      { cacheDir },
    );
    assert.equal(r.code, 0, r.stderr);
    const verdict = await referenceCheck(boltCacheFile(cacheDir));
    assert.equal(verdict.kind, 'clean', JSON.stringify(verdict));
  });

  test('parallel skopeo copies into one scratch cache leave a clean file', async (t) => {
    if (!needTools(t, 'skopeo', 'docker-registry', 'unshare', 'go', 'prlimit') || !needRoot(t) || !registry) return;
    const reg = registry;
    const cacheDir = mkdtempSync(join(scratch, 'cache-'));
    const images = [1, 2, 3].map((seed) => writeOciImage(join(scratch, `parallel${seed}`), { seed: 100 + seed }));
    const results = await Promise.all(
      images.map((im, i) =>
        runSkopeo(['copy', '--dest-tls-verify=false', im.reference, `docker://${reg.host}/parallel/app${i}:v1`], {
          cacheDir,
        }),
      ),
    );
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const verdict = await referenceCheck(boltCacheFile(cacheDir));
    assert.equal(verdict.kind, 'clean', JSON.stringify(verdict));
  });

  test("the machine's own cache directory was never touched", (t) => {
    if (!needRoot(t)) return;
    assert.equal(snapshotSystemCache(), systemCacheBefore);
    assert.equal(existsSync(join(systemCacheDir, 'blob-info-cache-v1.boltdb')), false);
  });
});

test('OCI image layouts are deterministic from the seed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'boltref-oci-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = writeOciImage(join(dir, 'a'), { seed: 5, layers: 3 });
  const b = writeOciImage(join(dir, 'b'), { seed: 5, layers: 3 });
  const c = writeOciImage(join(dir, 'c'), { seed: 6, layers: 3 });
  assert.equal(a.manifestDigest, b.manifestDigest);
  assert.notEqual(a.manifestDigest, c.manifestDigest);
  assert.equal(a.layerDigests.length, 3);
});

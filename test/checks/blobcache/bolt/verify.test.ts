// The bolt verifier on real bbolt files (built by Debian's bbolt 1.3.6 through test/boltref)
// with one named kind of damage each; plus the edge cases of the verdict contract.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBoltFileSync } from '../../../../checks/blobcache/bolt/verify-file.ts';
import { verifyBoltSource } from '../../../../checks/blobcache/bolt/verify.ts';
import { bufferReadAt } from '../../../../checks/blobcache/file-source.ts';
import { referenceCheck } from '../../../support/boltref.ts';
import { buildDamageBases, seededRandom, targetedDamages, type DamageBase } from '../../../support/bolt-damage.ts';
import { hasTool, toolsRequired } from '../../../support/tools.ts';

const haveGo = hasTool('go');
if (!haveGo && toolsRequired) throw new Error('go is required (BUILDFLEET_REQUIRE_TOOLS=1)');

let dir = '';
const bases: DamageBase[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bolt-verify-'));
  if (!haveGo) return;
  bases.push(
    ...(await buildDamageBases(dir, [
      ['cimage-4k', { seed: 1, images: 150, pageSize: 4096 }],
      ['cimage-16k', { seed: 2, images: 300, pageSize: 16384 }],
    ])),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

function verifyBytes(bytes: Buffer) {
  return verifyBoltSource(bufferReadAt(bytes), bytes.length, { maxAttempts: 1 });
}

test('healthy c/image-layout files are healthy, with the counts bbolt reads', { skip: !haveGo }, async () => {
  for (const base of bases) {
    const path = join(dir, `${base.name}.boltdb`);
    const ours = verifyBoltFileSync(path);
    const ref = await referenceCheck(path);
    assert.equal(ref.kind, 'clean');
    assert.equal(ours.verdict, 'healthy', JSON.stringify(ours.problems));
    assert.equal(ours.format, 'boltdb');
    assert.deepEqual(ours.problems, []);
    assert.equal(ours.stats.keys, ref.keys, 'keys');
    assert.equal(ours.stats.buckets, ref.buckets, 'buckets');
    assert.equal(ours.stats.pageSize, base.layout.pageSize);
  }
});

for (const damage of targetedDamages) {
  test(`damage ${damage.name} → ${damage.expect}`, { skip: !haveGo }, () => {
    let applied = 0;
    for (const base of bases) {
      for (let seed = 1; seed <= 3; seed++) {
        const bytes = damage.apply(base.bytes, base.layout, seededRandom(seed));
        if (!bytes) continue;
        applied++;
        const v = verifyBytes(bytes);
        const codes = v.problems.map((p) => p.code);
        if (damage.expect.startsWith('healthy:')) {
          assert.equal(v.verdict, 'healthy', `${base.name}: ${JSON.stringify(v.problems)}`);
          assert.ok(
            v.warnings.some((w) => w.code === damage.expect.slice(8)),
            JSON.stringify(v.warnings),
          );
        } else {
          assert.equal(v.verdict, 'corrupt', `${base.name} seed ${seed}`);
          assert.ok(
            (codes as string[]).includes(damage.expect),
            `${base.name} seed ${seed}: expected ${damage.expect}, got ${codes.join(',')}`,
          );
        }
      }
    }
    assert.ok(applied > 0, 'the damage found a place in at least one base file');
  });
}

test('the field panic: a bucket root on the freelist page names the page and flags 0x10', { skip: !haveGo }, () => {
  const base = bases[0];
  const damage = targetedDamages.find((d) => d.name === 'bucket-root-is-freelist')!;
  const v = verifyBytes(damage.apply(base.bytes, base.layout, seededRandom(1))!);
  const p = v.problems.find((x) => x.code === 'page-type-invalid')!;
  assert.equal(p.page, base.layout.freelistPage);
  assert.match(p.message, new RegExp(`invalid page type: ${base.layout.freelistPage}: 10`));
});

test('a zero-length file is healthy with a warning', () => {
  const path = join(dir, 'empty.boltdb');
  writeFileSync(path, '');
  const v = verifyBoltFileSync(path);
  assert.equal(v.verdict, 'healthy');
  assert.equal(v.format, 'empty');
  assert.deepEqual(
    v.warnings.map((w) => w.code),
    ['empty-file'],
  );
});

test('a file that is neither bolt nor SQLite is corrupt: not-a-cache', () => {
  const bytes = Buffer.alloc(20000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
  const v = verifyBytes(bytes);
  assert.equal(v.verdict, 'corrupt');
  assert.equal(v.format, 'unknown');
  assert.deepEqual(
    v.problems.map((p) => p.code),
    ['not-a-cache'],
  );
});

test('a bolt file shorter than a page is corrupt: file-too-small', { skip: !haveGo }, () => {
  const v = verifyBytes(bases[0].bytes.subarray(0, 3000));
  assert.equal(v.verdict, 'corrupt');
  assert.ok(v.problems.some((p) => p.code === 'file-too-small'));
});

test('missing file, directory and symlink are unreadable, with the reason', () => {
  assert.equal(verifyBoltFileSync(join(dir, 'nope')).problems[0].code, 'not-found');
  mkdirSync(join(dir, 'd'));
  assert.equal(verifyBoltFileSync(join(dir, 'd')).problems[0].code, 'not-a-file');
  writeFileSync(join(dir, 'target'), 'x');
  symlinkSync(join(dir, 'target'), join(dir, 'link'));
  const v = verifyBoltFileSync(join(dir, 'link'));
  assert.equal(v.verdict, 'unreadable');
  assert.equal(v.problems[0].code, 'symlink');
});

test('problems are capped and counted, not unbounded', { skip: !haveGo }, () => {
  const base = bases[0];
  // Drop the whole freelist: every free page becomes "unreachable unfreed".
  const b = Buffer.from(base.bytes);
  b.writeUInt16LE(0, base.layout.freelistPage * base.layout.pageSize + 10);
  const v = verifyBoltSource(bufferReadAt(b), b.length, { maxAttempts: 1, limits: { maxProblems: 5 } });
  assert.equal(v.verdict, 'corrupt');
  assert.equal(v.problems.length, 6);
  assert.equal(v.problems[5].code, 'more-problems');
});

// Differential test: many real bbolt databases with random damage, our verdict against the
// reference (Debian's bbolt 1.3.6: tx.Check() plus a full read of every bucket, run by
// test/boltref as a child with a timeout and a memory cap).
//
// Rules:
// - where the reference reports a problem, panics, faults, runs out of memory or time, or cannot
//   open the file, we must not say healthy;
// - where it finds nothing, reads every key and finds them in order, we must not say corrupt —
//   except for damage bbolt 1.3.6 does not look at, each named in `blindSpotsOf136` with why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBoltFileSync } from '../../../../checks/blobcache/bolt/verify-file.ts';
import { referenceCheck, type ReferenceVerdict } from '../../../support/boltref.ts';
import { buildDamageBases, randomDamage, seededRandom, type DamageBase } from '../../../support/bolt-damage.ts';
import { hasTool, toolsRequired } from '../../../support/tools.ts';

const haveGo = hasTool('go');
if (!haveGo && toolsRequired) throw new Error('go is required (BUILDFLEET_REQUIRE_TOOLS=1)');

const casesPerBase = Number(process.env.BOLT_DIFF_CASES ?? 70);

// Problem codes we report on damage that bbolt 1.3.6's check and a full cursor read do not see.
const blindSpotsOf136: Record<string, string> = {
  'branch-key-order':
    "separator keys out of order inside a branch page: bbolt 1.4's check reports it, 1.3.6 does not look; a cursor walk still reads every leaf in order, keyed lookups misroute",
  'key-out-of-range':
    "branch separator keys vs their child's keys: bbolt 1.4's check reports it (tx_check.go key order), 1.3.6 does not look; lookups of keys below a wrong separator miss",
  'element-out-of-page':
    'key/value bytes outside the page: bbolt reads whatever bytes follow in the mmap (the neighbouring page) and, if they happen to sort, notices nothing',
  'element-count-invalid':
    'an element count larger than the page: same as above, bbolt reads the neighbouring page as elements',
  'freelist-entry-out-of-range':
    "freelist ids at or past the high-water mark, or 0/1: 1.3.6's check never compares freelist ids with the high-water mark; a writer would later hand out those pages",
  'freelist-duplicate':
    'only when the duplicated id is past the end of the file: bbolt counts it, we skip pages that do not exist',
  'page-flags-ambiguous':
    'page flags with a node type bit plus other bits: 1.3.6 tests bits with AND and reads the page, 1.3.7+ (newer skopeo builds) require exact flags and panic',
  'page-id-wraps':
    'a page id with damaged high bits: 1.3.6 computes id × pageSize in 64 bits, wraps onto the right page and reads on; 1.3.7+ compares the header id and panics',
  'file-truncated':
    "pages between the end of the file and the high-water mark that are not free: bbolt's check trusts the high-water mark without looking at the file size",
};

const notClean = new Set(['problems', 'panic', 'fault', 'timeout', 'oom', 'open-error']);

let dir = '';
const bases: DamageBase[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bolt-diff-'));
  if (!haveGo) return;
  bases.push(
    ...(await buildDamageBases(dir, [
      ['cimage-4k', { seed: 11, images: 120, pageSize: 4096 }],
      ['cimage-16k', { seed: 12, images: 250, pageSize: 16384 }],
      ['cimage-4k-overflow', { seed: 13, images: 60, pageSize: 4096, largeValues: 12 }],
    ])),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

test(
  'random damage: our verdict agrees with bbolt 1.3.6 (check + full read)',
  { skip: !haveGo, timeout: 600_000 },
  async () => {
    const tally: Record<string, number> = {};
    const exceptions: Record<string, number> = {};
    let cases = 0;
    for (const base of bases) {
      const rng = seededRandom(base.name.length * 7919 + 1);
      for (let i = 0; i < casesPerBase; i++) {
        const damage = randomDamage(base.bytes, base.layout, rng);
        const path = join(dir, `case-${base.name}-${i}.boltdb`);
        writeFileSync(path, damage.bytes);
        const ref: ReferenceVerdict = await referenceCheck(path, { timeoutMs: 5000, memoryMB: 256 });
        const ours = verifyBoltFileSync(path);
        const label = `${base.name} case ${i} (${damage.name}): reference ${ref.kind} ${JSON.stringify(ref.checkErrors.slice(0, 3))} ${ref.fullRead ?? ''}; ours ${ours.verdict} ${JSON.stringify(ours.problems.slice(0, 3))}`;
        assert.notEqual(ref.kind, 'tool-error', label);
        assert.ok(ours.verdict === 'healthy' || ours.verdict === 'corrupt', label);
        tally[`${ref.kind}/${ours.verdict}`] = (tally[`${ref.kind}/${ours.verdict}`] ?? 0) + 1;
        if (notClean.has(ref.kind)) {
          assert.notEqual(ours.verdict, 'healthy', `reference found damage we missed: ${label}`);
        } else if (ours.verdict === 'corrupt') {
          const unexplained = ours.problems.filter((p) => p.code !== 'more-problems' && !(p.code in blindSpotsOf136));
          assert.deepEqual(unexplained, [], `we call corrupt what bbolt reads cleanly: ${label}`);
          for (const p of ours.problems) exceptions[p.code] = (exceptions[p.code] ?? 0) + 1;
        }
        rmSync(path);
        cases++;
      }
    }
    console.log(
      `differential: ${cases} cases; reference/ours ${JSON.stringify(tally)}; 1.3.6 blind spots ${JSON.stringify(exceptions)}`,
    );
    assert.ok(cases >= bases.length * casesPerBase);
    // The sample must exercise both sides of the comparison.
    assert.ok(
      Object.keys(tally).some((k) => k.startsWith('clean/')),
      'some damage left the file clean for bbolt',
    );
    assert.ok(
      Object.keys(tally).some((k) => !k.startsWith('clean/')),
      'some damage made bbolt fail',
    );
  },
);

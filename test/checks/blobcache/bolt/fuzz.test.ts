// Fuzzing the bolt verifier with mutations of the committed fixtures: no exception escapes, the
// verdict is always one of the contract's, and each file is judged within a bound (the bound
// is about "never hangs", not speed: speed lives in bench/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyBoltSource } from '../../../../checks/blobcache/bolt/verify.ts';
import { bufferReadAt } from '../../../../checks/blobcache/file-source.ts';
import { seededRandom } from '../../../support/bolt-damage.ts';

const fixtureDir = join(import.meta.dirname, '../../../fixtures/bolt');
const iterations = Number(process.env.BOLT_FUZZ_ITERATIONS ?? 1500);
const perFileBoundMs = 2000;

function mutate(src: Buffer, rng: () => number): Buffer {
  const int = (n: number): number => Math.floor(rng() * n);
  const pageSize = src.length >= 4096 ? 4096 : 512;
  let b = Buffer.from(src);
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds && b.length > 0; r++) {
    switch (int(7)) {
      case 0: // flip bits anywhere
        for (let i = 0, n = 1 + int(16); i < n; i++) b[int(b.length)] ^= 1 << int(8);
        break;
      case 1: {
        // an interesting u64 at an 8-aligned offset (pgids, counts, sizes)
        const values = [
          0n,
          1n,
          2n,
          3n,
          0xffffn,
          0xffffffffn,
          0x7fffffffffffffffn,
          0xffffffffffffffffn,
          BigInt(int(64)),
        ];
        const at = int(Math.max(1, b.length - 8)) & ~7;
        if (at + 8 <= b.length) b.writeBigUInt64LE(values[int(values.length)], at);
        break;
      }
      case 2: {
        // a page header field: flags, count or overflow
        const page = int(Math.max(1, Math.floor(b.length / pageSize)));
        const at = page * pageSize + [8, 10, 12][int(3)];
        if (at + 4 <= b.length) b.writeUInt16LE([0, 1, 2, 3, 4, 0x10, 0xffff, int(0x10000)][int(8)], at);
        break;
      }
      case 3: // truncate
        b = b.subarray(0, int(b.length + 1));
        break;
      case 4: // append garbage pages
        b = Buffer.concat([b, Buffer.alloc(pageSize * (1 + int(3)), int(256))]);
        break;
      case 5: {
        // copy one page over another
        const pages = Math.floor(b.length / pageSize);
        if (pages >= 2) b.copy(b, int(pages) * pageSize, int(pages) * pageSize, int(pages) * pageSize + pageSize);
        break;
      }
      default: {
        // an element field: pos/ksize/vsize of some element of some page
        const page = int(Math.max(1, Math.floor(b.length / pageSize)));
        const at = page * pageSize + 16 + int(8) * 16 + 4 * int(4);
        if (at + 4 <= b.length) b.writeUInt32LE([0, 1, 0x7fffffff, 0xffffffff, pageSize, int(1 << 20)][int(6)], at);
      }
    }
  }
  return b;
}

test(`${iterations} mutated fixtures: no exception, a contract verdict, bounded time`, { timeout: 300_000 }, () => {
  const fixtures = readdirSync(fixtureDir)
    .filter((f) => f.endsWith('.boltdb'))
    .map((f) => readFileSync(join(fixtureDir, f)));
  assert.ok(fixtures.length > 5);
  const rng = seededRandom(20261128);
  const verdicts: Record<string, number> = {};
  let slowest = 0;
  for (let i = 0; i < iterations; i++) {
    const input = mutate(fixtures[i % fixtures.length], rng);
    const started = performance.now();
    let v;
    try {
      v = verifyBoltSource(bufferReadAt(input), input.length, { maxAttempts: 1 });
    } catch (err) {
      assert.fail(`iteration ${i}: exception escaped: ${(err as Error).stack}`);
    }
    const took = performance.now() - started;
    slowest = Math.max(slowest, took);
    assert.ok(took < perFileBoundMs, `iteration ${i} took ${took} ms`);
    assert.ok(['healthy', 'corrupt'].includes(v.verdict), `iteration ${i}: ${v.verdict}`);
    if (v.verdict === 'corrupt') assert.ok(v.problems.length > 0);
    verdicts[v.verdict] = (verdicts[v.verdict] ?? 0) + 1;
  }
  console.log(`fuzz: ${iterations} inputs, verdicts ${JSON.stringify(verdicts)}, slowest ${slowest.toFixed(1)} ms`);
  assert.ok((verdicts.corrupt ?? 0) > iterations / 2, 'mutations mostly damage');
});

// Damage aimed at exact bytes of a healthy bolt file (located with boltref's `layout`), named
// by what is wrong. Each returns a damaged copy, or null when the file has no place for it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fnv1a64 } from '../../checks/blobcache/bolt/format.ts';
import { boltLayout, buildBoltDb, type BoltLayout, type BoltPageInfo, type BuildBoltDbOptions } from './boltref.ts';

export interface Damage {
  name: string;
  // The problem code our verifier must report ('healthy:<warning>' for benign damage).
  expect: string;
  apply: (bytes: Buffer, layout: BoltLayout, rng: () => number) => Buffer | null;
}

const u64 = (b: Buffer, at: number, v: number): void => {
  b.writeBigUInt64LE(BigInt(v), at);
};

function pick<T>(items: readonly T[], rng: () => number): T | null {
  return items.length === 0 ? null : items[Math.floor(rng() * items.length)];
}

function pagesOf(layout: BoltLayout, pred: (p: BoltPageInfo) => boolean): BoltPageInfo[] {
  return layout.pages.filter(pred);
}

function pageOffset(layout: BoltLayout, id: number): number {
  return id * layout.pageSize;
}

// Rewrites a meta field and its checksum, as a (buggy) writer would have committed it.
function rewriteMeta(b: Buffer, layout: BoltLayout, slot: number, fieldOffset: number, value: number): void {
  const at = slot * layout.pageSize + 16;
  u64(b, at + fieldOffset, value);
  b.writeBigUInt64LE(fnv1a64(b.subarray(at, at + 56)), at + 56);
}

function leafKeyPos(b: Buffer, pageAt: number, i: number): { keyAt: number; ksize: number; elemAt: number } {
  const elemAt = pageAt + 16 + i * 16;
  return { elemAt, keyAt: elemAt + b.readUInt32LE(elemAt + 4), ksize: b.readUInt32LE(elemAt + 8) };
}

function branchKeyPos(b: Buffer, pageAt: number, i: number): { keyAt: number; ksize: number } {
  const elemAt = pageAt + 16 + i * 16;
  return { keyAt: elemAt + b.readUInt32LE(elemAt), ksize: b.readUInt32LE(elemAt + 4) };
}

export const targetedDamages: Damage[] = [
  {
    name: 'bucket-root-is-freelist',
    expect: 'page-type-invalid',
    apply: (src, l, rng) => {
      const p = pick(
        pagesOf(l, (x) => x.refKind === 'bucket-root'),
        rng,
      );
      if (!p) return null;
      const b = Buffer.from(src);
      u64(b, p.refAt, l.freelistPage);
      return b;
    },
  },
  {
    name: 'branch-child-is-freelist',
    expect: 'page-type-invalid',
    apply: (src, l, rng) => {
      const p = pick(
        pagesOf(l, (x) => x.refKind === 'branch-child'),
        rng,
      );
      if (!p) return null;
      const b = Buffer.from(src);
      u64(b, p.refAt, l.freelistPage);
      return b;
    },
  },
  {
    name: 'meta-root-is-freelist',
    expect: 'page-type-invalid',
    apply: (src, l) => {
      const b = Buffer.from(src);
      rewriteMeta(b, l, l.chosen, 16, l.freelistPage);
      return b;
    },
  },
  {
    name: 'branch-child-shared',
    expect: 'page-multiply-referenced',
    apply: (src, l) => {
      const kids = pagesOf(l, (x) => x.refKind === 'branch-child');
      const a = kids.find((k) => kids.some((o) => o.refFrom === k.refFrom && o.refElem === k.refElem + 1));
      if (!a) return null;
      const sib = kids.find((o) => o.refFrom === a.refFrom && o.refElem === a.refElem + 1)!;
      const b = Buffer.from(src);
      u64(b, sib.refAt, a.id);
      return b;
    },
  },
  {
    name: 'branch-child-points-at-ancestor',
    expect: 'page-multiply-referenced',
    apply: (src, l, rng) => {
      const p = pick(
        pagesOf(l, (x) => x.refKind === 'branch-child'),
        rng,
      );
      if (!p) return null;
      const b = Buffer.from(src);
      u64(b, p.refAt, p.refFrom); // a cycle: the branch becomes its own child
      return b;
    },
  },
  {
    name: 'branch-child-beyond-hwm',
    expect: 'page-out-of-bounds',
    apply: (src, l, rng) => {
      const p = pick(
        pagesOf(l, (x) => x.refKind === 'branch-child'),
        rng,
      );
      if (!p) return null;
      const b = Buffer.from(src);
      u64(b, p.refAt, l.metas[l.chosen].hwm + 3);
      return b;
    },
  },
  {
    name: 'truncated-before-reachable-pages',
    expect: 'page-beyond-eof',
    apply: (src, l) => {
      const top = Math.max(...l.pages.map((p) => p.id + p.overflow));
      return Buffer.from(src.subarray(0, pageOffset(l, top)));
    },
  },
  {
    name: 'leaf-page-zeroed',
    expect: 'page-type-invalid',
    apply: (src, l, rng) => {
      const p = pick(
        pagesOf(l, (x) => x.type === 'leaf' && x.refKind !== 'meta-root'),
        rng,
      );
      if (!p) return null;
      const b = Buffer.from(src);
      b.fill(0, pageOffset(l, p.id), pageOffset(l, p.id) + l.pageSize);
      return b;
    },
  },
  {
    name: 'page-header-id-wrong',
    expect: 'page-id-mismatch',
    apply: (src, l, rng) => {
      const p = pick(
        pagesOf(l, (x) => x.type === 'leaf'),
        rng,
      );
      if (!p) return null;
      const b = Buffer.from(src);
      u64(b, pageOffset(l, p.id), p.id + 1000);
      return b;
    },
  },
  {
    name: 'leaf-element-pos-outside-page',
    expect: 'element-out-of-page',
    apply: (src, l, rng) => {
      const p = pick(
        pagesOf(l, (x) => x.type === 'leaf' && x.count > 0 && x.overflow === 0),
        rng,
      );
      if (!p) return null;
      const b = Buffer.from(src);
      b.writeUInt32LE(l.pageSize * 3, pageOffset(l, p.id) + 16 + 4); // element 0 pos
      return b;
    },
  },
  {
    name: 'leaf-count-exceeds-page',
    expect: 'element-count-invalid',
    apply: (src, l, rng) => {
      const p = pick(
        pagesOf(l, (x) => x.type === 'leaf' && x.overflow === 0),
        rng,
      );
      if (!p) return null;
      const b = Buffer.from(src);
      b.writeUInt16LE(0xfffe, pageOffset(l, p.id) + 10);
      return b;
    },
  },
  {
    name: 'freelist-entry-duplicated',
    expect: 'freelist-duplicate',
    apply: (src, l) => {
      if (l.freelistCount < 2 || l.freelistCount >= 0xffff) return null;
      const b = Buffer.from(src);
      b.copy(b, l.freelistAt + 8, l.freelistAt, l.freelistAt + 8);
      return b;
    },
  },
  {
    name: 'freelist-lists-reachable-page',
    expect: 'page-reachable-freed',
    apply: (src, l, rng) => {
      const p = pick(
        pagesOf(l, (x) => x.type === 'leaf'),
        rng,
      );
      if (!p || l.freelistCount < 1) return null;
      const b = Buffer.from(src);
      u64(b, l.freelistAt, p.id);
      return b;
    },
  },
  {
    name: 'freelist-entry-dropped',
    expect: 'page-unreachable-unfreed',
    apply: (src, l) => {
      if (l.freelistCount < 1 || l.freelistCount >= 0xffff) return null;
      const b = Buffer.from(src);
      b.writeUInt16LE(l.freelistCount - 1, pageOffset(l, l.freelistPage) + 10);
      return b;
    },
  },
  {
    name: 'leaf-keys-swapped',
    expect: 'key-order',
    apply: (src, l, rng) => {
      const candidates = pagesOf(l, (x) => x.type === 'leaf' && x.count >= 2 && x.overflow === 0).filter((p) => {
        const at = pageOffset(l, p.id);
        return leafKeyPos(src, at, 0).ksize === leafKeyPos(src, at, 1).ksize;
      });
      const p = pick(candidates, rng);
      if (!p) return null;
      const b = Buffer.from(src);
      const at = pageOffset(l, p.id);
      const k0 = leafKeyPos(b, at, 0);
      const k1 = leafKeyPos(b, at, 1);
      const first = Buffer.from(b.subarray(k0.keyAt, k0.keyAt + k0.ksize));
      b.copy(b, k0.keyAt, k1.keyAt, k1.keyAt + k1.ksize);
      first.copy(b, k1.keyAt);
      return b;
    },
  },
  {
    name: 'branch-separator-above-child-keys',
    expect: 'key-out-of-range',
    apply: (src, l, rng) => {
      const p = pick(
        pagesOf(l, (x) => x.type === 'branch' && x.count >= 3),
        rng,
      );
      if (!p) return null;
      const b = Buffer.from(src);
      const at = pageOffset(l, p.id);
      // Separator 1 becomes just below separator 2: still ordered in the branch, but above
      // every key of child 1. bbolt 1.4's check reports it; 1.3.6 does not look.
      const k1 = branchKeyPos(b, at, 1);
      const k2 = branchKeyPos(b, at, 2);
      if (k1.ksize !== k2.ksize || k1.ksize === 0) return null;
      b.copy(b, k1.keyAt, k2.keyAt, k2.keyAt + k2.ksize);
      const last = k1.keyAt + k1.ksize - 1;
      if (b[last] === 0) return null;
      b[last] -= 1;
      return b;
    },
  },
  {
    name: 'inline-bucket-page-flags-branch',
    expect: 'inline-bucket-invalid',
    apply: (src, l, rng) => {
      const ib = pick(l.inline, rng);
      if (!ib) return null;
      const b = Buffer.from(src);
      b.writeUInt16LE(0x01, ib.valueAt + 16 + 8);
      return b;
    },
  },
  {
    name: 'meta-torn',
    expect: 'healthy:meta-torn',
    apply: (src, l) => {
      const b = Buffer.from(src);
      b[l.chosen * l.pageSize + 16 + 48] ^= 0xff; // txid byte; checksum no longer matches
      return b;
    },
  },
  {
    name: 'both-metas-torn',
    expect: 'no-valid-meta',
    apply: (src, l) => {
      const b = Buffer.from(src);
      b[16 + 48] ^= 0xff;
      b[l.pageSize + 16 + 48] ^= 0xff;
      return b;
    },
  },
];

// Random damage for the differential test: byte flips, zeroed pages, redirected references,
// edited freelist ids, truncation — or one of the targeted kinds at a random place.
export function randomDamage(src: Buffer, l: BoltLayout, rng: () => number): { name: string; bytes: Buffer } {
  const int = (n: number): number => Math.floor(rng() * n);
  const hwm = l.metas[l.chosen].hwm;
  const kind = int(7);
  const b = Buffer.from(src);
  if (kind === 0) {
    const p = pick(l.pages, rng)!;
    const flips = 1 + int(8);
    for (let i = 0; i < flips; i++) b[pageOffset(l, p.id) + int(l.pageSize)] ^= 1 << int(8);
    return { name: `flip-${flips}-bytes-in-page-${p.id}`, bytes: b };
  }
  if (kind === 1) {
    const p = pick(l.pages, rng)!;
    const at = pageOffset(l, p.id) + int(64);
    b[at] = int(256);
    return { name: `header-or-element-byte-${at - pageOffset(l, p.id)}-of-page-${p.id}`, bytes: b };
  }
  if (kind === 2) {
    const p = pick(
      l.pages.filter((x) => x.refKind !== 'meta-root'),
      rng,
    )!;
    const to = int(hwm + 4);
    u64(b, p.refAt, to);
    return { name: `ref-to-page-${p.id}-redirected-to-${to}`, bytes: b };
  }
  if (kind === 3 && l.freelistCount > 0 && l.freelistCount < 0xffff) {
    const i = int(l.freelistCount);
    const to = int(hwm + 4);
    u64(b, l.freelistAt + 8 * i, to);
    return { name: `freelist-id-${i}-set-to-${to}`, bytes: b };
  }
  if (kind === 4) {
    const pages = Math.floor(src.length / l.pageSize);
    const cut = 2 + int(Math.max(1, pages - 2));
    return { name: `truncated-to-${cut}-pages`, bytes: Buffer.from(src.subarray(0, cut * l.pageSize)) };
  }
  if (kind === 5 && l.inline.length > 0) {
    const ib = pick(l.inline, rng)!;
    const at = ib.valueAt + 16 + int(32);
    b[at] ^= 1 << int(8);
    return { name: `inline-bucket-byte-${at - ib.valueAt}-flipped`, bytes: b };
  }
  const d = pick(targetedDamages, rng)!;
  const out = d.apply(src, l, rng);
  return out ? { name: d.name, bytes: out } : { name: 'unchanged', bytes: b };
}

// A small deterministic PRNG (mulberry32), so a failing case can be replayed from its seed.
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A healthy base file to damage: its bytes and where everything is in it.
export interface DamageBase {
  name: string;
  bytes: Buffer;
  layout: BoltLayout;
}

// Builds each named database with real bbolt (test/boltref) in `dir` and maps its layout.
export async function buildDamageBases(
  dir: string,
  specs: readonly (readonly [string, BuildBoltDbOptions])[],
): Promise<DamageBase[]> {
  const bases: DamageBase[] = [];
  for (const [name, opts] of specs) {
    const path = join(dir, `${name}.boltdb`);
    const built = await buildBoltDb(path, opts);
    if (!built.ok) throw new Error(`building ${name}: ${built.error}`);
    const layout = boltLayout(path);
    if (layout instanceof Error) throw layout;
    bases.push({ name, bytes: readFileSync(path), layout });
  }
  return bases;
}

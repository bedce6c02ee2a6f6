// The bbolt on-disk layout (format version 2, identical in bbolt 1.3.x and 1.4.x), in one place:
// constants, the meta page decoder, and one tiny accessor per field. Everything outside this
// module talks in pages and elements, never in byte offsets. Integers are little-endian (bbolt
// writes host order; every host this agent runs on is little-endian).
// Upstream: etcd-io/bbolt v1.3.6 page.go, db.go (meta), bucket.go; see docs/bolt-verifier.md.

export const pageHeaderSize = 16;
export const branchElementSize = 16;
export const leafElementSize = 16;
export const bucketHeaderSize = 16;

export const flagBranch = 0x01;
export const flagLeaf = 0x02;
export const flagMeta = 0x04;
export const flagFreelist = 0x10;
// Leaf element flag: the value is a bucket header {root u64, sequence u64}.
export const leafFlagBucket = 0x01;

export const magic = 0xed0cdaed;
export const formatVersion = 2;
// meta.freelist when the freelist is not persisted (NoFreelistSync).
export const noFreelist = 0xffffffffffffffffn;
// The freelist page's count field escapes to a leading u64 count at this value.
export const freelistCountEscape = 0xffff;

// Offsets inside a meta page (the meta struct follows the page header).
const metaOffset = pageHeaderSize;
const metaChecksummedBytes = 56; // magic..txid; the u64 checksum follows
export const metaRegionBytes = metaOffset + metaChecksummedBytes + 8;

export interface PageHeader {
  id: bigint; // the pgid the page claims to be
  flags: number;
  count: number;
  overflow: number; // extra contiguous pages
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function readPageHeader(bytes: Uint8Array): PageHeader {
  const dv = view(bytes);
  return {
    id: dv.getBigUint64(0, true),
    flags: dv.getUint16(8, true),
    count: dv.getUint16(10, true),
    overflow: dv.getUint32(12, true),
  };
}

export function pageTypeName(flags: number): string {
  switch (flags) {
    case flagBranch:
      return 'branch';
    case flagLeaf:
      return 'leaf';
    case flagMeta:
      return 'meta';
    case flagFreelist:
      return 'freelist';
    default:
      return `unknown<${flags.toString(16).padStart(2, '0')}>`;
  }
}

export interface Meta {
  magic: number;
  version: number;
  pageSize: number;
  flags: number;
  root: bigint; // root bucket's root page
  sequence: bigint;
  freelist: bigint; // page id, or noFreelist
  pgid: bigint; // high-water mark: first never-allocated page
  txid: bigint;
  checksum: bigint;
  computedChecksum: bigint;
}

export type MetaFault = 'magic' | 'version' | 'checksum';

// Decodes the meta stored in a page image (at least metaRegionBytes long).
export function decodeMeta(page: Uint8Array): Meta {
  const dv = view(page);
  return {
    magic: dv.getUint32(metaOffset, true),
    version: dv.getUint32(metaOffset + 4, true),
    pageSize: dv.getUint32(metaOffset + 8, true),
    flags: dv.getUint32(metaOffset + 12, true),
    root: dv.getBigUint64(metaOffset + 16, true),
    sequence: dv.getBigUint64(metaOffset + 24, true),
    freelist: dv.getBigUint64(metaOffset + 32, true),
    pgid: dv.getBigUint64(metaOffset + 40, true),
    txid: dv.getBigUint64(metaOffset + 48, true),
    checksum: dv.getBigUint64(metaOffset + 56, true),
    computedChecksum: fnv1a64(page.subarray(metaOffset, metaOffset + metaChecksummedBytes)),
  };
}

// bbolt's meta.validate(), in its order. A zero checksum is a fault too: bbolt 1.3.6 skips the
// comparison then, 1.3.7+ does not, and the file must stay readable by the newer skopeo builds.
export function metaFault(m: Meta): MetaFault | null {
  if (m.magic !== magic) return 'magic';
  if (m.version !== formatVersion) return 'version';
  if (m.checksum !== m.computedChecksum) return 'checksum';
  return null;
}

const fnvOffset = 0xcbf29ce484222325n;
const fnvPrime = 0x100000001b3n;
const mask64 = 0xffffffffffffffffn;

// FNV-1a 64 (Go's hash/fnv New64a), what bbolt checksums the meta with.
export function fnv1a64(bytes: Uint8Array): bigint {
  let h = fnvOffset;
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * fnvPrime) & mask64;
  }
  return h;
}

// Elements, addressed without allocating (the walker calls these once per key of the file).
// `el` is an element's offset in its page image; key positions are relative to the element's
// own address, and a leaf value follows its key.
export const elementOffset = (pageBase: number, i: number): number => pageBase + pageHeaderSize + i * leafElementSize;
export const leafFlags = (dv: DataView, el: number): number => dv.getUint32(el, true);
export const leafKeyStart = (dv: DataView, el: number): number => el + dv.getUint32(el + 4, true);
export const leafKeySize = (dv: DataView, el: number): number => dv.getUint32(el + 8, true);
export const leafValueSize = (dv: DataView, el: number): number => dv.getUint32(el + 12, true);
export const branchKeyStart = (dv: DataView, el: number): number => el + dv.getUint32(el, true);
export const branchKeySize = (dv: DataView, el: number): number => dv.getUint32(el + 4, true);
export const branchChildOffset = (el: number): number => el + 8;
// Page header fields of a page image at `base` (an inline bucket's page lives inside a value).
export const pageFlagsAt = (dv: DataView, base: number): number => dv.getUint16(base + 8, true);
export const pageCountAt = (dv: DataView, base: number): number => dv.getUint16(base + 10, true);
// A bucket value whose root page id is 0 holds its page inline, after the 16-byte header.
export const bucketIsInline = (dv: DataView, value: number): boolean =>
  dv.getUint32(value, true) === 0 && dv.getUint32(value + 4, true) === 0;
export const bucketRootOffset = (value: number): number => value;

// Freelist page ids: the count lives in the header, or (escape) in the first u64.
export function freelistLayout(header: PageHeader, dv: DataView): { first: number; count: bigint } {
  if (header.count === freelistCountEscape) {
    return { first: pageHeaderSize + 8, count: dv.getBigUint64(pageHeaderSize, true) };
  }
  return { first: pageHeaderSize, count: BigInt(header.count) };
}

// A u64 page id as a number, without a BigInt: ids from 2^52 on lie beyond any file and read
// as Number.MAX_SAFE_INTEGER (every range check then fails, as it should).
export function pageIdAt(dv: DataView, offset: number): number {
  const hi = dv.getUint32(offset + 4, true);
  return hi >= 0x100000 ? Number.MAX_SAFE_INTEGER : hi * 4294967296 + dv.getUint32(offset, true);
}

export function dataView(bytes: Uint8Array): DataView {
  return view(bytes);
}

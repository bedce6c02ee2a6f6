// Reading both meta pages of a bolt file and choosing one, the way bbolt does. Pure: it sees
// the file only through a ReadAt.
import type { ReadAt } from '../file-source.ts';
import type { CacheProblem } from '../verdict.ts';
import { boltMetaProbeOffsets } from '../detect.ts';
import { decodeMeta, magic, metaFault, metaRegionBytes, type Meta, type MetaFault } from './format.ts';

export interface MetaSlot {
  meta: Meta | null; // null: the region could not be read (short file)
  fault: MetaFault | 'unreadable' | null;
}

export interface MetaReading {
  kind: 'ok';
  pageSize: number;
  slots: [MetaSlot, MetaSlot];
  chosen: 0 | 1;
  meta: Meta;
  // Both meta regions, byte for byte: if they are unchanged after the walk, no writer committed
  // meanwhile (see verify-file.ts for why that makes the walk trustworthy).
  fingerprint: Buffer;
  warnings: CacheProblem[];
}

export interface MetaFailure {
  kind: 'not-bolt' | 'corrupt' | 'io-error';
  problems: CacheProblem[];
  pageSize?: number;
}

// The smallest page bbolt can have and still hold a meta; the largest we accept (bbolt 1.4
// probes up to 16 MiB; real files use the OS page size, 4 KiB to 64 KiB).
const minPageSize = 512;
const maxPageSize = 1 << 24;
// bbolt 1.3.6 reads the first 4 KiB to find the page size and fails with "invalid database"
// on a shorter file.
const minFileSize = 4096;

const faultText: Record<MetaFault | 'unreadable', string> = {
  magic: 'bad magic (not a bolt meta page)',
  version: 'unsupported format version',
  checksum: 'checksum mismatch (torn or damaged write)',
  unreadable: 'could not be read',
};

type ReadSlot = MetaSlot & { bytes: Uint8Array };

// The meta region's bytes are kept: the fingerprint must be made of exactly the bytes the
// choice was made from, or a commit between two reads would go unnoticed.
function readSlot(readAt: ReadAt, offset: number): ReadSlot | Error {
  const bytes = readAt(offset, metaRegionBytes);
  if (bytes instanceof Error) return bytes;
  if (bytes.length < metaRegionBytes) return { meta: null, fault: 'unreadable', bytes: Buffer.from(bytes) };
  const meta = decodeMeta(bytes);
  return { meta, fault: metaFault(meta), bytes: Buffer.from(bytes) };
}

function validPageSize(n: number): boolean {
  return n >= minPageSize && n <= maxPageSize && (n & (n - 1)) === 0;
}

// Both metas, and the one bbolt would use; or why bbolt would refuse the file.
export function readBoltMetas(readAt: ReadAt, fileSize: number): MetaReading | MetaFailure {
  const slot0 = readSlot(readAt, 0);
  if (slot0 instanceof Error) return ioFailure(slot0);
  const found = findPageSize(readAt, fileSize, slot0);
  if (found instanceof Error) return ioFailure(found);
  const unfit = unfitFile(fileSize, slot0, found.pageSize, found.sawMagic);
  if (unfit !== null) return unfit;
  const slot1 = readSlot(readAt, found.pageSize);
  if (slot1 instanceof Error) return ioFailure(slot1);
  return chooseMeta(found.pageSize, slot0, slot1);
}

function ioFailure(err: Error): MetaFailure {
  return { kind: 'io-error', problems: [{ code: 'io-error', message: err.message }] };
}

function corrupt(problem: CacheProblem, pageSize?: number): MetaFailure {
  return pageSize === undefined
    ? { kind: 'corrupt', problems: [problem] }
    : { kind: 'corrupt', pageSize, problems: [problem] };
}

// Page size: from meta 0 when it validates (what bbolt 1.3.6 does); otherwise probe for a
// valid meta 1 at the usual page sizes (what bbolt 1.4 does), so a torn meta 0 on a file
// with 16 KiB pages is still read correctly. 0 when none was found; `sawMagic` when any
// region read carried the bolt magic.
function findPageSize(
  readAt: ReadAt,
  fileSize: number,
  slot0: ReadSlot,
): { pageSize: number; sawMagic: boolean } | Error {
  let sawMagic = slot0.meta?.magic === magic;
  if (slot0.fault === null && slot0.meta) return { pageSize: slot0.meta.pageSize, sawMagic };
  for (const off of boltMetaProbeOffsets) {
    if (off + metaRegionBytes > fileSize) break;
    const probe = readSlot(readAt, off);
    if (probe instanceof Error) return probe;
    if (probe.meta?.magic === magic) sawMagic = true;
    if (probe.fault === null && probe.meta?.pageSize === off) return { pageSize: off, sawMagic };
  }
  return { pageSize: 0, sawMagic };
}

// What makes the file unreadable before meta 1 is read: not bolt, too small, no page size.
function unfitFile(fileSize: number, slot0: ReadSlot, pageSize: number, sawMagic: boolean): MetaFailure | null {
  if (!sawMagic) {
    return {
      kind: 'not-bolt',
      problems: [
        { code: 'not-a-cache', message: 'not a bolt database (no bolt magic in either meta page) and not SQLite' },
      ],
    };
  }
  if (fileSize < minFileSize) {
    return corrupt({
      code: 'file-too-small',
      message: `file is ${fileSize} bytes; a bolt database is at least ${minFileSize} (bbolt: "invalid database")`,
    });
  }
  if (pageSize === 0) {
    return corrupt({
      code: 'no-valid-meta',
      page: 0,
      message: `neither meta page is valid (meta 0: ${faultText[slot0.fault ?? 'unreadable']}; no valid meta 1 found); bbolt refuses to open the file`,
    });
  }
  if (!validPageSize(pageSize)) {
    return corrupt({
      code: 'meta-page-size-invalid',
      page: 0,
      message: `meta page size ${pageSize} is not a power of two between ${minPageSize} and ${maxPageSize}`,
    });
  }
  if (fileSize < 2 * pageSize) {
    return corrupt(
      {
        code: 'file-too-small',
        message: `file is ${fileSize} bytes, smaller than the two meta pages (${2 * pageSize}); bbolt: "file size too small"`,
      },
      pageSize,
    );
  }
  return null;
}

// bbolt's db.meta(): the higher txid if it validates, else the other one.
function chooseMeta(pageSize: number, slot0: ReadSlot, slot1: ReadSlot): MetaReading | MetaFailure {
  const slots: [MetaSlot, MetaSlot] = [
    { meta: slot0.meta, fault: slot0.fault },
    { meta: slot1.meta, fault: slot1.fault },
  ];
  const fingerprint = Buffer.concat([slot0.bytes, slot1.bytes]);
  const valid = slots.map((s) => s.fault === null && s.meta !== null);
  if (!valid[0] && !valid[1]) {
    return corrupt(
      {
        code: 'no-valid-meta',
        page: 0,
        message: `neither meta page is valid (meta 0: ${faultText[slot0.fault ?? 'unreadable']}; meta 1: ${faultText[slot1.fault ?? 'unreadable']}); bbolt refuses to open the file`,
      },
      pageSize,
    );
  }
  let chosen: 0 | 1;
  if (valid[0] && valid[1]) chosen = slots[1].meta!.txid > slots[0].meta!.txid ? 1 : 0;
  else chosen = valid[0] ? 0 : 1;
  const warnings: CacheProblem[] = [];
  const other = chosen === 0 ? 1 : 0;
  if (!valid[other]) {
    warnings.push({
      code: 'meta-torn',
      page: other,
      message: `meta page ${other} is invalid (${faultText[slots[other].fault ?? 'unreadable']}); bbolt uses meta ${chosen} (txid ${slots[chosen].meta!.txid}) — the state an interrupted commit leaves, repaired by the next write`,
    });
  }
  const meta = slots[chosen].meta!;
  if (valid[0] && valid[1] && slots[0].meta!.pageSize !== slots[1].meta!.pageSize) {
    return corrupt(
      {
        code: 'meta-page-size-mismatch',
        page: 1,
        message: `meta 0 says page size ${slots[0].meta!.pageSize}, meta 1 says ${slots[1].meta!.pageSize}`,
      },
      pageSize,
    );
  }
  return { kind: 'ok', pageSize, slots, chosen, meta, fingerprint, warnings };
}

// One walk over a bolt file's tree from a chosen meta: everything bbolt's tx.Check() reports,
// plus what bbolt only finds by panicking, faulting or reading garbage. Every problem goes to a
// list and the walk goes on (like bbolt's checker); nothing here throws on bad input.
//
// Bounds, so hostile input cannot hang it or eat memory:
// - every page is descended into at most once (a second reference is a problem, not a visit),
//   so cycles end and the work is linear in the file's page count;
// - the page-visit stack is explicit (no recursion); inline buckets recurse only up to
//   maxBucketDepth;
// - memory: two byte-per-page maps sized by the pages present in the file (256 KiB for 1 GiB of
//   4 KiB pages), one page span in memory at a time (spans over 4 MiB are read piecewise);
// - an optional deadline is checked every 256 pages.
import type { ReadAt } from '../file-source.ts';
import type { CacheProblem } from '../verdict.ts';
import type { MetaReading } from './meta.ts';
import {
  branchElementAt, bucketHeaderSize, bucketRootOf, dataView, flagBranch, flagFreelist, flagLeaf,
  freelistLayout, leafElementAt, leafElementSize, branchElementSize, leafFlagBucket, noFreelist,
  pageHeaderSize, pageIdAt, pageTypeName, readPageHeader,
} from './format.ts';

export interface WalkLimits {
  maxProblems: number; // problems listed; the rest are counted in one summary problem
  maxTreeDepth: number; // branch levels inside one bucket
  maxBucketDepth: number; // bucket nesting
  deadline?: number; // performance.now() value after which the walk gives up
}

export const defaultWalkLimits: WalkLimits = { maxProblems: 100, maxTreeDepth: 64, maxBucketDepth: 64 };

// Hooks for `cache inspect`: bucket ids are assigned in visiting order; the root bucket is 0.
export interface WalkObserver {
  bucket: (id: number, parent: number, name: Uint8Array, inline: boolean) => void;
  keys: (bucket: number, keys: number, subBuckets: number) => void;
}

export interface WalkResult {
  problems: CacheProblem[];
  warnings: CacheProblem[];
  buckets: number;
  keys: number;
  timedOut: boolean;
}

interface PageTask {
  pgid: number;
  bucket: number; // id of the bucket this page belongs to
  bucketDepth: number;
  treeDepth: number;
  lo: Uint8Array | null; // every key in this subtree must be >= lo ...
  hi: Uint8Array | null; // ... and < hi
  // Who referenced the page, for messages: element fromElem of page fromPage, or (fromElem -1)
  // the root of the task's bucket.
  fromPage: number;
  fromElem: number;
}

// Largest span read in one piece; larger overflow spans are read per key/value.
const wholeSpanLimit = 4 << 20;
const maxSafePgid = 2 ** 52;

// Bytes of one page span (a node and its overflow pages): whole when small, else on demand.
type SpanBytes = (offset: number, length: number) => Uint8Array | Error;

function printableName(name: Uint8Array): string {
  const text = Buffer.from(name).toString('utf8');
  const clean = /^[\x20-\x7e]*$/.test(text) && !text.includes('\ufffd');
  const shown = clean ? text : `0x${Buffer.from(name.subarray(0, 24)).toString('hex')}${name.length > 24 ? '…' : ''}`;
  return shown.length > 80 ? `${shown.slice(0, 77)}...` : shown;
}

// A node type bit plus other bits: readable by bbolt 1.3.6 (it tests bits with AND), fatal for
// bbolt 1.3.7+ (exact equality), formats.md §1.2.
function ambiguousFlags(flags: number): boolean {
  return (flags & (flagBranch | flagLeaf)) !== 0 && flags !== flagBranch && flags !== flagLeaf;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function walkBoltTree(
  readAt: ReadAt,
  fileSize: number,
  reading: MetaReading,
  limits: WalkLimits = defaultWalkLimits,
  observer?: WalkObserver,
): WalkResult {
  const { pageSize, meta } = reading;
  const problems: CacheProblem[] = [];
  const warnings: CacheProblem[] = [...reading.warnings];
  let overflowProblems = 0;
  const problem = (code: string, message: string, page?: number): void => {
    if (problems.length < limits.maxProblems) problems.push(page === undefined ? { code, message } : { code, page, message });
    else overflowProblems++;
  };

  const filePages = Math.floor(fileSize / pageSize);
  let hwm: number;
  if (meta.pgid > BigInt(maxSafePgid)) {
    problem('meta-hwm-invalid', `meta ${reading.chosen} high-water mark ${meta.pgid} is absurd for a ${fileSize}-byte file`, reading.chosen);
    hwm = filePages;
  } else {
    hwm = Number(meta.pgid);
  }
  // Pages that exist both by the meta and in the file; the maps cover exactly these.
  const known = Math.min(hwm, filePages);
  const reached = new Uint8Array(known);
  const free = new Uint8Array(known);
  let freePastEnd = 0; // free ids in [filePages, hwm)
  let beyondEof = 0; // references to pages past the end of the file
  if (known > 0) reached[0] = 1;
  if (known > 1) reached[1] = 1;

  // Classifies a page id that is about to be used; returns false when it cannot be read.
  const usable = (id: number, what: string): boolean => {
    if (id >= hwm) {
      problem('page-out-of-bounds', `${what} is page ${id}, at or beyond the high-water mark ${hwm}`, id);
      return false;
    }
    if (id >= filePages) {
      beyondEof++;
      problem('page-beyond-eof', `${what} is page ${id}, past the end of the file (${filePages} pages): bbolt faults (SIGBUS) reading it`, id);
      return false;
    }
    return true;
  };

  const toPageId = (v: bigint): number => (v >= BigInt(maxSafePgid) ? Number.MAX_SAFE_INTEGER : Number(v));

  const readSpanHeader = (id: number): { header: ReturnType<typeof readPageHeader>; first: Uint8Array } | Error => {
    const first = readAt(id * pageSize, pageSize);
    if (first instanceof Error) return first;
    if (first.length < pageSize) return new Error(`short read of page ${id}`);
    return { header: readPageHeader(first), first };
  };

  const spanReader = (id: number, first: Uint8Array, spanBytes: number): SpanBytes => {
    if (spanBytes === pageSize) return (o, l) => (o + l <= first.length ? first.subarray(o, o + l) : new Error('outside span'));
    if (spanBytes <= wholeSpanLimit) {
      const whole = readAt(id * pageSize, spanBytes);
      if (whole instanceof Error) return () => whole;
      return (o, l) => (o + l <= whole.length ? whole.subarray(o, o + l) : new Error('outside span'));
    }
    // Piecewise reads come from a shared view: copy, since keys are kept across reads.
    return (o, l) => {
      if (o + l > spanBytes) return new Error('outside span');
      const bytes = readAt(id * pageSize + o, l);
      return bytes instanceof Error ? bytes : Buffer.from(bytes);
    };
  };

  // --- freelist -------------------------------------------------------------------------
  const freelistPersisted = meta.freelist !== noFreelist;
  if (!freelistPersisted) {
    warnings.push({ code: 'freelist-not-persisted', message: 'the freelist is not persisted (NoFreelistSync); bbolt rebuilds it on open and a read-write open writes it back' });
  } else {
    const fid = toPageId(meta.freelist);
    if (fid < 2) {
      problem('freelist-page-invalid', `meta ${reading.chosen} points the freelist at meta page ${fid}`, fid);
    } else if (usable(fid, 'the freelist page')) {
      const got = readSpanHeader(fid);
      if (got instanceof Error) {
        problem('io-error', `reading the freelist page ${fid}: ${got.message}`, fid);
      } else {
        readFreelist(fid, got.header, got.first);
      }
    }
  }

  function readFreelist(fid: number, header: ReturnType<typeof readPageHeader>, first: Uint8Array): void {
    if (header.flags !== flagFreelist) {
      problem('freelist-page-invalid', `the freelist page ${fid} has type ${pageTypeName(header.flags)}; bbolt panics "invalid freelist page: ${fid}, page type is ${pageTypeName(header.flags)}"`, fid);
      return;
    }
    if (header.id !== BigInt(fid)) problem('page-id-mismatch', `the freelist page ${fid} says it is page ${header.id}`, fid);
    const spanPages = header.overflow + 1;
    for (let k = 0; k < spanPages; k++) {
      const id = fid + k;
      if (id >= known) {
        usable(id, `overflow page ${k} of the freelist page ${fid}`);
        return;
      }
      if (reached[id]) problem('page-multiply-referenced', `page ${id} is referenced twice (freelist overflow)`, id);
      reached[id] = 1;
    }
    const spanBytes = spanPages * pageSize;
    const span = spanReader(fid, first, spanBytes);
    const headBytes = span(0, Math.min(spanBytes, pageHeaderSize + 8));
    if (headBytes instanceof Error) return problem('io-error', `reading the freelist: ${headBytes.message}`, fid);
    const { first: idsAt, count } = freelistLayout(header, dataView(headBytes));
    if (count > BigInt((spanBytes - idsAt) / 8)) {
      problem('freelist-count-invalid', `the freelist page ${fid} claims ${count} free ids, but its ${spanPages} page(s) hold at most ${Math.floor((spanBytes - idsAt) / 8)}`, fid);
      return;
    }
    const n = Number(count);
    const ids = span(idsAt, n * 8);
    if (ids instanceof Error) return problem('io-error', `reading the freelist: ${ids.message}`, fid);
    const dv = dataView(ids);
    let outOfRange = 0;
    let firstOut = -1;
    for (let i = 0; i < n; i++) {
      const id = toPageId(pageIdAt(dv, i * 8));
      if (id < 2 || id >= hwm) {
        if (outOfRange++ === 0) firstOut = id;
        continue;
      }
      if (id >= known) { freePastEnd++; continue; } // free and past the end of the file: nothing reads it
      if (free[id]) problem('freelist-duplicate', `page ${id} is listed twice in the freelist ("already freed")`, id);
      free[id] = 1;
    }
    if (outOfRange > 0) {
      problem('freelist-entry-out-of-range', `the freelist lists ${outOfRange} page id(s) outside [2, ${hwm}), e.g. ${firstOut}; a writer would hand out pages that overlap the metas or lie past the high-water mark`, fid);
    }
    // The freelist page itself may not be listed as free.
    for (let k = 0; k < spanPages && fid + k < known; k++) {
      if (free[fid + k]) problem('page-reachable-freed', `the freelist's own page ${fid + k} is listed as free`, fid + k);
    }
  }

  // --- tree -----------------------------------------------------------------------------
  let buckets = 0;
  let keys = 0;
  let nextBucketId = 1;
  let visited = 0;
  let timedOut = false;
  const stack: PageTask[] = [];

  const rootId = toPageId(meta.root);
  observer?.bucket(0, -1, new Uint8Array(0), false);
  stack.push({ pgid: rootId, bucket: 0, bucketDepth: 0, treeDepth: 0, lo: null, hi: null, fromPage: -1, fromElem: -1 });
  const fromOf = (task: PageTask): string =>
    task.fromElem < 0 ? `the root of ${pathOf(task.bucket)}` : `element ${task.fromElem} of branch page ${task.fromPage}`;

  // Bucket names are kept as bytes and turned into a path only for a message. Only buckets that
  // a pending page task still refers to (and their ancestors) stay in the map, so memory does
  // not grow with the number of inline buckets (c/image keeps one per blob digest).
  const bucketInfo = new Map<number, { parent: number; name: Buffer; pinned: boolean }>([[0, { parent: -1, name: Buffer.alloc(0), pinned: true }]]);
  const pathOf = (bucket: number): string => {
    const parts: string[] = [];
    for (let b = bucket; b > 0 && parts.length <= limits.maxBucketDepth; b = bucketInfo.get(b)?.parent ?? 0) {
      parts.unshift(printableName(bucketInfo.get(b)?.name ?? Buffer.from('?')));
    }
    return parts.length === 0 ? 'the root bucket' : `bucket ${parts.join('/')}`;
  };
  const pin = (bucket: number): void => {
    for (let b = bucket, n = 0; b > 0 && n <= limits.maxBucketDepth; b = bucketInfo.get(b)?.parent ?? 0, n++) {
      const info = bucketInfo.get(b);
      if (!info || info.pinned) break;
      info.pinned = true;
    }
  };

  // Opens a bucket found as a leaf value (bytes = the whole value): inline, or a root page to visit.
  const openBucket = (value: Uint8Array, parent: number, parentDepth: number, name: Uint8Array, where: () => string): void => {
    buckets++;
    if (value.length < bucketHeaderSize) {
      problem('bucket-value-invalid', `${where()}: sub-bucket "${printableName(name)}" has a ${value.length}-byte value, shorter than a bucket header`);
      return;
    }
    const id = nextBucketId++;
    bucketInfo.set(id, { parent, name: Buffer.from(name), pinned: false }); // copied: views do not outlive the next read
    const root = bucketRootOf(value);
    observer?.bucket(id, parent, name, root === 0n);
    if (parentDepth + 1 > limits.maxBucketDepth) {
      problem('bucket-nesting-too-deep', `${pathOf(id)} is nested more than ${limits.maxBucketDepth} levels deep`);
      return;
    }
    if (root === 0n) {
      walkInline(value.subarray(bucketHeaderSize), id, parentDepth + 1);
      if (!bucketInfo.get(id)?.pinned) bucketInfo.delete(id);
      return;
    }
    pin(id);
    stack.push({ pgid: toPageId(root), bucket: id, bucketDepth: parentDepth + 1, treeDepth: 0, lo: null, hi: null, fromPage: -1, fromElem: -1 });
  };

  // An inline bucket: a complete leaf page image inside its parent's value. bbolt's check skips
  // these; a damaged one still panics skopeo on lookup, so we check it like a leaf.
  const walkInline = (image: Uint8Array, bucket: number, bucketDepth: number): void => {
    const where = (): string => `inline ${pathOf(bucket)}`;
    if (image.length < pageHeaderSize) {
      problem('inline-bucket-invalid', `${where()}: ${image.length} bytes, too short for a page header`);
      return;
    }
    const header = readPageHeader(image);
    if (header.flags !== flagLeaf && ambiguousFlags(header.flags)) {
      problem('page-flags-ambiguous', `${where()}: the inline page has flags 0x${header.flags.toString(16)}; bbolt 1.3.6 tests bits and may read it, bbolt ≥1.3.7 panics "invalid page type"`);
      return;
    }
    if (header.flags !== flagLeaf) {
      problem('inline-bucket-invalid', `${where()}: the inline page has type ${pageTypeName(header.flags)}, not leaf; bbolt panics "invalid page type: 0: ${header.flags.toString(16)}" or reads garbage`);
      return;
    }
    const span: SpanBytes = (o, l) => (o + l <= image.length ? image.subarray(o, o + l) : new Error('outside inline page'));
    walkLeaf(span, image.length, header.count, { pgid: 0, bucket, bucketDepth, treeDepth: 0, lo: null, hi: null, fromPage: -1, fromElem: -1 }, where, undefined);
  };

  // Leaf elements of a page span or inline page: bounds, key order, sub-buckets.
  const walkLeaf = (span: SpanBytes, spanBytes: number, count: number, task: PageTask, where: () => string, page: number | undefined): void => {
    if (pageHeaderSize + count * leafElementSize > spanBytes) {
      problem('element-count-invalid', `${where()}: ${count} leaf elements do not fit in ${spanBytes} bytes`, page);
      return;
    }
    const elems = span(pageHeaderSize, count * leafElementSize);
    if (elems instanceof Error) return problem('io-error', `${where()}: ${elems.message}`, page);
    // DataView positioned so that element i sits where format.ts expects it.
    const dv = new DataView(elems.buffer, elems.byteOffset - pageHeaderSize, pageHeaderSize + elems.length);
    let prev: Uint8Array | null = null;
    let localKeys = 0;
    let localBuckets = 0;
    for (let i = 0; i < count; i++) {
      const e = leafElementAt(dv, i);
      const end = e.keyStart + e.keySize + e.valueSize;
      if (e.keyStart < pageHeaderSize + count * leafElementSize || end > spanBytes) {
        problem('element-out-of-page', `${where()}: leaf element ${i} has key/value bytes [${e.keyStart}, ${end}) outside its ${spanBytes}-byte page`, page);
        prev = null;
        continue;
      }
      const key = span(e.keyStart, e.keySize);
      if (key instanceof Error) { problem('io-error', `${where()}: ${key.message}`, page); continue; }
      checkKeyOrder(key, prev, i, task, where, page, i === 0, i === count - 1);
      prev = key;
      if (e.flags & leafFlagBucket) {
        localBuckets++;
        const value = span(e.keyStart + e.keySize, Math.min(e.valueSize, spanBytes));
        if (value instanceof Error) { problem('io-error', `${where()}: ${value.message}`, page); continue; }
        openBucket(value, task.bucket, task.bucketDepth, key, where);
      } else {
        localKeys++;
      }
    }
    keys += localKeys;
    observer?.keys(task.bucket, localKeys, localBuckets);
  };

  const checkKeyOrder = (
    key: Uint8Array, prev: Uint8Array | null, i: number, task: PageTask, where: () => string, page: number | undefined,
    isFirst: boolean, isLast: boolean,
  ): void => {
    if (prev && compareBytes(prev, key) >= 0) {
      problem('key-order', `${where()}: key ${i} (${printableName(key)}) is not greater than key ${i - 1} (${printableName(prev)}); bbolt's binary search misses keys`, page);
    }
    // Against the separator keys of the branch above (bbolt 1.4 checks this, 1.3.6 does not).
    if (isFirst && task.lo && compareBytes(key, task.lo) < 0) {
      problem('key-out-of-range', `${where()}: first key ${printableName(key)} sorts before its branch separator ${printableName(task.lo)} (${fromOf(task)})`, page);
    }
    if (isLast && task.hi && compareBytes(key, task.hi) >= 0) {
      problem('key-out-of-range', `${where()}: last key ${printableName(key)} is not below the next branch separator ${printableName(task.hi)} (${fromOf(task)})`, page);
    }
  };

  const walkBranch = (span: SpanBytes, spanBytes: number, count: number, task: PageTask, where: () => string): void => {
    const page = task.pgid;
    if (count === 0) {
      problem('branch-empty', `${where()}: branch page with no elements; bbolt reads past its end`, page);
      return;
    }
    if (pageHeaderSize + count * branchElementSize > spanBytes) {
      problem('element-count-invalid', `${where()}: ${count} branch elements do not fit in ${spanBytes} bytes`, page);
      return;
    }
    if (task.treeDepth + 1 > limits.maxTreeDepth) {
      problem('tree-too-deep', `${where()}: more than ${limits.maxTreeDepth} branch levels`, page);
      return;
    }
    const elems = span(pageHeaderSize, count * branchElementSize);
    if (elems instanceof Error) return problem('io-error', `${where()}: ${elems.message}`, page);
    const dv = new DataView(elems.buffer, elems.byteOffset - pageHeaderSize, pageHeaderSize + elems.length);
    const children: { child: number; key: Uint8Array | null }[] = [];
    let prev: Uint8Array | null = null;
    for (let i = 0; i < count; i++) {
      const e = branchElementAt(dv, i);
      let key: Uint8Array | null = null;
      if (e.keyStart < pageHeaderSize + count * branchElementSize || e.keyStart + e.keySize > spanBytes) {
        problem('element-out-of-page', `${where()}: branch element ${i} has key bytes [${e.keyStart}, ${e.keyStart + e.keySize}) outside its ${spanBytes}-byte page`, page);
      } else {
        const k = span(e.keyStart, e.keySize);
        if (k instanceof Error) problem('io-error', `${where()}: ${k.message}`, page);
        else {
          key = Buffer.from(k); // copied: it outlives this span as a child's bound
          checkKeyOrder(key, prev, i, task, where, page, i === 0, i === count - 1);
        }
      }
      prev = key;
      children.push({ child: toPageId(e.child), key });
    }
    // Pushed in reverse so the walk visits children in key order.
    for (let i = children.length - 1; i >= 0; i--) {
      const next = i + 1 < children.length ? children[i + 1].key : task.hi;
      stack.push({
        pgid: children[i].child, bucket: task.bucket, bucketDepth: task.bucketDepth, treeDepth: task.treeDepth + 1,
        lo: children[i].key ?? task.lo, hi: next, fromPage: page, fromElem: i,
      });
    }
  };

  while (stack.length > 0) {
    const task = stack.pop()!;
    if ((++visited & 255) === 0 && limits.deadline !== undefined && performance.now() > limits.deadline) {
      timedOut = true;
      break;
    }
    const id = task.pgid;
    const where = (): string => `page ${id} (${pathOf(task.bucket)})`;
    if (id < 2) {
      problem('page-type-invalid', `${fromOf(task)} points at meta page ${id}; bbolt panics "invalid page type: ${id}: 4"`, id);
      continue;
    }
    if ((id >= hwm || id >= filePages) && !usable(id, fromOf(task))) continue;
    const got = readSpanHeader(id);
    if (got instanceof Error) { problem('io-error', `${where()}: ${got.message}`, id); continue; }
    const { header, first } = got;
    // The type comes first: a reference to the freelist page is the field's skopeo panic, even
    // though that page is also "reached" as the freelist.
    if (header.flags !== flagBranch && header.flags !== flagLeaf && ambiguousFlags(header.flags)) {
      problem('page-flags-ambiguous', `${where()}: flags 0x${header.flags.toString(16)} mix a node type with other bits; bbolt 1.3.6 reads it as ${header.flags & flagBranch ? 'branch' : 'leaf'}, bbolt ≥1.3.7 panics "invalid page type"`, id);
      continue;
    }
    if (header.flags !== flagBranch && header.flags !== flagLeaf) {
      problem('page-type-invalid', `${fromOf(task)} points at page ${id}, which is a ${pageTypeName(header.flags)} page, not branch or leaf; skopeo panics "invalid page type: ${header.id}: ${header.flags.toString(16)}"`, id);
      continue;
    }
    if (reached[id]) {
      problem('page-multiply-referenced', `page ${id} is referenced again by ${fromOf(task)} (a cycle, or two parents sharing a page)`, id);
      continue;
    }
    reached[id] = 1;
    if (free[id]) problem('page-reachable-freed', `${where()} is referenced by ${fromOf(task)} but listed in the freelist: the next writer will overwrite it`, id);
    if (header.id !== BigInt(id)) {
      problem('page-id-mismatch', `${where()}: page header says it is page ${header.id}; the page was overwritten or misplaced (bbolt ≥1.3.7 panics "Page expected to be: ${id}, but self identifies as ${header.id}")`, id);
    }
    // Overflow pages belong to this node: in range, in the file, referenced once, not free.
    let spanOk = true;
    for (let k = 1; k <= header.overflow; k++) {
      const oid = id + k;
      if (!usable(oid, `overflow page ${k} of page ${id}`)) { spanOk = false; break; }
      if (reached[oid]) problem('page-multiply-referenced', `page ${oid} (overflow of page ${id}) is also used elsewhere`, oid);
      if (free[oid]) problem('page-reachable-freed', `page ${oid} (overflow of page ${id}) is listed in the freelist`, oid);
      reached[oid] = 1;
    }
    if (!spanOk) continue;
    const spanBytes = (header.overflow + 1) * pageSize;
    const span = spanReader(id, first, spanBytes);
    if (header.flags === flagBranch) walkBranch(span, spanBytes, header.count, task, where);
    else walkLeaf(span, spanBytes, header.count, task, where, id);
  }

  if (!timedOut) {
    // Every page below the high-water mark is reachable or free (bbolt: "unreachable unfreed").
    if (freelistPersisted) {
      for (let id = 2; id < known; id++) {
        if (!reached[id] && !free[id]) problem('page-unreachable-unfreed', `page ${id} is neither reachable nor free (leaked, or its parent lost)`, id);
      }
    }
    // Pages between the end of the file and the high-water mark: harmless when all are free (a
    // writer extends the file when it reuses them), a truncation otherwise.
    if (hwm > filePages) {
      const missing = hwm - filePages;
      const notFree = freelistPersisted ? missing - freePastEnd : 0;
      if (notFree > 0 || beyondEof > 0) {
        problem('file-truncated', `the file holds ${filePages} pages but the meta's high-water mark is ${hwm}: ${missing} page(s) are missing, ${Math.max(notFree, 0)} of them not free`);
      } else {
        warnings.push({ code: 'file-shorter-than-hwm', message: `the file holds ${filePages} pages, the high-water mark is ${hwm}; the missing pages are all free` });
      }
    }
  }
  if (overflowProblems > 0) {
    problems.push({ code: 'more-problems', message: `${overflowProblems} more problem(s) not listed` });
  }
  return { problems, warnings, buckets, keys, timedOut };
}

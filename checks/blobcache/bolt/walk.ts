// One walk over a bolt file's tree from a chosen meta: everything bbolt's tx.Check() reports,
// plus what bbolt only finds by panicking, faulting or reading garbage. Every problem goes to a
// list and the walk goes on (like bbolt's checker); nothing here throws on bad input.
//
// Bounds, so hostile input cannot hang it or eat memory:
// - every page is descended into at most once (a second reference is a problem, not a visit),
//   so cycles end and the work is linear in the file's page count;
// - the page-visit stack is explicit (no recursion); inline buckets recurse only up to
//   maxBucketDepth;
// - memory: two page sets that grow only where pages are marked (page-marks.ts; 256 KiB for
//   1 GiB of 4 KiB pages), one page span in memory at a time (spans over 4 MiB are read
//   piecewise); a meta claiming terabytes over a sparse file costs what the data costs;
// - an optional deadline is checked every 256 pages.
import type { ReadAt } from '../file-source.ts';
import type { CacheProblem } from '../verdict.ts';
import type { MetaReading } from './meta.ts';
import {
  branchChildOffset,
  branchElementSize,
  branchKeySize,
  branchKeyStart,
  bucketHeaderSize,
  bucketIsInline,
  bucketRootOffset,
  dataView,
  elementOffset,
  flagBranch,
  flagFreelist,
  flagLeaf,
  freelistLayout,
  leafElementSize,
  leafFlagBucket,
  leafFlags,
  leafKeySize,
  leafKeyStart,
  leafValueSize,
  noFreelist,
  pageCountAt,
  pageFlagsAt,
  pageHeaderSize,
  pageIdAt,
  pageTypeName,
  readPageHeader,
} from './format.ts';
import { createPageMarks, unmarkedIds } from './page-marks.ts';

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
  // Every key in this subtree must be >= lo and < hi; each a range of a copied branch page.
  loBuf: Buffer | null;
  loS: number;
  loE: number;
  hiBuf: Buffer | null;
  hiS: number;
  hiE: number;
  // Who referenced the page, for messages: element fromElem of page fromPage, or (fromElem -1)
  // the root of the task's bucket.
  fromPage: number;
  fromElem: number;
}

// The largest node we read: containers/image values are a few KiB; bbolt allows 2 GiB, which
// would break the memory bound.
const maxSpanBytes = 16 << 20;
const maxSafePgid = 2 ** 52;

// Like Buffer#compare on two ranges (the sign of a[as, ae) against b[bs, be)), without the
// native call and its argument checks: it runs up to three times per key of the file, and
// keys (digests) differ within their first bytes. Measured on a churned 1.6 GB cache: the
// native compare was a sixth of the walk's time.
function compareRanges(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let i = 0; i < n; i++) {
    const x = a[as + i];
    const y = b[bs + i];
    if (x !== y) return x < y ? -1 : 1;
  }
  const la = ae - as;
  const lb = be - bs;
  return la === lb ? 0 : la < lb ? -1 : 1;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

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
  const problem = (code: CacheProblem['code'], message: string, page?: number): void => {
    if (problems.length < limits.maxProblems)
      problems.push(page === undefined ? { code, message } : { code, page, message });
    else overflowProblems++;
  };

  const filePages = Math.floor(fileSize / pageSize);
  let hwm: number;
  if (meta.pgid > BigInt(maxSafePgid)) {
    problem(
      'meta-hwm-invalid',
      `meta ${reading.chosen} high-water mark ${meta.pgid} is absurd for a ${fileSize}-byte file`,
      reading.chosen,
    );
    hwm = filePages;
  } else {
    hwm = Number(meta.pgid);
  }
  // Pages that exist both by the meta and in the file; the maps cover exactly these.
  const known = Math.min(hwm, filePages);
  const reached = createPageMarks();
  const free = createPageMarks();
  let freePastEnd = 0; // free ids in [filePages, hwm)
  let beyondEof = 0; // references to pages past the end of the file
  if (known > 0) reached.add(0);
  if (known > 1) reached.add(1);

  // Classifies a page id that is about to be used; returns false when it cannot be read.
  const usable = (id: number, what: string): boolean => {
    if (id >= hwm) {
      problem('page-out-of-bounds', `${what} is page ${id}, at or beyond the high-water mark ${hwm}`, id);
      return false;
    }
    if (id >= filePages) {
      beyondEof++;
      problem(
        'page-beyond-eof',
        `${what} is page ${id}, past the end of the file (${filePages} pages): bbolt faults (SIGBUS) reading it`,
        id,
      );
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

  // The whole span of a node (its page and overflow pages); null after reporting a problem.
  const readSpan = (id: number, first: Uint8Array, spanBytes: number, where: () => string): Buffer | null => {
    if (spanBytes === pageSize) return asBuffer(first);
    if (spanBytes > maxSpanBytes) {
      problem(
        'node-too-large',
        `${where()}: a node of ${spanBytes} bytes (${spanBytes / pageSize} pages); containers/image never writes values this large`,
        id,
      );
      return null;
    }
    const whole = readAt(id * pageSize, spanBytes);
    if (whole instanceof Error || whole.length < spanBytes) {
      problem('io-error', `${where()}: ${whole instanceof Error ? whole.message : 'short read'}`, id);
      return null;
    }
    return asBuffer(whole);
  };

  // --- freelist -------------------------------------------------------------------------
  const freelistPersisted = meta.freelist !== noFreelist;
  if (!freelistPersisted) {
    warnings.push({
      code: 'freelist-not-persisted',
      message:
        'the freelist is not persisted (NoFreelistSync); bbolt rebuilds it on open and a read-write open writes it back',
    });
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
      problem(
        'freelist-page-invalid',
        `the freelist page ${fid} has type ${pageTypeName(header.flags)}; bbolt panics "invalid freelist page: ${fid}, page type is ${pageTypeName(header.flags)}"`,
        fid,
      );
      return;
    }
    if (header.id !== BigInt(fid))
      problem('page-id-mismatch', `the freelist page ${fid} says it is page ${header.id}`, fid);
    const spanPages = header.overflow + 1;
    for (let k = 0; k < spanPages; k++) {
      const id = fid + k;
      if (id >= known) {
        usable(id, `overflow page ${k} of the freelist page ${fid}`);
        return;
      }
      if (reached.has(id))
        problem('page-multiply-referenced', `page ${id} is referenced twice (freelist overflow)`, id);
      reached.add(id);
    }
    const spanBytes = spanPages * pageSize;
    const span = readSpan(fid, first, spanBytes, () => `the freelist page ${fid}`);
    if (span === null) return;
    const { first: idsAt, count } = freelistLayout(header, dataView(span));
    if (count > BigInt((spanBytes - idsAt) / 8)) {
      problem(
        'freelist-count-invalid',
        `the freelist page ${fid} claims ${count} free ids, but its ${spanPages} page(s) hold at most ${Math.floor((spanBytes - idsAt) / 8)}`,
        fid,
      );
      return;
    }
    const n = Number(count);
    const ids = span.subarray(idsAt, idsAt + n * 8);
    const dv = dataView(ids);
    let outOfRange = 0;
    let firstOut = -1;
    for (let i = 0; i < n; i++) {
      const id = pageIdAt(dv, i * 8);
      if (id < 2 || id >= hwm) {
        if (outOfRange++ === 0) firstOut = id;
        continue;
      }
      if (id >= known) {
        freePastEnd++;
        continue;
      } // free and past the end of the file: nothing reads it
      if (free.has(id))
        problem('freelist-duplicate', `page ${id} is listed twice in the freelist ("already freed")`, id);
      free.add(id);
    }
    if (outOfRange > 0) {
      problem(
        'freelist-entry-out-of-range',
        `the freelist lists ${outOfRange} page id(s) outside [2, ${hwm}), e.g. ${firstOut}; a writer would hand out pages that overlap the metas or lie past the high-water mark`,
        fid,
      );
    }
    // The freelist page itself may not be listed as free.
    for (let k = 0; k < spanPages && fid + k < known; k++) {
      if (free.has(fid + k))
        problem('page-reachable-freed', `the freelist's own page ${fid + k} is listed as free`, fid + k);
    }
  }

  // --- tree -----------------------------------------------------------------------------
  let buckets = 0;
  let keys = 0;
  let nextBucketId = 1;
  let visited = 0;
  let timedOut = false;
  const stack: PageTask[] = [];

  // Bucket names, for messages only. Buckets being walked inline sit on `inlineChain` as views
  // into the current page; a bucket that a pending page task refers to is copied into
  // `pinnedBuckets` with its ancestors. So memory does not grow with the number of inline
  // buckets (containers/image keeps one per blob digest).
  const pinnedBuckets = new Map<number, { parent: number; name: Buffer }>([[0, { parent: -1, name: Buffer.alloc(0) }]]);
  const inlineChain: { id: number; parent: number; buf: Buffer; s: number; e: number }[] = [];
  const bucketEntry = (b: number): { parent: number; name: Uint8Array } | undefined => {
    for (let i = inlineChain.length - 1; i >= 0; i--) {
      const c = inlineChain[i];
      if (c.id === b) return { parent: c.parent, name: c.buf.subarray(c.s, c.e) };
    }
    return pinnedBuckets.get(b);
  };
  const pathOf = (bucket: number): string => {
    const parts: string[] = [];
    for (let b = bucket; b > 0 && parts.length <= limits.maxBucketDepth;) {
      const entry = bucketEntry(b);
      parts.unshift(entry ? printableName(entry.name) : '?');
      b = entry?.parent ?? 0;
    }
    return parts.length === 0 ? 'the root bucket' : `bucket ${parts.join('/')}`;
  };
  const pin = (bucket: number): void => {
    for (let b = bucket, n = 0; b > 0 && !pinnedBuckets.has(b) && n <= limits.maxBucketDepth; n++) {
      const entry = bucketEntry(b);
      if (!entry) break;
      pinnedBuckets.set(b, { parent: entry.parent, name: Buffer.from(entry.name) });
      b = entry.parent;
    }
  };
  const fromOf = (task: PageTask): string =>
    task.fromElem < 0
      ? `the root of ${pathOf(task.bucket)}`
      : `element ${task.fromElem} of branch page ${task.fromPage}`;

  // A page reference about to be followed. Out-of-range ids are reported here, where the raw
  // u64 is at hand: bbolt 1.3.6 computes id × pageSize in 64 bits, so an id whose high bits
  // were damaged can wrap onto a real page (1.3.6 reads it, 1.3.7+ panics).
  const followable = (dv: DataView, at: number, what: () => string): number => {
    const id = pageIdAt(dv, at);
    if (id < hwm) return id;
    const raw = dv.getBigUint64(at, true);
    const wrapped = ((raw * BigInt(pageSize)) & 0xffffffffffffffffn) / BigInt(pageSize);
    if (wrapped < BigInt(hwm) && wrapped !== raw) {
      problem(
        'page-id-wraps',
        `${what()} is page ${raw}, beyond the high-water mark ${hwm}; bbolt 1.3.6 wraps ${raw} × ${pageSize} onto page ${wrapped}, bbolt ≥1.3.7 panics`,
        Number(wrapped),
      );
      // Walk on where 1.3.6 lands, so the rest of the tree is judged as that reader sees it.
      return Number(wrapped);
    } else {
      problem('page-out-of-bounds', `${what()} is page ${raw}, at or beyond the high-water mark ${hwm}`);
    }
    return -1;
  };

  const rootTask: PageTask = {
    pgid: 0,
    bucket: 0,
    bucketDepth: 0,
    treeDepth: 0,
    loBuf: null,
    loS: 0,
    loE: 0,
    hiBuf: null,
    hiS: 0,
    hiE: 0,
    fromPage: -1,
    fromElem: -1,
  };
  observer?.bucket(0, -1, new Uint8Array(0), false);
  {
    const metaBytes = Buffer.alloc(8);
    metaBytes.writeBigUInt64LE(meta.root);
    const rootId = followable(dataView(metaBytes), 0, () => `the root bucket of meta ${reading.chosen}`);
    if (rootId >= 0) stack.push({ ...rootTask, pgid: rootId });
  }

  // Opens the bucket whose value is buf[vs, ve) and whose name is buf[ks, ke).
  const openBucket = (
    buf: Buffer,
    dv: DataView,
    ks: number,
    ke: number,
    vs: number,
    ve: number,
    task: PageTask,
    where: () => string,
  ): void => {
    buckets++;
    if (ve - vs < bucketHeaderSize) {
      problem(
        'bucket-value-invalid',
        `${where()}: sub-bucket "${printableName(buf.subarray(ks, ke))}" has a ${ve - vs}-byte value, shorter than a bucket header`,
      );
      return;
    }
    const id = nextBucketId++;
    const depth = task.bucketDepth + 1;
    const inline = bucketIsInline(dv, vs);
    observer?.bucket(id, task.bucket, buf.subarray(ks, ke), inline);
    inlineChain.push({ id, parent: task.bucket, buf, s: ks, e: ke });
    if (depth > limits.maxBucketDepth) {
      problem('bucket-nesting-too-deep', `${pathOf(id)} is nested more than ${limits.maxBucketDepth} levels deep`);
    } else if (inline) {
      walkInline(buf, dv, vs + bucketHeaderSize, ve, id, depth);
    } else {
      const root = followable(dv, bucketRootOffset(vs), () => `the root of ${pathOf(id)}`);
      if (root >= 0) {
        pin(id);
        stack.push({ ...rootTask, pgid: root, bucket: id, bucketDepth: depth });
      }
    }
    inlineChain.pop();
  };

  // An inline bucket: a complete leaf page image inside its parent's value, buf[start, end).
  // bbolt's check skips these; a damaged one still panics skopeo on lookup, so we check it like
  // a leaf.
  const walkInline = (
    buf: Buffer,
    dv: DataView,
    start: number,
    end: number,
    bucket: number,
    bucketDepth: number,
  ): void => {
    const where = (): string => `inline ${pathOf(bucket)}`;
    if (end - start < pageHeaderSize) {
      problem('inline-bucket-invalid', `${where()}: ${end - start} bytes, too short for a page header`);
      return;
    }
    const flags = pageFlagsAt(dv, start);
    if (flags !== flagLeaf && ambiguousFlags(flags)) {
      problem(
        'page-flags-ambiguous',
        `${where()}: the inline page has flags 0x${flags.toString(16)}; bbolt 1.3.6 tests bits and may read it, bbolt ≥1.3.7 panics "invalid page type"`,
      );
      return;
    }
    if (flags !== flagLeaf) {
      problem(
        'inline-bucket-invalid',
        `${where()}: the inline page has type ${pageTypeName(flags)}, not leaf; bbolt panics "invalid page type: 0: ${flags.toString(16)}" or reads garbage`,
      );
      return;
    }
    walkLeaf(buf, dv, start, end, pageCountAt(dv, start), { ...rootTask, bucket, bucketDepth }, where, undefined);
  };

  // Leaf elements of the page image at buf[base, limit): bounds, key order, sub-buckets. Keys
  // are compared in place (no copies): this loop runs once per key of the file.
  const walkLeaf = (
    buf: Buffer,
    dv: DataView,
    base: number,
    limit: number,
    count: number,
    task: PageTask,
    where: () => string,
    page: number | undefined,
  ): void => {
    const dataStart = base + pageHeaderSize + count * leafElementSize;
    if (dataStart > limit) {
      problem('element-count-invalid', `${where()}: ${count} leaf elements do not fit in ${limit - base} bytes`, page);
      return;
    }
    let ps = -1;
    let pe = -1;
    let localKeys = 0;
    let localBuckets = 0;
    for (let i = 0; i < count; i++) {
      const el = elementOffset(base, i);
      const ks = leafKeyStart(dv, el);
      const ke = ks + leafKeySize(dv, el);
      const ve = ke + leafValueSize(dv, el);
      if (ks < dataStart || ve > limit) {
        problem(
          'element-out-of-page',
          `${where()}: leaf element ${i} has key/value bytes [${ks - base}, ${ve - base}) outside its ${limit - base}-byte page`,
          page,
        );
        ps = -1;
        continue;
      }
      checkKeyOrder(buf, ks, ke, ps, pe, i, count, task, where, page, 'key-order');
      ps = ks;
      pe = ke;
      if (leafFlags(dv, el) & leafFlagBucket) {
        localBuckets++;
        openBucket(buf, dv, ks, ke, ke, ve, task, where);
      } else {
        localKeys++;
      }
    }
    keys += localKeys;
    observer?.keys(task.bucket, localKeys, localBuckets);
  };

  const checkKeyOrder = (
    buf: Buffer,
    ks: number,
    ke: number,
    ps: number,
    pe: number,
    i: number,
    count: number,
    task: PageTask,
    where: () => string,
    page: number | undefined,
    orderCode: 'key-order' | 'branch-key-order',
  ): void => {
    // Leaf keys out of order lose keys to every reader; separator keys out of order in a branch
    // misroute lookups (bbolt 1.4's check reports it, 1.3.6's does not): two codes.
    if (ps >= 0 && compareRanges(buf, ks, ke, buf, ps, pe) !== 1) {
      problem(
        orderCode,
        `${where()}: key ${i} (${printableName(buf.subarray(ks, ke))}) is not greater than key ${i - 1} (${printableName(buf.subarray(ps, pe))}); bbolt's binary search misses keys`,
        page,
      );
    }
    // Against the separator keys of the branch above (bbolt 1.4 checks this, 1.3.6 does not).
    if (i === 0 && task.loBuf && compareRanges(buf, ks, ke, task.loBuf, task.loS, task.loE) < 0) {
      problem(
        'key-out-of-range',
        `${where()}: first key ${printableName(buf.subarray(ks, ke))} sorts before its branch separator ${printableName(task.loBuf.subarray(task.loS, task.loE))} (${fromOf(task)})`,
        page,
      );
    }
    if (i === count - 1 && task.hiBuf && compareRanges(buf, ks, ke, task.hiBuf, task.hiS, task.hiE) >= 0) {
      problem(
        'key-out-of-range',
        `${where()}: last key ${printableName(buf.subarray(ks, ke))} is not below the next branch separator ${printableName(task.hiBuf.subarray(task.hiS, task.hiE))} (${fromOf(task)})`,
        page,
      );
    }
  };

  const walkBranch = (view: Buffer, spanBytes: number, count: number, task: PageTask, where: () => string): void => {
    const page = task.pgid;
    if (count === 0) {
      problem('branch-empty', `${where()}: branch page with no elements; bbolt reads past its end`, page);
      return;
    }
    const dataStart = pageHeaderSize + count * branchElementSize;
    if (dataStart > spanBytes) {
      problem('element-count-invalid', `${where()}: ${count} branch elements do not fit in ${spanBytes} bytes`, page);
      return;
    }
    if (task.treeDepth + 1 > limits.maxTreeDepth) {
      problem('tree-too-deep', `${where()}: more than ${limits.maxTreeDepth} branch levels`, page);
      return;
    }
    // One copy per branch page: its keys bound the children's keys until they are walked.
    const buf = Buffer.from(view);
    const dv = dataView(buf);
    const kids: PageTask[] = [];
    let ps = -1;
    let pe = -1;
    for (let i = 0; i < count; i++) {
      const el = elementOffset(0, i);
      const ks = branchKeyStart(dv, el);
      const ke = ks + branchKeySize(dv, el);
      const keyOk = ks >= dataStart && ke <= spanBytes;
      if (!keyOk) {
        problem(
          'element-out-of-page',
          `${where()}: branch element ${i} has key bytes [${ks}, ${ke}) outside its ${spanBytes}-byte page`,
          page,
        );
      } else {
        checkKeyOrder(buf, ks, ke, ps, pe, i, count, task, where, page, 'branch-key-order');
      }
      ps = keyOk ? ks : -1;
      pe = ke;
      const child = followable(dv, branchChildOffset(el), () => `element ${i} of branch page ${page}`);
      const kid: PageTask = {
        pgid: child,
        bucket: task.bucket,
        bucketDepth: task.bucketDepth,
        treeDepth: task.treeDepth + 1,
        loBuf: keyOk ? buf : task.loBuf,
        loS: keyOk ? ks : task.loS,
        loE: keyOk ? ke : task.loE,
        hiBuf: task.hiBuf,
        hiS: task.hiS,
        hiE: task.hiE,
        fromPage: page,
        fromElem: i,
      };
      // Each child's upper bound is the next separator.
      const prevKid = kids[kids.length - 1];
      if (prevKid && keyOk) {
        prevKid.hiBuf = buf;
        prevKid.hiS = ks;
        prevKid.hiE = ke;
      }
      kids.push(kid);
    }
    // Pushed in reverse so the walk visits children in key order.
    for (let i = kids.length - 1; i >= 0; i--) if (kids[i].pgid >= 0) stack.push(kids[i]);
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
      problem(
        'page-type-invalid',
        `${fromOf(task)} points at meta page ${id}; bbolt panics "invalid page type: ${id}: 4"`,
        id,
      );
      continue;
    }
    if (id >= filePages && !usable(id, fromOf(task))) continue;
    const got = readSpanHeader(id);
    if (got instanceof Error) {
      problem('io-error', `${where()}: ${got.message}`, id);
      continue;
    }
    const { header, first } = got;
    // The type comes first: a reference to the freelist page is the field's skopeo panic, even
    // though that page is also "reached" as the freelist.
    if (header.flags !== flagBranch && header.flags !== flagLeaf && ambiguousFlags(header.flags)) {
      problem(
        'page-flags-ambiguous',
        `${where()}: flags 0x${header.flags.toString(16)} mix a node type with other bits; bbolt 1.3.6 reads it as ${header.flags & flagBranch ? 'branch' : 'leaf'}, bbolt ≥1.3.7 panics "invalid page type"`,
        id,
      );
      continue;
    }
    if (header.flags !== flagBranch && header.flags !== flagLeaf) {
      problem(
        'page-type-invalid',
        `${fromOf(task)} points at page ${id}, which is a ${pageTypeName(header.flags)} page, not branch or leaf; skopeo panics "invalid page type: ${header.id}: ${header.flags.toString(16)}"`,
        id,
      );
      continue;
    }
    if (reached.has(id)) {
      problem(
        'page-multiply-referenced',
        `page ${id} is referenced again by ${fromOf(task)} (a cycle, or two parents sharing a page)`,
        id,
      );
      continue;
    }
    reached.add(id);
    if (free.has(id))
      problem(
        'page-reachable-freed',
        `${where()} is referenced by ${fromOf(task)} but listed in the freelist: the next writer will overwrite it`,
        id,
      );
    if (header.id !== BigInt(id)) {
      problem(
        'page-id-mismatch',
        `${where()}: page header says it is page ${header.id}; the page was overwritten or misplaced (bbolt ≥1.3.7 panics "Page expected to be: ${id}, but self identifies as ${header.id}")`,
        id,
      );
    }
    // A span too large to read is reported before its pages are marked: an overflow count of
    // 2^32 - 1 over a sparse file that claims terabytes would otherwise mark billions of pages.
    if ((header.overflow + 1) * pageSize > maxSpanBytes) {
      readSpan(id, first, (header.overflow + 1) * pageSize, where);
      continue;
    }
    // Overflow pages belong to this node: in range, in the file, referenced once, not free.
    let spanOk = true;
    for (let k = 1; k <= header.overflow; k++) {
      const oid = id + k;
      if (!usable(oid, `overflow page ${k} of page ${id}`)) {
        spanOk = false;
        break;
      }
      if (reached.has(oid))
        problem('page-multiply-referenced', `page ${oid} (overflow of page ${id}) is also used elsewhere`, oid);
      if (free.has(oid))
        problem('page-reachable-freed', `page ${oid} (overflow of page ${id}) is listed in the freelist`, oid);
      reached.add(oid);
    }
    if (!spanOk) continue;
    const spanBytes = (header.overflow + 1) * pageSize;
    const span = readSpan(id, first, spanBytes, where);
    if (span === null) continue;
    if (header.flags === flagBranch) walkBranch(span, spanBytes, header.count, task, where);
    else walkLeaf(span, dataView(span), 0, spanBytes, header.count, task, where, id);
  }

  if (!timedOut) {
    // Every page below the high-water mark is reachable or free (bbolt: "unreachable unfreed").
    // Listed in order while the list has room, counted after (as problem() would).
    if (freelistPersisted) {
      const lost = unmarkedIds(reached, free, 2, known, Math.max(0, limits.maxProblems - problems.length));
      for (const id of lost.first)
        problem(
          'page-unreachable-unfreed',
          `page ${id} is neither reachable nor free (leaked, or its parent lost)`,
          id,
        );
      overflowProblems += lost.count - lost.first.length;
    }
    // Pages between the end of the file and the high-water mark: harmless when all are free (a
    // writer extends the file when it reuses them), a truncation otherwise.
    if (hwm > filePages) {
      const missing = hwm - filePages;
      const notFree = freelistPersisted ? missing - freePastEnd : 0;
      if (notFree > 0 || beyondEof > 0) {
        problem(
          'file-truncated',
          `the file holds ${filePages} pages but the meta's high-water mark is ${hwm}: ${missing} page(s) are missing, ${Math.max(notFree, 0)} of them not free`,
        );
      } else {
        warnings.push({
          code: 'file-shorter-than-hwm',
          message: `the file holds ${filePages} pages, the high-water mark is ${hwm}; the missing pages are all free`,
        });
      }
    }
  }
  if (overflowProblems > 0) {
    problems.push({ code: 'more-problems', message: `${overflowProblems} more problem(s) not listed` });
  }
  return { problems, warnings, buckets, keys, timedOut };
}

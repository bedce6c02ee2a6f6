// The nodes of the tree: a branch page's separators and children, a leaf's keys and values,
// and the buckets a leaf opens (a sub-bucket's root page goes on the walk's stack; an inline
// bucket is walked here, as the leaf page image it is). Keys are compared in place, never
// copied, except one copy per branch page whose keys bound its children until they are walked.
import { bucketPath, pinBucket, printableName } from './bucket-names.ts';
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
  flagLeaf,
  leafElementSize,
  leafFlagBucket,
  leafFlags,
  leafKeySize,
  leafKeyStart,
  leafValueSize,
  pageCountAt,
  pageFlagsAt,
  pageHeaderSize,
  pageTypeName,
} from './format.ts';
import { followPageRef } from './page-ledger.ts';
import { ambiguousFlags, referrerOf, rootTask, type PageTask, type TreeWalk } from './tree-walk.ts';

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

// Branch elements of a span: separators in order and within the task's bounds; each child
// goes on the stack with the separators around it as its bounds.
export function walkBranch(
  walk: TreeWalk,
  view: Buffer,
  spanBytes: number,
  count: number,
  task: PageTask,
  where: () => string,
): void {
  const page = task.pgid;
  if (!branchFits(walk, spanBytes, count, task, where)) return;
  const dataStart = pageHeaderSize + count * branchElementSize;
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
      walk.problems.add(
        'element-out-of-page',
        `${where()}: branch element ${i} has key bytes [${ks}, ${ke}) outside its ${spanBytes}-byte page`,
        page,
      );
    } else {
      checkKeyOrder(walk, buf, ks, ke, ps, pe, i, count, task, where, page, 'branch-key-order');
    }
    ps = keyOk ? ks : -1;
    pe = ke;
    const child = followPageRef(
      walk.ledger,
      walk.problems,
      dv,
      branchChildOffset(el),
      () => `element ${i} of branch page ${page}`,
    );
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
  for (let i = kids.length - 1; i >= 0; i--) if (kids[i].pgid >= 0) walk.stack.push(kids[i]);
}

// A branch with elements that fit its span, not deeper than the limit.
function branchFits(walk: TreeWalk, spanBytes: number, count: number, task: PageTask, where: () => string): boolean {
  const page = task.pgid;
  if (count === 0) {
    walk.problems.add('branch-empty', `${where()}: branch page with no elements; bbolt reads past its end`, page);
    return false;
  }
  if (pageHeaderSize + count * branchElementSize > spanBytes) {
    walk.problems.add(
      'element-count-invalid',
      `${where()}: ${count} branch elements do not fit in ${spanBytes} bytes`,
      page,
    );
    return false;
  }
  if (task.treeDepth + 1 > walk.limits.maxTreeDepth) {
    walk.problems.add('tree-too-deep', `${where()}: more than ${walk.limits.maxTreeDepth} branch levels`, page);
    return false;
  }
  return true;
}

// Leaf elements of the page image at buf[base, limit): bounds, key order, sub-buckets. Keys
// are compared in place (no copies): this loop runs once per key of the file.
export function walkLeaf(
  walk: TreeWalk,
  buf: Buffer,
  dv: DataView,
  base: number,
  limit: number,
  count: number,
  task: PageTask,
  where: () => string,
  page: number | undefined,
): void {
  const dataStart = base + pageHeaderSize + count * leafElementSize;
  if (dataStart > limit) {
    walk.problems.add(
      'element-count-invalid',
      `${where()}: ${count} leaf elements do not fit in ${limit - base} bytes`,
      page,
    );
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
      walk.problems.add(
        'element-out-of-page',
        `${where()}: leaf element ${i} has key/value bytes [${ks - base}, ${ve - base}) outside its ${limit - base}-byte page`,
        page,
      );
      ps = -1;
      continue;
    }
    checkKeyOrder(walk, buf, ks, ke, ps, pe, i, count, task, where, page, 'key-order');
    ps = ks;
    pe = ke;
    if (leafFlags(dv, el) & leafFlagBucket) {
      localBuckets++;
      openBucket(walk, buf, dv, ks, ke, ke, ve, task, where);
    } else {
      localKeys++;
    }
  }
  walk.keys += localKeys;
  walk.observer?.keys(task.bucket, localKeys, localBuckets);
}

// Key i at buf[ks, ke) against the previous key buf[ps, pe) (ps -1: none) and, for the first
// and last key, against the separators of the branch above.
function checkKeyOrder(
  walk: TreeWalk,
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
): void {
  // Leaf keys out of order lose keys to every reader; separator keys out of order in a branch
  // misroute lookups (bbolt 1.4's check reports it, 1.3.6's does not): two codes.
  if (ps >= 0 && compareRanges(buf, ks, ke, buf, ps, pe) !== 1) {
    walk.problems.add(
      orderCode,
      `${where()}: key ${i} (${printableName(buf.subarray(ks, ke))}) is not greater than key ${i - 1} (${printableName(buf.subarray(ps, pe))}); bbolt's binary search misses keys`,
      page,
    );
  }
  // Against the separator keys of the branch above (bbolt 1.4 checks this, 1.3.6 does not).
  if (i === 0 && task.loBuf && compareRanges(buf, ks, ke, task.loBuf, task.loS, task.loE) < 0) {
    walk.problems.add(
      'key-out-of-range',
      `${where()}: first key ${printableName(buf.subarray(ks, ke))} sorts before its branch separator ${printableName(task.loBuf.subarray(task.loS, task.loE))} (${referrerOf(walk, task)})`,
      page,
    );
  }
  if (i === count - 1 && task.hiBuf && compareRanges(buf, ks, ke, task.hiBuf, task.hiS, task.hiE) >= 0) {
    walk.problems.add(
      'key-out-of-range',
      `${where()}: last key ${printableName(buf.subarray(ks, ke))} is not below the next branch separator ${printableName(task.hiBuf.subarray(task.hiS, task.hiE))} (${referrerOf(walk, task)})`,
      page,
    );
  }
}

// Opens the bucket whose value is buf[vs, ve) and whose name is buf[ks, ke).
function openBucket(
  walk: TreeWalk,
  buf: Buffer,
  dv: DataView,
  ks: number,
  ke: number,
  vs: number,
  ve: number,
  task: PageTask,
  where: () => string,
): void {
  walk.buckets++;
  if (ve - vs < bucketHeaderSize) {
    walk.problems.add(
      'bucket-value-invalid',
      `${where()}: sub-bucket "${printableName(buf.subarray(ks, ke))}" has a ${ve - vs}-byte value, shorter than a bucket header`,
    );
    return;
  }
  const { names, limits } = walk;
  const id = walk.nextBucketId++;
  const depth = task.bucketDepth + 1;
  const inline = bucketIsInline(dv, vs);
  walk.observer?.bucket(id, task.bucket, buf.subarray(ks, ke), inline);
  names.inline.push({ id, parent: task.bucket, buf, s: ks, e: ke });
  if (depth > limits.maxBucketDepth) {
    walk.problems.add(
      'bucket-nesting-too-deep',
      `${bucketPath(names, id)} is nested more than ${limits.maxBucketDepth} levels deep`,
    );
  } else if (inline) {
    walkInline(walk, buf, dv, vs + bucketHeaderSize, ve, id, depth);
  } else {
    const root = followPageRef(
      walk.ledger,
      walk.problems,
      dv,
      bucketRootOffset(vs),
      () => `the root of ${bucketPath(names, id)}`,
    );
    if (root >= 0) {
      pinBucket(names, id);
      walk.stack.push({ ...rootTask, pgid: root, bucket: id, bucketDepth: depth });
    }
  }
  names.inline.pop();
}

// An inline bucket: a complete leaf page image inside its parent's value, buf[start, end).
// bbolt's check skips these; a damaged one still panics skopeo on lookup, so we check it like
// a leaf.
function walkInline(
  walk: TreeWalk,
  buf: Buffer,
  dv: DataView,
  start: number,
  end: number,
  bucket: number,
  bucketDepth: number,
): void {
  const where = (): string => `inline ${bucketPath(walk.names, bucket)}`;
  if (end - start < pageHeaderSize) {
    walk.problems.add('inline-bucket-invalid', `${where()}: ${end - start} bytes, too short for a page header`);
    return;
  }
  const flags = pageFlagsAt(dv, start);
  if (flags !== flagLeaf && ambiguousFlags(flags)) {
    walk.problems.add(
      'page-flags-ambiguous',
      `${where()}: the inline page has flags 0x${flags.toString(16)}; bbolt 1.3.6 tests bits and may read it, bbolt ≥1.3.7 panics "invalid page type"`,
    );
    return;
  }
  if (flags !== flagLeaf) {
    walk.problems.add(
      'inline-bucket-invalid',
      `${where()}: the inline page has type ${pageTypeName(flags)}, not leaf; bbolt panics "invalid page type: 0: ${flags.toString(16)}" or reads garbage`,
    );
    return;
  }
  walkLeaf(walk, buf, dv, start, end, pageCountAt(dv, start), { ...rootTask, bucket, bucketDepth }, where, undefined);
}

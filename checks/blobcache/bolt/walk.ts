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
//
// The parts, each given its state explicitly (tree-walk.ts): problem-list.ts (the sink),
// page-ledger.ts (page counts, reached and free pages, the final sweep), freelist-walk.ts,
// node-walk.ts (branch, leaf and bucket nodes), page-reads.ts (the only reads). This file is
// the driver: it starts them in order, pops pages and checks each page before its node.
import type { ReadAt } from '../file-source.ts';
import type { CacheProblem } from '../verdict.ts';
import { bucketPath, createBucketNames } from './bucket-names.ts';
import { dataView, flagBranch, flagLeaf, pageTypeName, type PageHeader } from './format.ts';
import { walkFreelist } from './freelist-walk.ts';
import type { MetaReading } from './meta.ts';
import { walkBranch, walkLeaf } from './node-walk.ts';
import { closePageLedger, followPageRef, openPageLedger, usablePage } from './page-ledger.ts';
import { maxSpanBytes, readNodeSpan, readPageHead, type PageSource } from './page-reads.ts';
import { createProblemList } from './problem-list.ts';
import { ambiguousFlags, referrerOf, rootTask, type PageTask, type TreeWalk } from './tree-walk.ts';

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

// Walks the tree of the meta `reading` chose: the freelist into the ledger, then every page
// from the root, then the ledger's final sweep. Problems are values; nothing here throws on
// bad input.
export function walkBoltTree(
  readAt: ReadAt,
  fileSize: number,
  reading: MetaReading,
  limits: WalkLimits = defaultWalkLimits,
  observer?: WalkObserver,
): WalkResult {
  const problems = createProblemList(limits.maxProblems);
  const warnings: CacheProblem[] = [...reading.warnings];
  const ledger = openPageLedger(reading, fileSize, problems);
  const pages: PageSource = { readAt, pageSize: reading.pageSize };
  const freelistPersisted = walkFreelist(pages, ledger, problems, reading, warnings);
  const walk: TreeWalk = {
    pages,
    ledger,
    problems,
    names: createBucketNames(limits.maxBucketDepth),
    limits,
    observer,
    stack: [],
    buckets: 0,
    keys: 0,
    nextBucketId: 1,
  };
  observer?.bucket(0, -1, new Uint8Array(0), false);
  const metaRoot = Buffer.alloc(8);
  metaRoot.writeBigUInt64LE(reading.meta.root);
  const rootId = followPageRef(
    ledger,
    problems,
    dataView(metaRoot),
    0,
    () => `the root bucket of meta ${reading.chosen}`,
  );
  if (rootId >= 0) walk.stack.push({ ...rootTask, pgid: rootId });
  const timedOut = !drainPages(walk);
  if (!timedOut) closePageLedger(ledger, problems, warnings, freelistPersisted);
  return { problems: problems.close(), warnings, buckets: walk.buckets, keys: walk.keys, timedOut };
}

// The driver loop: visits pages until none is left (true) or the deadline passed (false).
function drainPages(walk: TreeWalk): boolean {
  const { stack, limits } = walk;
  let visited = 0;
  while (stack.length > 0) {
    const task = stack.pop()!;
    if ((++visited & 255) === 0 && limits.deadline !== undefined && performance.now() > limits.deadline) return false;
    visitPage(walk, task);
  }
  return true;
}

// One page reached from the tree: its id, type and header are checked and it is claimed in the
// ledger with its overflow pages (a second claim is a problem, not a visit); then its node is
// walked.
function visitPage(walk: TreeWalk, task: PageTask): void {
  const { ledger, problems, pages } = walk;
  const id = task.pgid;
  const where = (): string => `page ${id} (${bucketPath(walk.names, task.bucket)})`;
  if (id < 2) {
    problems.add(
      'page-type-invalid',
      `${referrerOf(walk, task)} points at meta page ${id}; bbolt panics "invalid page type: ${id}: 4"`,
      id,
    );
    return;
  }
  if (id >= ledger.filePages && !usablePage(ledger, problems, id, referrerOf(walk, task))) return;
  const got = readPageHead(pages, id);
  if (got instanceof Error) {
    problems.add('io-error', `${where()}: ${got.message}`, id);
    return;
  }
  const { header, first } = got;
  if (!claimNodePage(walk, task, header, where)) return;
  const spanBytes = (header.overflow + 1) * pages.pageSize;
  // A span too large to read is reported before its pages are marked: an overflow count of
  // 2^32 - 1 over a sparse file that claims terabytes would otherwise mark billions of pages.
  if (spanBytes > maxSpanBytes) {
    readNodeSpan(pages, problems, id, first, spanBytes, where);
    return;
  }
  if (!claimOverflowPages(walk, id, header.overflow)) return;
  const span = readNodeSpan(pages, problems, id, first, spanBytes, where);
  if (span === null) return;
  if (header.flags === flagBranch) walkBranch(walk, span, spanBytes, header.count, task, where);
  else walkLeaf(walk, span, dataView(span), 0, spanBytes, header.count, task, where, id);
}

// A branch or leaf page not reached before: marked reached; false after a problem that stops
// the visit.
function claimNodePage(walk: TreeWalk, task: PageTask, header: PageHeader, where: () => string): boolean {
  const { ledger, problems } = walk;
  const id = task.pgid;
  // The type comes first: a reference to the freelist page is the field's skopeo panic, even
  // though that page is also "reached" as the freelist.
  if (header.flags !== flagBranch && header.flags !== flagLeaf && ambiguousFlags(header.flags)) {
    problems.add(
      'page-flags-ambiguous',
      `${where()}: flags 0x${header.flags.toString(16)} mix a node type with other bits; bbolt 1.3.6 reads it as ${header.flags & flagBranch ? 'branch' : 'leaf'}, bbolt ≥1.3.7 panics "invalid page type"`,
      id,
    );
    return false;
  }
  if (header.flags !== flagBranch && header.flags !== flagLeaf) {
    problems.add(
      'page-type-invalid',
      `${referrerOf(walk, task)} points at page ${id}, which is a ${pageTypeName(header.flags)} page, not branch or leaf; skopeo panics "invalid page type: ${header.id}: ${header.flags.toString(16)}"`,
      id,
    );
    return false;
  }
  if (ledger.reached.has(id)) {
    problems.add(
      'page-multiply-referenced',
      `page ${id} is referenced again by ${referrerOf(walk, task)} (a cycle, or two parents sharing a page)`,
      id,
    );
    return false;
  }
  ledger.reached.add(id);
  if (ledger.free.has(id))
    problems.add(
      'page-reachable-freed',
      `${where()} is referenced by ${referrerOf(walk, task)} but listed in the freelist: the next writer will overwrite it`,
      id,
    );
  if (header.id !== BigInt(id)) {
    problems.add(
      'page-id-mismatch',
      `${where()}: page header says it is page ${header.id}; the page was overwritten or misplaced (bbolt ≥1.3.7 panics "Page expected to be: ${id}, but self identifies as ${header.id}")`,
      id,
    );
  }
  return true;
}

// Overflow pages belong to their node: in range, in the file, referenced once, not free.
function claimOverflowPages(walk: TreeWalk, id: number, overflow: number): boolean {
  const { ledger, problems } = walk;
  for (let k = 1; k <= overflow; k++) {
    const oid = id + k;
    if (!usablePage(ledger, problems, oid, `overflow page ${k} of page ${id}`)) return false;
    if (ledger.reached.has(oid))
      problems.add('page-multiply-referenced', `page ${oid} (overflow of page ${id}) is also used elsewhere`, oid);
    if (ledger.free.has(oid))
      problems.add('page-reachable-freed', `page ${oid} (overflow of page ${id}) is listed in the freelist`, oid);
    ledger.reached.add(oid);
  }
  return true;
}

// The state of one walk over a bolt tree, passed explicitly to each part of it (the way bbolt's
// checker passes its reachable and freed maps): where pages come from, the page ledger, the
// problem list, bucket names for messages, and the pages still to visit.
import { bucketPath, type BucketNames } from './bucket-names.ts';
import { flagBranch, flagLeaf } from './format.ts';
import type { PageLedger } from './page-ledger.ts';
import type { PageSource } from './page-reads.ts';
import type { ProblemList } from './problem-list.ts';
import type { WalkLimits, WalkObserver } from './walk.ts';

// A page to visit, with what its keys must satisfy and who referenced it.
export interface PageTask {
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

export interface TreeWalk {
  readonly pages: PageSource;
  readonly ledger: PageLedger;
  readonly problems: ProblemList;
  readonly names: BucketNames;
  readonly limits: WalkLimits;
  readonly observer: WalkObserver | undefined;
  // Pages still to visit: an explicit stack, so a deep or cyclic tree cannot overflow ours.
  readonly stack: PageTask[];
  buckets: number;
  keys: number;
  nextBucketId: number; // bucket ids in visiting order; the root bucket is 0
}

// The root page of a bucket with no bounds; tasks are copied from it.
export const rootTask: PageTask = {
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

export function referrerOf(walk: TreeWalk, task: PageTask): string {
  return task.fromElem < 0
    ? `the root of ${bucketPath(walk.names, task.bucket)}`
    : `element ${task.fromElem} of branch page ${task.fromPage}`;
}

// A node type bit plus other bits: readable by bbolt 1.3.6 (it tests bits with AND), fatal for
// bbolt 1.3.7+ (exact equality), docs/formats.md §1.2.
export function ambiguousFlags(flags: number): boolean {
  return (flags & (flagBranch | flagLeaf)) !== 0 && flags !== flagBranch && flags !== flagLeaf;
}

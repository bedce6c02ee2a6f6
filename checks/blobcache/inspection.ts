// What `cache inspect` shows: the tree of buckets (bolt) or tables (SQLite) with key/row counts
// and, for containers/image's own top-level names, what each one holds.
import type { CacheFormat, CacheVerdict } from './verdict.ts';

export interface InspectionNode {
  name: string; // printable: non-UTF-8 / control bytes are shown as hex
  kind: 'bucket' | 'table' | 'index';
  keys: number; // keys (bolt, excluding sub-buckets) or rows (SQLite)
  subBuckets?: number;
  inline?: boolean; // bolt: stored inline in its parent's leaf
  holds?: string; // what containers/image keeps here, for the names it uses
  children?: InspectionNode[];
  subtreeKeys?: number; // keys in this bucket and every bucket below it
  subtreeBuckets?: number; // buckets below this one, at any depth
  truncated?: boolean; // children were cut (too many to show)
}

export interface CacheInspection {
  path: string;
  format: CacheFormat;
  verdict: CacheVerdict; // a damaged file shows its problems instead of a tree
  tree: InspectionNode[];
}

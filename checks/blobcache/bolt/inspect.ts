// `cache inspect` for bolt files: the bucket tree with key counts, built from the verifier's
// walk (so a damaged file shows its problems, never a panic). Deep levels are summarised: the
// containers/image layout has one bucket per digest, far too many to list.
import type { ReadAt } from '../file-source.ts';
import type { CacheInspection, InspectionNode } from '../inspection.ts';
import { cimageBucketPurpose } from './cimage-layout.ts';
import { verifyBoltSource } from './verify.ts';
import type { WalkObserver } from './walk.ts';

export interface BoltInspectLimits {
  maxDepth: number; // bucket levels shown as nodes; deeper ones are folded into subtree counts
  maxChildren: number; // children listed per node
}

const defaultLimits: BoltInspectLimits = { maxDepth: 3, maxChildren: 20 };

interface Collector extends WalkObserver {
  roots: () => InspectionNode[];
}

function printable(name: Uint8Array): string {
  const text = Buffer.from(name).toString('utf8');
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  return `0x${Buffer.from(name).toString('hex')}`;
}

function collector(limits: BoltInspectLimits): Collector {
  const root: InspectionNode = {
    name: '',
    kind: 'bucket',
    keys: 0,
    subBuckets: 0,
    children: [],
    subtreeKeys: 0,
    subtreeBuckets: 0,
  };
  // Per bucket id: the node its counts go to (its own, or the nearest shown ancestor's when it is
  // folded), whether that node is its own, its depth, and the shown nodes above it.
  const nodeOf: InspectionNode[] = [root];
  const ownNode: boolean[] = [true];
  const depth: number[] = [0];
  const above: InspectionNode[][] = [[]];
  return {
    bucket(id, parent, name, inline) {
      if (id === 0) return;
      const d = depth[parent] + 1;
      depth[id] = d;
      const parentNode = nodeOf[parent];
      const parentChain = ownNode[parent] ? [...above[parent], parentNode] : above[parent];
      for (const a of parentChain) a.subtreeBuckets = (a.subtreeBuckets ?? 0) + 1;
      const canShow = ownNode[parent] && d <= limits.maxDepth && parentNode.children !== undefined;
      if (canShow && parentNode.children!.length < limits.maxChildren) {
        const node: InspectionNode = {
          name: printable(name),
          kind: 'bucket',
          keys: 0,
          subBuckets: 0,
          inline,
          subtreeKeys: 0,
          subtreeBuckets: 0,
        };
        if (d < limits.maxDepth) node.children = [];
        const holds = d === 1 ? cimageBucketPurpose(node.name) : undefined;
        if (holds) node.holds = holds;
        parentNode.children!.push(node);
        nodeOf[id] = node;
        ownNode[id] = true;
        above[id] = parentChain;
        return;
      }
      if (canShow) parentNode.truncated = true;
      // Folded: counted in the subtree totals of the shown buckets above it.
      nodeOf[id] = parentNode;
      ownNode[id] = false;
      above[id] = parentChain;
    },
    keys(bucket, keys, subBuckets) {
      const node = nodeOf[bucket];
      if (node === undefined) return;
      if (ownNode[bucket]) {
        node.keys += keys;
        node.subBuckets = (node.subBuckets ?? 0) + subBuckets;
        node.subtreeKeys = (node.subtreeKeys ?? 0) + keys;
      }
      for (const a of above[bucket]) a.subtreeKeys = (a.subtreeKeys ?? 0) + keys;
    },
    roots: () => root.children ?? [],
  };
}

export function inspectBoltSource(
  path: string,
  readAt: ReadAt,
  fileSize: number,
  limits: Partial<BoltInspectLimits> = {},
): CacheInspection {
  const started = performance.now();
  let current: Collector | null = null;
  const lim = { ...defaultLimits, ...limits };
  const result = verifyBoltSource(readAt, fileSize, {
    observer: () => (current = collector(lim)),
  });
  const verdict = { path, ...result, durationMs: Math.round((performance.now() - started) * 100) / 100 };
  const collected = current as Collector | null;
  const tree = result.verdict === 'healthy' || result.verdict === 'corrupt' ? (collected?.roots() ?? []) : [];
  return { path, format: result.format, verdict, tree };
}

// Bucket names, for messages only ("page 12 (bucket blob-info/sha256:…)"). Buckets being walked
// inline sit on `inline` as views into the current page; a bucket that a pending page task
// refers to is copied into `pinned` with its ancestors. So memory does not grow with the number
// of inline buckets (containers/image keeps one per blob digest).
export interface BucketNames {
  readonly pinned: Map<number, { parent: number; name: Buffer }>;
  readonly inline: { id: number; parent: number; buf: Buffer; s: number; e: number }[];
  readonly maxDepth: number; // bucket nesting the walk allows: paths are no longer than this
}

export function createBucketNames(maxDepth: number): BucketNames {
  return { pinned: new Map([[0, { parent: -1, name: Buffer.alloc(0) }]]), inline: [], maxDepth };
}

function bucketEntry(names: BucketNames, b: number): { parent: number; name: Uint8Array } | undefined {
  const { inline } = names;
  for (let i = inline.length - 1; i >= 0; i--) {
    const c = inline[i];
    if (c.id === b) return { parent: c.parent, name: c.buf.subarray(c.s, c.e) };
  }
  return names.pinned.get(b);
}

export function bucketPath(names: BucketNames, bucket: number): string {
  const parts: string[] = [];
  for (let b = bucket; b > 0 && parts.length <= names.maxDepth;) {
    const entry = bucketEntry(names, b);
    parts.unshift(entry ? printableName(entry.name) : '?');
    b = entry?.parent ?? 0;
  }
  return parts.length === 0 ? 'the root bucket' : `bucket ${parts.join('/')}`;
}

// Keeps the names of `bucket` and its ancestors past the page they were read from.
export function pinBucket(names: BucketNames, bucket: number): void {
  for (let b = bucket, n = 0; b > 0 && !names.pinned.has(b) && n <= names.maxDepth; n++) {
    const entry = bucketEntry(names, b);
    if (!entry) break;
    names.pinned.set(b, { parent: entry.parent, name: Buffer.from(entry.name) });
    b = entry.parent;
  }
}

export function printableName(name: Uint8Array): string {
  const text = Buffer.from(name).toString('utf8');
  const clean = /^[\x20-\x7e]*$/.test(text) && !text.includes('\ufffd');
  const shown = clean ? text : `0x${Buffer.from(name.subarray(0, 24)).toString('hex')}${name.length > 24 ? '…' : ''}`;
  return shown.length > 80 ? `${shown.slice(0, 77)}...` : shown;
}

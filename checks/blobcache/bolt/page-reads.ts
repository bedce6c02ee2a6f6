// Reading pages through the page source: a page's first page (for its header) and a node's
// whole span (the page and its overflow pages). The only place the walk reads the file.
import type { ReadAt } from '../file-source.ts';
import { readPageHeader, type PageHeader } from './format.ts';
import type { ProblemList } from './problem-list.ts';

export interface PageSource {
  readonly readAt: ReadAt;
  readonly pageSize: number;
}

// The largest node we read: containers/image values are a few KiB; bbolt allows 2 GiB, which
// would break the memory bound.
export const maxSpanBytes = 16 << 20;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function readPageHead(pages: PageSource, id: number): { header: PageHeader; first: Uint8Array } | Error {
  const { readAt, pageSize } = pages;
  const first = readAt(id * pageSize, pageSize);
  if (first instanceof Error) return first;
  if (first.length < pageSize) return new Error(`short read of page ${id}`);
  return { header: readPageHeader(first), first };
}

// The whole span of a node whose first page is `first`; null after reporting a problem.
export function readNodeSpan(
  pages: PageSource,
  problems: ProblemList,
  id: number,
  first: Uint8Array,
  spanBytes: number,
  where: () => string,
): Buffer | null {
  const { readAt, pageSize } = pages;
  if (spanBytes === pageSize) return asBuffer(first);
  if (spanBytes > maxSpanBytes) {
    problems.add(
      'node-too-large',
      `${where()}: a node of ${spanBytes} bytes (${spanBytes / pageSize} pages); containers/image never writes values this large`,
      id,
    );
    return null;
  }
  const whole = readAt(id * pageSize, spanBytes);
  if (whole instanceof Error || whole.length < spanBytes) {
    problems.add('io-error', `${where()}: ${whole instanceof Error ? whole.message : 'short read'}`, id);
    return null;
  }
  return asBuffer(whole);
}

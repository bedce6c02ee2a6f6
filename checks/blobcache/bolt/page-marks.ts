// A set of page ids for the walk (pages reached, pages free), sized by the pages the walk
// really marks rather than by the page count a meta claims.
//
// Why not one byte per page: a sparse file can claim terabytes with valid metas (1 TiB is
// 2^28 pages of 4 KiB, 16 TiB is 2^32) while holding a few KiB of data. A byte map that size
// is gigabytes, and sweeping it for unreachable pages took minutes. Here storage grows in
// chunks of 64 Ki pages where a page is marked, and the sweep visits only those chunks; the
// pages between them, which nothing reached and nothing freed, are counted, not visited. A
// real file's pages are all marked, so for it this is the byte map it replaced, in pieces.
const chunkBits = 16;
const chunkPages = 1 << chunkBits;
const inChunk = chunkPages - 1;

export interface PageMarks {
  has(id: number): boolean;
  add(id: number): void;
  chunkIndexes(): number[]; // of chunks holding at least one mark, ascending
}

export function createPageMarks(): PageMarks {
  // Indexed by chunk number: a real file's chunks are 0..n, so this stays a packed array; the
  // chunks of a sparse file are few (V8 keeps a holey array as a dictionary).
  const chunks: (Uint8Array | undefined)[] = [];
  return {
    has: (id) => {
      const chunk = chunks[Math.floor(id / chunkPages)];
      return chunk !== undefined && chunk[id & inChunk] === 1;
    },
    add: (id) => {
      const index = Math.floor(id / chunkPages);
      let chunk = chunks[index];
      if (chunk === undefined) {
        chunk = new Uint8Array(chunkPages);
        chunks[index] = chunk;
      }
      chunk[id & inChunk] = 1;
    },
    chunkIndexes: () =>
      Object.keys(chunks)
        .map(Number)
        .sort((x, y) => x - y),
  };
}

// The ids in [from, to) in neither set: how many, and the first `limit` of them in ascending
// order. Work is bounded by the marked chunks, whatever the range.
export function unmarkedIds(
  a: PageMarks,
  b: PageMarks,
  from: number,
  to: number,
  limit: number,
): { count: number; first: number[] } {
  const first: number[] = [];
  let count = 0;
  const unmarkedRun = (start: number, end: number): void => {
    if (start >= end) return;
    count += end - start;
    for (let id = start; id < end && first.length < limit; id++) first.push(id);
  };
  const indexes = [...new Set([...a.chunkIndexes(), ...b.chunkIndexes()])].sort((x, y) => x - y);
  let cursor = from;
  for (const index of indexes) {
    const start = Math.max(index * chunkPages, cursor);
    const end = Math.min((index + 1) * chunkPages, to);
    if (start >= end) continue;
    unmarkedRun(cursor, start);
    for (let id = start; id < end; id++) {
      if (a.has(id) || b.has(id)) continue;
      count++;
      if (first.length < limit) first.push(id);
    }
    cursor = end;
  }
  unmarkedRun(cursor, to);
  return { count, first };
}

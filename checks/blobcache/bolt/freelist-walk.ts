// The freelist: its page (type, id, span) is marked reached, and every id it lists is marked
// free in the ledger, so the tree walk can tell a reachable page that a writer will overwrite
// and the final sweep can tell a leaked one.
import type { CacheProblem } from '../verdict.ts';
import type { MetaReading } from './meta.ts';
import {
  dataView,
  flagFreelist,
  freelistLayout,
  noFreelist,
  pageIdAt,
  pageTypeName,
  type PageHeader,
} from './format.ts';
import { maxSafePgid, usablePage, type PageLedger } from './page-ledger.ts';
import { readNodeSpan, readPageHead, type PageSource } from './page-reads.ts';
import type { ProblemList } from './problem-list.ts';

// Reads the freelist the chosen meta points at into the ledger. Returns whether the file has a
// persisted freelist at all (without one, no page can be judged leaked).
export function walkFreelist(
  pages: PageSource,
  ledger: PageLedger,
  problems: ProblemList,
  reading: MetaReading,
  warnings: CacheProblem[],
): boolean {
  const { meta } = reading;
  if (meta.freelist === noFreelist) {
    warnings.push({
      code: 'freelist-not-persisted',
      message:
        'the freelist is not persisted (NoFreelistSync); bbolt rebuilds it on open and a read-write open writes it back',
    });
    return false;
  }
  const fid = meta.freelist >= BigInt(maxSafePgid) ? Number.MAX_SAFE_INTEGER : Number(meta.freelist);
  if (fid < 2) {
    problems.add('freelist-page-invalid', `meta ${reading.chosen} points the freelist at meta page ${fid}`, fid);
  } else if (usablePage(ledger, problems, fid, 'the freelist page')) {
    const got = readPageHead(pages, fid);
    if (got instanceof Error) problems.add('io-error', `reading the freelist page ${fid}: ${got.message}`, fid);
    else readFreelistPage(pages, ledger, problems, fid, got.header, got.first);
  }
  return true;
}

function readFreelistPage(
  pages: PageSource,
  ledger: PageLedger,
  problems: ProblemList,
  fid: number,
  header: PageHeader,
  first: Uint8Array,
): void {
  if (header.flags !== flagFreelist) {
    problems.add(
      'freelist-page-invalid',
      `the freelist page ${fid} has type ${pageTypeName(header.flags)}; bbolt panics "invalid freelist page: ${fid}, page type is ${pageTypeName(header.flags)}"`,
      fid,
    );
    return;
  }
  if (header.id !== BigInt(fid))
    problems.add('page-id-mismatch', `the freelist page ${fid} says it is page ${header.id}`, fid);
  const spanPages = header.overflow + 1;
  if (!markFreelistSpan(ledger, problems, fid, spanPages)) return;
  const spanBytes = spanPages * pages.pageSize;
  const span = readNodeSpan(pages, problems, fid, first, spanBytes, () => `the freelist page ${fid}`);
  if (span === null) return;
  const { first: idsAt, count } = freelistLayout(header, dataView(span));
  if (count > BigInt((spanBytes - idsAt) / 8)) {
    problems.add(
      'freelist-count-invalid',
      `the freelist page ${fid} claims ${count} free ids, but its ${spanPages} page(s) hold at most ${Math.floor((spanBytes - idsAt) / 8)}`,
      fid,
    );
    return;
  }
  markFreeIds(ledger, problems, fid, span.subarray(idsAt, idsAt + Number(count) * 8));
  // The freelist page itself may not be listed as free.
  for (let k = 0; k < spanPages && fid + k < ledger.known; k++) {
    if (ledger.free.has(fid + k))
      problems.add('page-reachable-freed', `the freelist's own page ${fid + k} is listed as free`, fid + k);
  }
}

// The freelist's own pages are reached; false when its span runs past the readable pages.
function markFreelistSpan(ledger: PageLedger, problems: ProblemList, fid: number, spanPages: number): boolean {
  for (let k = 0; k < spanPages; k++) {
    const id = fid + k;
    if (id >= ledger.known) {
      usablePage(ledger, problems, id, `overflow page ${k} of the freelist page ${fid}`);
      return false;
    }
    if (ledger.reached.has(id))
      problems.add('page-multiply-referenced', `page ${id} is referenced twice (freelist overflow)`, id);
    ledger.reached.add(id);
  }
  return true;
}

// The listed ids (u64 each) go into the free set; out-of-range ones are summarised in one problem.
function markFreeIds(ledger: PageLedger, problems: ProblemList, fid: number, ids: Uint8Array): void {
  const { hwm, known, free } = ledger;
  const dv = dataView(ids);
  const n = ids.length / 8;
  let outOfRange = 0;
  let firstOut = -1;
  for (let i = 0; i < n; i++) {
    const id = pageIdAt(dv, i * 8);
    if (id < 2 || id >= hwm) {
      if (outOfRange++ === 0) firstOut = id;
      continue;
    }
    if (id >= known) {
      ledger.freePastEnd++; // free and past the end of the file: nothing reads it
      continue;
    }
    if (free.has(id))
      problems.add('freelist-duplicate', `page ${id} is listed twice in the freelist ("already freed")`, id);
    free.add(id);
  }
  if (outOfRange > 0) {
    problems.add(
      'freelist-entry-out-of-range',
      `the freelist lists ${outOfRange} page id(s) outside [2, ${hwm}), e.g. ${firstOut}; a writer would hand out pages that overlap the metas or lie past the high-water mark`,
      fid,
    );
  }
}

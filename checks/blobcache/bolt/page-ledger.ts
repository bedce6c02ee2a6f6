// The walk's account of the file's pages: the page counts every id is measured against, which
// pages were reached (metas, freelist, tree) and which the freelist lists as free, and, at the
// end, the pages in neither (bbolt's "unreachable unfreed") and the pages past the end of the
// file. The sets are page-marks.ts's, so a meta claiming terabytes costs what the data costs.
import type { CacheProblem } from '../verdict.ts';
import type { MetaReading } from './meta.ts';
import { pageIdAt } from './format.ts';
import { createPageMarks, unmarkedIds, type PageMarks } from './page-marks.ts';
import type { ProblemList } from './problem-list.ts';

// Page ids at or above this are not exact in a double; no real file comes near it.
export const maxSafePgid = 2 ** 52;

export interface PageLedger {
  readonly pageSize: number;
  readonly hwm: number; // the chosen meta's high-water mark (the file's page count if absurd)
  readonly filePages: number; // whole pages in the file
  readonly known: number; // pages both below hwm and in the file: the only ones marked
  readonly reached: PageMarks;
  readonly free: PageMarks;
  freePastEnd: number; // free ids in [filePages, hwm)
  beyondEof: number; // references to pages past the end of the file
}

export function openPageLedger(reading: MetaReading, fileSize: number, problems: ProblemList): PageLedger {
  const { pageSize, meta } = reading;
  const filePages = Math.floor(fileSize / pageSize);
  let hwm: number;
  if (meta.pgid > BigInt(maxSafePgid)) {
    problems.add(
      'meta-hwm-invalid',
      `meta ${reading.chosen} high-water mark ${meta.pgid} is absurd for a ${fileSize}-byte file`,
      reading.chosen,
    );
    hwm = filePages;
  } else {
    hwm = Number(meta.pgid);
  }
  const known = Math.min(hwm, filePages);
  const reached = createPageMarks();
  if (known > 0) reached.add(0);
  if (known > 1) reached.add(1);
  return { pageSize, hwm, filePages, known, reached, free: createPageMarks(), freePastEnd: 0, beyondEof: 0 };
}

// Classifies a page id that is about to be used; returns false when it cannot be read.
export function usablePage(ledger: PageLedger, problems: ProblemList, id: number, what: string): boolean {
  const { hwm, filePages } = ledger;
  if (id >= hwm) {
    problems.add('page-out-of-bounds', `${what} is page ${id}, at or beyond the high-water mark ${hwm}`, id);
    return false;
  }
  if (id >= filePages) {
    ledger.beyondEof++;
    problems.add(
      'page-beyond-eof',
      `${what} is page ${id}, past the end of the file (${filePages} pages): bbolt faults (SIGBUS) reading it`,
      id,
    );
    return false;
  }
  return true;
}

// A page reference (the u64 at dv[at]) about to be followed: its id, or -1 after a problem.
// Out-of-range ids are reported here, where the raw u64 is at hand: bbolt 1.3.6 computes
// id × pageSize in 64 bits, so an id whose high bits were damaged can wrap onto a real page
// (1.3.6 reads it, 1.3.7+ panics).
export function followPageRef(
  ledger: PageLedger,
  problems: ProblemList,
  dv: DataView,
  at: number,
  what: () => string,
): number {
  const { hwm, pageSize } = ledger;
  const id = pageIdAt(dv, at);
  if (id < hwm) return id;
  const raw = dv.getBigUint64(at, true);
  const wrapped = ((raw * BigInt(pageSize)) & 0xffffffffffffffffn) / BigInt(pageSize);
  if (wrapped < BigInt(hwm) && wrapped !== raw) {
    problems.add(
      'page-id-wraps',
      `${what()} is page ${raw}, beyond the high-water mark ${hwm}; bbolt 1.3.6 wraps ${raw} × ${pageSize} onto page ${wrapped}, bbolt ≥1.3.7 panics`,
      Number(wrapped),
    );
    // Walk on where 1.3.6 lands, so the rest of the tree is judged as that reader sees it.
    return Number(wrapped);
  } else {
    problems.add('page-out-of-bounds', `${what()} is page ${raw}, at or beyond the high-water mark ${hwm}`);
  }
  return -1;
}

// After a complete walk: every page below the high-water mark is reachable or free, and the
// pages the meta counts but the file lacks are all free. Without a persisted freelist there is
// no free list to hold the pages against (bbolt rebuilds it from the tree on open).
export function closePageLedger(
  ledger: PageLedger,
  problems: ProblemList,
  warnings: CacheProblem[],
  freelistPersisted: boolean,
): void {
  const { hwm, filePages } = ledger;
  if (freelistPersisted) {
    // Listed in order while the list has room, counted after (as ProblemList.add would).
    const lost = unmarkedIds(ledger.reached, ledger.free, 2, ledger.known, problems.room());
    for (const id of lost.first)
      problems.add(
        'page-unreachable-unfreed',
        `page ${id} is neither reachable nor free (leaked, or its parent lost)`,
        id,
      );
    problems.countUnlisted(lost.count - lost.first.length);
  }
  // Pages between the end of the file and the high-water mark: harmless when all are free (a
  // writer extends the file when it reuses them), a truncation otherwise.
  if (hwm > filePages) {
    const missing = hwm - filePages;
    const notFree = freelistPersisted ? missing - ledger.freePastEnd : 0;
    if (notFree > 0 || ledger.beyondEof > 0) {
      problems.add(
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

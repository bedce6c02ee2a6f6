// Where the walk reports what it finds, like the error channel of bbolt's tx.Check(): the walk
// adds a problem and goes on. The first `max` problems are listed and the rest only counted, so
// a file damaged everywhere costs bounded memory and the report still says how many there were.
import type { CacheProblem } from '../verdict.ts';

export interface ProblemList {
  add(code: CacheProblem['code'], message: string, page?: number): void;
  // How many more problems would still be listed.
  room(): number;
  // Problems found but not listed (a sweep that lists only the first few of its own).
  countUnlisted(n: number): void;
  // The listed problems, then one `more-problems` summary if any were left out.
  close(): CacheProblem[];
}

export function createProblemList(max: number): ProblemList {
  const listed: CacheProblem[] = [];
  let unlisted = 0;
  return {
    add: (code, message, page) => {
      if (listed.length < max) listed.push(page === undefined ? { code, message } : { code, page, message });
      else unlisted++;
    },
    room: () => Math.max(0, max - listed.length),
    countUnlisted: (n) => {
      unlisted += n;
    },
    close: () => {
      if (unlisted > 0) listed.push({ code: 'more-problems', message: `${unlisted} more problem(s) not listed` });
      return listed;
    },
  };
}

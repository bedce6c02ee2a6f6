// The cache-work lock: blob-cache verifications and quarantines run one at a time. They must
// not overlap, or the quarantine finds the agent's own verification child holding the file open
// and says busy.

// Runs `work` once every job queued before it has settled, and returns its result.
export type CacheWorkLock = <T>(work: () => Promise<T>) => Promise<T>;

// A promise-chain mutex: each job starts when the one before it has settled.
export function createExclusive(): CacheWorkLock {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const result = tail.then(work, work);
    tail = result.catch(() => undefined);
    return result;
  };
}

// Watches the blob-cache directories (inotify through fs.watch) so a write is verified within
// seconds instead of at the next scheduled run. After the last event a short quiet period lets
// a commit finish (bbolt writes pages, fdatasyncs, then the meta; SQLite writes the -wal then
// its commit frame); the wait is bounded from the first event, so a cache written without pause
// is still verified every `maxDelayMs`; and runs are at least `minIntervalMs` apart, so a cache
// committed to every second costs a verification every few seconds, not one per commit
// (measured: one child per commit cost more than the whole schedule did before). What cannot be watched (a directory that does not exist
// yet, NFS, inotify limits) is left to the schedule: every blob-cache run calls arm() again,
// which also re-arms a directory that was replaced (a new inode at the same path).
import { statSync, watch as fsWatch, type FSWatcher } from 'node:fs';
import { cacheFileNames } from '../checks/blobcache/discover.ts';
import type { Logger } from './log.ts';

export interface CacheWatcherOptions {
  onWrite: () => void;
  settleMs?: number; // quiet period after the last event (default 250)
  maxDelayMs?: number; // longest wait after the first event (default 1500)
  minIntervalMs?: number; // shortest time between two runs it starts (default 2500)
  log?: Logger;
  watch?: typeof fsWatch; // tests inject a failing one
}

export interface CacheWatcher {
  // Watches exactly these directories from now on.
  arm(dirs: readonly string[]): void;
  watching(): string[];
  close(): void;
}

// The files whose writes matter: the caches, the -wal and the -journal. Not -shm: SQLite
// readers (our own verification among them) write their read marks there.
const cacheNames = Object.values(cacheFileNames);
export function isCacheWrite(fileName: string | null): boolean {
  if (fileName === null) return true; // the kernel did not say which: assume it was ours
  return cacheNames.some((n) => fileName === n || fileName === `${n}-wal` || fileName === `${n}-journal`);
}

interface Watched {
  watcher: FSWatcher;
  dev: number;
  ino: number;
  dead: boolean;
}

export function createCacheWatcher(opts: CacheWatcherOptions): CacheWatcher {
  const settleMs = opts.settleMs ?? 250;
  const maxDelayMs = opts.maxDelayMs ?? 1500;
  const minIntervalMs = opts.minIntervalMs ?? 2500;
  const watchFn = opts.watch ?? fsWatch;
  const watched = new Map<string, Watched>();
  let firstEventAt: number | null = null;
  let lastFiredAt = -Infinity;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const fire = (): void => {
    timer = null;
    firstEventAt = null;
    lastFiredAt = Date.now();
    if (!closed) opts.onWrite();
  };
  const onEvent = (fileName: string | null): void => {
    if (closed || !isCacheWrite(fileName)) return;
    const now = Date.now();
    if (firstEventAt === null) firstEventAt = now;
    if (timer) clearTimeout(timer);
    const wait = Math.max(0, Math.min(settleMs, firstEventAt + maxDelayMs - now), lastFiredAt + minIntervalMs - now);
    timer = setTimeout(fire, wait);
    timer.unref?.();
  };

  const unwatch = (dir: string): void => {
    const w = watched.get(dir);
    if (!w) return;
    w.watcher.close();
    watched.delete(dir);
  };

  const watchDir = (dir: string): void => {
    let st;
    try {
      st = statSync(dir);
    } catch {
      return; // not there (yet): the schedule covers it; the next arm() tries again
    }
    if (!st.isDirectory()) return;
    const old = watched.get(dir);
    if (old && !old.dead && old.dev === st.dev && old.ino === st.ino) return;
    unwatch(dir);
    try {
      const entry: Watched = { watcher: null as unknown as FSWatcher, dev: st.dev, ino: st.ino, dead: false };
      entry.watcher = watchFn(dir, { persistent: false }, (_event, fileName) =>
        onEvent(typeof fileName === 'string' ? fileName : null),
      );
      entry.watcher.on('error', (err) => {
        entry.dead = true;
        opts.log?.warn(
          { event: 'cache-watch-failed', dir, err: String(err) },
          'cache directory watch failed; the schedule covers it until it is re-armed',
        );
      });
      watched.set(dir, entry);
    } catch (err) {
      opts.log?.warn(
        { event: 'cache-watch-unavailable', dir, err: String(err) },
        'cannot watch the cache directory; the schedule covers it',
      );
    }
  };

  return {
    arm(dirs) {
      if (closed) return;
      const wanted = new Set(dirs);
      for (const dir of [...watched.keys()]) if (!wanted.has(dir)) unwatch(dir);
      for (const dir of wanted) watchDir(dir);
    },
    watching: () => [...watched.keys()].filter((d) => !watched.get(d)!.dead),
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const dir of [...watched.keys()]) unwatch(dir);
    },
  };
}

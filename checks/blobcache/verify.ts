// Verify one blob-info cache file, whatever its format: the format is decided from the content,
// then the bolt or SQLite verifier judges it. Never throws; every failure is a verdict.
import { openCacheFile, isOpenFailure } from './file-source.ts';
import { detectCacheFormat } from './detect.ts';
import { unreadableVerdict, type CacheVerdict } from './verdict.ts';
import { verifyBoltOpened } from './bolt/verify-file.ts';
import { verifySqliteFile } from './sqlite/verify.ts';

export interface VerifyOptions {
  // Deep verification: SQLite `integrity_check` instead of `quick_check`. (The bolt verifier
  // always walks everything; it is fast enough.)
  full?: boolean;
  // How many times a read that raced a committing writer is retried before the verdict is busy.
  maxAttempts?: number;
  // Upper bound on how long one SQLite lock wait may take, in milliseconds.
  busyTimeoutMs?: number;
  // The caller's deadline (the check's own): a verification in a child process is stopped when
  // it aborts. In-process verification does not look at it.
  signal?: AbortSignal;
  // Where SQLite's private snapshot directory is made (default os.tmpdir()); the daemon hands
  // its child a directory of its own under the state directory (agent/cache-verify-child.ts).
  snapshotDir?: string;
}

export async function verifyCacheFile(path: string, opts: VerifyOptions = {}): Promise<CacheVerdict> {
  const started = performance.now();
  const opened = openCacheFile(path);
  if (isOpenFailure(opened)) return unreadableVerdict(path, { code: opened.code, message: opened.message }, started);
  try {
    const head = opened.readAt(0, 64);
    if (head instanceof Error)
      return unreadableVerdict(path, { code: 'io-error', message: `${path}: ${head.message}` }, started, {
        sizeBytes: opened.stat.size,
      });
    // Bolt, empty and unknown files all go to the bolt verifier: it knows the zero-length case
    // and probes for a second meta page before it calls a file "not a cache".
    if (detectCacheFormat(head, opened.stat.size) !== 'sqlite') return verifyBoltOpened(path, opened, opts, started);
  } finally {
    // Closed before SQLite opens the file: closing any descriptor of a file drops this
    // process's POSIX locks on it, SQLite's included.
    opened.close();
  }
  return verifySqliteFile(path, opts);
}

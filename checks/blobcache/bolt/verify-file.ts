// Verify a bolt cache file on disk: open it safely, verify through positional reads, close.
import { scratchReadAt, isOpenFailure, openCacheFile, type OpenedCacheFile } from '../file-source.ts';
import { unreadableVerdict, type CacheVerdict } from '../verdict.ts';
import { verifyBoltSource, type BoltVerifyOptions } from './verify.ts';

export function verifyBoltFileSync(path: string, opts: BoltVerifyOptions = {}): CacheVerdict {
  const started = performance.now();
  const opened = openCacheFile(path);
  if (isOpenFailure(opened)) return unreadableVerdict(path, { code: opened.code, message: opened.message }, started);
  try {
    return verifyBoltOpened(path, opened, opts, started);
  } finally {
    opened.close();
  }
}

// Verifies a file the caller opened (and closes): the dispatcher detects the format and
// verifies through the same descriptor, so both look at the same inode.
export function verifyBoltOpened(
  path: string,
  opened: OpenedCacheFile,
  opts: BoltVerifyOptions,
  startedAt: number,
): CacheVerdict {
  const result = verifyBoltSource(scratchReadAt(opened.fd), opened.currentSize, opts);
  return { path, ...result, durationMs: Math.round((performance.now() - startedAt) * 100) / 100 };
}

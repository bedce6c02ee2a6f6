// Inspect one cache file, whatever its format (decided from the content).
import { isOpenFailure, openCacheFile, scratchReadAt } from './file-source.ts';
import { detectCacheFormat } from './detect.ts';
import type { CacheInspection } from './inspection.ts';
import { unreadableVerdict } from './verdict.ts';
import { inspectBoltSource } from './bolt/inspect.ts';
import { inspectSqliteFile } from './sqlite/inspect.ts';

export async function inspectCacheFile(path: string): Promise<CacheInspection> {
  const opened = openCacheFile(path);
  if (isOpenFailure(opened)) {
    const verdict = unreadableVerdict(path, { code: opened.code, message: opened.message }, performance.now());
    return { path, format: 'unknown', tree: [], verdict };
  }
  try {
    const head = opened.readAt(0, 64);
    if (head instanceof Error || detectCacheFormat(head, opened.stat.size) !== 'sqlite') {
      return inspectBoltSource(path, scratchReadAt(opened.fd), opened.currentSize());
    }
  } finally {
    opened.close(); // before SQLite opens it (see verify.ts)
  }
  return inspectSqliteFile(path);
}

// Inspect one cache file, whatever its format (decided from the content).
import { isOpenFailure, openCacheFile } from './file-source.ts';
import { detectCacheFormat } from './detect.ts';
import type { CacheInspection } from './inspection.ts';
import { inspectBoltSource } from './bolt/inspect.ts';
import { inspectSqliteFile } from './sqlite/inspect.ts';

export async function inspectCacheFile(path: string): Promise<CacheInspection> {
  const opened = openCacheFile(path);
  if (isOpenFailure(opened)) {
    return {
      path, format: 'unknown', tree: [],
      verdict: { path, format: 'unknown', verdict: 'unreadable', problems: [{ code: opened.code, message: opened.message }], warnings: [], stats: {}, durationMs: 0 },
    };
  }
  try {
    const head = opened.readAt(0, 64);
    if (!(head instanceof Error) && detectCacheFormat(head, opened.stat.size) === 'sqlite') {
      opened.close();
      return inspectSqliteFile(path);
    }
    return inspectBoltSource(path, opened.readAt, opened.stat.size);
  } finally {
    try { opened.close(); } catch { /* already closed for SQLite */ }
  }
}

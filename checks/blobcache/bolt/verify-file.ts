// Verify a bolt cache file on disk: open it safely, verify through positional reads, close.
import { scratchReadAt, isOpenFailure, openCacheFile } from '../file-source.ts';
import type { CacheVerdict } from '../verdict.ts';
import { verifyBoltSource, type BoltVerifyOptions } from './verify.ts';

export async function verifyBoltFile(path: string, opts: BoltVerifyOptions = {}): Promise<CacheVerdict> {
  return verifyBoltFileSync(path, opts);
}

export function verifyBoltFileSync(path: string, opts: BoltVerifyOptions = {}): CacheVerdict {
  const started = performance.now();
  const opened = openCacheFile(path);
  if (isOpenFailure(opened)) {
    return {
      path, format: 'unknown', verdict: 'unreadable', problems: [{ code: opened.code, message: opened.message }],
      warnings: [], stats: {}, durationMs: performance.now() - started,
    };
  }
  try {
    const result = verifyBoltSource(scratchReadAt(opened.fd), opened.currentSize, opts);
    return { path, ...result, durationMs: Math.round((performance.now() - started) * 100) / 100 };
  } finally {
    opened.close();
  }
}

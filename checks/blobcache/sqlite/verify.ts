// Placeholder until the SQLite verifier lands (issue 3): says clearly that SQLite files are
// not verified yet instead of guessing.
import type { CacheVerdict } from '../verdict.ts';
import type { VerifyOptions } from '../verify.ts';

export async function verifySqliteFile(path: string, _opts: VerifyOptions = {}): Promise<CacheVerdict> {
  return {
    path,
    format: 'sqlite',
    verdict: 'unreadable',
    problems: [{ code: 'format-not-supported', message: 'SQLite cache verification is not implemented yet' }],
    warnings: [],
    stats: {},
    durationMs: 0,
  };
}

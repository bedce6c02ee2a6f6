// Placeholder until the SQLite verifier lands (issue 3).
import type { CacheInspection } from '../inspection.ts';
import { verifySqliteFile } from './verify.ts';

export async function inspectSqliteFile(path: string): Promise<CacheInspection> {
  return { path, format: 'sqlite', verdict: await verifySqliteFile(path), tree: [] };
}

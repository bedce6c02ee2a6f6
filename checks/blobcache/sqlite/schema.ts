// containers/image's blob-info cache schema (pkg/blobinfocache/sqlite/sqlite.go,
// ensureDBHasCurrentSchema; docs/formats.md §2b) and the rule deciding whether a readable SQLite
// database is such a cache.
import type { DatabaseSync } from 'node:sqlite';

export interface CacheTable {
  since: '5.28' | '5.32.1';
  columns: string[];
  holds: string;
}

export const cacheTables: Record<string, CacheTable> = {
  DigestUncompressedPairs: {
    since: '5.28',
    columns: ['anyDigest', 'uncompressedDigest'],
    holds: 'blob digest (possibly compressed) -> digest of its uncompressed form',
  },
  DigestCompressors: {
    since: '5.28',
    columns: ['digest', 'compressor'],
    holds: 'blob digest -> compressor that produced it (gzip, zstd, uncompressed, ...)',
  },
  KnownLocations: {
    since: '5.28',
    columns: ['transport', 'scope', 'digest', 'location', 'time'],
    holds: 'where a blob was seen: transport, repository scope and digest -> location and when',
  },
  DigestTOCUncompressedPairs: {
    since: '5.32.1',
    columns: ['tocDigest', 'uncompressedDigest'],
    holds: 'TOC digest of a zstd:chunked / eStargz layer -> uncompressed digest',
  },
  DigestSpecificVariantCompressors: {
    since: '5.32.1',
    columns: ['digest', 'specificVariantCompressor', 'specificVariantAnnotations'],
    holds: 'blob digest -> compressor variant and its annotations',
  },
};

export const cacheIndexes: Record<string, string> = {
  DigestUncompressedPairs_index_uncompressedDigest: 'finds the compressed variants of an uncompressed digest',
};

export interface SchemaItem {
  type: string;
  name: string;
  table: string;
}

export type SchemaJudgement =
  | { kind: 'cache'; tables: string[]; items: SchemaItem[] }
  // No table at all: a file created but not yet initialised; the next skopeo creates the schema.
  | { kind: 'empty'; items: SchemaItem[] }
  | { kind: 'not-a-cache'; reason: string; items: SchemaItem[] }
  | { kind: 'incomplete'; reason: string; tables: string[]; items: SchemaItem[] };

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function readSchemaItems(db: DatabaseSync): SchemaItem[] {
  return db
    .prepare('SELECT type, name, tbl_name AS tbl FROM sqlite_schema ORDER BY rowid')
    .all()
    .map((r) => ({ type: String(r.type), name: String(r.name), table: String(r.tbl) }));
}

// Rule: the file is a cache when at least one of c/image's tables exists and every one that
// exists has its columns. Missing 5.32.1 tables are fine (c/image adds them); a missing 5.28
// table next to present ones is `incomplete` (c/image only checks for its *last* item, so it
// never recreates an earlier one and that table's lookups fail forever).
export function judgeSchema(db: DatabaseSync): SchemaJudgement {
  const items = readSchemaItems(db);
  const tables = items.filter((i) => i.type === 'table' && !i.name.startsWith('sqlite_')).map((i) => i.name);
  if (tables.length === 0) return { kind: 'empty', items };
  const known = tables.filter((t) => Object.hasOwn(cacheTables, t));
  if (known.length === 0) {
    const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? ', ...' : '');
    return { kind: 'not-a-cache', reason: `none of containers/image's tables; found ${shown}`, items };
  }
  for (const name of known) {
    const columns = new Set(
      db
        .prepare(`PRAGMA table_info(${quoteIdentifier(name)})`)
        .all()
        .map((r) => String(r.name)),
    );
    const missing = cacheTables[name].columns.filter((c) => !columns.has(c));
    if (missing.length > 0)
      return { kind: 'not-a-cache', reason: `table ${name} lacks column(s) ${missing.join(', ')}`, items };
  }
  const missingBase = Object.entries(cacheTables)
    .filter(([n, t]) => t.since === '5.28' && !known.includes(n))
    .map(([n]) => n);
  if (missingBase.length > 0)
    return { kind: 'incomplete', reason: `table(s) ${missingBase.join(', ')} missing`, tables: known, items };
  return { kind: 'cache', tables: known, items };
}

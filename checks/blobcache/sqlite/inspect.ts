// `cache inspect` for SQLite caches: the tables and indexes of the recovered snapshot with
// their row counts and, for containers/image's own names, what each holds.
import type { DatabaseSync } from 'node:sqlite';
import type { CacheInspection, InspectionNode } from '../inspection.ts';
import { cacheIndexes, cacheTables, quoteIdentifier, type SchemaJudgement } from './schema.ts';
import { inTurn, verifySqliteFileWith, type SqliteVerifyOptions } from './verify.ts';

function countRows(db: DatabaseSync, sql: string): number {
  try {
    return Number(db.prepare(sql).get()?.n ?? 0);
  } catch {
    return -1; // unreadable: the verdict says why
  }
}

function buildTree(db: DatabaseSync, schema: SchemaJudgement): InspectionNode[] {
  const tables = schema.items.filter((i) => i.type === 'table');
  return tables.map((t) => {
    const node: InspectionNode = {
      name: t.name,
      kind: 'table',
      keys: countRows(db, `SELECT count(*) AS n FROM ${quoteIdentifier(t.name)}`),
    };
    if (Object.hasOwn(cacheTables, t.name))
      node.holds = `${cacheTables[t.name].holds} (containers/image ${cacheTables[t.name].since}+)`;
    const indexes = schema.items.filter((i) => i.type === 'index' && i.table === t.name);
    if (indexes.length > 0) {
      node.children = indexes.map((ix) => {
        const child: InspectionNode = {
          name: ix.name,
          kind: 'index',
          keys: countRows(
            db,
            `SELECT count(*) AS n FROM ${quoteIdentifier(t.name)} INDEXED BY ${quoteIdentifier(ix.name)}`,
          ),
        };
        if (Object.hasOwn(cacheIndexes, ix.name)) child.holds = cacheIndexes[ix.name];
        else if (ix.name.startsWith('sqlite_autoindex_')) child.holds = 'primary-key index';
        return child;
      });
    }
    return node;
  });
}

export async function inspectSqliteFile(path: string, opts: SqliteVerifyOptions = {}): Promise<CacheInspection> {
  let tree: InspectionNode[] = [];
  const verdict = await inTurn(path, () =>
    verifySqliteFileWith(path, opts, (db, schema) => {
      tree = buildTree(db, schema);
    }),
  );
  // A damaged file shows its problems instead of a tree; a sound database that is not a
  // cache still shows what it holds, which tells an operator what it is.
  const showTree =
    verdict.verdict === 'healthy' ||
    verdict.problems.every((p) => p.code === 'not-a-cache' || p.code === 'schema-incomplete');
  return { path, format: verdict.format, verdict, tree: showTree ? tree : [] };
}

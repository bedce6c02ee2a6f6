// Opens a private snapshot read-write, so SQLite recovers it exactly as the next writer would
// (rolls back a hot journal, replays a WAL), then runs quick_check or integrity_check and the
// schema rule. Only ever called on files in our own temp directory.
import { DatabaseSync } from 'node:sqlite';
import type { CacheProblem } from '../verdict.ts';
import { databaseHeaderSize, parseDatabaseHeader } from './header.ts';
import { readHead } from './read-head.ts';
import { primaryCodeOf, sqliteResult } from './result-codes.ts';
import { judgeSchema, quoteIdentifier, readSchemaItems, type SchemaJudgement } from './schema.ts';

export interface SnapshotCheck {
  problems: CacheProblem[];
  warnings: CacheProblem[];
  unreadable?: CacheProblem; // the snapshot itself could not be opened (I/O, memory)
  schema?: SchemaJudgement;
  pageSize?: number;
  pages?: number;
  tables?: number;
  rows?: number;
}

export interface CheckOptions {
  full: boolean;
  expectWal: boolean; // a WAL was copied: the main file may legitimately be shorter than its header says
}

// Visitors run on the recovered snapshot before it is closed (cache inspect uses one).
export type SnapshotVisitor = (db: DatabaseSync, schema: SchemaJudgement) => void;

const maxReportedRows = 20;

function pageOf(message: string): number | undefined {
  const m = /\b[Pp]age (\d+)/.exec(message);
  return m ? Number(m[1]) : undefined;
}

// The messages of PRAGMA integrity_check (sqlite3 src/btree.c checkTreePage, src/pragma.c):
// index entries that disagree with their table are index-mismatch, everything else is the
// b-tree, freelist or record structure.
export function classifyCheckMessage(message: string): CacheProblem {
  const code = /wrong # of entries in index|missing from index|non-unique entry in index/.test(message)
    ? 'index-mismatch'
    : 'sqlite-malformed';
  const page = pageOf(message);
  return page === undefined ? { code, message } : { code, page, message };
}

// SQLite's own word that the file is malformed (SQLITE_CORRUPT or SQLITE_NOTADB, any extended
// code), wherever it is raised: opening, recovery, parsing the schema at prepare, the check
// itself. That is a verdict on the file (corrupt), never unreadable and never the agent's fault.
// null for any other error.
export function malformationOf(err: unknown, what: string): CacheProblem | null {
  const primary = primaryCodeOf(err);
  const text = err instanceof Error ? err.message : String(err);
  if (primary === sqliteResult.notADb) return { code: 'header-invalid', message: `${what}: ${text} (SQLITE_NOTADB)` };
  if (primary !== sqliteResult.corrupt) return null;
  // The schema's SQL text in sqlite_schema (page 1 and its overflow) no longer parses.
  if (/malformed database schema/.test(text)) return { code: 'schema-malformed', message: `${what}: ${text}` };
  return { code: 'sqlite-malformed', message: `${what}: ${text}` };
}

function errorProblem(err: unknown, path: string, what: string): { problem: CacheProblem; unreadable: boolean } {
  const malformed = malformationOf(err, what);
  if (malformed?.code === 'header-invalid') {
    // Say what is wrong with the header when our parser can tell.
    const parsed = parseDatabaseHeader(readHead(path, databaseHeaderSize).bytes);
    return {
      problem: parsed.ok ? malformed : { code: 'header-invalid', message: `${what}: ${parsed.reason}` },
      unreadable: false,
    };
  }
  if (malformed) return { problem: malformed, unreadable: false };
  return { problem: { code: 'snapshot-failed', message: `${what}: ${(err as Error).message}` }, unreadable: true };
}

// Truncation as SQLite sees it: a partial last page, or fewer pages than the header records.
function truncation(path: string, opts: CheckOptions): CacheProblem | undefined {
  const { bytes, size } = readHead(path, databaseHeaderSize);
  const parsed = parseDatabaseHeader(bytes);
  if (!parsed.ok) return { code: 'header-invalid', message: parsed.reason };
  const h = parsed.header;
  if (size % h.pageSize !== 0)
    return {
      code: 'truncated',
      message: `file size ${size} is not a multiple of the page size ${h.pageSize} (a partial last page)`,
    };
  const filePages = size / h.pageSize;
  if (!opts.expectWal && h.sizeValid && h.pagesInHeader > filePages) {
    return {
      code: 'truncated',
      page: filePages + 1,
      message: `header records ${h.pagesInHeader} pages but the file holds ${filePages}`,
    };
  }
  return undefined;
}

// When the check itself aborts (SQLITE_CORRUPT) it names no page; a full scan of each table
// and index at least names the b-tree that cannot be read.
function locateDamage(db: DatabaseSync): CacheProblem[] {
  const found: CacheProblem[] = [];
  let items;
  try {
    items = readSchemaItems(db).filter((i) => i.type === 'table' || i.type === 'index');
  } catch {
    return found;
  }
  for (const item of items) {
    const sql =
      item.type === 'table'
        ? // NOT INDEXED and a per-row condition force a walk of the table's own b-tree (a bare
          // count(*) may be answered from a smaller index).
          `SELECT count(*) AS n FROM ${quoteIdentifier(item.name)} NOT INDEXED WHERE typeof(rowid) <> 'x'`
        : `SELECT count(*) AS n FROM ${quoteIdentifier(item.table)} INDEXED BY ${quoteIdentifier(item.name)}`;
    try {
      db.prepare(sql).get();
    } catch (err) {
      // Only damage counts; a query this tree does not support (WITHOUT ROWID) says nothing.
      if (primaryCodeOf(err) !== sqliteResult.corrupt) continue;
      found.push({
        code: 'sqlite-malformed',
        message: `${item.type} ${item.name} cannot be read: ${(err as Error).message}`,
      });
    }
  }
  return found;
}

export function checkSnapshotDatabase(path: string, opts: CheckOptions, visit?: SnapshotVisitor): SnapshotCheck {
  const out: SnapshotCheck = { problems: [], warnings: [] };
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (err) {
    const e = errorProblem(err, path, 'opening the snapshot');
    if (e.unreadable) out.unreadable = e.problem;
    else out.problems.push(e.problem);
    return out;
  }
  try {
    return checkOpened(db, path, opts, out, visit);
  } catch (err) {
    // Any statement not guarded below (page_size, page_count, a prepare that parses a damaged
    // schema) that SQLite refuses as malformed: the file is corrupt. Anything else is ours.
    const malformed = malformationOf(err, 'reading the snapshot');
    if (!malformed) throw err;
    out.problems.push(malformed);
    return out;
  } finally {
    db.close();
  }
}

function checkOpened(
  db: DatabaseSync,
  path: string,
  opts: CheckOptions,
  out: SnapshotCheck,
  visit?: SnapshotVisitor,
): SnapshotCheck {
  {
    db.exec('PRAGMA busy_timeout=0');
    // The first read takes the lock and recovers: hot journal rolled back, WAL replayed.
    try {
      db.prepare('PRAGMA schema_version').get();
    } catch (err) {
      const cut = truncation(path, opts);
      if (cut) {
        out.problems.push(cut);
        return out;
      }
      const e = errorProblem(err, path, 'recovering the snapshot');
      if (e.unreadable) out.unreadable = e.problem;
      else out.problems.push(e.problem);
      return out;
    }
    const cut = truncation(path, opts);
    if (cut) {
      out.problems.push(cut);
      return out;
    }
    out.pageSize = Number(db.prepare('PRAGMA page_size').get()?.page_size);
    out.pages = Number(db.prepare('PRAGMA page_count').get()?.page_count);
    try {
      const rows = db.prepare(`PRAGMA ${opts.full ? 'integrity_check' : 'quick_check'}(${maxReportedRows})`).all();
      const lines = rows
        .flatMap((r) => String(Object.values(r)[0]).split('\n'))
        .filter((l) => l !== 'ok' && !l.startsWith('*** in database'));
      for (const line of lines) out.problems.push(classifyCheckMessage(line));
    } catch (err) {
      const e = errorProblem(err, path, opts.full ? 'integrity_check' : 'quick_check');
      out.problems.push(e.problem);
      out.problems.push(...locateDamage(db));
    }
    try {
      out.schema = judgeSchema(db);
    } catch (err) {
      out.problems.push(errorProblem(err, path, 'reading the schema').problem);
      return out;
    }
    if (out.schema.kind === 'not-a-cache')
      out.problems.push({
        code: 'not-a-cache',
        message: `a valid SQLite database but not a blob-info cache: ${out.schema.reason}`,
      });
    if (out.schema.kind === 'incomplete')
      out.problems.push({
        code: 'schema-incomplete',
        message: `containers/image schema incomplete: ${out.schema.reason}`,
      });
    if (out.schema.kind === 'empty')
      out.warnings.push({ code: 'schema-empty', message: 'no tables yet: the next skopeo creates the schema' });
    if (out.schema.kind === 'cache' || out.schema.kind === 'incomplete') {
      out.tables = out.schema.tables.length;
      let rows = 0;
      for (const t of out.schema.tables) {
        try {
          rows += Number(db.prepare(`SELECT count(*) AS n FROM ${quoteIdentifier(t)}`).get()?.n ?? 0);
        } catch {
          // Counting a damaged table fails; the integrity check already reported it.
        }
      }
      out.rows = rows;
    }
    if (visit) visit(db, out.schema);
    return out;
  }
}

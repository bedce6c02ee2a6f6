import { verifyCacheFile } from '../../checks/blobcache/verify.ts';
import { cacheCheckExitCode, type CacheVerdict } from '../../checks/blobcache/verdict.ts';
import { parseVerbArgs, usageError } from './usage-error.ts';

export const help = `Usage: buildfleet-agent cache check FILE... [--json] [--full]

Verifies skopeo blob-info cache files. The format (bolt or SQLite) is taken from the content,
never from the name. Read-only: the files are never written, locked or moved.

Options:
  --json   one JSON document on stdout (an object for one file, an array for several)
  --full   deep verification (SQLite: integrity_check instead of quick_check)
  --snapshot-dir DIR
           where SQLite caches are copied to be checked (default: $TMPDIR or /tmp); a private
           0700 directory is made in it and removed after. The daemon uses its state directory.

Verdicts: healthy, corrupt, unreadable (missing, permission, not a file), busy (writers kept
committing; try again).
Exit codes: 0 all healthy, 1 any corrupt, 2 usage error, 4 none corrupt but any unreadable or busy
(no verdict).`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseVerbArgs('cache check', {
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, full: { type: 'boolean' }, 'snapshot-dir': { type: 'string' } },
  });
  if (typeof parsed === 'number') return parsed;
  const files = parsed.positionals;
  if (files.length === 0) {
    return usageError('cache check', 'no FILE given (see --help)');
  }
  const verdicts: CacheVerdict[] = [];
  for (const file of files)
    verdicts.push(
      await verifyCacheFile(file, { full: parsed.values.full === true, snapshotDir: parsed.values['snapshot-dir'] }),
    );
  if (parsed.values.json) {
    process.stdout.write(`${JSON.stringify(verdicts.length === 1 ? verdicts[0] : verdicts, null, 2)}\n`);
  } else {
    process.stdout.write(formatVerdicts(verdicts));
  }
  return cacheCheckExitCode(verdicts);
}

// One line per file, then its problems and warnings indented.
export function formatVerdicts(verdicts: readonly CacheVerdict[]): string {
  const lines: string[] = [];
  for (const v of verdicts) {
    const facts = [
      v.stats.pages !== undefined ? `${v.stats.pages} pages` : null,
      v.stats.keys !== undefined ? `${v.stats.keys} keys` : null,
      v.stats.rows !== undefined ? `${v.stats.rows} rows` : null,
      `${Math.round(v.durationMs)} ms`,
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(`${v.verdict.toUpperCase().padEnd(10)} ${v.format.padEnd(7)} ${v.path}  (${facts})`);
    for (const p of v.problems)
      lines.push(`  problem ${p.code}${p.page !== undefined ? ` [page ${p.page}]` : ''}: ${p.message}`);
    for (const w of v.warnings)
      lines.push(`  warning ${w.code}${w.page !== undefined ? ` [page ${w.page}]` : ''}: ${w.message}`);
  }
  return `${lines.join('\n')}\n`;
}

import { inspectCacheFile } from '../../checks/blobcache/inspect.ts';
import type { InspectionNode } from '../../checks/blobcache/inspection.ts';
import { cacheCheckExitCode } from '../../checks/blobcache/verdict.ts';
import { formatVerdicts } from './cache-check.ts';
import { parseVerbArgs, usageError } from './usage-error.ts';

export const help = `Usage: buildfleet-agent cache inspect FILE [--json]

Shows what a blob-info cache holds: the buckets (bolt) or tables (SQLite) as a tree with key
or row counts and, for containers/image's own names, what each one holds. Deep bucket levels
are folded into subtree totals. On a damaged file it prints the problems instead.

Options:
  --json   one JSON document on stdout

Exit codes: 0 healthy, 1 corrupt, 2 usage error, 4 unreadable or busy (no verdict).`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseVerbArgs('cache inspect', {
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' } },
  });
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length !== 1) {
    return usageError('cache inspect', 'exactly one FILE is required (see --help)');
  }
  const inspection = await inspectCacheFile(parsed.positionals[0]);
  if (parsed.values.json) {
    process.stdout.write(`${JSON.stringify(inspection, null, 2)}\n`);
  } else {
    const out: string[] = [formatVerdicts([inspection.verdict]).trimEnd()];
    if (inspection.tree.length > 0) out.push('', ...renderTree(inspection.tree, ''));
    process.stdout.write(`${out.join('\n')}\n`);
  }
  return cacheCheckExitCode([inspection.verdict]);
}

function renderTree(nodes: readonly InspectionNode[], indent: string): string[] {
  const lines: string[] = [];
  for (const n of nodes) {
    const counts = [`${n.keys} ${n.kind === 'table' ? 'rows' : 'keys'}`];
    if (n.subBuckets) counts.push(`${n.subBuckets} sub-buckets`);
    if (n.subtreeBuckets && n.subtreeBuckets !== n.subBuckets)
      counts.push(`${n.subtreeBuckets} buckets / ${n.subtreeKeys ?? 0} keys below`);
    if (n.inline) counts.push('inline');
    lines.push(
      `${indent}${n.kind === 'index' ? 'index ' : ''}${n.name}  (${counts.join(', ')})${n.holds ? `  — ${n.holds}` : ''}`,
    );
    if (n.children) lines.push(...renderTree(n.children, `${indent}  `));
    if (n.truncated) lines.push(`${indent}  …`);
  }
  return lines;
}

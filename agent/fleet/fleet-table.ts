// The human view of a fleet sweep: one line per agent, problems first, then a one-line summary.
import type { FleetReport, FleetRow } from './fleet-report.ts';

// 42 -> "42s", 125 -> "2m05s", 9000 -> "2h30m": an age is read at a glance, not computed.
export function formatAge(seconds: number | null): string {
  if (seconds === null) return '-';
  const s = Math.round(seconds);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

// What is wrong, in one cell: check:code pairs for an answer, the error code and its detail
// for no answer.
function problemCell(row: FleetRow): string {
  if (row.error !== null) return `${row.error}: ${row.message ?? ''}`;
  return row.reasons.map((r) => `${r.check}:${r.code}`).join(' ');
}

// Under an agent's line, indented: why it is in maintenance and what warns (not blocking), so a
// person sees the reason without asking the agent again.
function detailLines(row: FleetRow): string[] {
  const lines: string[] = [];
  const m = row.maintenance as { reason?: unknown; expiresAt?: unknown; by?: unknown } | null;
  if (m !== null && typeof m === 'object' && typeof m.reason === 'string') {
    lines.push(
      `    maintenance: ${m.reason}${typeof m.expiresAt === 'string' ? ` (until ${m.expiresAt}` : ' ('}${typeof m.by === 'string' ? `, by ${m.by})` : ')'}`,
    );
  }
  for (const w of row.warnings) lines.push(`    warning: ${w.check}: ${w.summary}`);
  return lines;
}

export function formatFleetTable(report: FleetReport): string {
  const rows = [
    ['TARGET', 'DECISION', 'AGE', 'LATENCY', 'FAILING'],
    ...report.rows.map((r) => [
      r.target,
      r.state,
      formatAge(r.oldestResultAgeSeconds),
      `${r.latencyMs} ms`,
      problemCell(r),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const lines = [line(rows[0]), ...report.rows.flatMap((row, i) => [line(rows[i + 1]), ...detailLines(row)])];
  const s = report.summary;
  lines.push(
    '',
    `${s.total} agent${s.total === 1 ? '' : 's'}: ${s.accept} accept, ${s.degraded} degraded, ${s.refuse} refuse, ${s.noAnswer} no answer`,
  );
  return `${lines.join('\n')}\n`;
}

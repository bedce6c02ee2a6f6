// Small formatters the status page shares. Everything a check, the config or a request
// supplies is escaped before it reaches the HTML.
import { formatBytes as formatBytesOf } from '../../../lib/byte-size.ts';

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => htmlEntities[c]);
}

const htmlEntities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export const e = escapeHtml;

// "12 s", "59 min", "3 h", "2 d".
export function formatSpan(seconds: number): string {
  const s = Math.abs(seconds);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export function formatAge(seconds: number | null): string {
  return seconds === null ? 'never' : formatSpan(seconds);
}

// "in 59 min" or "12 s ago", with the exact UTC time on hover.
export function timeTag(at: Date | string | null, now: Date, lead = ''): string {
  if (at === null) return 'never';
  const date = typeof at === 'string' ? new Date(at) : at;
  if (!Number.isFinite(date.getTime())) return e(String(at));
  const seconds = (date.getTime() - now.getTime()) / 1000;
  const text = Math.abs(seconds) < 1 ? 'now' : seconds > 0 ? `in ${formatSpan(seconds)}` : `${formatSpan(seconds)} ago`;
  const iso = date.toISOString();
  return `<time datetime="${iso}" title="${iso}">${e(lead)}${text}</time>`;
}

export function formatBytes(bytes: number | null): string {
  return bytes === null ? '–' : formatBytesOf(bytes);
}

export function formatPercent(part: number | null, whole: number | null): string {
  if (part === null || whole === null || whole <= 0) return '–';
  return `${((part / whole) * 100).toFixed(1)} %`;
}

export function formatSeconds(seconds: number | null): string {
  return seconds === null ? '–' : `${Math.round(seconds * 1000)} ms`;
}

// A status in words and a symbol, never by colour alone.
const statusSymbol: Record<string, string> = { ok: '✔', warning: '▲', critical: '✖', unknown: '?' };

export function statusBadge(status: string, label = status): string {
  return `<span class="st st-${e(status)}"><span aria-hidden="true">${statusSymbol[status] ?? '?'}</span> ${e(label)}</span>`;
}

// A table that becomes stacked label/value rows on a narrow screen (see style.ts).
export function stackTable(caption: string, headers: string[], rows: string[][]): string {
  if (rows.length === 0) return '';
  const head = headers.map((h) => `<th scope="col">${e(h)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${r.map((cell, i) => `<td data-label="${e(headers[i])}">${cell}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table class="stack"><caption>${e(caption)}</caption><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

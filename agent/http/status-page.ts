// GET /: one small HTML page a person can read on a build host: the decision, why, and every
// check with its state, age and message. Everything shown comes from check output or config,
// so every value is escaped; the page carries no script and refreshes itself.
import type { Preflight } from '../core-types.ts';

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => htmlEntities[c]);
}

const htmlEntities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const decisionColour: Record<string, string> = { accept: '#1a7f37', degraded: '#9a6700', refuse: '#cf222e' };
const statusColour: Record<string, string> = { ok: '#1a7f37', warning: '#9a6700', critical: '#cf222e', unknown: '#57606a' };

export function formatAge(seconds: number | null): string {
  if (seconds === null) return 'never';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

export function renderStatusPage(p: Preflight): string {
  const e = escapeHtml;
  const reasons = p.reasons.length === 0
    ? '<p>No reasons: every check is fine.</p>'
    : `<ul>${p.reasons.map((r) => `<li><code>${e(r.check)}</code> <code>${e(r.code)}</code>: ${e(r.message)}</li>`).join('')}</ul>`;
  const maintenance = p.maintenance === null
    ? ''
    : `<p class="maint">Maintenance since ${e(p.maintenance.since)} until ${e(p.maintenance.expiresAt)} (set by ${e(p.maintenance.by)}): ${e(p.maintenance.reason)}</p>`;
  const rows = p.checks.map((c) => `<tr>
<td><code>${e(c.name)}</code></td>
<td style="color:${statusColour[c.status] ?? '#57606a'}"><b>${e(c.status)}</b></td>
<td>${e(c.scope)}</td>
<td title="${e(c.observedAt ?? 'never')}">${e(formatAge(c.ageSeconds))}</td>
<td>${e(c.durationMs)} ms</td>
<td>${e(c.summary)}</td>
</tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>buildfleet-agent ${e(p.host)}: ${e(p.decision)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#24292f}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
.decision{font-size:1.6em}.maint{background:#fff8c5;padding:.5em}small{color:#57606a}
</style></head><body>
<h1>buildfleet-agent on ${e(p.host)}</h1>
<p class="decision">Decision: <b style="color:${decisionColour[p.decision] ?? '#57606a'}">${e(p.decision)}</b></p>
${maintenance}
${reasons}
<table><thead><tr><th>check</th><th>status</th><th>scope</th><th>age</th><th>took</th><th>message</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p><small>Evaluated ${e(p.evaluatedAt)} by agent ${e(p.agentVersion)}. Machine-readable: <a href="v1/preflight">/v1/preflight</a>, <a href="metrics">/metrics</a>.</small></p>
</body></html>
`;
}

// The recent events (agent/events) as one line each, newest first.
import type { AgentEvent } from '../../events/types.ts';
import { e, statusBadge, timeTag } from './format.ts';

function describe(ev: AgentEvent): string {
  switch (ev.type) {
    case 'agent-started':
      return `Agent ${e(ev.version)} started on ${e(ev.host)}`;
    case 'status-changed':
      return `<code>${e(ev.check)}</code> ${statusBadge(ev.from)} → ${statusBadge(ev.to)}: ${e(ev.summary)}${
        ev.reasons.length > 0
          ? `<br><span class="muted">${ev.reasons.map((r) => `${e(r.code)}: ${e(r.message)}`).join('; ')}</span>`
          : ''
      }`;
    case 'quarantine':
      return `Quarantine (${e(ev.action)}, by ${e(ev.actor)}): <code>${e(ev.path)}</code>${ev.newPath ? ` → <code>${e(ev.newPath)}</code>` : ''}`;
    case 'maintenance-set':
      return `Maintenance set by ${e(ev.by)} until ${e(ev.expiresAt)}: ${e(ev.reason)}`;
    case 'maintenance-cleared':
      return ev.by === 'expired'
        ? `Maintenance expired: ${e(ev.reason)}`
        : `Maintenance ended by ${e(ev.by)}: ${e(ev.reason)}`;
    case 'config-reloaded':
      return ev.ok
        ? 'Config reloaded'
        : `Config reload failed (the last good config stays): ${e(ev.errors.join('; '))}`;
  }
}

export function eventsList(events: readonly AgentEvent[], now: Date): string {
  if (events.length === 0) return '<p>No events recorded yet.</p>';
  return `<ol class="events" reversed>${[...events]
    .reverse()
    .map((ev) => `<li>${timeTag(ev.time, now)}: ${describe(ev)}</li>`)
    .join('\n')}</ol>`;
}

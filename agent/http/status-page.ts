// GET /: the page a person on call opens at 3 a.m. It leads with the decision and what blocks
// it, each reason with the command or endpoint that acts on it; then warnings (not blocking),
// one section per check from its typed details, the recent events and the agent's own state.
// Server-rendered, no script; every value is escaped (status-page/format.ts); readable from a
// 390 px phone to a desktop (status-page/style.ts).
import type { CheckState, Preflight } from '../core-types.ts';
import type { CheckSchedule } from '../check-schedules.ts';
import type { AgentEvent } from '../events/types.ts';
import type { AgentHealth } from './context.ts';
import { e, formatSpan, statusBadge, timeTag } from './status-page/format.ts';
import { nextStep, type PageContext } from './status-page/next-steps.ts';
import { checkSection } from './status-page/check-sections.ts';

type Reason = Preflight['reasons'][number];
import { eventsList } from './status-page/events-list.ts';
import { pageStyle } from './status-page/style.ts';

export { escapeHtml, formatAge } from './status-page/format.ts';

export interface StatusView {
  preflight: Preflight;
  states: CheckState[];
  schedules: CheckSchedule[];
  events: AgentEvent[];
  agent: { fqdn: string; uptimeSeconds: number; configReloadOk: boolean; health: AgentHealth };
  now: Date;
  page: PageContext;
}

const decisionWords: Record<Preflight['decision'], { symbol: string; meaning: string }> = {
  accept: { symbol: '✔', meaning: 'Schedulers may assign builds here: /v1/preflight answers 200.' },
  degraded: {
    symbol: '▲',
    meaning:
      'A shared dependency fails (it fails for every host): /v1/preflight answers 429 with Retry-After, so schedulers wait instead of draining the fleet. This host itself is fine.',
  },
  refuse: {
    symbol: '✖',
    meaning: 'No new builds here: /v1/preflight answers 503 until the blocking reasons below are gone.',
  },
};

function reasonItem(check: string, code: Reason['code'], message: string, page: PageContext): string {
  return `<li><code>${e(check)}</code> <code>${e(code)}</code>: ${e(message)}<span class="next">Next: ${nextStep(code, page)}</span></li>`;
}

function reasonsSections(v: StatusView): string {
  const scopeOf = new Map(v.states.map((s) => [s.name, s.scope]));
  const shared = v.preflight.reasons.filter((r) => scopeOf.get(r.check) === 'shared');
  const blocking = v.preflight.reasons.filter((r) => scopeOf.get(r.check) !== 'shared');
  // Everything else the checks say: warnings, damped failures, notes such as a cache moved aside.
  const inPreflight = new Set(v.preflight.reasons.map((r) => `${r.check}\n${r.code}\n${r.message}`));
  const warnings = v.states
    .flatMap((s) => s.reasons.map((r) => ({ check: s.name, ...r })))
    .filter((r) => !inPreflight.has(`${r.check}\n${r.code}\n${r.message}`));
  const list = (items: Reason[]) =>
    `<ul class="reasons">${items.map((r) => reasonItem(r.check, r.code, r.message, v.page)).join('\n')}</ul>`;
  return [
    `<h2 id="blocking">Blocking (${blocking.length})</h2>`,
    blocking.length === 0 ? '<p>Nothing blocks builds on this host.</p>' : list(blocking),
    shared.length === 0
      ? ''
      : `<h2 id="degrading">Degrading: shared dependencies (${shared.length})</h2>\n<p class="muted">These fail for every host alike, so they degrade instead of refusing (see the legend).</p>\n${list(shared)}`,
    `<h2 id="warnings">Warnings, not blocking (${warnings.length})</h2>`,
    warnings.length === 0 ? '<p>None.</p>' : list(warnings),
  ].join('\n');
}

function maintenanceBox(v: StatusView): string {
  const m = v.preflight.maintenance;
  if (m === null) return '';
  return `<p class="maint"><b>Maintenance</b> (host out of rotation), set by ${e(m.by)} ${timeTag(m.since, v.now)}, ends ${timeTag(m.expiresAt, v.now)}: ${e(m.reason)}<span class="next">Next: ${nextStep('maintenance', v.page)}</span></p>`;
}

function overviewTable(v: StatusView): string {
  const rows = v.states
    .map((s) => {
      const schedule = v.schedules.find((x) => x.name === s.name);
      return `<tr><td data-label="check"><a href="#check-${e(s.name)}"><code>${e(s.name)}</code></a></td><td data-label="status">${statusBadge(s.status)}</td><td data-label="scope">${e(s.scope)}</td><td data-label="last run">${timeTag(s.observedAt, v.now)}</td><td data-label="next run">${schedule ? timeTag(schedule.nextRunAt, v.now) : '–'}</td><td data-label="summary">${e(s.summary)}</td></tr>`;
    })
    .join('\n');
  return `<table class="stack"><thead><tr><th scope="col">check</th><th scope="col">status</th><th scope="col">scope</th><th scope="col">last run</th><th scope="col">next run</th><th scope="col">summary</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function agentFacts(v: StatusView): string {
  const h = v.agent.health;
  const healthy = h.state === 'running' && h.problems.length === 0;
  const facts: [string, string][] = [
    ['host', `<code>${e(v.agent.fqdn)}</code>`],
    ['agent', `buildfleet-agent ${e(v.preflight.agentVersion)}, up ${e(formatSpan(v.agent.uptimeSeconds))}`],
    [
      '/healthz',
      healthy
        ? statusBadge('ok', 'ok (the agent itself works)')
        : statusBadge('critical', `${h.state}${h.problems.length ? `: ${h.problems.join('; ')}` : ''}`),
    ],
    [
      'config',
      v.agent.configReloadOk
        ? statusBadge('ok', 'loaded')
        : statusBadge('warning', 'the last reload failed; the last good config is in use (see events)'),
    ],
    ['evaluated', timeTag(v.preflight.evaluatedAt, v.now)],
  ];
  return `<dl class="facts">${facts.map(([k, val]) => `<dt>${e(k)}</dt><dd>${val}</dd>`).join('')}</dl>`;
}

export function renderStatusPage(v: StatusView): string {
  const p = v.preflight;
  const d = decisionWords[p.decision];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(p.decision.toUpperCase())} · ${e(v.agent.fqdn)} · buildfleet-agent</title>
<style>${pageStyle}</style></head><body>
<header>
<h1>buildfleet-agent on <code>${e(v.agent.fqdn)}</code></h1>
<div class="banner d-${e(p.decision)}" role="status"><span class="word"><span aria-hidden="true">${d.symbol}</span> ${e(p.decision.toUpperCase())}</span><br>${e(d.meaning)}</div>
</header>
<main>
${maintenanceBox(v)}
${reasonsSections(v)}
<h2 id="checks">Checks</h2>
${overviewTable(v)}
${v.states
  .map((s) =>
    checkSection(
      s,
      v.schedules.find((x) => x.name === s.name),
      v.now,
    ),
  )
  .join('\n')}
<h2 id="events">Recent events</h2>
${eventsList(v.events, v.now)}
<h2 id="agent">This agent</h2>
${agentFacts(v)}
<h2 id="legend">Legend</h2>
<ul>
<li><b>host</b> checks (caches, skopeo, disk) find this machine's own faults: critical <b>refuses</b> builds (503).</li>
<li><b>shared</b> checks (registries) find faults every host shares: critical only <b>degrades</b> (429, Retry-After), so one registry outage cannot drain the whole fleet.</li>
<li>${statusBadge('ok')} ${statusBadge('warning')} ${statusBadge('critical')} ${statusBadge('unknown')}: unknown (not checked, timed out, failed) counts as critical, never as ok. A check is <span class="stale">stale</span> when its last run is older than twice its interval.</li>
</ul>
</main>
<footer><p class="muted">Machine-readable: <a href="/v1/preflight">/v1/preflight</a>, <a href="/v1/events">/v1/events</a>, <a href="/metrics">/metrics</a>, <a href="/healthz">/healthz</a>. Refreshes every 30 s; times are relative, the exact UTC time is on hover.</p></footer>
</body></html>
`;
}

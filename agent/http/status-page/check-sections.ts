// One section per check: its status, schedule and freshness, then what its typed details say,
// as a person needs it (caches as a table, disks against their thresholds, registries with
// per-phase latency and certificate expiry, skopeo binaries and the policy).
import type { CheckState } from '../../core-types.ts';
import type { CheckSchedule } from '../../check-schedules.ts';
import type { BlobCacheDetails } from '../../../checks/blobcache/check.ts';
import type { DiskCheckDetails } from '../../../checks/disk.ts';
import type { RegistryCheckDetails } from '../../../checks/registry.ts';
import type { SkopeoCheckDetails } from '../../../checks/skopeo.ts';
import { e, formatBytes, formatPercent, formatSeconds, stackTable, statusBadge, timeTag } from './format.ts';

function cachesSection(d: BlobCacheDetails, observedAt: Date | null, now: Date): string {
  const rows = d.caches.map((c) => [
    `<code>${e(c.path)}</code>${c.refused ? `<br><span class="muted">not verified: ${e(c.refused)}</span>` : ''}`,
    e(c.owner.name ?? `uid ${c.owner.uid}`),
    e(
      c.format !== null && c.format !== c.formatByName
        ? `${c.formatByName ?? '?'} (content: ${c.format})`
        : (c.formatByName ?? c.format ?? '–'),
    ),
    e(formatBytes(c.sizeBytes)),
    c.verdict === null
      ? '<span class="muted">not verified</span>'
      : statusBadge(c.verdict === 'healthy' ? 'ok' : c.verdict === 'corrupt' ? 'critical' : 'warning', c.verdict),
    e(c.inUse === null ? '–' : c.inUse ? 'yes' : 'no (orphan)'),
    // When the verdict was proven: an unchanged cache keeps an older verification's verdict.
    c.verdict === null
      ? '–'
      : `${timeTag(c.verifiedAt ?? observedAt, now)}${c.unchanged ? '<br><span class="muted">unchanged since</span>' : ''}`,
    c.changedAt === null ? '–' : timeTag(c.changedAt, now),
    [
      ...c.problems.map((p) => `<code>${e(p.code)}</code> ${e(p.message)}`),
      ...(c.quarantine
        ? [
            `moved aside: ${e(c.quarantine.result)}${c.quarantine.newPath ? ` → <code>${e(c.quarantine.newPath)}</code>` : ''}`,
          ]
        : []),
    ].join('<br>') || '–',
  ]);
  const moved = d.quarantined.map((q) => `<li><code>${e(q.path)}</code> → <code>${e(q.newPath)}</code></li>`).join('');
  return [
    `<p>skopeo ${e(d.skopeoVersion ?? 'unknown')} writes the <b>${e(d.cacheFormatInUse ?? 'unknown')}</b> cache; a corrupt cache in the other format is an orphan and does not block.</p>`,
    rows.length === 0
      ? '<p>No blob-info caches found (a quarantined cache is listed under recent events).</p>'
      : stackTable(
          'Blob-info caches',
          ['path', 'owner', 'format', 'size', 'verdict', 'in use', 'verified', 'written', 'problems'],
          rows,
        ),
    moved ? `<p>Moved aside by this run:</p><ul>${moved}</ul>` : '',
  ].join('\n');
}

function disksSection(d: DiskCheckDetails): string {
  const rows = d.paths.map((p) => [
    `<code>${e(p.path)}</code>${p.exists === false ? `<br><span class="muted">does not exist; measured ${e(p.statPath ?? '?')}</span>` : ''}`,
    `<code>${e(p.mountpoint ?? '?')}</code> ${e(p.fsType ?? '')}`,
    e(`${formatBytes(p.availBytes)} of ${formatBytes(p.sizeBytes)}`),
    e(formatPercent(p.availBytes, p.sizeBytes)),
    e(
      p.filesTotal === 0
        ? 'not limited'
        : p.filesFree === null
          ? '–'
          : `${p.filesFree.toLocaleString('en')} of ${p.filesTotal?.toLocaleString('en') ?? '?'} (${formatPercent(p.filesFree, p.filesTotal)})`,
    ),
    e(`warn below ${p.warnFree ?? '?'}, critical below ${p.criticalFree ?? '?'}`),
    statusBadge(p.status),
  ]);
  return (
    stackTable('Filesystems', ['path', 'mount', 'free', 'free %', 'free inodes', 'thresholds', 'status'], rows) ||
    '<p>No paths configured.</p>'
  );
}

function registriesSection(d: RegistryCheckDetails, now: Date): string {
  const rows = d.registries.map((r) => [
    `<b>${e(r.name)}</b><br><code>${e(r.url)}</code>`,
    r.success
      ? statusBadge('ok')
      : `${statusBadge('critical')} <code>${e(r.reason ?? 'failed')}</code><br>${e(r.message)}`,
    e(r.httpStatus ?? '–'),
    e(
      `resolve ${formatSeconds(r.phases.resolve)} · connect ${formatSeconds(r.phases.connect)} · TLS ${formatSeconds(r.phases.tls)} · total ${formatSeconds(r.phases.total)}`,
    ),
    r.certNotAfter === null ? '–' : timeTag(new Date(r.certNotAfter * 1000), now, 'expires '),
    e(r.credentialsVerified === null ? 'not tried' : r.credentialsVerified ? 'accepted' : 'refused'),
  ]);
  return (
    stackTable('Registries', ['registry', 'result', 'HTTP', 'latency', 'certificate', 'credentials'], rows) ||
    '<p>No registries configured.</p>'
  );
}

function skopeoSection(d: SkopeoCheckDetails): string {
  const rows = d.binaries.map((b) => [
    `<code>${e(b.binary)}</code>`,
    `<code>${e(b.path ?? 'not found')}</code>`,
    e(b.version ?? '–'),
    e(b.cacheFormat ?? '–'),
    // Below the recommended version is advice (a warning), never a refusal.
    b.policySatisfied
      ? b.belowRecommended
        ? `${statusBadge('warning')}${b.error ? `<br>${e(b.error)}` : ''}`
        : statusBadge('ok')
      : `${statusBadge('critical')}${b.error ? `<br>${e(b.error)}` : ''}`,
  ]);
  return `<p>Policy: at least <b>${e(d.minVersion || 'any')}</b>${d.recommendedVersion ? `, recommended <b>${e(d.recommendedVersion)}</b>` : ''}${d.deny.length > 0 ? `, never ${d.deny.map((r) => `<code>${e(r)}</code>`).join(', ')}` : ''}.</p>\n${
    stackTable('skopeo binaries', ['binary', 'path', 'version', 'cache format', 'policy'], rows) ||
    '<p>No skopeo binaries configured.</p>'
  }`;
}

function detailsBody(s: CheckState, now: Date): string {
  const d = s.details;
  switch (d.kind) {
    case 'blobinfocache':
      return cachesSection(d, s.observedAt, now);
    case 'disk':
      return disksSection(d);
    case 'registry':
      return registriesSection(d, now);
    case 'skopeo':
      return skopeoSection(d);
    case undefined:
      return s.observedAt === null
        ? '<p>Not checked yet.</p>'
        : '<p>The last run gave no details (see its reasons).</p>';
  }
}

// Stale: older than twice the check's interval (a run was missed, or hangs).
export function isStale(s: CheckState, schedule: CheckSchedule | undefined, now: Date): boolean {
  if (s.observedAt === null || !schedule?.intervalSeconds) return false;
  return (now.getTime() - s.observedAt.getTime()) / 1000 > 2 * schedule.intervalSeconds;
}

export function checkSection(s: CheckState, schedule: CheckSchedule | undefined, now: Date): string {
  const stale = isStale(s, schedule, now);
  const facts = [
    [
      'status',
      `${statusBadge(s.status)}${s.rawStatus !== s.status ? ` <span class="muted">(last run said ${e(s.rawStatus)})</span>` : ''}`,
    ],
    ['scope', s.scope === 'host' ? 'host: refuses when critical' : 'shared: degrades when critical'],
    ['summary', e(s.summary)],
    [
      'last run',
      `${timeTag(s.observedAt, now)}${s.observedAt ? `, took ${e(Math.round(s.durationMs))} ms` : ''}${stale ? ' <span class="stale">STALE: older than twice its interval</span>' : ''}`,
    ],
    ['schedule', schedule ? `<code>${e(schedule.schedule)}</code>, next run ${timeTag(schedule.nextRunAt, now)}` : '–'],
  ];
  // Open: at 3 a.m. nobody should have to find the click that shows the path. A person may fold it.
  return `<details id="check-${e(s.name)}" open><summary><h3>${e(s.name)}</h3> ${statusBadge(s.status)}${stale ? ' <span class="stale">stale</span>' : ''} <span class="muted">${e(s.summary)}</span></summary>
<dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
${detailsBody(s, now)}
</details>`;
}

// Writes one snapshot of the agent's state into a metric family set. Every family is reset
// first, so the series of a cache, registry, path or check that disappeared are gone from the
// next scrape instead of lingering with their last value.
import type { CheckState, Decision } from '../core-types.ts';
import type { CheckDetails, CheckStatus } from '../../checks/types.ts';
import type { MetricFamilies } from './families.ts';
import { fillSkopeoMetrics } from './skopeo-metrics.ts';
import { fillDiskMetrics } from './disk-metrics.ts';
import { fillRegistryMetrics } from './registry-metrics.ts';
import { fillBlobCacheMetrics } from './blobcache-metrics.ts';

export interface MetricsSnapshot {
  agentVersion: string;
  nodeVersion: string;
  decision: Decision;
  maintenance: boolean;
  states: CheckState[];
  configReloadOk: boolean;
  configLastGoodAt: Date | null;
  quarantinedByFormat: ReadonlyMap<string, number>;
  eventCounts: ReadonlyMap<string, number>;
}

const admissionStates: Record<Decision, string> = { accept: 'accepting', degraded: 'degraded', refuse: 'refusing' };
const statuses: CheckStatus[] = ['ok', 'warning', 'critical', 'unknown'];

export function fillFamilies(f: MetricFamilies, s: MetricsSnapshot): void {
  for (const family of Object.values(f)) family.reset();

  f.buildInfo.set({ version: s.agentVersion, nodejs_version: s.nodeVersion }, 1);
  for (const [decision, state] of Object.entries(admissionStates)) {
    f.admissionState.set({ state }, decision === s.decision ? 1 : 0);
  }
  f.maintenanceEnabled.set(s.maintenance ? 1 : 0);
  f.configReloadSuccess.set(s.configReloadOk ? 1 : 0);
  if (s.configLastGoodAt !== null) f.configLastReloadSuccess.set(s.configLastGoodAt.getTime() / 1000);
  for (const [format, n] of s.quarantinedByFormat) f.cacheQuarantined.inc({ format }, n);
  for (const [type, n] of s.eventCounts) f.events.inc({ type }, n);

  for (const c of s.states) {
    const check = c.name;
    for (const status of statuses) f.checkStatus.set({ check, status }, c.status === status ? 1 : 0);
    if (c.observedAt !== null) {
      f.checkLastRun.set({ check }, c.observedAt.getTime() / 1000);
      f.checkDuration.set({ check }, c.durationMs / 1000);
    }
    f.checkRuns.inc({ check }, c.runs);
    f.checkFailures.inc({ check }, c.failures);
    f.checkTimeouts.inc({ check }, c.timeouts);
    f.checkStatusChanges.inc({ check }, c.statusChanges);
    fillDetails(f, c.details);
  }
}

// Each check's metrics come from its own typed details, by that check's metrics part
// (agent/metrics/<check>-metrics.ts: checks/ observe and never import agent/).
function fillDetails(f: MetricFamilies, details: CheckDetails): void {
  switch (details.kind) {
    case 'skopeo':
      return fillSkopeoMetrics(f, details);
    case 'disk':
      return fillDiskMetrics(f, details);
    case 'registry':
      return fillRegistryMetrics(f, details);
    case 'blobinfocache':
      return fillBlobCacheMetrics(f, details);
    case undefined:
      return;
  }
}

// Writes one snapshot of the agent's state into a metric family set. Every family is reset
// first, so the series of a cache, registry, path or check that disappeared are gone from the
// next scrape instead of lingering with their last value.
import type { CheckState, Decision } from '../core-types.ts';
import type { CheckStatus } from '../../checks/types.ts';
import type { MetricFamilies } from './families.ts';
import { readCacheDetails, readDiskDetails, readRegistryDetails, readSkopeoDetails } from './check-details.ts';

export interface MetricsSnapshot {
  agentVersion: string;
  nodeVersion: string;
  decision: Decision;
  maintenance: boolean;
  states: CheckState[];
  configReloadOk: boolean;
  configLastGoodAt: Date | null;
  quarantinedByFormat: ReadonlyMap<string, number>;
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

function fillDetails(f: MetricFamilies, details: Record<string, unknown>): void {
  if (typeof details !== 'object' || details === null) return;
  const skopeo = readSkopeoDetails(details);
  if (skopeo !== null) {
    for (const b of skopeo) {
      if (b.version !== '') f.skopeoInfo.set({ version: b.version, blobinfocache_format: b.cacheFormat }, 1);
    }
    f.skopeoPolicySatisfied.set(skopeo.length > 0 && skopeo.every((b) => b.policySatisfied) ? 1 : 0);
  }
  for (const d of readDiskDetails(details) ?? []) {
    const labels = { path: d.path, mountpoint: d.mountpoint };
    if (d.availBytes !== null) f.diskAvail.set(labels, d.availBytes);
    if (d.sizeBytes !== null) f.diskSize.set(labels, d.sizeBytes);
    if (d.filesFree !== null) f.diskFilesFree.set(labels, d.filesFree);
    if (d.filesTotal !== null) f.diskFiles.set(labels, d.filesTotal);
  }
  for (const r of readRegistryDetails(details) ?? []) {
    const registry = r.name;
    f.registrySuccess.set({ registry }, r.success ? 1 : 0);
    for (const p of r.phases) f.registryDuration.set({ registry, phase: p.phase }, p.seconds);
    if (r.httpStatus !== null) f.registryHttpStatus.set({ registry }, r.httpStatus);
    if (r.certNotAfter !== null) f.registryCertExpiry.set({ registry }, r.certNotAfter);
    if (!r.success) f.registryFailureInfo.set({ registry, reason: r.reason ?? 'other' }, 1);
  }
  const caches = readCacheDetails(details);
  for (const c of caches?.caches ?? []) {
    const labels = { path: c.path, format: c.format };
    f.cacheHealthy.set(labels, c.healthy ? 1 : 0);
    f.cacheProblems.set(labels, c.problems);
    if (c.sizeBytes !== null) f.cacheSize.set(labels, c.sizeBytes);
    if (c.verifySeconds !== null) f.cacheVerifyDuration.set(labels, c.verifySeconds);
    if (c.inUse !== null) f.cacheInUse.set(labels, c.inUse ? 1 : 0);
    if (c.verifiedAt !== null) f.cacheLastVerified.set(labels, c.verifiedAt);
    if (c.changedAt !== null) f.cacheLastChanged.set(labels, c.changedAt);
  }
  // Every trigger from the first scrape on (at 0), so increase() sees the first of each.
  if (caches?.verifications) {
    for (const t of caches.verifications.byTrigger) f.cacheVerifications.inc({ trigger: t.trigger }, t.count);
    f.cacheVerificationsSkipped.inc(caches.verifications.skippedUnchanged);
  }
}

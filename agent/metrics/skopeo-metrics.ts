// The skopeo check's metrics part: its metrics from its own typed details.
import type { MetricFamilies } from './families.ts';
import type { SkopeoCheckDetails } from '../../checks/skopeo.ts';

export function fillSkopeoMetrics(f: MetricFamilies, d: SkopeoCheckDetails): void {
  for (const b of d.binaries) {
    if (b.version !== null) f.skopeoInfo.set({ version: b.version, blobinfocache_format: b.cacheFormat ?? '' }, 1);
  }
  f.skopeoPolicySatisfied.set(d.binaries.length > 0 && d.binaries.every((b) => b.policySatisfied) ? 1 : 0);
}

// The registry check's metrics part: its metrics from its own typed details. `reason` is the
// probe's bounded failure class (RegistryFailureReason), never the error text.
import type { MetricFamilies } from './families.ts';
import type { RegistryCheckDetails } from '../../checks/registry.ts';
import type { ProbePhases } from '../../checks/registry/timed-get.ts';

const phases: (keyof ProbePhases)[] = ['resolve', 'connect', 'tls', 'total'];

export function fillRegistryMetrics(f: MetricFamilies, d: RegistryCheckDetails): void {
  for (const r of d.registries) {
    const registry = r.name;
    f.registrySuccess.set({ registry }, r.success ? 1 : 0);
    for (const phase of phases) {
      const seconds = r.phases[phase];
      if (seconds !== null) f.registryDuration.set({ registry, phase }, seconds);
    }
    if (r.httpStatus !== null) f.registryHttpStatus.set({ registry }, r.httpStatus);
    if (r.certNotAfter !== null) f.registryCertExpiry.set({ registry }, r.certNotAfter);
    if (!r.success) f.registryFailureInfo.set({ registry, reason: r.reason ?? 'other' }, 1);
  }
}

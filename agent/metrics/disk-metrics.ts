// The disk check's metrics part: its metrics from its own typed details. A path whose statfs
// failed has no numbers and so no series; its check status and reasons say why.
import type { MetricFamilies } from './families.ts';
import type { DiskCheckDetails } from '../../checks/disk.ts';

export function fillDiskMetrics(f: MetricFamilies, d: DiskCheckDetails): void {
  for (const p of d.paths) {
    const labels = { path: p.path, mountpoint: p.mountpoint ?? '' };
    if (p.availBytes !== null) f.diskAvail.set(labels, p.availBytes);
    if (p.sizeBytes !== null) f.diskSize.set(labels, p.sizeBytes);
    if (p.filesFree !== null) f.diskFilesFree.set(labels, p.filesFree);
    if (p.filesTotal !== null) f.diskFiles.set(labels, p.filesTotal);
  }
}

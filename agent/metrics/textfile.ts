// `check --textfile DIR`: one run's metrics as a file for node_exporter's textfile collector,
// for hosts where a daemon is not wanted (cron runs `check`, node_exporter serves the file).
// The same buildfleet_ families and names as /metrics, filled by the same code; no process_* or
// nodejs_* metrics (they would describe a process that has already exited, and node_exporter
// reports its own). The text format only: the collector does not read OpenMetrics.
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { CheckState, Decision } from '../core-types.ts';
import { writeFileAtomically } from '../fleet/file-sd.ts';
import { agentVersion } from '../version.ts';
import { createMetricFamilies } from './families.ts';
import { fillFamilies } from './fill-families.ts';

// node_exporter reads only `*.prom` files of the directory; the temporary file of the atomic
// write (`.buildfleet_agent.prom.PID.tmp`) is never one of them.
export const textfileName = 'buildfleet_agent.prom';

export interface TextfileSnapshot {
  decision: Decision;
  maintenance: boolean;
  states: CheckState[];
  configLoadedAt: Date;
}

export async function renderTextfile(s: TextfileSnapshot): Promise<string> {
  const registry = new Registry();
  const families = createMetricFamilies(registry);
  fillFamilies(families, {
    agentVersion,
    nodeVersion: process.versions.node,
    decision: s.decision,
    maintenance: s.maintenance,
    states: s.states,
    configReloadOk: true,
    configLastGoodAt: s.configLoadedAt,
    // `check` never quarantines: both formats at 0, as the daemon exports them from its start.
    quarantinedByFormat: new Map([
      ['boltdb', 0],
      ['sqlite', 0],
    ]),
    // Nor does it keep an event history (that is the daemon's).
    eventCounts: new Map(),
  });
  return registry.metrics();
}

export function writeTextfile(dir: string, content: string): { ok: true; path: string } | { ok: false; error: string } {
  const path = join(dir, textfileName);
  const written = writeFileAtomically(path, content);
  return written.ok ? { ok: true, path } : written;
}

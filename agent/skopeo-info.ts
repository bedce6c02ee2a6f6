// What the blob-cache check needs to know about skopeo (its version, the cache format it
// writes): the skopeo check's last result, or a run of its own when that check is disabled.
import { buildSkopeoOf, createSkopeoCheck } from '../checks/skopeo.ts';
import type { CheckDetails } from '../checks/types.ts';
import type { SkopeoCacheInfo } from '../checks/blobcache/check.ts';
import type { AgentConfig } from './config.ts';
import type { Runner } from './runner.ts';
import { checkGraceSeconds, checkNameOfSection, skopeoCheckOptions } from './checks-from-config.ts';

export interface SkopeoInfoSource {
  // null until the core has built its runner (the blob-cache check only asks while running).
  runner: () => Runner | null;
  config: () => AgentConfig;
  now: () => Date;
}

export function skopeoInfoFrom(source: SkopeoInfoSource): () => Promise<SkopeoCacheInfo> {
  return async () => {
    const name = checkNameOfSection.skopeo;
    const runner = source.runner();
    let state = runner?.state(name);
    // Shares the skopeo check's run in flight (single flight) rather than starting another.
    if (runner && state && state.runs === 0) state = await runner.run(name);
    if (state && state.observedAt !== null) return skopeoInfoFromDetails(state.details);
    // The skopeo check is disabled: ask the configured skopeo directly.
    const s = source.config().checks.skopeo;
    const check = createSkopeoCheck(skopeoCheckOptions(s));
    const signal = AbortSignal.timeout((s.timeoutSeconds + checkGraceSeconds) * 1000);
    const result = await check.run({ signal, now: source.now });
    return skopeoInfoFromDetails(result.details);
  };
}

function skopeoInfoFromDetails(details: CheckDetails): SkopeoCacheInfo {
  const used = buildSkopeoOf(details);
  return { skopeoVersion: used.version, cacheFormatInUse: used.cacheFormat };
}

// The checks a config asks for, built from their factories in checks/: one runner entry per
// enabled section. What a check needs from the agent (the verifier child, skopeo's version, the
// cache-work lock) comes in a CheckEnvironment, so checks/ never imports agent/.
import type { Check } from '../checks/types.ts';
import { createSkopeoCheck, skopeoCheckName } from '../checks/skopeo.ts';
import {
  blobCacheCheckName,
  createBlobCacheCheck,
  type SkopeoCacheInfo,
  type VerifyCacheFn,
} from '../checks/blobcache/check.ts';
import { createDiskCheck, diskCheckName } from '../checks/disk.ts';
import { createRegistryCheck, registryCheckName } from '../checks/registry.ts';
import { createCacheVerdictMemory, type CacheVerdictMemory } from '../checks/blobcache/verdict-memory.ts';
import { createCacheRemediation } from './remediation/cache-remediation.ts';
import type { AgentConfig } from './config.ts';
import type { Logger } from './log.ts';
import type { RunnerEntry } from './runner.ts';
import type { CacheWorkLock } from './cache-work-lock.ts';

// What the check factories get from the core besides the config.
export interface CheckEnvironment {
  log: Logger;
  now: () => Date;
  // Cache verification in a short-lived child process (agent/cache-verify-child.ts).
  verify: VerifyCacheFn;
  // The installed skopeo's version and cache format, for the blob-cache check.
  skopeoInfo: () => Promise<SkopeoCacheInfo>;
  // false: no check may change files (autoQuarantine is off whatever the config says).
  allowRemediation: boolean;
  // Runs cache work one job at a time (agent/cache-work-lock.ts).
  cacheExclusive: CacheWorkLock;
  // Verdicts of unchanged caches, kept for the core's life (across reloads): the ordinary and
  // the deep blob-cache check share it.
  cacheMemory?: CacheVerdictMemory;
}

export type BuiltChecks = { entries: RunnerEntry[] } | { errors: string[] };

// The checks' own per-operation timeouts (skopeo, statfs) equal the config's timeoutSeconds;
// the runner's deadline is this much later, so the check's own, more specific "timed out"
// result wins over the runner's generic one.
export const checkGraceSeconds = 2;

// Each config section's check (`--only`, ?checks=, metric labels use the check's name, which
// each check module defines).
export const checkNameOfSection = {
  skopeo: skopeoCheckName,
  blobinfocache: blobCacheCheckName,
  disk: diskCheckName,
  registries: registryCheckName,
} as const;

type Sections = AgentConfig['checks'];

// The skopeo check's options from its (frozen) config section.
export function skopeoCheckOptions(s: Sections['skopeo']) {
  return {
    binaries: [...s.binaries],
    minVersion: s.minVersion,
    recommendedVersion: s.recommendedVersion,
    deny: [...s.deny],
    timeoutSeconds: s.timeoutSeconds,
  };
}

// The real checks for a config: one runner entry per enabled section.
export async function buildChecksFromConfig(config: AgentConfig, env: CheckEnvironment): Promise<BuiltChecks> {
  const { skopeo, blobinfocache, disk, registries } = config.checks;
  const entries: RunnerEntry[] = [];
  if (skopeo.enabled) entries.push(skopeoEntry(skopeo));
  if (blobinfocache.enabled) entries.push(blobCacheEntry(config, env));
  if (disk.enabled) entries.push(diskEntry(disk));
  if (registries.enabled) entries.push(registryEntry(registries));
  return { entries };
}

// How a section's check is scheduled and damped.
function runKeys(c: { schedule: string; jitterSeconds: number; failuresBeforeCritical: number }) {
  return { schedule: c.schedule, jitterSeconds: c.jitterSeconds, failuresBeforeCritical: c.failuresBeforeCritical };
}

function skopeoEntry(skopeo: Sections['skopeo']): RunnerEntry {
  const check = createSkopeoCheck(skopeoCheckOptions(skopeo));
  return { check, ...runKeys(skopeo), timeoutSeconds: skopeo.timeoutSeconds + checkGraceSeconds };
}

// The blob-cache check, its deep run when fullSchedule is set; both under the cache-work lock.
function blobCacheEntry(config: AgentConfig, env: CheckEnvironment): RunnerEntry {
  const c = config.checks.blobinfocache;
  const remediation = (full: boolean) =>
    createCacheRemediation({
      moves: c.autoQuarantine && env.allowRemediation,
      actor: 'daemon',
      stateDir: config.stateDir,
      keep: c.keep,
      maxQuarantineBytes: c.maxQuarantineBytes,
      verify: env.verify,
      verifyOptions: { full },
      now: env.now,
    });
  const opts = {
    dirs: [...c.dirs],
    discoverUsers: c.discoverUsers,
    buildUsers: [...c.buildUsers],
    verify: env.verify,
    skopeoInfo: env.skopeoInfo,
    remediation: remediation(false),
    memory: env.cacheMemory ?? createCacheVerdictMemory(),
  };
  const plain: Check = createBlobCacheCheck(opts);
  const check: Check = { ...plain, run: (ctx) => env.cacheExclusive(() => plain.run(ctx)) };
  const entry: RunnerEntry = { check, ...runKeys(c), timeoutSeconds: c.timeoutSeconds };
  if (c.fullSchedule !== null) {
    const full: Check = createBlobCacheCheck({ ...opts, full: true, remediation: remediation(true) });
    entry.deep = {
      run: (ctx) => env.cacheExclusive(() => full.run(ctx)),
      schedule: c.fullSchedule,
      timeoutSeconds: c.fullTimeoutSeconds,
    };
  }
  return entry;
}

function diskEntry(disk: Sections['disk']): RunnerEntry {
  const check = createDiskCheck({
    paths: disk.paths.map((p) => ({
      path: p.path,
      warnFree: { ...p.warnFree },
      criticalFree: { ...p.criticalFree },
    })),
    timeoutSeconds: disk.timeoutSeconds,
  });
  return { check, ...runKeys(disk), timeoutSeconds: disk.timeoutSeconds + checkGraceSeconds };
}

function registryEntry(registries: Sections['registries']): RunnerEntry {
  const check = createRegistryCheck({ targets: registries.targets.map((t) => ({ ...t })) });
  return { check, ...runKeys(registries), timeoutSeconds: registries.timeoutSeconds };
}

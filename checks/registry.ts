// The registry check (scope shared): can this host reach each configured container registry,
// and, where credentials are configured, get in? Shared scope because a registry outage hits
// every host at once: the admission degrades instead of refusing, so one outage cannot drain
// the fleet.
import { lookup as dnsLookup } from 'node:dns/promises';
import type { Check, CheckContext, CheckReason, CheckResult } from './types.ts';
import type { CodeIn } from '../lib/problem-codes.ts';
import {
  probeRegistry,
  type RegistryFailureReason,
  type RegistryProbeReport,
  type RegistryTarget,
} from './registry/probe.ts';
import type { RegistryLookup } from './registry/timed-get.ts';

export type { RegistryTarget, RegistryProbeReport, RegistryFailureReason } from './registry/probe.ts';
export type { ProbePhases, RegistryLookup } from './registry/timed-get.ts';
export { probeRegistry } from './registry/probe.ts';
export { parseAuthChallenge } from './registry/challenge.ts';
export { credentialsFromAuthJson } from './registry/auth-file.ts';

export interface RegistryCheckOptions {
  targets: RegistryTarget[];
}

export interface RegistryCheckDetails {
  kind: 'registry';
  registries: RegistryProbeReport[];
}

export interface RegistryCheckDeps {
  // How names are resolved (default: the system resolver, as every other program on the host).
  lookup?: RegistryLookup;
}

export type RegistryProblemCode = CodeIn<'registryReason'>;

// dns, connect and timeout are one problem for a scheduler (cannot reach it); the metric's
// `reason` label and the message keep them apart.
export const problemCodeOf: Record<RegistryFailureReason, RegistryProblemCode> = {
  dns: 'registry-unreachable',
  connect: 'registry-unreachable',
  timeout: 'registry-unreachable',
  tls: 'registry-tls-failed',
  http_status: 'registry-unexpected-status',
  auth: 'registry-auth-failed',
};

const systemLookup: RegistryLookup = (hostname) => dnsLookup(hostname);

// The check's name (`--only`, ?checks=, metric labels).
export const registryCheckName = 'registry';

export function createRegistryCheck(
  opts: RegistryCheckOptions,
  deps: RegistryCheckDeps = {},
): Check<RegistryCheckDetails> {
  const lookup = deps.lookup ?? systemLookup;
  return {
    name: registryCheckName,
    scope: 'shared',
    async run(ctx: CheckContext): Promise<CheckResult<RegistryCheckDetails>> {
      const reports = await Promise.all(opts.targets.map((t) => probeRegistry(t, lookup, ctx.signal)));
      const failed = reports.filter((r) => !r.success);
      const reasons: CheckReason[] = failed.map((r) => ({
        code: problemCodeOf[r.reason ?? 'connect'],
        message: r.message,
      }));
      const details: RegistryCheckDetails = { kind: 'registry', registries: reports };
      const summary =
        reports.length === 0
          ? 'no registries configured'
          : failed.length === 0
            ? `${reports.length} of ${reports.length} registries reachable`
            : `${failed.length} of ${reports.length} registries failing: ${failed.map((r) => `${r.name} (${r.reason})`).join(', ')}`;
      return {
        status: failed.length === 0 ? 'ok' : 'critical',
        summary,
        reasons,
        details,
      };
    },
  };
}

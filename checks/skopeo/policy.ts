// The version policy: a minimum version and ranges known to be bad. Pure; judged on the strict
// semver form from parse-version.ts.
import semver from 'semver';

export interface SkopeoPolicy {
  minVersion: string;
  deny: string[];
}

export type SkopeoPolicyVerdict =
  | { satisfied: true }
  | { satisfied: false; code: 'skopeo-below-minimum' | 'skopeo-denied'; message: string };

// For the config loader: the problems with a policy, one message per bad value (empty: valid).
export function validateSkopeoPolicy(policy: SkopeoPolicy): string[] {
  const problems: string[] = [];
  if (semver.coerce(policy.minVersion) === null) problems.push(`minVersion "${policy.minVersion}" is not a version`);
  for (const range of policy.deny) {
    if (semver.validRange(range) === null) problems.push(`deny range "${range}" is not a semver range`);
  }
  return problems;
}

// Assumes a policy validateSkopeoPolicy accepted; an unusable minimum fails closed.
export function judgeSkopeoVersion(version: string, policy: SkopeoPolicy): SkopeoPolicyVerdict {
  // includePrerelease: a denied range such as `1.22.x` must also catch `1.22.1-dev`.
  const denied = policy.deny.find((range) => semver.satisfies(version, range, { includePrerelease: true }));
  if (denied !== undefined) {
    return { satisfied: false, code: 'skopeo-denied', message: `version ${version} is in the denied range "${denied}"` };
  }
  const minimum = semver.valid(policy.minVersion) ?? semver.coerce(policy.minVersion)?.version ?? '999999.0.0';
  if (semver.lt(version, minimum)) {
    return { satisfied: false, code: 'skopeo-below-minimum', message: `version ${version} is below the minimum ${minimum}` };
  }
  return { satisfied: true };
}

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

export function judgeSkopeoVersion(version: string, policy: SkopeoPolicy): SkopeoPolicyVerdict {
  // includePrerelease: a denied range such as `1.22.x` must also catch `1.22.1-dev`.
  const denied = policy.deny.find((range) => semver.satisfies(version, range, { includePrerelease: true }));
  if (denied !== undefined) {
    return { satisfied: false, code: 'skopeo-denied', message: `version ${version} is in the denied range "${denied}"` };
  }
  const minimum = semver.valid(policy.minVersion) ?? semver.coerce(policy.minVersion)?.version ?? policy.minVersion;
  if (semver.lt(version, minimum)) {
    return { satisfied: false, code: 'skopeo-below-minimum', message: `version ${version} is below the minimum ${minimum}` };
  }
  return { satisfied: true };
}
